"""The README and docs keep their promises: the two commands, the console protocol, every
variable, the rules in the repository matching the code, and links that lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.commands.registry import load
from bot.rules import points
from bot.rules.settings import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
RULES = (ROOT / "docs" / "RULES.md").read_text()
DEVELOPMENT = (ROOT / "docs" / "DEVELOPMENT.md").read_text()
SOURCES = "\n".join(p.read_text() for p in (ROOT / "bot").rglob("*.py"))
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


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
    from bot.config import TEST_VARIABLES

    used = set(re.findall(r'"(CREWBOT_[A-Z_]+)"', SOURCES))
    assert used, "the settings are read somewhere"
    for name in used - TEST_VARIABLES:
        assert f"`{name}`" in README, name
    for name in TEST_VARIABLES:  # read by the test suite only: for developers
        assert f"`{name}`" in DEVELOPMENT, name


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


def test_developer_notes_are_in_docs_not_in_the_readme():
    assert "(docs/DEVELOPMENT.md)" in README
    for note in ("CPU", "development machine", "## Layout", "bench.run", "reliability.soak"):
        assert note not in README, note
        assert note in DEVELOPMENT, note
    # The docker commands cannot run where the project is tested: said there, with what
    # tests them instead.
    assert "cannot run there" in DEVELOPMENT and "tests/test_deploy.py" in DEVELOPMENT


def test_the_module_form_is_shown_with_the_virtualenv_python():
    assert ".venv/bin/python -m bot" in README
    assert not re.search(r"(?<![/\w])python3? -m bot", README)


def links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # not in code blocks
    return re.findall(r"\]\(([^)\s]+)\)", text)


def anchors(path: Path) -> set[str]:
    """GitHub's ids for the headings: lower case, punctuation dropped, spaces as dashes."""
    return {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in path.read_text().splitlines() if re.match(r"#{1,6} ", line)}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_leads_to_a_file_or_heading_in_the_repository(doc):
    for link in links(doc):
        if link.startswith(("http://", "https://")):
            continue
        target, _, anchor = link.partition("#")
        path = (doc.parent / target).resolve() if target else doc
        assert path.is_relative_to(ROOT) and path.exists(), f"{doc.name}: {link}"
        if anchor:
            assert anchor in anchors(path), f"{doc.name}: {link}"


def test_the_rules_are_in_the_repository_and_the_readme_links_them():
    assert "(docs/RULES.md)" in README
    assert "../shared" not in README + RULES + DEVELOPMENT


def test_the_rules_name_every_command():
    for name in load():
        assert f"`/{name}" in RULES, name


def test_the_points_table_of_the_rules_is_what_the_bot_awards():
    awarded = {(a.level, a.points) for a in (
        points.LISTENING_CIRCLE, points.ASK, points.OFFER, points.MUTUAL_REGARD,
        points.MEETING_MISSED, points.CONFLICT_RESOLVED, points.CONFLICT_UNRESOLVED,
        points.COOWNERS)}
    awarded |= {(3, points.meeting_attended(n).points) for n in (1, 2, 3, 10)}
    table = set()
    for line in RULES.split("## Points", 1)[1].split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0][:1].isdigit():
            table |= {(int(cells[0][0]), int(n)) for n in re.findall(r"[+-]\d+", cells[2])}
    assert table == awarded


def test_the_settings_table_of_the_rules_gives_every_setting_its_default():
    rows = {}
    for line in RULES.split("## Crew settings", 1)[1].splitlines():
        cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
        if line.startswith("| `"):
            rows[cells[0]] = cells[1]
    assert rows == {name: str(s.default or "any") for name, s in SETTINGS.items()}
