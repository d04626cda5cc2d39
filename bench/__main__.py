"""`python -m bench`: generate inputs, run every benchmark, print figures and ratios against same-run baselines."""

import statistics
import sys
from pathlib import Path

from bench.generate import generate
from bench.ingest import measure

OUT = Path(__file__).resolve().parent / "out"
MB = 1024 * 1024


def ingest(sizes_mb: tuple[int, ...] = (50, 200), repeats: int = 3) -> None:
    print("ingest: session stats, cold to fully exported (best of %d runs each)" % repeats)
    print(f"{'file':>8} {'mode':>9} {'seconds':>8} {'MB/s':>7} {'lines/s':>9} {'peak RSS':>9}")
    for size in sizes_mb:
        path = generate(OUT / f"session-stats-{size}mb.jsonl", size * MB)
        file_mb = path.stat().st_size / MB
        best: dict[str, dict[str, float]] = {}
        for mode in ("orjson", "exporter"):
            runs = [measure(mode, path) for _ in range(repeats)]
            best[mode] = min(runs, key=lambda r: r["seconds"])
            r = best[mode]
            print(
                f"{file_mb:>6.0f}MB {mode:>9} {r['seconds']:>8.2f} {file_mb / r['seconds']:>7.1f} "
                f"{r['lines'] / r['seconds']:>9.0f} {r['rss'] / MB:>7.0f}MB"
                + (f"   (median {statistics.median(x['seconds'] for x in runs):.2f} s)" if repeats > 1 else "")
            )
        ratio = best["exporter"]["seconds"] / best["orjson"]["seconds"]
        print(f"{'':>8} ratio exporter / bare orjson.loads: {ratio:.2f}x")


if __name__ == "__main__":
    which = sys.argv[1:] or ["ingest"]
    if "ingest" in which:
        ingest()
