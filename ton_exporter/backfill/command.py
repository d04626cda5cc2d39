"""`ton-exporter backfill`: a finished run's files to OpenMetrics with timestamps, optionally straight into a
Prometheus data directory (promtool), optionally registered with the monitoring daemon (runs API, runs table)."""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import click

from ton_exporter.app import parse_source
from ton_exporter.backfill.driver import DEFAULT_STEP_SECONDS, Backfill, Summary
from ton_exporter.backfill.inputs import InputError, InputFile, resolve
from ton_exporter.backfill.openmetrics import OpenMetricsWriter
from ton_exporter.backfill.register import register_with_daemon
from ton_exporter.cli_options import path_option, reading_options, source_options
from ton_exporter.runs.registry import RUN_ID, RunError, iso, new_run

MB = 1024 * 1024


class BadInputError(click.ClickException):
    exit_code = 2


@click.command("backfill")
@source_options(
    "Session-stats files of the run, plain or .gz; repeat for more (one per node, rotated copies too). The "
    "node label comes from NODE=, a tontester directory name (node<N>/session-logs) or the file name.",
    "td text logs of the run, plain or .gz; same forms as --session-logs.",
)
@click.option("--run", "run_id", required=True, help="The run label of every series (and the run's id).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="Where the OpenMetrics text goes ('-': stdout). Needed unless --prometheus-data is given.",
)
@path_option(
    "--prometheus-data",
    kind="directory",
    help="Also write TSDB blocks into this Prometheus data directory (promtool tsdb create-blocks-from "
    "openmetrics); a running Prometheus picks them up at its next block reload.",
)
@click.option(
    "--step",
    type=click.FloatRange(0.001, 3600),
    default=DEFAULT_STEP_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="Event time between two samples, like a scrape interval.",
)
@reading_options("As for serve: how long after a 60 s window ends (in event time) it is complete.")
@click.option("--description", default="", help="What the run was about (run metadata).")
@click.option("--branch", default="", help="Git branch the run tested.")
@click.option("--commit", default="", help="Git commit the run tested.")
@click.option("--label", "labels", multiple=True, metavar="NAME=VALUE", help="A label of tonex_run_info; repeatable.")
@click.option("--job", default="tonex", show_default=True, help="`job` label of every series, as a scrape adds.")
@click.option(
    "--instance", default="backfill", show_default=True, help="`instance` label of every series, as a scrape adds."
)
@path_option(
    "--register",
    "register_dir",
    kind="directory",
    help="Register the run, finished, with its time range and metadata, with the monitoring daemon of this "
    "directory (started if none runs), so that the runs API and the runs dashboard list it.",
)
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr (drawn on a terminal only).")
def backfill_command(**options: Any) -> None:
    """Replay a finished run's files through the exporter in event time and write what a scrape every --step
    seconds would have seen, as OpenMetrics text with timestamps (and `# EOF`), for promtool's backfill."""
    run_id = options["run_id"]
    if not RUN_ID.fullmatch(run_id):
        raise BadInputError(f"--run: {run_id!r} is not a run id (letters, digits, '_', '.', ':', '-')")
    if options["out"] is None and options["prometheus_data"] is None:
        raise BadInputError("give --out FILE, --prometheus-data DIR, or both")
    files = _inputs(options["session_logs"], options["text_logs"])
    promtool = _promtool() if options["prometheus_data"] is not None else None
    metadata = _metadata(options)
    backfill = Backfill(
        files,
        run=run_id,
        metadata=metadata,
        step=options["step"],
        lateness=options["lateness"],
        max_line_bytes=options["max_line_bytes"],
    )
    writer_labels = {"job": options["job"], "instance": options["instance"]}
    started = time.monotonic()
    with _output(options["out"], options["prometheus_data"]) as (out, path):
        writer = OpenMetricsWriter(out, writer_labels)
        summary = _run(backfill, writer, files, options["progress"])
        writer.close()
        out.flush()
        if promtool is not None and path is not None:
            _create_blocks(promtool, path, options["prometheus_data"])
    elapsed = time.monotonic() - started
    click.echo(_summary_text(backfill, summary, writer, elapsed, options), err=True)
    if options["register_dir"] is not None and summary.first_event is not None:
        try:
            register_with_daemon(options["register_dir"], backfill.runs.get(run_id))
        except (RunError, RuntimeError, OSError) as e:
            raise click.ClickException(f"run not registered: {e}") from e
        click.echo(f"run {run_id} registered with the daemon of {options['register_dir']}", err=True)


