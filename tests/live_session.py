"""SYNTHETIC session stats for the live tests: the real files of node1 and node2 repeated as one continuing session
(ton_exporter/sources/continuation.py), cut into the writes the engine makes, and an independent count of them.

Files written from here live under a directory named SYNTHETIC. The oracle below reads the raw JSON only; it
shares no code with the exporter's slot model (aggregation/slots.py).
"""

import copy
import itertools
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ton_exporter.sources.continuation import Continuation, event_times, run_period, write_times
from ton_exporter.sources.replay import load_bundled

NODES = ("node1", "node2")


@dataclass
class Write:
    due: float  # event time by which the engine has written these lines
    lines: dict[str, list[bytes]] = field(default_factory=dict)


def continuing_records(repetitions: int) -> dict[str, list[tuple[float, dict[str, Any]]]]:
    """Per node, (write time, record) of `repetitions` repetitions of the real run as one session."""
    bundled = load_bundled()
    continuation = Continuation.of((r for node in bundled.values() for r in node), run_period(bundled))
    out: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    for node, records in bundled.items():
        lines: list[tuple[float, dict[str, Any]]] = []
        for k in range(repetitions):
            repeated = [continuation.apply(copy.deepcopy(r), k) for r in records]
            lines.extend(zip(write_times(repeated), repeated, strict=True))
        out[node] = lines
    return out


def engine_writes(repetitions: int, every: float | None) -> list[Write]:
    """The lines in the order and groups the files grow by: one write per line (`every` None), or the lines
    due in each `every` seconds of event time appended at once (batches a few seconds apart)."""
    writes: dict[float, Write] = {}
    records = continuing_records(repetitions)
    first = min(due for node in records.values() for due, _ in node)
    for node, lines in records.items():
        for due, record in lines:
            key = due if every is None else first + math.ceil((due - first) / every) * every
            write = writes.setdefault(key, Write(key))
            write.lines.setdefault(node, []).append(orjson.dumps(record))
    return [writes[k] for k in sorted(writes)]


def write_files(directory: Path, writes: Iterable[Write]) -> dict[str, Path]:
    paths = {node: directory / "SYNTHETIC" / node / "session-logs" for node in NODES}
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    for write in writes:
        append(paths, write)
    return paths


def append(paths: dict[str, Path], write: Write) -> None:
    for node, lines in write.lines.items():
        with open(paths[node], "ab") as f:
            f.write(b"".join(line + b"\n" for line in lines))


# --- the independent count


VOTES = {"consensus.simplex.notarizeVote": "notarize", "consensus.simplex.finalizeVote": "finalize"}


