"""The shipped Alertmanager routing, run by a real Alertmanager: alerts posted to its API reach PagerDuty, Slack,
mail and the webhook as routed, with the secrets read from their files, and a critical alert holds back the
warning of the same alert and labels until it resolves. The receivers are loopback stand-ins
(tests/alerting_servers.py); only addresses, secret paths and the waits differ from prometheus/alertmanager.yml."""

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.alerting_servers import (
    AlertmanagerServer,
    Receiver,
    Request,
    SmtpSink,
    localize_alertmanager_config,
    write_secrets,
)
from tests.servers import wait_until

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

LAG = {
    "alertname": "TonexTailerLagGrowing",
    "network": "devnet",
    "node": "validator-07",
    "instance": "192.0.2.7:10056",
    "job": "tonex",
    "file": "/var/ton-work/db/session-logs",
}
STALLED = {"alertname": "TonNodeStatsStalled", "network": "devnet", "node": "validator-08", "severity": "warning"}


@dataclass
class Stack:
    alertmanager: AlertmanagerServer
    receiver: Receiver
    smtp: SmtpSink


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    receiver, smtp = Receiver(), SmtpSink()
    write_secrets(tmp_path / "secrets", receiver)
    alertmanager = AlertmanagerServer(tmp_path, localize_alertmanager_config(receiver, smtp, tmp_path / "secrets"))
    try:
        yield Stack(alertmanager, receiver, smtp)
    finally:
        alertmanager.stop()
        receiver.stop()
        smtp.stop()


def alert(labels: dict[str, str], summary: str) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC)
    return {
        "labels": labels,
        "annotations": {"summary": summary, "description": f"{summary}.", "runbook_url": "docs/alerts.md#x"},
        # starting now, as Prometheus sends an alert the moment it fires: an alert that started longer than
        # group_wait ago is sent at once, before the inhibitor may have seen its critical
        "startsAt": now.isoformat(),
        "endsAt": (now + datetime.timedelta(minutes=5)).isoformat(),
    }


def webhook_alerts(requests: list[Request], status: str = "firing") -> list[dict[str, str]]:
    return [a["labels"] for r in requests for a in r.json()["alerts"] if a["status"] == status]


def test_critical_pages_warning_mails_and_the_critical_holds_back_its_warning(stack: Stack) -> None:
    am, receiver = stack.alertmanager, stack.receiver
    lag_critical = alert({**LAG, "severity": "critical"}, "lag critical")
    am.post_alerts(
        [lag_critical, alert({**LAG, "severity": "warning"}, "lag warning"), alert(STALLED, "stats stalled")]
    )

    page = receiver.wait_for("the PagerDuty event", lambda r: r.path == "/pagerduty", 30).json()
    assert page["routing_key"] == "test-pagerduty-routing-key-secret"
    assert page["event_action"] == "trigger"
    assert page["payload"]["severity"] == "critical"
    assert page["payload"]["summary"] == "[FIRING:1] TonexTailerLagGrowing (devnet)"
    assert "FIRING [critical] lag critical" in page["payload"]["custom_details"]["alerts"]

    critical = receiver.wait_for("the critical webhook", lambda r: r.path == "/critical/webhook", 30)
    assert critical.headers["Authorization"] == "Bearer test-webhook-token-secret"
    assert webhook_alerts([critical]) == [{**LAG, "severity": "critical"}]
    wait_until(lambda: len(receiver.received("/slack")) >= 2, 30, "a Slack message for each route")
    slack = [r.json() for r in receiver.received("/slack")]
    assert sorted((m["channel"], m["attachments"][0]["title"]) for m in slack) == [
        ("#ton-alerts", "[FIRING:1] TonNodeStatsStalled (devnet)"),
        ("#ton-alerts-critical", "[FIRING:1] TonexTailerLagGrowing (devnet)"),
    ]

    mail = wait_until(lambda: stack.smtp.messages, 30, "the warning's mail")[0]
    assert (mail["To"], mail["Subject"]) == ("ton-oncall@example.org", "[FIRING:1] TonNodeStatsStalled (devnet)")
    body = mail.get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n").strip() == (
        "FIRING [warning] stats stalled\nstats stalled.\nRunbook: docs/alerts.md#x"
    )

    # the warning of the lag alert is held back by its critical, the stalled node's warning is not
    warning = receiver.wait_for("the warning webhook", lambda r: r.path == "/warning/webhook", 30)
    assert webhook_alerts([warning]) == [STALLED]
    held = {a["labels"]["severity"]: a["status"] for a in am.alerts() if a["labels"]["alertname"] == LAG["alertname"]}
    assert held["warning"]["state"] == "suppressed"
    assert held["warning"]["inhibitedBy"] != []
    assert held["critical"]["state"] == "active"
    assert {**LAG, "severity": "warning"} not in webhook_alerts(receiver.received("/warning/webhook"))

    # the critical resolves: PagerDuty hears it, and the warning it held back goes out
    am.post_alerts([{**lag_critical, "endsAt": datetime.datetime.now(datetime.UTC).isoformat()}])
    resolve = receiver.wait_for(
        "the PagerDuty resolve", lambda r: r.path == "/pagerduty" and r.json()["event_action"] == "resolve", 30
    )
    assert resolve.json()["dedup_key"] == page["dedup_key"]
    receiver.wait_for(
        "the lag warning, no longer held back",
        lambda r: r.path == "/warning/webhook" and {**LAG, "severity": "warning"} in webhook_alerts([r]),
        30,
    )
    assert all(r.path != "/deadmans-switch/webhook" for r in receiver.received())
