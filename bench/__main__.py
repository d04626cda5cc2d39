"""`python -m bench`: generate inputs, run every benchmark, print figures and ratios against same-run baselines."""

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench import backfill, fleet, http_edge, live, render, series, textlog
from bench.generate import generate
from bench.ingest import instructions, measure, stages

OUT = Path(__file__).resolve().parent / "out"
MB = 1024 * 1024


def best_of(rounds: int, runs: dict[str, Callable[[], dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each run's fastest result (least `seconds`) over `rounds`, the runs interleaved so that all of them see the
    same machine."""
    best: dict[str, dict[str, float]] = {}
    for _ in range(rounds):
        for name, run in runs.items():
            r = run()
            if name not in best or r["seconds"] < best[name]["seconds"]:
                best[name] = r
    return best


def ingest(sizes_mb: tuple[int, ...] = (50, 200), rounds: int = 3, instruction_mb: int = 10) -> None:
    print(f"ingest: session stats, cold exporter to fully exported; best of {rounds} processes x 3 runs")
    print(f"{'file':>8} {'mode':>9} {'seconds':>8} {'MB/s':>7} {'lines/s':>9} {'peak RSS':>9}")
    for size in sizes_mb:
        path = generate(OUT / f"session-stats-{size}mb.jsonl", size * MB)
        file_mb = path.stat().st_size / MB
        best = best_of(rounds, {mode: partial(measure, mode, path) for mode in ("orjson", "exporter")})
        for mode, r in best.items():
            print(
                f"{file_mb:>6.0f}MB {mode:>9} {r['seconds']:>8.2f} {file_mb / r['seconds']:>7.1f} "
                f"{r['lines'] / r['seconds']:>9.0f} {r['rss'] / MB:>7.0f}MB"
            )
        ratio = best["exporter"]["seconds"] / best["orjson"]["seconds"]
        print(f"{'':>8} wall-time ratio exporter / bare orjson.loads: {ratio:.2f}x")
    path = generate(OUT / f"session-stats-{sizes_mb[0]}mb.jsonl", sizes_mb[0] * MB)
    print(f"{'':>8} where the time goes, {sizes_mb[0]} MB, one process, best of 3:")
    for stage, seconds in stages(path).items():
        print(f"{'':>10} {stage:46} {seconds:6.3f} s")
    path = generate(OUT / f"session-stats-{instruction_mb}mb.jsonl", instruction_mb * MB)
    bare, ours = instructions("orjson", path), instructions("exporter", path)
    if bare and ours:
        print(
            f"{instruction_mb:>6}MB instructions (callgrind): bare {bare / 1e9:.2f} G, exporter {ours / 1e9:.2f} G, "
            f"ratio {ours / bare:.2f}x"
        )


def backfills(sizes_mb: tuple[int, ...] = (100, 1024)) -> None:
    print("backfill: session stats to OpenMetrics (to /dev/null), one process, against bare orjson.loads")
    print(f"{'file':>8} {'lines':>9} {'orjson s':>9} {'backfill s':>11} {'ratio':>6} {'peak RSS':>9}")
    for size in sizes_mb:  # smallest first: the peak RSS of a child is the largest so far
        path = generate(OUT / f"session-stats-{size}mb.jsonl", size * MB)
        r = backfill.compare(path)
        print(
            f"{path.stat().st_size / MB:>6.0f}MB {r['lines']:>9.0f} {r['bare']:>9.2f} {r['backfill']:>11.2f} "
            f"{r['backfill'] / r['bare']:>5.1f}x {r['rss'] / MB:>7.0f}MB"
        )


def latency() -> None:
    print("latency: a line appended to a followed file until a scrape counts it (200 lines)")
    for label, inotify in (("inotify (watchfiles)", True), ("polling every 0.1 s", False)):
        r = live.latency(inotify=inotify)
        print(
            f"  {label:22} p50 {r['p50'] * 1000:4.0f} ms  p95 {r['p95'] * 1000:4.0f} ms  "
            f"p99 {r['p99'] * 1000:4.0f} ms  max {r['max'] * 1000:4.0f} ms"
        )


def idle() -> None:
    print("idle cost: 4 files, 100 lines/s in all, a scrape every 15 s, state saved; 60 s after 5 s of warm-up")
    r = live.idle_cost()
    print(
        f"  CPU {r['cpu_share'] * 100:.2f}% of one core, peak RSS {r['peak_rss'] / MB:.0f} MB, "
        f"{r['lines_read']:.0f} of {r['lines_written']} lines read"
    )


def textlogs(blocks: int = 50_000, rounds: int = 3) -> None:
    print(f"textlog: SYNTHETIC td logs of {blocks} blocks, whole processes, best of {rounds} (interleaved)")
    print(f"{'log':>17} {'tool':>8} {'lines':>8} {'MB':>5} {'seconds':>8} {'CPU s':>6} {'lines/s':>8}")
    for label, path in textlog.logs(OUT / "text-logs", blocks).items():
        lines = textlog.count_lines(path)
        size_mb = path.stat().st_size / MB
        commands = textlog.commands(path)
        best = best_of(rounds, {tool: partial(textlog.run, command) for tool, command in commands.items()})
        for tool, r in best.items():
            print(
                f"{label:>17} {tool:>8} {lines:>8} {size_mb:>5.0f} {r['seconds']:>8.2f} {r['cpu']:>6.2f} "
                f"{lines / r['seconds']:>8.0f}"
            )
        ratio = best["mtail"]["seconds"] / best["exporter"]["seconds"]
        print(f"{'':>17} exporter is {ratio:.2f}x as fast as mtail (wall time)")


def ssh_fleet(hosts: int = 24) -> None:
    print(f"fleet: one collector following {hosts} hosts at 33 KB/s each of session stats; 30 s after 5 s warm-up")
    r = fleet.fleet(hosts)
    for kind in ("local", "ssh"):
        print(
            f"  {kind:6} CPU {r[kind]['cpu_share'] * 100:6.1f}% of one core, peak RSS {r[kind]['peak_rss'] / MB:.0f} MB"
        )
    print(
        f"  ssh / local CPU ratio {r['ssh']['cpu_share'] / r['local']['cpu_share']:.2f}x; "
        f"hosts one core follows over ssh (extrapolated): {hosts / r['ssh']['cpu_share']:.0f}"
    )


if __name__ == "__main__":
    which = sys.argv[1:] or ["ingest", "latency", "idle", "textlog", "http", "series", "fleet", "backfill", "render"]
    steps = (
        ("ingest", ingest),
        ("latency", latency),
        ("idle", idle),
        ("textlog", textlogs),
        ("http", http_edge.run),
        ("series", lambda: series.run(OUT / "series")),
        ("fleet", ssh_fleet),
        ("backfill", backfills),
        ("render", render.run),
    )
    for name, run in steps:
        if name in which:
            run()
