"""The session-stats pipeline of one file: lines in, node state updated.

Decoding and dispatch live here; what a record means is the parsers' business, what is counted the aggregation's.
Every line ends in exactly one place: parsed (and counted by `@type`), or rejected with a reason.
"""

import gc
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from ton_exporter.aggregation.crosslinks import BlockLinks
from ton_exporter.aggregation.measures import COLLATED, VALIDATED
from ton_exporter.aggregation.node import NodeState
from ton_exporter.parsers import consensus_events, record_types
from ton_exporter.parsers.errors import RecordError
from ton_exporter.parsers.session_stats import collated_row, validated_row
from ton_exporter.sources.file_stats import FileStats

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


class SessionStatsPipeline:
    def __init__(self, node: NodeState, stats: FileStats, links: Callable[[], BlockLinks] | None = None) -> None:
        self.node = node
        self.stats = stats
        self._links = links  # the current run's block structure and accept times (crosslinks.py), if kept
        self._handlers: dict[str, Callable[[dict[str, Any], int | None, int], float]] = {
            record_types.COLLATED_BLOCK: self._collated,
            record_types.VALIDATED_BLOCK: self._validated,
            record_types.CONSENSUS_EVENTS: self._consensus,
        }

    def feed(self, offset: int, lines: list[bytes]) -> None:
        """Process complete lines, the first of which starts at file offset `offset`."""
        with _collector_paused():
            self._feed(offset, lines)

    def _feed(self, offset: int, lines: list[bytes]) -> None:
        stats, handlers = self.stats, self._handlers
        records = stats.records
        oldest_window = self.node.complete_window()
        newest = -math.inf
        parsed = 0
        for line in lines:
            try:
                record = _loads(line)
            except _JSONDecodeError as e:
                reason = _decode_failure(line)
                stats.reject(reason, offset, str(e) if reason == "invalid_json" else "")
                offset += len(line) + 1
                continue
            try:
                kind = record["@type"]
                handler = handlers.get(kind)
                if handler is not None:
                    t = handler(record, oldest_window, offset)
                    if t > newest:  # noqa: PLR1730  (a comparison, not a call: once per line)
                        newest = t
                    records[kind] += 1
                    parsed += 1
                elif kind in record_types.KNOWN:
                    records[kind] += 1  # legacy: recognised and counted by type only
                    parsed += 1
                else:
                    self._reject_envelope(record, offset)
            except RecordError as e:
                stats.reject(e.reason, offset, e.detail)
            except (TypeError, KeyError, AttributeError, ValueError):
                self._reject_envelope(record, offset)
            offset += len(line) + 1
        stats.lines_parsed += parsed
        stats.last_event_time = max(stats.last_event_time, newest)
        self.node.end_batch(newest)

    def _reject_envelope(self, record: object, offset: int) -> None:
        """Say why a decoded line was not used. Only runs for bad lines."""
        if not isinstance(record, dict):
            self.stats.reject("not_object", offset, type(record).__name__)
        elif not isinstance(record.get("@type"), str):
            self.stats.reject("missing_type", offset)
        elif record["@type"] not in record_types.KNOWN:
            self.stats.reject("unknown_type", offset, record["@type"][:80])
        else:
            self.stats.reject("bad_field", offset, f"unexpected structure in {record['@type']}")

    def _collated(self, record: dict[str, Any], oldest_window: int | None, offset: int) -> float:
        row = collated_row(record, self.stats, offset, self.node.limits.rules)
        self.node.add_block(COLLATED, row, oldest_window)
        if self._links is not None:
            self._links().collated(record, self.node.limits.rules)
        return row.time

    def _validated(self, record: dict[str, Any], oldest_window: int | None, offset: int) -> float:
        row = validated_row(record, self.stats, offset, self.node.limits.rules)
        self.node.add_block(VALIDATED, row, oldest_window)
        return row.time

    def _consensus(self, record: dict[str, Any], oldest_window: int | None, offset: int) -> float:
        t = self.node.consensus.add_batch(consensus_events.batch(record), oldest_window)
        if self._links is not None:
            self._links().events(self.node.name, record)
        return t


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while one block of lines (at most a read's worth) is processed.

    The rows and slots a block leaves behind are new container objects that survive, and the collector counts
    them as if they were garbage to find: a 50 MB backlog set off about 250 young and 7 full collections (each
    full one walks every kept row), 10-15% of its ingest time. Paused for the length of a block, it runs a young
    collection after each block instead and rarely a full one. Nothing is lost: reference counting frees
    everything acyclic at once as before, and cycles made in a block are found by the next collection. The
    block is processed synchronously, so nothing else runs meanwhile."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _decode_failure(line: bytes) -> str:
    if not line.strip():
        return "empty_line"
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return "not_utf8"
    return "invalid_json"
