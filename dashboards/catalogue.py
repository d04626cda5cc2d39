"""Every dashboard, in the order of the folders they go to."""

from dashboards import consensus, engine, health, node, overview, performance
from dashboards.model import Dashboard

DASHBOARDS: tuple[Dashboard, ...] = (
    overview.DASHBOARD,
    performance.DASHBOARD,
    consensus.DASHBOARD,
    node.DASHBOARD,
    engine.DASHBOARD,
    health.DASHBOARD,
)
