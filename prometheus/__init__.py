"""The Prometheus and Alertmanager bundle: configs, rules generated from thresholds.yml (generate/), rule tests."""
