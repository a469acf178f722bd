"""The README keeps its promises: the two commands, the console protocol, every variable."""

from __future__ import annotations

import re
from pathlib import Path

from bot.commands.registry import load

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
SOURCES = "\n".join(p.read_text() for p in (Path(__file__).resolve().parent.parent / "bot")
                    .rglob("*.py"))


def test_the_quick_start_is_the_two_commands():
    assert "python3 dev.py run" in README and "python3 dev.py test" in README


def test_every_command_and_console_line_is_documented():
    for name in load():
        assert f"/{name}" in README, name
    for line in ("NAME: TEXT", "NAME replies REF: TEXT", "NAME reacts EMOJI REF",
                 "NAME unreacts EMOJI REF", 'NAME presses "LABEL" REF', ":room ROOM",
                 ":at DATETIME", ":advance DURATION", ":leave NAME"):
        assert line in README, line


def test_every_environment_variable_the_code_reads_is_in_the_readme():
    used = set(re.findall(r'"(CREWBOT_[A-Z_]+)"', SOURCES))
    assert used, "the settings are read somewhere"
    for name in used:
        assert f"`{name}`" in README, name


def test_the_configuration_table_lists_every_setting_with_its_default():
    from bot.config import VARIABLES

    rows = {}
    for line in README.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| `CREWBOT_") and len(cells) >= 3:
            rows[cells[0].strip("`")] = cells[1].strip("`")
    assert rows == {name: v.default for name, v in VARIABLES.items()}


def test_the_deploy_section_walks_from_a_clone_to_a_checked_bot():
    deploy = README.split("## Deploy", 1)[1].split("\n## ", 1)[0]
    steps = ["cp .env.example .env", "docker compose up -d", "docker compose logs",
             "/readyz", "crewbot check", "git pull"]
    positions = {step: deploy.find(step) for step in steps}
    assert -1 not in positions.values(), positions
    assert list(positions.values()) == sorted(positions.values()), positions
    assert "cannot run on the machine" in deploy  # the docker commands are marked as such
