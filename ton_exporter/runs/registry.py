"""The runs the daemon knows: their metadata, lifecycle, the run label they give to data, retention, saved copy.

Lifecycle: a run is `running` from its registration (a harness's hello, `ton-exporter run start`, or the
configuration in testnet mode) until its client disconnects or `run stop` ends it (`completed`), or the daemon
stops while it is live (`interrupted`, also given on restart to a run saved as running, ended at the last save).

The run label: data read while a run is running is counted under its id (the newest running run, if several
are); for `LINGER_SECONDS` after a run ends, under its id still (the engine writes its last consensus batch
about 5 s after the events, and the exporter reads a file some 0.2 s after a write); between runs, under
`idle_run`.

Retention: finished runs beyond the newest `runs`, or ended more than `days` ago, are deleted with their series.
"""

import logging
import math
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ton_exporter.checkpoint import write_atomically

log = logging.getLogger("ton_exporter.runs")

FORMAT_VERSION = 1
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
LABEL_NAME = re.compile(r"[a-z_][a-z0-9_]{0,39}")
RESERVED_LABELS = frozenset({"run", "description", "branch", "commit", "status", "node", "workchain", "shard"})
MAX_LABELS = 8
MAX_TEXT = 1000
STATUSES = ("running", "completed", "interrupted")
LINGER_SECONDS = 20.0
DEFAULT_KEEP_RUNS = 50
DEFAULT_KEEP_DAYS = 7.0

# Why a registration or a run command was refused: the `reason` of tonex_run_requests_rejected_total.
REJECT_REASONS = (
    "invalid_json",
    "too_large",
    "timeout",
    "bad_request",
    "bad_run_id",
    "bad_metadata",
    "run_exists",
    "unknown_run",
    "run_running",
    "unknown_command",
    "read_only",
)

ALIASES = {  # metadata keys as tontester and the old run tracker spell them
    "branch": ("branch", "git_branch", "gitBranch"),
    "commit": ("commit", "git_commit", "git_commit_id", "gitCommitId"),
    "nodes": ("nodes", "node_count"),
}


