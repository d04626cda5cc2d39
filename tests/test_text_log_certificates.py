"""LOG-10: `Obtained certificate for <vote>` lines of the text logs, counted by node, workchain and vote type,
against a count of the SYNTHETIC sample's raw files made with string operations alone; both the fast (block) path
and the line-by-line path of the pipeline count them."""

import shutil
from collections import Counter
from pathlib import Path

from tests.metrics_text import scrape, total
from ton_exporter.app import Exporter
from ton_exporter.sources.discovery import SourcePattern

SAMPLE = Path(__file__).parent / "fixtures" / "text-logs"
TEXT = "Obtained certificate for "


def counted_from_the_files() -> Counter[tuple[str, str, str]]:
    """(node directory, workchain, vote) -> lines, with str methods only."""
    out: Counter[tuple[str, str, str]] = Counter()
    for path in SAMPLE.glob("node*/log*"):
        for line in path.read_text().splitlines():
            if TEXT not in line:
                continue
            vote = line.split(TEXT, 1)[1].split("(", 1)[0]
            workchain = line.split("valgroup(", 1)[1].split(",", 1)[0] if "valgroup(" in line else "unknown"
            out[(path.parent.name, workchain, vote)] += 1
    return out


def test_certificate_lines_are_counted_by_node_workchain_and_vote(tmp_path: Path) -> None:
    expected = counted_from_the_files()
    assert sum(expected.values()) > 20
    assert {vote for _, _, vote in expected} >= {"notarize", "finalize"}
    shutil.copytree(SAMPLE, tmp_path / "net", ignore=shutil.ignore_patterns("*.md"))
    exporter = Exporter([SourcePattern(str(tmp_path / "net" / "node*" / "log*"), None, "text_log")], from_start=True)
    exporter.poll_once()
    samples = scrape(exporter.registry)
    for (node, workchain, vote), n in expected.items():
        got = total(samples, "tonex_text_log_certificates_total", node=node, workchain=workchain, vote=vote)
        assert got == n, (node, workchain, vote)
    assert total(samples, "tonex_text_log_certificates_total") == sum(expected.values())


def test_a_certificate_line_among_raw_output_is_counted_once_by_the_line_by_line_path(tmp_path: Path) -> None:
    log = tmp_path / "node1" / "log"
    log.parent.mkdir()
    certificate = (
        "[ 2][t 5][2026-07-16 10:00:01.311900744][pool.cpp:919][!valgroup(0,8000000000000000).0.SimplexPool]\t"
        "Obtained certificate for skip(slot=7): VV.V"
    )
    log.write_text(f"raw output\n{certificate}\n")  # SYNTHETIC: the raw line sends the block line by line
    exporter = Exporter([SourcePattern(str(log), "node1", "text_log")], from_start=True)
    exporter.poll_once()
    samples = scrape(exporter.registry)
    assert total(samples, "tonex_text_log_certificates_total", workchain="0", vote="skip") == 1
    assert total(samples, "tonex_text_log_certificates_total") == 1