@dataclass
class NodeCount:
    """What one node's raw events say, per workchain."""

    slots: dict[tuple[str, int], dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    workchain: dict[str, str] = field(default_factory=dict)  # session -> workchain
    idx: dict[str, int] = field(default_factory=dict)
    events: Counter[tuple[str, str]] = field(default_factory=Counter)  # (workchain, @type)

    def per_workchain(self, workchain: str) -> list[tuple[int, dict[str, float]]]:
        return sorted((n, e) for (sid, n), e in self.slots.items() if self.workchain[sid] == workchain)


def count_node(records: Iterable[dict[str, Any]]) -> NodeCount:
    count = NodeCount()
    batches = [r for r in records if r["@type"] == "consensus.stats.events"]
    for record in batches:
        for item in record["events"]:
            event = item["event"]
            if event["@type"] == "consensus.stats.id":
                count.workchain[record["id"]] = str(event["workchain"])
                count.idx[record["id"]] = event["idx"]
    for record in batches:
        sid = record["id"]
        for item in record["events"]:
            event, ts = item["event"], item["ts"]
            kind = event["@type"].rsplit(".", 1)[1]
            count.events[(count.workchain[sid], event["@type"])] += 1
            if kind in ("voted", "certObserved"):
                vote = event["vote"]
                name = VOTES.get(vote["@type"], "skip")
                number = vote["slot"] if name == "skip" else vote["id"]["slot"]
                _earliest(count.slots[(sid, number)], f"{kind}:{name}", ts)
            elif kind in ("collateStarted", "collateFinished"):
                _earliest(count.slots[(sid, event["target_slot"])], kind, ts)
            elif kind == "collatedEmpty":
                _earliest(count.slots[(sid, event["id"]["slot"])], "collateFinished", ts)
            elif "id" in event and isinstance(event["id"], dict):
                _earliest(count.slots[(sid, event["id"]["slot"])], kind, ts)
    return count


def _earliest(slot: dict[str, float], key: str, ts: float) -> None:
    slot[key] = min(ts, slot.get(key, math.inf))


PHASES = {
    "notarization": ("candidateReceived", "certObserved:notarize"),
    "finalization": ("certObserved:notarize", "certObserved:finalize"),
    "validation": ("validationStarted", "validationFinished"),
    "received_to_validated": ("candidateReceived", "validationFinished"),
    "notarize_vote": ("candidateReceived", "voted:notarize"),
    "finalize_vote": ("certObserved:notarize", "voted:finalize"),
    "accept": ("certObserved:finalize", "blockAccepted"),
    "collation": ("collateStarted", "collateFinished"),
}


def phase_values(count: NodeCount, workchain: str, phase: str) -> list[float]:
    slots = count.per_workchain(workchain)
    if phase == "slot":
        out = []
        for _, e in slots:
            if "certObserved:finalize" in e:
                start = min(v for k, v in e.items() if not k.startswith("certObserved"))
                out.append(e["certObserved:finalize"] - start)
        return out
    if phase == "finalization_interval":
        finals = [e["certObserved:finalize"] for _, e in slots if "certObserved:finalize" in e]
        return [b - a for a, b in itertools.pairwise(finals) if b > a]
    first, second = PHASES[phase]
    return [e[second] - e[first] for _, e in slots if first in e and second in e and e[second] >= e[first]]


def slot_counts(count: NodeCount, workchain: str) -> dict[str, int]:
    slots = [e for _, e in count.per_workchain(workchain)]
    return {
        "slots": sum(1 for e in slots if "candidateReceived" in e or "certObserved:skip" in e),
        "finalized": sum(1 for e in slots if "certObserved:finalize" in e),
        "accepted": sum(1 for e in slots if "blockAccepted" in e),
        "collations": sum(1 for e in slots if "collateFinished" in e),
        "unfinished": sum(1 for e in slots if "collateStarted" in e and "collateFinished" not in e),
        **{f"vote:{v}": sum(1 for e in slots if f"voted:{v}" in e) for v in ("notarize", "finalize", "skip")},
        **{f"cert:{v}": sum(1 for e in slots if f"certObserved:{v}" in e) for v in ("notarize", "finalize", "skip")},
    }


def rows(records: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["@type"] == kind]


def times(record: dict[str, Any]) -> list[float]:
    return event_times(record)


# --- window figures, counted from the raw records


def _in(window: int, t: float) -> bool:
    return window <= t < window + 60


def _aggs(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    # The exact quantiles by the standard library's "inclusive" method (numpy's default, R's type 7); one value is
    # every quantile of itself.
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    quantiles = {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}
    return {"avg": sum(values) / len(values), "min": min(values), "max": max(values), "sum": sum(values)} | quantiles


def window_figures(records: list[dict[str, Any]], workchain: str, window: int) -> dict[tuple[str, str], float]:
    """(family, agg or "") -> the value its window gauge must show for `window`, for one node and workchain."""
    wc = int(workchain)
    collated = [r for r in rows(records, "validatorStats.collatedBlock") if r["block_id"]["workchain"] == wc]
    validated = [r for r in rows(records, "validatorStats.validatedBlock") if r["block_id"]["workchain"] == wc]
    collated = [r for r in collated if _in(window, r["collated_at"])]
    validated = [r for r in validated if _in(window, r["validated_at"])]
    out: dict[tuple[str, str], float] = {
        ("tonex_window_collated_blocks", ""): len(collated),
        ("tonex_window_validated_blocks", "valid"): sum(1 for r in validated if r["valid"]),
        ("tonex_window_collation_total_observations", ""): len(collated),
        ("tonex_window_validation_total_observations", ""): len(validated),
    }
    for agg, v in _aggs([r["total_time"] for r in collated]).items():
        out[("tonex_window_collation_total_seconds", agg)] = v
    for agg, v in _aggs([r["total_time"] for r in validated]).items():
        out[("tonex_window_validation_total_seconds", agg)] = v
    count = count_node(records)
    slots = [e for _, e in count.per_workchain(workchain)]
    for name, key in (
        ("tonex_window_consensus_slots", "candidateReceived"),
        ("tonex_window_consensus_finalized_slots", "certObserved:finalize"),
        ("tonex_window_accepted_blocks", "blockAccepted"),
    ):
        out[(name, "")] = sum(1 for e in slots if key in e and _in(window, e[key]))
    out[("tonex_window_consensus_unfinished_collations", "")] = sum(
        1 for e in slots if "collateStarted" in e and "collateFinished" not in e and _in(window, e["collateStarted"])
    )
    for phase in ("notarization", "collation", "accept"):
        first, second = PHASES[phase]
        values = [e[second] - e[first] for e in slots if first in e and second in e and _in(window, e[second])]
        out[(f"tonex_window_consensus_{phase}_observations", "")] = len(values)
        for agg, v in _aggs(values).items():
            out[(f"tonex_window_consensus_{phase}_seconds", agg)] = v
    return out
