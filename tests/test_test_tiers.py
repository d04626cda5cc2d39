"""The quick tier stays quick and honest: a test module that starts real binaries or processes is marked
`external` (or each such test uses an EXTERNAL_FIXTURES fixture), so `./dev test --quick` never starts one, while
`./dev test` runs them all and a missing binary still fails."""

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
STARTS_SOMETHING = re.compile(
    r"require_binary|PrometheusServer|ExporterProcess|subprocess|\bPopen\b|from tests\.(servers|alerting_servers|sshd|"
    r"compose_\w+) import"
)
MARKED = re.compile(r"^pytestmark = \[?pytest\.mark\.external", re.MULTILINE)
# Modules whose external tests are marked through a fixture (conftest.EXTERNAL_FIXTURES), not as a whole.
BY_FIXTURE = {"test_dashboards.py"}


def test_every_module_that_starts_binaries_or_processes_is_marked_external() -> None:
    unmarked = [
        path.name
        for path in sorted(TESTS.glob("test_*.py"))
        if path.name != Path(__file__).name
        and STARTS_SOMETHING.search(path.read_text())
        and not MARKED.search(path.read_text())
        and path.name not in BY_FIXTURE
    ]
    assert not unmarked, f"mark these `pytestmark = pytest.mark.external`: {unmarked}"