class RunError(Exception):
    """A refused request: `reason` is one of REJECT_REASONS, the message says what to do."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Retention:
    runs: int | None = DEFAULT_KEEP_RUNS
    days: float | None = DEFAULT_KEEP_DAYS


@dataclass
class Run:
    run_id: str
    start: float
    description: str = ""
    branch: str = ""
    commit: str = ""
    nodes: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # the rest of the metadata, as sent
    end: float | None = None
    status: str = "running"
    never_ends: bool = False  # testnet mode's run
    accepted_blocks: dict[str, int] = field(default_factory=dict)  # per workchain, the most any node accepted

    def duration(self, now: float) -> float:
        return max(0.0, (self.end if self.end is not None else now) - self.start)

    def to_json(self, now: float) -> dict[str, Any]:
        """The API's form (and `ton-exporter run list --json`)."""
        duration = self.duration(now)
        masterchain = self.accepted_blocks.get("-1")
        fields = self.to_state()
        del fields["never_ends"]
        return fields | {
            "start_iso": iso(self.start),
            "end_iso": iso(self.end) if self.end is not None else None,
            "duration_seconds": round(duration, 3),
            "blocks_per_second": masterchain / duration if masterchain and duration > 0 else None,
            "seconds_per_block": duration / masterchain if masterchain else None,
        }

    def to_state(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "description": self.description,
            "branch": self.branch,
            "commit": self.commit,
            "nodes": self.nodes,
            "labels": self.labels,
            "info": self.info,
            "start": self.start,
            "end": self.end,
            "never_ends": self.never_ends,
            "accepted_blocks": self.accepted_blocks,
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> "Run":
        run = cls(
            run_id=_run_id(data["run_id"]),
            start=float(data["start"]),
            end=float(data["end"]) if data.get("end") is not None else None,
            status=str(data["status"]),
            never_ends=bool(data.get("never_ends", False)),
            accepted_blocks={str(k): int(v) for k, v in data.get("accepted_blocks", {}).items()},
        )
        if run.status not in STATUSES:
            raise ValueError(f"unknown status {run.status!r}")
        apply_metadata(run, data)
        return run


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def _run_id(value: object) -> str:
    if not isinstance(value, str) or not RUN_ID.fullmatch(value):
        raise RunError(
            "bad_run_id",
            f"run_id must be 1-128 characters of letters, digits, '_', '.', ':' or '-', starting with a letter or "
            f"digit; got {str(value)[:80]!r}",
        )
    return value


def new_run(message: dict[str, Any], now: float) -> Run:
    """A run from a hello or a `start` command: `{"run_id": ..., "metadata": {...}}`."""
    run = Run(_run_id(message.get("run_id")), now)
    metadata = message.get("metadata", {})
    if not isinstance(metadata, dict):
        raise RunError("bad_metadata", "metadata must be a JSON object")
    apply_metadata(run, metadata)
    return run


def apply_metadata(run: Run, metadata: dict[str, Any]) -> None:
    """description, branch, commit, nodes, labels; every other key is kept as info."""
    used = {"description", "labels", "run_id", "start", "end", "status", "never_ends", "accepted_blocks", "info"}
    run.description = _text(metadata.get("description", ""), "description")
    for name, keys in ALIASES.items():
        used.update(keys)
        value = next((metadata[k] for k in keys if k in metadata), None)
        if name == "nodes":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise RunError("bad_metadata", f"nodes must be a whole number >= 0, got {value!r}")
            run.nodes = value
        else:
            setattr(run, name, _text(value or "", name))
    run.labels = _labels(metadata.get("labels", {}))
    info = metadata.get("info", {})
    run.info = {k: v for k, v in metadata.items() if k not in used} | (info if isinstance(info, dict) else {})


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise RunError("bad_metadata", f"{name} must be a string, got {type(value).__name__}")
    if len(value) > MAX_TEXT:
        raise RunError("bad_metadata", f"{name} is longer than {MAX_TEXT} characters")
    return value


def _labels(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise RunError("bad_metadata", "labels must be a JSON object of names to strings")
    if len(value) > MAX_LABELS:
        raise RunError("bad_metadata", f"at most {MAX_LABELS} labels (put the rest in metadata: it is kept as info)")
    labels = {}
    for name, v in value.items():
        if not LABEL_NAME.fullmatch(name) or name in RESERVED_LABELS:
            raise RunError(
                "bad_metadata",
                f"label name {name!r}: lower-case letters, digits and '_', at most 40, not one of "
                f"{', '.join(sorted(RESERVED_LABELS))}",
            )
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise RunError("bad_metadata", f"label {name!r} must be a string or a number")
        labels[name] = _text(str(v), f"label {name}")[:200]
    return labels


class RunRegistry:
    def __init__(
        self,
        path: Path | None,
        retention: Retention | None = None,
        *,
        idle_run: str = "default",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.retention = retention or Retention()
        self.idle_run = idle_run
        self.clock = clock
        self.runs: dict[str, Run] = {}
        self.rejected: Counter[str] = Counter()
        self.registered = 0
        self.on_change: list[Callable[[], None]] = []
        self.dirty = False  # changed since the last save
        self._logged_reasons: set[str] = set()
        if path is not None:
            self._load(path)

    # --- the lifecycle

    def start(self, run: Run) -> Run:
        existing = self.runs.get(run.run_id)
        if existing is not None:
            state = "is running" if existing.status == "running" else "exists (finished); delete it or pick another id"
            raise RunError("run_exists", f"run {run.run_id!r} {state}")
        self.runs[run.run_id] = run
        self.registered += 1
        log.info("run started", extra={"run": run.run_id, "description": run.description[:80]})
        self._changed()
        return run

    def add_finished(self, run: Run) -> Run:
        """A run that happened elsewhere (a backfill): kept with its own time range, completed."""
        if run.end is None or not run.start <= run.end:
            raise RunError("bad_request", "a finished run needs start <= end")
        run.status, run.never_ends = "completed", False
        return self.start(run)

    def keep_running(self, run: Run) -> Run:
        """Testnet mode's run: started once, kept across restarts, its metadata taken from the configuration."""
        existing = self.runs.get(run.run_id)
        if existing is None:
            run.never_ends = True
            return self.start(run)
        run.start, run.accepted_blocks, run.never_ends = existing.start, existing.accepted_blocks, True
        self.runs[run.run_id] = run
        self._changed()
        return run

    def end(self, run_id: str, status: str = "completed") -> Run:
        run = self.get(run_id)
        if run.status == "running":
            run.status, run.end = status, self.clock()
            log.info("run ended", extra={"run": run_id, "status": status})
            self._changed()
        return run

    def interrupt_running(self) -> None:
        """The daemon stops: runs still live are interrupted now (testnet mode's run goes on)."""
        for run in self.runs.values():
            if run.status == "running" and not run.never_ends:
                self.end(run.run_id, "interrupted")

    def describe(self, run_id: str, description: object) -> Run:
        run = self.get(run_id)
        run.description = _text(description, "description")
        self._changed()
        return run

    def delete(self, run_id: str) -> Run:
        run = self.get(run_id)
        if run.status == "running":
            raise RunError("run_running", f"run {run_id!r} is running: stop it first")
        del self.runs[run_id]
        log.info("run deleted", extra={"run": run_id})
        self._changed()
        return run

    def get(self, run_id: str) -> Run:
        run = self.runs.get(run_id) if isinstance(run_id, str) else None
        if run is None:
            raise RunError("unknown_run", f"no run {str(run_id)[:80]!r}")
        return run

    def newest_first(self) -> list[Run]:
        return sorted(self.runs.values(), key=lambda r: r.start, reverse=True)

    def reject(self, error: RunError, where: str) -> None:
        """Count a refused request; log the first of each reason (later ones only at debug level)."""
        self.rejected[error.reason] += 1
        first = error.reason not in self._logged_reasons
        self._logged_reasons.add(error.reason)
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "run request refused",
            extra={"reason": error.reason, "error": error.message[:200], "via": where},
        )

    # --- what the run label is, what is kept

    def label(self) -> str:
        now = self.clock()
        running = [r for r in self.runs.values() if r.status == "running"]
        if running:
            return max(running, key=lambda r: r.start).run_id
        lingering = [r for r in self.runs.values() if r.end is not None and now - r.end < LINGER_SECONDS]
        if lingering:
            return max(lingering, key=lambda r: r.end or 0.0).run_id
        return self.idle_run

    def apply_retention(self) -> list[str]:
        now = self.clock()
        finished = [r for r in self.newest_first() if r.status != "running"]
        keep = self.retention.runs if self.retention.runs is not None else math.inf
        max_age = self.retention.days * 86400 if self.retention.days is not None else math.inf
        gone = [r.run_id for i, r in enumerate(finished) if i >= keep or now - (r.end or now) > max_age]
        for run_id in gone:
            del self.runs[run_id]
        if gone:
            log.info("runs removed by retention", extra={"runs": ",".join(gone)})
            self._changed()
        return gone

    def note_accepted_blocks(self, run_id: str, accepted: dict[str, int]) -> None:
        run = self.runs.get(run_id)
        if run is not None and accepted and accepted != run.accepted_blocks:
            run.accepted_blocks = accepted
            self.dirty = True

    # --- saved copy

    def _changed(self) -> None:
        self.dirty = True
        for callback in self.on_change:
            callback()

    def save(self) -> None:
        if self.path is None:
            return
        data = {
            "version": FORMAT_VERSION,
            "written_at": self.clock(),
            "runs": [r.to_state() for r in self.runs.values()],
        }
        try:
            write_atomically(self.path, orjson.dumps(data))
            self.dirty = False
        except OSError as e:
            log.error("cannot save the runs", extra={"state": str(self.path), "error": str(e)})

    def _load(self, path: Path) -> None:
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, orjson.JSONDecodeError) as e:
            self._set_aside(path, e)
            return
        try:
            if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
                raise ValueError("not a runs file of this format version")
            runs = [Run.from_state(entry) for entry in data["runs"]]
            saved_at = float(data["written_at"])
        except (KeyError, TypeError, ValueError, AttributeError, RunError) as e:
            self._set_aside(path, e)
            return
        for run in runs:
            if run.status == "running" and not run.never_ends:
                run.status, run.end = "interrupted", max(saved_at, run.start)
            self.runs[run.run_id] = run
        log.info("runs restored", extra={"state": str(path), "runs": len(runs)})

    def _set_aside(self, path: Path, error: Exception) -> None:
        aside = path.with_name(path.name + ".corrupt")
        path.replace(aside)
        log.error("saved runs unusable: moved aside", extra={"moved_to": str(aside), "error": str(error)[:200]})
