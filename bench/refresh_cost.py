"""Refresh cost follows change: a folder of small files, indexed once, then refreshed with nothing changed and with
1% of the files changed, all in one run.

    .venv/bin/python -m bench.refresh_cost                 # 10,000 files
    .venv/bin/python -m bench.refresh_cost --files 2000    # a quick sample

The full ingest is the baseline: a refresh with nothing changed should cost a small fraction of it (it only
lists and stats the files), and one with 1% changed should cost about 1% of it (plus that fixed listing cost).
Counts of files read and chunks embedded show the work done, independent of the machine's noise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = [
    "amber",
    "basalt",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "garnet",
    "harbor",
    "indigo",
    "juniper",
    "kelp",
    "lumen",
    "marrow",
    "nectar",
    "onyx",
]


def sentence(rng: random.Random, n: int, edition: str) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(12))
    return f"# File {n}\n\nRecord {n} ({edition}) lists the code words {words}.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--changed", type=float, default=0.01, help="share of files changed for the second refresh")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "refresh_cost.json")
    args = parser.parse_args()

    from rag.config import Settings
    from service import build

    work = Path(tempfile.mkdtemp(prefix="rag-refresh-bench-"))
    folder = work / "folder"
    rng = random.Random(0)
    for n in range(args.files):
        sub = folder / f"d{n % 100:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{n:05d}.md").write_text(sentence(rng, n, "first"))

    settings = Settings(data_dir=work / "data", cache_dir=ROOT / "var" / "cache", scheduler=False)
    services = build(settings, load_llm=False)
    services.embedder.embed(["warm up"])
    source, _ = services.sources.add(str(folder), refresh=False)

    reads = {"files": 0}
    original = Path.read_bytes

    def counting_read(self: Path) -> bytes:
        if self.is_relative_to(folder):
            reads["files"] += 1
        return original(self)

    Path.read_bytes = counting_read  # type: ignore[method-assign]

    def run(label: str) -> dict:
        reads["files"] = 0
        job, _ = services.jobs.request_refresh(source)
        started = time.perf_counter()
        done = services.jobs.run_refresh(job)
        seconds = time.perf_counter() - started
        assert done is not None and done.status.value == "succeeded", done
        row = {"run": label, "seconds": round(seconds, 3), "files_read": reads["files"], **done.counts}
        print(json.dumps(row), flush=True)
        return row

    full = run("full ingest")
    unchanged = run("nothing changed")
    k = max(1, round(args.files * args.changed))
    for n in rng.sample(range(args.files), k):
        path = folder / f"d{n % 100:02d}" / f"f{n:05d}.md"
        path.write_text(sentence(rng, n, "second"))
        os.utime(path, (time.time() + 2, time.time() + 2))
    changed = run(f"{args.changed:.0%} changed")

    result = {
        "files": args.files,
        "changed_files": k,
        "runs": [full, unchanged, changed],
        "nothing_changed_vs_full": round(unchanged["seconds"] / full["seconds"], 4),
        "changed_vs_full": round(changed["seconds"] / full["seconds"], 4),
        "changed_vs_proportional": round(changed["seconds"] / (full["seconds"] * k / args.files), 2),
        "cpus": os.cpu_count(),
    }
    print(
        f"\n{args.files} files: full {full['seconds']:.1f}s, nothing changed {unchanged['seconds']:.2f}s "
        f"({result['nothing_changed_vs_full']:.2%} of full), {k} changed {changed['seconds']:.2f}s "
        f"({result['changed_vs_full']:.2%} of full; {result['changed_vs_proportional']:.2f}x the proportional "
        f"{args.changed:.0%}); files read {full['files_read']} / {unchanged['files_read']} / {changed['files_read']}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    services.jobs.shutdown()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
