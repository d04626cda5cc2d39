"""The fleet Prometheus config, loaded unchanged by a real Prometheus: file_sd finds the 24 validators of the devnet
targets file, the relabelling gives every job's targets their port and `network`/`node` labels, and an edit of
the targets file is picked up without a restart."""

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerting_servers import BUNDLE, ConfiguredPrometheus
from tests.servers import wait_until

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

PORTS = {"tonex": 10056, "ton-engine": 10057, "node": 9100}


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[ConfiguredPrometheus, Path]]:
    """prometheus-fleet.yml and the rules as shipped; the devnet file's TEST-NET addresses 192.0.2.N moved to
    loopback 127.0.0.N, so that the scrapes that follow go nowhere but this machine."""
    shutil.copy(BUNDLE / "prometheus-fleet.yml", tmp_path)
    shutil.copytree(BUNDLE / "rules", tmp_path / "rules")
    (tmp_path / "targets").mkdir()
    devnet = (BUNDLE / "targets" / "devnet.yml").read_text()
    assert devnet.count("192.0.2.") == 24
    targets = tmp_path / "targets" / "devnet.yml"
    targets.write_text(devnet.replace('"192.0.2.', '"127.0.0.'))
    prometheus = ConfiguredPrometheus(tmp_path / "prometheus-fleet.yml")
    try:
        yield prometheus, targets
    finally:
        prometheus.stop()


def labels_by_job(prometheus: ConfiguredPrometheus) -> dict[str, list[dict[str, str]]]:
    jobs: dict[str, list[dict[str, str]]] = {}
    for target in prometheus.targets():
        jobs.setdefault(target["labels"]["job"], []).append(target["labels"])
    return jobs


def test_every_validator_is_a_target_of_each_job_with_its_node_and_network_and_edits_need_no_restart(
    fleet: tuple[ConfiguredPrometheus, Path],
) -> None:
    prometheus, targets = fleet
    jobs = wait_until(lambda: (j := labels_by_job(prometheus)) and len(j) == 5 and j, 30, "targets discovered")

    for job, port in PORTS.items():
        assert sorted(jobs[job], key=lambda t: int(t["node"][-2:])) == [
            {"job": job, "instance": f"127.0.0.{n}:{port}", "network": "devnet", "node": f"validator-{n:02d}"}
            for n in range(1, 25)
        ]
    assert jobs["prometheus"] == [{"job": "prometheus", "instance": "127.0.0.1:9090", "network": "monitoring"}]
    assert jobs["alertmanager"] == [{"job": "alertmanager", "instance": "127.0.0.1:9093", "network": "monitoring"}]

    text = targets.read_text()
    text = re.sub(r'- targets: \["127\.0\.0\.24"\]\n  labels: \{node: validator-24\}\n', "", text)
    # a host given by name and without a node label: the node label is its host name
    targets.write_text(text + '- targets: ["localhost"]\n')

    def edited() -> list[dict[str, str]] | None:
        tonex = labels_by_job(prometheus).get("tonex", [])
        return tonex if not any(t["node"] == "validator-24" for t in tonex) and len(tonex) == 24 else None

    tonex = wait_until(edited, 30, "the edit of devnet.yml picked up")
    assert {"job": "tonex", "instance": "localhost:10056", "network": "devnet", "node": "localhost"} in tonex