def _inputs(session_logs: tuple[str, ...], text_logs: tuple[str, ...]) -> list[InputFile]:
    if not session_logs and not text_logs:
        raise BadInputError("give at least one --session-logs or --text-log")
    patterns = [parse_source(spec, None) for spec in session_logs]
    patterns += [parse_source(spec, None, "text_log") for spec in text_logs]
    try:
        return resolve(patterns)
    except InputError as e:
        raise BadInputError(str(e)) from e


def _metadata(options: dict[str, Any]) -> dict[str, Any]:
    pairs = [label.partition("=") for label in options["labels"]]
    if any(not sep or not name for name, sep, _ in pairs):
        raise BadInputError("--label must be NAME=VALUE")
    metadata: dict[str, Any] = {
        "description": options["description"],
        "branch": options["branch"],
        "commit": options["commit"],
        "labels": {name: value for name, _, value in pairs},
        "backfilled": True,
    }
    try:  # the same checks as a live registration
        new_run({"run_id": options["run_id"], "metadata": metadata}, 0.0)
    except RunError as e:
        raise BadInputError(e.message) from e
    return metadata


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        raise BadInputError("--prometheus-data needs promtool on PATH (Debian: apt install prometheus)")
    return promtool


@contextlib.contextmanager
def _output(out: Path | None, data_dir: Path | None) -> Iterator[tuple[BinaryIO, Path | None]]:
    """The file to write, and its path for promtool (a temporary one when only --prometheus-data is given)."""
    if out is not None and str(out) == "-":
        if data_dir is not None:
            raise BadInputError("--out - (stdout) cannot be combined with --prometheus-data")
        yield sys.stdout.buffer, None
        return
    if out is not None:
        with open(out, "wb", buffering=4 * MB) as f:
            yield f, out
        return
    with tempfile.TemporaryDirectory(prefix="ton-exporter-backfill-") as tmp:
        path = Path(tmp) / "backfill.om"
        with open(path, "wb", buffering=4 * MB) as f:
            yield f, path


def _run(backfill: Backfill, writer: OpenMetricsWriter, files: list[InputFile], progress: bool) -> Summary:
    total = sum(os.path.getsize(f.path) for f in files)
    registry = backfill.registry
    if not progress or not sys.stderr.isatty():
        return backfill.run(lambda t: writer.write(registry.collect(), t))
    with click.progressbar(length=total, label="backfill", file=sys.stderr, show_pos=False) as bar:
        shown = 0

        def sample(t: float) -> None:
            nonlocal shown
            writer.write(registry.collect(), t)
            consumed = backfill.progress.consumed()
            bar.update(consumed - shown)
            shown = consumed

        summary = backfill.run(sample)
        bar.update(total - shown)
    return summary


def _create_blocks(promtool: str, path: Path, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(path), str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise click.ClickException(f"promtool failed ({result.returncode}): {result.stderr.strip()[-2000:]}")


def _summary_text(
    backfill: Backfill, summary: Summary, writer: OpenMetricsWriter, elapsed: float, options: dict[str, Any]
) -> str:
    files = [source.pipeline.stats for source in backfill.sources]
    rejected: Counter[str] = Counter()
    for stats in files:
        rejected.update(stats.rejected)
    lines_read = sum(f.lines_read for f in files)
    parsed = sum(f.lines_parsed for f in files)
    mb = sum(f.bytes_read for f in files) / MB
    out = [f"backfill: run {options['run_id']}, {len(summary.nodes)} nodes ({', '.join(summary.nodes)}), "]
    out[0] += f"{len(files)} files, {mb:.1f} MB in {elapsed:.1f} s"
    out.append(f"  lines: {lines_read} read, {parsed} parsed, {sum(rejected.values())} rejected")
    reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(rejected.items()) if n)
    out.append(f"  rejects by reason: {reasons or 'none'}")
    if summary.first_event is None or summary.last_event is None:
        out.append("  time span: no dated line: nothing sampled")
    else:
        span = summary.last_event - summary.first_event
        out.append(f"  time span: {iso(summary.first_event)} to {iso(summary.last_event)} ({span:.1f} s of events)")
        out.append(
            f"  samples: {summary.samples} times every {options['step']:g} s, {iso(summary.first_sample or 0)} to "
            f"{iso(summary.last_sample or 0)}; {writer.series} series, {writer.samples} samples"
        )
    if summary.skipped_gaps:
        out.append(f"  gaps of more than a day without a line, not sampled: {summary.skipped_gaps}")
    where = [str(options["out"])] if options["out"] is not None and str(options["out"]) != "-" else []
    if options["prometheus_data"] is not None:
        where.append(f"blocks in {options['prometheus_data']}")
    if where:
        out.append("  written: " + ", ".join(where))
    return "\n".join(out)
