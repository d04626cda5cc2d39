"""Every dashboard, in the order of the folders they go to."""

from dashboards import compare, consensus, engine, health, node, overview, performance, runs, text_logs
from dashboards.model import Dashboard

BASE: tuple[Dashboard, ...] = (
    overview.DASHBOARD,
    performance.DASHBOARD,
    consensus.DASHBOARD,
    node.DASHBOARD,
    text_logs.DASHBOARD,
    engine.DASHBOARD,
    health.DASHBOARD,
)
# a run's row in the runs table links to every dashboard that takes $run
DASHBOARDS: tuple[Dashboard, ...] = (
    *BASE,
    runs.dashboard([d for d in BASE if any(v.name == "run" for v in d.variables)]),
    compare.DASHBOARD,
)
