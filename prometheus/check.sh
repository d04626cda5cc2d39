#!/usr/bin/env bash
# Every offline check of the Prometheus and Alertmanager bundle, for a quick look while editing thresholds or
# routes (tests/test_prometheus_rules.py runs the same and more under ./dev test). Needs promtool and amtool
# (Debian's prometheus and prometheus-alertmanager) and the .venv of ./dev test for PyYAML.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-$PWD/../.venv/bin/python}

echo "== rules and docs tables generated from thresholds.yml are up to date"
(cd .. && "$PYTHON" -m prometheus.generate --check)
echo "== promtool check config"
promtool check config prometheus.yml prometheus-fleet.yml
echo "== promtool check rules"
promtool check rules --lint-fatal rules/*.yml
echo "== promtool test rules"
promtool test rules tests/*.test.yml
echo "== amtool check-config"
amtool check-config alertmanager.yml
echo "== amtool config routes test"
"$PYTHON" - <<'PY'
import subprocess, sys, yaml
failed = 0
for case in yaml.safe_load(open("alertmanager-routes.test.yml")):
    labels = [f"{k}={v}" for k, v in case["labels"].items()]
    expected = ",".join(case["receivers"])
    run = subprocess.run(["amtool", "config", "routes", "test", "--config.file=alertmanager.yml",
                          f"--verify.receivers={expected}", *labels], capture_output=True, text=True)
    print(f"  {'ok  ' if run.returncode == 0 else 'FAIL'} {' '.join(labels)} -> {run.stdout.strip()}")
    failed += run.returncode != 0
sys.exit(1 if failed else 0)
PY
echo "all checks passed"
