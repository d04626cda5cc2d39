"""Text-log ingest: the exporter against Debian's mtail running an equivalent program (textlog.mtail) on the same
SYNTHETIC log, in the same run.

Both are whole processes, timed from start to exit, on the same file, interleaved: `python -m bench.textlog FILE`
does what `serve --from-start --text-log FILE` does from cold (read in blocks, split, parse, count, render /metrics
once), and `mtail --one_shot` compiles the program, reads the file from its start, runs the program on every line
and prints its metrics. The program keeps the same counters and histograms (lines by level and component,
continuation lines, the four benchmark histograms by op, called_from and compression; tests check that both count
the same on the sample); it does not name the levels or spell compressedV2<alg> with an underscore.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from prometheus_client import generate_latest

from synthetic.text_logs import generate
from ton_exporter.app import Exporter
from ton_exporter.sources.discovery import SourcePattern

PROGRAM = Path(__file__).resolve().parent / "textlog.mtail"


def logs(directory: Path, blocks: int) -> dict[str, Path]:
    """node1's coloured stderr log and node4's plain log (an older build at -v4) of `blocks` blocks (reused)."""
    wanted = {"coloured (node1)": directory / "node1" / "log", "plain (node4)": directory / "node4" / "log"}
    marker = directory / f"blocks-{blocks}"
    if not marker.exists():
        shutil.rmtree(directory, ignore_errors=True)
        generate(directory, blocks=blocks, only={"node1", "node4"})
        marker.touch()
    return wanted


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


def run(command: list[str]) -> dict[str, float]:
    """Wall and CPU seconds of one process run to its end."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({process.returncode}): {' '.join(command)}")
    return {"seconds": wall, "cpu": usage.ru_utime + usage.ru_stime}


def commands(path: Path) -> dict[str, list[str]]:
    mtail = shutil.which("mtail")
    if mtail is None:
        raise SystemExit("mtail is not installed: ./dev bench installs Debian's mtail")
    return {
        "mtail": [mtail, "--one_shot", "--one_shot_format=prometheus", f"--progs={PROGRAM}", f"--logs={path}"],
        "exporter": [sys.executable, "-m", "bench.textlog", str(path)],
    }


def ingest(path: Path) -> int:
    exporter = Exporter([SourcePattern(str(path), "bench", "text_log")], from_start=True)
    lines = exporter.poll_once()
    generate_latest(exporter.registry)
    return lines


if __name__ == "__main__":
    ingest(Path(sys.argv[1]))
