"""The commands the docs give to start Prometheus and Alertmanager by hand, as a new user copies them: each names
its own data directory, so that none writes into (or locks) the packaged services' /var/lib/prometheus."""

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
STORAGE_FLAG = {"prometheus": "--storage.tsdb.path", "prometheus-alertmanager": "--storage.path"}


def shell_commands(text: str) -> list[list[str]]:
    """Every command of the ```sh blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```(?:sh|bash|console)\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(words)
    return commands


def test_every_documented_prometheus_or_alertmanager_command_names_its_own_data_directory() -> None:
    found = []
    for page in PAGES:
        for words in shell_commands(page.read_text()):
            if words[0] in STORAGE_FLAG:
                flag = STORAGE_FLAG[words[0]]
                paths = [w.split("=", 1)[1] for w in words if w.startswith(flag + "=")]
                found.append((page.name, words[0]))
                assert paths, f"{page.name}: {shlex.join(words)} writes into /var/lib/prometheus (no {flag})"
                assert not paths[0].startswith("/var/lib/prometheus"), f"{page.name}: {shlex.join(words)}"
    assert {command for _, command in found} == set(STORAGE_FLAG), found  # the docs still show both


def test_shell_commands_join_continued_lines_and_drop_comments() -> None:
    text = "```sh\nprometheus --a=1 \\\n  --b=2   # note\n\nls\n```\n"
    assert shell_commands(text) == [["prometheus", "--a=1", "--b=2"], ["ls"]]
