"""The Grafana dashboards, described in Python and generated as JSON into grafana/dashboards/.

`python -m dashboards` regenerates them; a test regenerates and diffs, so the committed JSON always matches the
description. model.py knows Grafana's JSON model; catalogue.py and the section modules say what to show.
"""
