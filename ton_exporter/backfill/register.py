"""A backfilled run joins the monitoring daemon's runs, finished, with its event-time range and metadata: the runs
API lists it and the daemon exports its tonex_run_* series, so the runs dashboard shows it like a live one."""

from pathlib import Path

from ton_exporter.runs.client import DaemonNotRunningError, RunClient, RunRefusedError
from ton_exporter.runs.registry import Run


def register_with_daemon(directory: Path, run: Run) -> None:
    client = RunClient(directory)
    try:
        client.ensure_daemon()
        client.request({"command": "import", "run": run.to_state()})
    except (DaemonNotRunningError, RunRefusedError) as e:
        raise RuntimeError(str(e)) from e
