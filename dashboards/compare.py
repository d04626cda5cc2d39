"""Compare two runs: `$baseline` and `$candidate` overlaid on one time axis that starts with the candidate.

Set the time range to the candidate run's (the runs table links do). Every baseline query reads its series
`offset ${shift}ms`, where `$shift` (a hidden variable) is the candidate's start minus the baseline's in
milliseconds: the baseline then starts where the candidate starts, and second N of either run is drawn at the same
x. A baseline newer than the candidate needs a negative offset, which Prometheus 2.42 (Debian 12) accepts.
The figures are those of `ton-exporter compare` (docs/finished-runs.md), as they evolve during the runs.
"""

from dashboards.model import Dashboard, Panel, Query, Row, Variable

BASELINE = Variable("baseline", "Baseline run", "label_values(tonex_run_info, run)", multi=False, include_all=False)
CANDIDATE = Variable("candidate", "Candidate run", "label_values(tonex_run_info, run)", multi=False, include_all=False)
_SHIFT_MS = (
    'round(1000 * (max(tonex_run_start_timestamp_seconds{run="$candidate"}) '
    '- max(tonex_run_start_timestamp_seconds{run="$baseline"})))'
)
SHIFT = Variable(
    "shift",
    "Shift (ms)",
    # `offset 0ms` is a parse error: two runs started in the same millisecond are shifted by 1 ms
    f"query_result({_SHIFT_MS} + ({_SHIFT_MS} == bool 0))",
    multi=False,
    include_all=False,
    regex=r"/^\{\}\s+(-?[0-9]+)/",
    hide=2,
)
SIDES = (("candidate", ""), ("baseline", " offset ${shift}ms"))


def _rate(metric: str, best_node: bool, extra: str = "") -> tuple[Query, ...]:
    queries = []
    for side, offset in SIDES:
        selector = f'{metric}{{run="${side}"{", " + extra if extra else ""}}}[$__rate_interval]{offset}'
        inner = f"sum by (workchain, node) (rate({selector}))"
        expr = f"max by (workchain) ({inner})" if best_node else f"sum by (workchain) ({inner})"
        queries.append(Query(expr, f"{side} {{{{workchain}}}}"))
    return tuple(queries)


def _p95(histogram: str) -> tuple[Query, ...]:
    return tuple(
        Query(
            "histogram_quantile(0.95, sum by (le, workchain) "
            f'(rate({histogram}_bucket{{run="${side}"}}[$__rate_interval]{offset})))',
            f"{side} p95 {{{{workchain}}}}",
        )
        for side, offset in SIDES
    )


def _panel(title: str, queries: tuple[Query, ...], unit: str, description: str) -> Panel:
    return Panel(title, queries, unit, description + " Baseline shifted to start with the candidate.")


PANELS = (
    _panel(
        "Blocks per second",
        _rate("tonex_accepted_blocks_total", best_node=True),
        "ops",
        "Blocks accepted per workchain, by the most complete node (as the alerts and `compare` count them).",
    ),
    _panel(
        "Transactions per second",
        _rate("tonex_collated_transactions_total", best_node=False),
        "ops",
        "Transactions in collated blocks, all nodes' collations summed.",
    ),
    _panel("Collation p95", _p95("tonex_collation_total_seconds"), "s", "Collation total time, all nodes."),
    _panel("Validation p95", _p95("tonex_validation_total_seconds"), "s", "Validation total time, all nodes."),
    _panel(
        "Notarization p95",
        _p95("tonex_consensus_notarization_seconds"),
        "s",
        "From a slot's candidate to its notarization certificate, all nodes.",
    ),
    _panel(
        "Finalization p95",
        _p95("tonex_consensus_finalization_seconds"),
        "s",
        "From notarization to finalization certificate, all nodes.",
    ),
    _panel(
        "Skipped slots per second",
        _rate("tonex_consensus_skipped_slots_total", best_node=True),
        "ops",
        "Slots skipped per workchain, by the node that saw most.",
    ),
    _panel(
        "Invalid blocks",
        _rate("tonex_validated_blocks_total", best_node=False, extra='result="invalid"'),
        "ops",
        "Block candidates validated as invalid, per second, all nodes.",
    ),
)

DASHBOARD = Dashboard(
    uid="ton-compare",
    title="TON compare runs",
    folder="TON",
    description="Two runs overlaid from their starts: $baseline shifted onto $candidate's time axis. Set the time "
    "range to the candidate run's. `ton-exporter compare` judges the same figures over the whole runs.",
    variables=(BASELINE, CANDIDATE, SHIFT),
    rows=(Row("Baseline against candidate", PANELS),),
    time_from="now-1h",
)
