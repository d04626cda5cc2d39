"""What the exporter knows about each file it reads, for the self-metrics and the log."""

import logging
from collections import Counter
from dataclasses import dataclass, field

log = logging.getLogger("ton_exporter.source")


@dataclass
class FileStats:
    path: str
    node: str
    up: bool = False
    size: int = 0
    offset: int = 0
    bytes_read: int = 0
    lines_read: int = 0
    lines_parsed: int = 0
    rotations: int = 0
    truncations: int = 0
    last_read_time: float = 0.0
    last_event_time: float = 0.0
    rejected: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)
    field_errors: Counter[str] = field(default_factory=Counter)

    def reject(self, reason: str, offset: int, detail: str = "") -> None:
        """Count a rejected line; log only the first of each reason, with where it is."""
        first = reason not in self.rejected
        self.rejected[reason] += 1
        if first:
            log.warning(
                "rejected line",
                extra={
                    "file": self.path,
                    "offset": offset,
                    "reason": reason,
                    "detail": detail[:200],
                    "note": "further lines rejected for this reason are only counted",
                },
            )

    def field_error(self, field: str, offset: int, detail: str) -> None:
        """Count a malformed embedded field of a line that was otherwise used; log the first one per field."""
        first = field not in self.field_errors
        self.field_errors[field] += 1
        if first:
            log.warning(
                "malformed field",
                extra={
                    "file": self.path,
                    "offset": offset,
                    "field": field,
                    "detail": detail,
                    "note": "further malformed values of this field are only counted",
                },
            )
