"""One entry point for the benchmarks: ``python -m bench <name>``.

    .venv/bin/python -m bench ingest      # documents/s and chunks/s, OpenVINO against torch embeddings
    .venv/bin/python -m bench llm         # TTFT and decode tokens/s: OpenVINO against llama.cpp; concurrency
    .venv/bin/python -m bench service     # HTTP query latency with 1, 2, 4, 8 clients; batching on and off
    .venv/bin/python -m bench retrieval   # retrieval latency at 1k, 10k, 100k chunks
    .venv/bin/python -m bench memory      # peak memory of the service process
    .venv/bin/python -m bench all         # all of the above, one after the other (about an hour here)
    .venv/bin/python -m bench load --minutes 5   # concurrent uploads, deletes, queries; then counts, hashes, memory

Each prints its figures and writes them as JSON under var/bench/. These are measurements, not tests: nothing
here asserts a time. ``python -m bench <name> --help`` lists a benchmark's options.
"""

from __future__ import annotations

import argparse
import sys

from bench import llm, load, retrieval, service


def _ingest(args: argparse.Namespace) -> None:
    from bench import ingest_throughput

    argv = ["--backends", args.backends, "--batch", str(args.batch)]
    argv += ["--limit", str(args.limit)] if args.limit else []
    argv += ["--json", str(args.out)] if args.out else []
    sys.argv = ["bench.ingest_throughput", *argv]
    ingest_throughput.main()


def _memory(args: argparse.Namespace) -> None:
    args.variants, args.levels, args.no_stream = "batching", "1,8", True
    service.run(args, name="memory")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = top.add_subparsers(dest="name", required=True)

    p = sub.add_parser("ingest", help="ingestion throughput, OpenVINO vs torch embeddings")
    p.add_argument("--limit", type=int, default=0, help="only the first N SciFact documents (0: all 5,183)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--backends", default="openvino,torch")
    p.add_argument("--out", help="JSON result file (default var/bench/ingest.json)")
    p.set_defaults(run=_ingest)

    p = sub.add_parser("llm", help="LLM TTFT and decode speed, OpenVINO vs llama.cpp; concurrency")
    llm.add_arguments(p)
    p.set_defaults(run=llm.main)

    p = sub.add_parser("service", help="HTTP query latency and throughput with concurrent clients")
    service.add_arguments(p)
    p.set_defaults(run=service.main)

    p = sub.add_parser("retrieval", help="retrieval latency as the collection grows")
    retrieval.add_arguments(p)
    p.set_defaults(run=retrieval.main)

    p = sub.add_parser("memory", help="peak memory of the service process (1 and 8 clients)")
    service.add_arguments(p)
    p.set_defaults(run=_memory)

    p = sub.add_parser("load", help="load test: concurrent uploads, deletes and queries, then checks (not in 'all')")
    load.add_arguments(p)
    p.set_defaults(run=load.main)

    sub.add_parser("all", help="every benchmark with its defaults")
    return top


def main(argv: list[str] | None = None) -> None:
    top = parser()
    args = top.parse_args(argv)
    if args.name != "all":
        args.run(args)
        return
    for name in ("retrieval", "ingest", "llm", "service", "memory"):
        print(f"\n=== {name} ===", flush=True)
        sub_args = top.parse_args([name])
        sub_args.run(sub_args)


if __name__ == "__main__":
    main()
