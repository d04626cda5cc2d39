"""Scrape cost of the label bounds: the SYNTHETIC shard files of bench/shards.py against a one-group baseline
measured in the same run (one node, time.perf_counter around prometheus_client's generate_latest)."""

import resource
import time
from pathlib import Path

from prometheus_client import generate_latest

from bench import shards
from ton_exporter.aggregation.limits import Limits
from ton_exporter.app import Exporter
from ton_exporter.sources.discovery import SourcePattern


def scrape(path: Path, limits: Limits, rounds: int = 5) -> dict[str, float]:
    exporter = Exporter([SourcePattern(str(path), "n1")], from_start=True, limits=limits)
    exporter.poll_once()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        text = generate_latest(exporter.registry)
        best = min(best, time.perf_counter() - start)
    series = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
    return {"seconds": best, "bytes": len(text), "series": series}


def cases(out: Path) -> dict[str, tuple[Path, Limits]]:
    out.mkdir(parents=True, exist_ok=True)
    one = shards.write_lines(out / "one-shard.jsonl", [(0, shards.ROOT)] * 3000, every=0.01)
    hostile = shards.write_lines(out / "random-64bit.jsonl", shards.random_shard_lines(3000))
    valid = shards.write_lines(out / "random-valid.jsonl", shards.shallow_shard_lines(3000), every=0.01)
    return {
        "1 shard (baseline)": (one, Limits()),
        "3000 random 64-bit ids": (hostile, Limits()),
        "3000 valid, cap 16": (valid, Limits(max_shards_per_node=16)),
        "3000 valid, cap 32 (default)": (valid, Limits()),
        "3000 valid, cap 64": (valid, Limits(max_shards_per_node=64)),
    }


def run(out: Path) -> None:
    print("series: 3000 collatedBlock lines (SYNTHETIC), one node; best of 5 scrapes")
    print(f"{'file':>30} {'series':>7} {'bytes':>9} {'scrape ms':>9} {'x baseline':>10}")
    baseline = None
    for label, (path, limits) in cases(out).items():
        r = scrape(path, limits)
        baseline = baseline or r["seconds"]
        print(
            f"{label:>30} {r['series']:>7.0f} {r['bytes']:>9.0f} {r['seconds'] * 1000:>9.1f} "
            f"{r['seconds'] / baseline:>10.1f}"
        )
    print(f"  peak RSS of the process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
