"""Which node a file belongs to, from its path: what `serve`, `slowest-blocks` and `backfill` all call it."""

import re
from pathlib import Path

_THREAD_FILE = re.compile(r"\.thread\d+\.log$")  # td's `-l FILE` writes thread N's lines to FILE.threadN.log


def node_name_for(path: str) -> str:
    """tontester writes `node<N>/session-logs` and `node<N>/log`: the directory names the node. Otherwise the file
    name does."""
    directory, name = Path(path).parent.name, _THREAD_FILE.sub("", Path(path).name)
    if name in ("session-logs", "log") and directory:
        return directory
    for suffix in (".gz", ".jsonl", ".json", ".log", ".session-stats"):
        name = name.removesuffix(suffix)
    return name or "node"
