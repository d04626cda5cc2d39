"""`ton-exporter compare`: exit status 1 on a regression, 0 otherwise, 2 on bad input."""

import sys
from pathlib import Path

import click

from ton_exporter.cli_options import path_option
from ton_exporter.compare.figures import figures
from ton_exporter.compare.judge import DEFAULT_THRESHOLDS, ThresholdsError, judge, load_thresholds
from ton_exporter.compare.report import FORMATS
from ton_exporter.compare.sources import RunData, SourceError, from_files, from_prometheus


class BadInputError(click.ClickException):
    exit_code = 2


@click.command("compare")
@click.option("--baseline", "baseline", required=True, metavar="RUN", help="The baseline run's id.")
@click.option("--candidate", "candidate", required=True, metavar="RUN", help="The candidate run's id.")
@click.option("--prometheus", "prometheus", metavar="URL", help="Read both runs from this Prometheus.")
@click.option(
    "--baseline-logs", multiple=True, metavar="[NODE=]PATH", help="The baseline's session-stats files (no Prometheus)."
)
@click.option(
    "--candidate-logs",
    multiple=True,
    metavar="[NODE=]PATH",
    help="The candidate's session-stats files (no Prometheus).",
)
@click.option("--lookback", default="365d", show_default=True, help="How far back Prometheus is searched for the runs.")
@path_option(
    "--thresholds",
    kind="file",
    default=DEFAULT_THRESHOLDS,
    show_default=True,
    help="The alerts' thresholds.yml, whose values judge a regression.",
)
@click.option("--format", "output_format", type=click.Choice(sorted(FORMATS)), default="table", show_default=True)
def compare_command(
    *,
    baseline: str,
    candidate: str,
    prometheus: str | None,
    baseline_logs: tuple[str, ...],
    candidate_logs: tuple[str, ...],
    lookback: str,
    thresholds: Path,
    output_format: str,
) -> None:
    """Judge a candidate run against a baseline run: blocks/s and tx/s per workchain, collation, validation,
    notarization and finalization p50/p95, skipped slots and invalid blocks, each with its delta and a regression
    mark beyond the thresholds of the alerts."""
    try:
        alerts = load_thresholds(thresholds)
        base = _read(baseline, baseline_logs, prometheus, lookback, "--baseline-logs")
        cand = _read(candidate, candidate_logs, prometheus, lookback, "--candidate-logs")
        verdicts = judge(figures(base.samples, base.duration), figures(cand.samples, cand.duration), alerts)
    except (SourceError, ThresholdsError) as e:
        raise BadInputError(str(e)) from e
    click.echo(FORMATS[output_format](base, cand, verdicts))
    sys.exit(1 if any(v.regression for v in verdicts) else 0)


def _read(run: str, logs: tuple[str, ...], prometheus: str | None, lookback: str, option: str) -> RunData:
    if logs:
        return from_files(run, logs)
    if prometheus is None:
        raise SourceError(f"give {option} or --prometheus")
    if not prometheus.startswith(("http://", "https://")):
        raise SourceError(f"--prometheus: {prometheus!r} is not an http(s) URL")
    return from_prometheus(prometheus, run, lookback)
