"""What the exporter knows about each file it reads, for the self-metrics and the log."""

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar, Literal

log = logging.getLogger("ton_exporter.source")


# Which pipeline reads a file: the JSON Lines session stats, or a td text log.
SourceFormat = Literal["session_stats", "text_log"]


@dataclass
class FileStats:
    path: str
    node: str
    format: SourceFormat = "session_stats"
    up: bool = False
    size: int = 0
    offset: int = 0
    bytes_read: int = 0
    lines_read: int = 0
    lines_parsed: int = 0
    rotations: int = 0
    truncations: int = 0
    opened_files: int = 0
    last_read_time: float = 0.0
    last_event_time: float = 0.0
    rejected: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)
    field_errors: Counter[str] = field(default_factory=Counter)

    COUNTERS: ClassVar[tuple[str, ...]] = (
        "bytes_read",
        "lines_read",
        "lines_parsed",
        "rotations",
        "truncations",
        "opened_files",
        "last_event_time",
    )

    def to_json(self) -> dict[str, object]:
        """The counters that must survive a restart (gauges such as size and offset are measured again)."""
        return {
            **{name: getattr(self, name) for name in self.COUNTERS},
            "rejected": dict(self.rejected),
            "records": dict(self.records),
            "field_errors": dict(self.field_errors),
        }

    def restore(self, data: dict[str, object]) -> None:
        for name in self.COUNTERS:
            value = data.get(name, 0)
            if not isinstance(value, int | float):
                raise ValueError(f"file stats {name} of the wrong type")
            setattr(self, name, value)
        for name in ("rejected", "records", "field_errors"):
            counts = data.get(name, {})
            if not isinstance(counts, dict):
                raise ValueError(f"file stats {name} of the wrong type")
            getattr(self, name).update({str(k): int(v) for k, v in counts.items()})

    def reject(self, reason: str, offset: int, detail: str = "") -> None:
        """Count a rejected line; log only the first of each reason, with where it is."""
        self._count(self.rejected, "rejected line", kind="reason", key=reason, offset=offset, detail=detail)

    def field_error(self, field: str, offset: int, detail: str) -> None:
        """Count a malformed embedded field of a line that was otherwise used; log the first one per field."""
        self._count(self.field_errors, "malformed field", kind="field", key=field, offset=offset, detail=detail)

    def _count(self, counts: Counter[str], message: str, *, kind: str, key: str, offset: int, detail: str) -> None:
        first = key not in counts
        counts[key] += 1
        if first:
            log.warning(
                message,
                extra={
                    "file": self.path,
                    "offset": offset,
                    kind: key,
                    "detail": detail[:200],
                    "note": f"later ones with this {kind} are only counted",
                },
            )
