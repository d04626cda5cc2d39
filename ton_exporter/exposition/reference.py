"""The metric reference in docs/metrics.md, generated from a /metrics exposition (the golden file's)."""

from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families

HEADER = """# Metric reference

Generated from `tests/golden/metrics.prom` (both real session-stats files, window [17:20, 17:21) shown, and the
SYNTHETIC text-log sample of `tests/fixtures/text-logs`) by
`python -m ton_exporter.exposition.reference`; a test regenerates it and fails on any difference.
Every family starts with `tonex_`; the validator-engine's own families start with `ton_`.

| family | type | labels | help |
|---|---|---|---|
"""


LABEL_BOUNDS = {
    "node": "One per node given (--node, NODE=, a directory or file name): set by the operator, not the data.",
    "run": "The --run value, or one per run registered; runs left aside are forgotten (runs.md).",
    "collector": "The exporter's own concerns (blocks, consensus, text_logs, bounds, sources, state, build, "
    "runs): a fixed set.",
    "workchain": "Checked: one of --limits.workchains (default -1, 0); other records rejected (bad_workchain). "
    "`unknown` for consensus events of a session never identified.",
    "shard": "Checked: a shard prefix (lowest set bit = depth) no deeper than --limits.max-shard-depth (default 8); "
    "the masterchain's only `8000000000000000`; others rejected (bad_shard). At most --limits.max-shards-per-node "
    "(default 32) live per node, later ones under `overflow`; idle ones leave after --limits.idle-timeout "
    "(series-bounds.md). `unknown` as for workchain.",
    "component": "The td source file of a text-log line: at most --limits.max-label-values (default 256) per node, "
    "then `other` (counted in tonex_series_overflow_total).",
    "leader_idx": "The node's validator index in a session, -1..total_validators-1: at most "
    "--limits.max-label-values per group, then `other`.",
    "action": "time_stats action names, numbers replaced by N: at most 64 per group and window, then `other`.",
    "stage": "Fixed: the work-time stages of the format (ton-formats.md) and `other`; broadcast stages fixed too.",
    "clock": "Fixed: real, cpu.",
    "agg": "Fixed: avg, min, max, sum, p50, p95, p99.",
    "category": "Fixed: the block-limit categories (underload, normal, soft, medium, hard).",
    "limit": "Fixed: bytes, gas, lt_delta, collated_data_bytes.",
    "fraction": "Fixed: the message-limit fractions of the format.",
    "kind": "Fixed: limit-log kinds, message-queue kinds, retired block kinds, shard_to_master/master_to_shard.",
    "result": "Fixed: valid, invalid.",
    "part": "Fixed: collate, notarize, finalize, accept.",
    "phase": "Fixed: the phases of the slot model.",
    "position": "Bounded: 0..slots_per_leader_window-1 of the slot timeline (64 newest slots).",
    "vote": "Fixed: notarize, finalize, skip.",
    "type": "Fixed: the known @type values, `unknown` for the rest.",
    "reason": "Fixed: the reject reasons listed with each family.",
    "field": "Fixed: the embedded string fields.",
    "file": "One per file followed (matched by a --session-logs/--text-log pattern; at most 10,000 known).",
    "pattern": "One per pattern given.",
    "label": "Fixed: shard, component, leader_idx.",
    "level": "Fixed: td's level names.",
    "op": "Fixed: known Broadcast_benchmark ops, `other`.",
    "called_from": "Fixed: known values, `none`, `other`.",
    "compression": "Fixed: known values, `none`, `other`.",
    "outcome": "Fixed: ok, failed.",
    "error": "Fixed: none and the error classes of timing lines.",
    "mode": "Fixed: the validator-engine's session modes.",
    "status": "Fixed: running, completed, aborted.",
    "version": "One: the build.",
    "description": "Run metadata, truncated to 200 characters; one run per series.",
    "branch": "Run metadata, truncated; one run per series.",
    "commit": "Run metadata, truncated; one run per series.",
    "user": "Run metadata labels: at most 8 per run.",
}
"""Every label of /metrics and its bound; `render` fails on a label without one (issue 19)."""

BOUNDS_HEADER = """
## Label bounds

Every label above and how many values it can take ([series-bounds.md](series-bounds.md)). Values that come from
the data are checked or capped; everything else is a fixed set or set by the operator.

| label | bound |
|---|---|
"""


def render(exposition: str) -> str:
    rows = []
    seen: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        labels: dict[str, None] = defaultdict(lambda: None)
        for sample in family.samples:
            for name in sample.labels:
                if name not in ("le", "quantile"):
                    labels[name]
                    seen.add(name)
        name = family.name + ("_total" if family.type == "counter" else "")
        label_text = ", ".join(f"`{label}`" for label in labels)
        help_text = family.documentation.replace("|", "\\|")
        rows.append(f"| `{name}` | {family.type} | {label_text} | {help_text} |")
    missing = seen - LABEL_BOUNDS.keys()
    if missing:
        raise KeyError(f"labels without a stated bound in LABEL_BOUNDS: {sorted(missing)}")
    bounds = [f"| `{label}` | {LABEL_BOUNDS[label]} |" for label in sorted(seen)]
    return HEADER + "\n".join(rows) + "\n" + BOUNDS_HEADER + "\n".join(bounds) + "\n"


if __name__ == "__main__":
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    (root / "docs" / "metrics.md").write_text(render((root / "tests" / "golden" / "metrics.prom").read_text()))
