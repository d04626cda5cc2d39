"""A comparison as a terminal table, Markdown (for a pull request) or JSON."""

import json
import math

from ton_exporter.compare.judge import Verdict
from ton_exporter.compare.sources import RunData

HEADER = ("figure", "baseline", "candidate", "delta", "relative", "")


def _num(v: float, unit: str) -> str:
    if math.isnan(v):
        return "-"
    if unit == "s":
        return f"{v * 1000:.3g} ms" if abs(v) < 1 else f"{v:.3g} s"
    return f"{v:.4g}{' ' + unit if unit and unit != '1/s' else ('/s' if unit else '')}"


def _relative(v: Verdict) -> str:
    r = v.relative
    if math.isnan(r):
        return "-"
    if math.isinf(r):
        return "new"
    return f"{r * 100:+.1f}%"


def _rows(verdicts: list[Verdict]) -> list[tuple[str, ...]]:
    return [
        (
            v.key,
            _num(v.baseline, v.unit),
            _num(v.candidate, v.unit),
            _num(v.delta, v.unit),
            _relative(v),
            "REGRESSION" if v.regression else "ok",
        )
        for v in verdicts
    ]


def _title(baseline: RunData, candidate: RunData) -> str:
    return (
        f"baseline {baseline.run} ({baseline.duration:.1f} s) against candidate {candidate.run} "
        f"({candidate.duration:.1f} s)"
    )


def terminal(baseline: RunData, candidate: RunData, verdicts: list[Verdict]) -> str:
    rows = [HEADER, *_rows(verdicts)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [_title(baseline, candidate)]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:5], widths[1:5], strict=True)] + [r[5]]
        lines.append("  ".join(cells).rstrip())
    lines.append(_verdict_line(verdicts))
    return "\n".join(lines)


def markdown(baseline: RunData, candidate: RunData, verdicts: list[Verdict]) -> str:
    lines = [f"**{_title(baseline, candidate)}**", "", "| " + " | ".join(HEADER) + " |", "|---|--:|--:|--:|--:|---|"]
    for r in _rows(verdicts):
        mark = ":x: regression" if r[5] == "REGRESSION" else ""
        lines.append("| " + " | ".join([f"`{r[0]}`", *r[1:5], mark]) + " |")
    lines += ["", _verdict_line(verdicts)]
    return "\n".join(lines)


def as_json(baseline: RunData, candidate: RunData, verdicts: list[Verdict]) -> str:
    def run(r: RunData) -> dict[str, object]:
        return {"run": r.run, "start": r.start, "end": r.end, "duration_seconds": r.duration}

    document = {
        "baseline": run(baseline),
        "candidate": run(candidate),
        "figures": [v.to_json() for v in verdicts],
        "regressions": sum(v.regression for v in verdicts),
    }
    return json.dumps(document, indent=2)


def _verdict_line(verdicts: list[Verdict]) -> str:
    bad = [v.key for v in verdicts if v.regression]
    return f"{len(bad)} regression(s): {', '.join(bad)}" if bad else "no regression"


FORMATS = {"table": terminal, "markdown": markdown, "json": as_json}
