"""Every dashboard, in the order of the folders they go to."""

from dashboards import consensus
from dashboards.model import Dashboard

DASHBOARDS: tuple[Dashboard, ...] = (consensus.DASHBOARD,)
