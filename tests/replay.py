"""Live, moving inputs for the dashboard test: text logs that keep growing and an engine stand-in whose counters
keep counting. Inputs read once leave every rate at 0 and every ratio NaN, and a panel drawing nothing looks green."""

import re
import shutil
import threading
from datetime import datetime, timedelta
from pathlib import Path

from tests.servers import MetricsStandIn

# Sample lines of cumulative series: their values grow with every scrape; gauges stay as written.
CUMULATIVE = re.compile(rb"^(\w+(?:_total|_bucket|_sum|_count))(\{[^}]*\})? (\S+)$")


def advanced(text: bytes, copies: int) -> bytes:
    """`text` (a /metrics answer) as if the engine had lived `copies` times as long: every counter, bucket, sum
    and count multiplied, so that rates are positive and histograms stay consistent."""
    out = []
    for line in text.splitlines():
        match = CUMULATIVE.match(line)
        if match and not line.startswith(b"#"):
            name, labels, value = match.groups()
            out.append(name + (labels or b"") + b" " + repr(float(value) * copies).encode())
        else:
            out.append(line)
    return b"\n".join(out) + b"\n"


class ReplayedMetricsServer(MetricsStandIn):
    """The engine stand-in, replayed: scrape N answers the fixture's counters times N."""

    def __init__(self, text: bytes) -> None:
        scrapes = [0]
        lock = threading.Lock()

        def body() -> bytes:
            with lock:
                scrapes[0] += 1
                return advanced(text, scrapes[0])

        super().__init__(body)


PREFIX_TIME = re.compile(rb"\]\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)([.\d]*\]\[)")
REPEAT_SECONDS = 60  # log time between two copies of the sample: its 10 s, and 10 s for a block to settle, apart


def shifted(content: bytes, seconds: int) -> bytes:
    """A text log with every td prefix time `seconds` later (the fraction kept as written)."""

    def later(match: re.Match[bytes]) -> bytes:
        at = datetime.strptime(match.group(1).decode(), "%Y-%m-%d %H:%M:%S") + timedelta(seconds=seconds)
        return b"][" + at.strftime("%Y-%m-%d %H:%M:%S").encode() + match.group(2)

    return PREFIX_TIME.sub(later, content) if seconds else content


class TextLogReplayer:
    """Copies a directory of text logs and appends every file's content to its copy again every `period`
    seconds, as a node that keeps logging would: the lines repeat, REPEAT_SECONDS later in log time each round (a
    block broadcast again is another broadcast, aggregation/broadcast_spans.py); every line still ends in one
    place."""

    def __init__(self, source: Path, target: Path, period: float = 2.0) -> None:
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.md"))
        self.files = {path: (target / path.relative_to(source)) for path in source.rglob("log*")}
        self.contents = {path: path.read_bytes() for path in self.files}
        self.stopped = threading.Event()
        self.period = period
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        rounds = 0
        while not self.stopped.wait(self.period):
            rounds += 1
            for path, copy in self.files.items():
                with copy.open("ab") as out:
                    out.write(shifted(self.contents[path], rounds * REPEAT_SECONDS))

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
