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


def render(exposition: str) -> str:
    rows = []
    for family in text_string_to_metric_families(exposition):
        labels: dict[str, None] = defaultdict(lambda: None)
        for sample in family.samples:
            for name in sample.labels:
                if name not in ("le", "quantile"):
                    labels[name]
        name = family.name + ("_total" if family.type == "counter" else "")
        label_text = ", ".join(f"`{label}`" for label in labels)
        help_text = family.documentation.replace("|", "\\|")
        rows.append(f"| `{name}` | {family.type} | {label_text} | {help_text} |")
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    (root / "docs" / "metrics.md").write_text(render((root / "tests" / "golden" / "metrics.prom").read_text()))
