"""Every dashboard, in the order of the folders they go to."""

from dashboards import consensus, runs
from dashboards.model import Dashboard

PERFORMANCE: tuple[Dashboard, ...] = (consensus.DASHBOARD,)  # what a run's row links to
DASHBOARDS: tuple[Dashboard, ...] = (*PERFORMANCE, runs.dashboard(PERFORMANCE))
