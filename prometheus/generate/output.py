"""Writing: the rule files as YAML, the docs' tables spliced between their markers, and the command line."""

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from prometheus.generate.config import (
    ALERTS,
    ALERTS_DOC,
    HEADER,
    PROMETHEUS_DOC,
    RECORDING,
    ROOT,
    THRESHOLDS,
    ThresholdError,
)
from prometheus.generate.levels import alert_groups, thresholds_table
from prometheus.generate.recording import recording_groups, recording_table

USAGE = """Write the Prometheus rule files and the generated tables of the docs from prometheus/thresholds.yml.

    .venv/bin/python -m prometheus.generate           rewrite prometheus/rules/*.yml and the docs' tables
    .venv/bin/python -m prometheus.generate --check   exit 1 (and say which file) if any of them is out of date
"""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_Dumper.add_representer(str, _str)


def rules_yaml(groups: list[dict[str, Any]]) -> str:
    return HEADER + yaml.dump({"groups": groups}, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)


def splice(doc: str, name: str, content: str) -> str:
    begin, end = f"<!-- BEGIN GENERATED {name} -->\n", f"<!-- END GENERATED {name} -->"
    start, stop = doc.find(begin), doc.find(end)
    if start < 0 or stop < start:
        raise ThresholdError(f"markers for {name} not found")
    return doc[: start + len(begin)] + content + doc[stop:]


def outputs(thresholds: dict[str, Any], root: Path = ROOT) -> dict[Path, str]:
    """Every generated file, as paths under `root` (the repository, or another directory to write a variant to)."""
    return {
        root / RECORDING.relative_to(ROOT): rules_yaml(recording_groups()),
        root / ALERTS.relative_to(ROOT): rules_yaml(alert_groups(thresholds)),
        root / ALERTS_DOC.relative_to(ROOT): splice(ALERTS_DOC.read_text(), "thresholds", thresholds_table(thresholds)),
        root / PROMETHEUS_DOC.relative_to(ROOT): splice(
            PROMETHEUS_DOC.read_text(), "recording-rules", recording_table()
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if a file is out of date")
    parser.add_argument("--thresholds", type=Path, default=THRESHOLDS, help="default: prometheus/thresholds.yml")
    parser.add_argument("--out", type=Path, default=ROOT, help="write under this directory instead of the repository")
    args = parser.parse_args(argv)
    try:
        thresholds = yaml.safe_load(args.thresholds.read_text())
        if not isinstance(thresholds, dict):
            raise ThresholdError("not a mapping")
        files = outputs(thresholds, args.out.resolve())
    except (ThresholdError, yaml.YAMLError) as e:
        print(f"prometheus.generate: {args.thresholds}: {e}", file=sys.stderr)
        return 2
    stale = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"prometheus.generate: {path} is out of date; run python -m prometheus.generate", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path])
        print(f"wrote {path}")
    return 0
