"""The Prometheus and Alertmanager bundle (prometheus/), checked offline by the real tools: promtool check config,
check rules and test rules; amtool check-config and route tests. Plus what the tools cannot see: the committed
rules are what thresholds.yml generates, every alert is unit-tested firing and silent, every metric a rule reads
is one the exporter (or the engine, or node-exporter) exports, and no secret is written in the configs."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from prometheus import generate
from tests.conftest import require_binary

pytestmark = pytest.mark.external  # real binaries or processes: not in ./dev test --quick

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "prometheus"
ALERTS = yaml.safe_load((BUNDLE / "rules" / "alerts.yml").read_text())["groups"]
RECORDING = yaml.safe_load((BUNDLE / "rules" / "recording.yml").read_text())["groups"]
ALERT_RULES: list[dict[str, Any]] = [r for g in ALERTS for r in g["rules"]]
RECORDS = {r["record"] for g in RECORDING for r in g["rules"]}
UNIT_TESTS = sorted((BUNDLE / "tests").glob("*.test.yml"))

# What the rules may read besides the exporter's families (docs/metrics.md, docs/running.md): the validator-engine's
# --exporter-address families (../shared/ton-formats.md section 10), node-exporter's filesystem gauges and
# Prometheus's own series.
ENGINE_FAMILIES = {"ton_first_received_total", "ton_received_total"}
OTHER_SERIES = {
    "up",
    "ALERTS",
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
    "node_filesystem_readonly",
}
PROMQL_WORDS = {
    "sum",
    "max",
    "min",
    "avg",
    "by",
    "without",
    "on",
    "group_left",
    "and",
    "or",
    "unless",
    "offset",
    "rate",
    "increase",
    "histogram_quantile",
    "avg_over_time",
    "predict_linear",
    "vector",
    "le",
}


def run(args: list[str], cwd: Path = BUNDLE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=False, cwd=cwd, capture_output=True, text=True, timeout=120)


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{' '.join(result.args)}\n{result.stdout}\n{result.stderr}"


# --- generated from thresholds.yml ------------------------------------------------------------------------------


def test_committed_rules_and_doc_tables_are_what_thresholds_yml_generates() -> None:
    assert_ok(run([sys.executable, "-m", "prometheus.generate", "--check"], cwd=ROOT))


def test_a_changed_threshold_changes_the_rule_and_the_docs_table(tmp_path: Path) -> None:
    thresholds = yaml.safe_load(generate.THRESHOLDS.read_text())
    thresholds["alerts"]["TonNoBlockAccepted"].update({"window": "3m", "for": "45s", "severity": "warning"})
    thresholds["alerts"]["TonexTailerLagGrowing"]["severities"]["critical"]["lag_bytes"] = 1 << 30
    changed = tmp_path / "thresholds.yml"
    changed.write_text(yaml.safe_dump(thresholds))
    out = tmp_path / "out"

    assert generate.main(["--thresholds", str(changed), "--out", str(out)]) == 0

    rules = [r for g in yaml.safe_load((out / "prometheus/rules/alerts.yml").read_text())["groups"] for r in g["rules"]]
    accepted = next(r for r in rules if r["alert"] == "TonNoBlockAccepted")
    assert accepted["expr"] == (
        'max by (network, run, workchain) (increase(tonex_accepted_blocks_total{workchain!="unknown"}[3m])) == 0'
    )
    assert (accepted["for"], accepted["labels"]) == ("45s", {"severity": "warning"})
    assert "for 3m:" in accepted["annotations"]["description"]
    lag = next(r for r in rules if r["alert"] == "TonexTailerLagGrowing" and r["labels"]["severity"] == "critical")
    assert "> 1073741824\n" in lag["expr"]
    assert "(alert above 1 GiB)" in lag["annotations"]["description"]
    table = (out / "docs/alerts.md").read_text()
    assert (
        "| [TonNoBlockAccepted](#tonnoblockaccepted) | warning | no `tonex_accepted_blocks_total` increase on any "
        "node of a workchain for 3m | 45s |"
    ) in table
    assert "| critical | file size - read offset > 1 GiB and larger than 5m before | 10m |" in table
    assert_ok(
        run([require_binary("promtool"), "check", "rules", "--lint-fatal", str(out / "prometheus/rules/alerts.yml")])
    )
    # the repository's files are untouched
    assert generate.main(["--check"]) == 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t["alerts"].pop("Watchdog"), "alerts: missing ['Watchdog']"),
        (lambda t: t["alerts"].update(TonSomethingNew={"severity": "warning"}), "unknown ['TonSomethingNew']"),
        (lambda t: t["alerts"]["TonNodeStatsStalled"].update(window="1 minute"), "'1 minute' is not a Prometheus"),
        (lambda t: t["alerts"]["TonBlockRateDropVsRun"].update(drop_percent=-5), "drop_percent: -5 is not a number"),
        (lambda t: t["alerts"]["TonexExporterDown"].update(severity="page"), "severity 'page' is not one of"),
        (lambda t: t["alerts"]["TonInvalidBlocks"].pop("window"), "TonInvalidBlocks: takes ['window'], has []"),
        (lambda t: t["alerts"]["Watchdog"].update({"for": "1m"}), "the always-firing alert has no for"),
    ],
    ids=["missing", "unknown", "duration", "negative", "severity", "missing-key", "watchdog-for"],
)
def test_a_wrong_threshold_is_refused_with_its_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: Any, message: str
) -> None:
    thresholds = yaml.safe_load(generate.THRESHOLDS.read_text())
    edit(thresholds)
    wrong = tmp_path / "thresholds.yml"
    wrong.write_text(yaml.safe_dump(thresholds))

    assert generate.main(["--thresholds", str(wrong), "--out", str(tmp_path / "out")]) == 2

    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --- promtool ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config", ["prometheus.yml", "prometheus-fleet.yml", "prometheus-compose.yml", "prometheus-compose-vm.yml"]
)
def test_promtool_check_config(config: str) -> None:
    result = run([require_binary("promtool"), "check", "config", config])
    assert_ok(result)
    assert "SUCCESS: 2 rule files found" in result.stdout


def test_promtool_check_rules_lint_fatal() -> None:
    result = run(
        [require_binary("promtool"), "check", "rules", "--lint-fatal", "rules/recording.yml", "rules/alerts.yml"]
    )
    assert_ok(result)
    assert f"SUCCESS: {len(RECORDS)} rules found" in result.stdout
    assert f"SUCCESS: {len(ALERT_RULES)} rules found" in result.stdout


def test_promtool_test_rules_of_every_file() -> None:
    promtool = require_binary("promtool")
    runs = {  # one process per file, all at once: each takes seconds of rule evaluation
        path.name: subprocess.Popen(
            [promtool, "test", "rules", str(path.relative_to(BUNDLE))],
            cwd=BUNDLE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for path in UNIT_TESTS
    }
    failed = {}
    for name, process in runs.items():
        output, _ = process.communicate(timeout=300)
        if process.returncode != 0 or "SUCCESS" not in output:
            failed[name] = output
    assert len(runs) == 10
    assert failed == {}, "\n".join(failed.values())


def _unit_test_cases() -> list[dict[str, Any]]:
    return [case for path in UNIT_TESTS for case in yaml.safe_load(path.read_text())["tests"]]


def test_every_alert_is_unit_tested_firing_with_exact_labels_and_silent() -> None:
    fires: set[tuple[str, str]] = set()
    silent: set[str] = set()
    pending: set[str] = set()
    for case in _unit_test_cases():
        for check in case.get("alert_rule_test", []):
            for expected in check.get("exp_alerts") or []:
                assert set(expected["exp_annotations"]) == {"summary", "description", "runbook_url"}, case["name"]
                fires.add((check["alertname"], expected["exp_labels"]["severity"]))
            if not check.get("exp_alerts"):
                silent.add(check["alertname"])
        for check in case.get("promql_expr_test", []):
            for sample in check.get("exp_samples") or []:
                if m := re.search(r'alertname="(\w+)",alertstate="pending"', sample["labels"]):
                    pending.add(m.group(1))

    levels = {(r["alert"], r["labels"]["severity"]) for r in ALERT_RULES}
    assert levels - fires == set(), "alert levels never seen firing in prometheus/tests"
    with_for = {r["alert"] for r in ALERT_RULES if "for" in r}
    assert {r["alert"] for r in ALERT_RULES} - {"Watchdog"} - silent == set(), "alerts never tested silent"
    assert with_for - pending == set(), "alerts with a `for` never shown pending (a blip shorter than `for`)"


def test_every_unit_test_file_evaluates_recording_rules_before_alerts() -> None:
    order = [g["name"] for g in RECORDING] + [g["name"] for g in ALERTS]
    for path in UNIT_TESTS:
        unit = yaml.safe_load(path.read_text())
        assert unit["rule_files"] == ["../rules/recording.yml", "../rules/alerts.yml"], path.name
        assert unit["group_eval_order"] == order, path.name


# --- the rules themselves -----------------------------------------------------------------------------------------


def test_every_alert_has_severity_summary_description_and_a_runbook_section() -> None:
    doc = (ROOT / "docs" / "alerts.md").read_text()
    sections = {line.removeprefix("### ").strip().lower() for line in doc.splitlines() if line.startswith("### ")}
    for rule in ALERT_RULES:
        assert rule["labels"]["severity"] in ("critical", "warning", "none"), rule["alert"]
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, rule["alert"]
        assert annotations["runbook_url"] == f"docs/alerts.md#{rule['alert'].lower()}"
        assert rule["alert"].lower() in sections, f"docs/alerts.md has no section ### {rule['alert']}"


def test_recording_rules_are_named_level_metric_operations() -> None:
    for record in RECORDS:
        level, metric, operations = record.split(":")
        assert re.fullmatch(r"[a-z_]+", level), record
        assert re.fullmatch(r"(tonex|ton)_[a-z_]+", metric), record
        assert not metric.endswith("_total"), f"{record}: the naming advice drops _total once rated"
        assert re.fullmatch(r"[a-z0-9_]+", operations), record


def _metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', '""', expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # selectors (their label names)
    expr = re.sub(r"\[[^]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"(?<![\w:])\d[\d.]*(e[+-]?\d+)?(ms|[smhdwy])?\b", "", expr)  # numbers, durations
    return set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr)) - PROMQL_WORDS


def _exported_families() -> set[str]:
    reference = (ROOT / "docs" / "metrics.md").read_text()
    families = set(re.findall(r"^\| `(tonex_\w+)` \|", reference, re.MULTILINE))
    # the families only a --state.dir exporter has; the golden output behind docs/metrics.md runs without it
    families |= set(re.findall(r"`(tonex_state_\w+)", (ROOT / "docs" / "running.md").read_text()))
    # and the per-host families only an exporter with sources of type ssh has (docs/fleet.md)
    families |= set(re.findall(r"`(tonex_ssh_[a-z_]+)", (ROOT / "docs" / "fleet.md").read_text()))
    return families


def test_rules_read_only_series_that_exist() -> None:
    families = _exported_families()
    suffixes = ("_bucket", "_sum", "_count", "")  # docs/metrics.md names counters with their _total
    used: set[str] = set()
    for group in [*RECORDING, *ALERTS]:
        for rule in group["rules"]:
            used |= _metric_names(rule["expr"])
    unknown = set()
    for name in used:
        if ":" in name:
            if name not in RECORDS:
                unknown.add(name)
        elif name.startswith("tonex_"):
            if not any(name.endswith(s) and name.removesuffix(s) in families for s in suffixes):
                unknown.add(name)
        elif name not in ENGINE_FAMILIES | OTHER_SERIES:
            unknown.add(name)
    assert unknown == set()
    assert {"tonex_accepted_blocks_total", "tonex_validated_blocks_total", "ton_received_total", "up"} <= used


# --- Alertmanager -----------------------------------------------------------------------------------------------


def test_amtool_check_config() -> None:
    result = run([require_binary("amtool"), "check-config", "alertmanager.yml"])
    assert_ok(result)
    assert " - 4 receivers" in result.stdout
    assert " - 2 inhibit rules" in result.stdout


def _route_cases() -> list[tuple[dict[str, str], list[str]]]:
    cases = [
        (case["labels"], case["receivers"])
        for case in yaml.safe_load((BUNDLE / "alertmanager-routes.test.yml").read_text())
    ]
    receiver = {"critical": "critical", "warning": "warning", "none": "deadmans-switch"}
    for rule in ALERT_RULES:
        labels = {"alertname": rule["alert"], "severity": rule["labels"]["severity"], "network": "devnet"}
        cases.append((labels, [receiver[labels["severity"]]]))
    return cases


@pytest.mark.parametrize(
    ("labels", "receivers"),
    _route_cases(),
    ids=[",".join(f"{k}={v}" for k, v in labels.items()) for labels, _ in _route_cases()],
)
def test_amtool_routes(labels: dict[str, str], receivers: list[str]) -> None:
    result = run(
        [
            require_binary("amtool"),
            "config",
            "routes",
            "test",
            "--config.file=alertmanager.yml",
            f"--verify.receivers={','.join(receivers)}",
            *(f"{k}={v}" for k, v in labels.items()),
        ]
    )
    assert_ok(result)
    assert result.stdout.strip() == ",".join(receivers)


def _walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [item for k, v in node.items() for item in _walk(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [item for i, v in enumerate(node) for item in _walk(v, f"{path}[{i}]")]
    return [(path, node)]


def test_alertmanager_config_holds_no_secret_only_paths_outside_the_repository() -> None:
    config = yaml.safe_load((BUNDLE / "alertmanager.yml").read_text())
    inline = re.compile(r"\.(api_url|routing_key|service_key|auth_password|auth_secret|credentials|password)$")
    items = _walk(config)
    assert [path for path, _ in items if inline.search(path)] == []
    files = {str(value) for path, value in items if path.endswith("_file")}
    assert files == {
        f"/etc/alertmanager/secrets/{name}"
        for name in (
            "smtp-password",
            "slack-webhook-url",
            "pagerduty-routing-key",
            "webhook-token",
            "deadmans-switch-token",
        )
    }
