"""`python -m dashboards` writes grafana/dashboards/<folder>/<uid>.json; `--check` only says if they differ."""

import json
import sys
from pathlib import Path

from dashboards.catalogue import DASHBOARDS

OUT = Path(__file__).resolve().parent.parent / "grafana" / "dashboards"


def rendered() -> dict[Path, str]:
    return {
        OUT / d.folder / f"{d.uid}.json": json.dumps(d.to_json(), indent=2, sort_keys=True) + "\n" for d in DASHBOARDS
    }


def main(check: bool) -> int:
    stale = []
    for path, text in rendered().items():
        if not path.exists() or path.read_text() != text:
            stale.append(path)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    known = set(rendered())
    extra = [p for p in OUT.rglob("*.json") if p not in known]
    for path in extra:
        if not check:
            path.unlink()
    if check and (stale or extra):
        print("dashboards out of date: run python -m dashboards", *map(str, stale + extra), sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
