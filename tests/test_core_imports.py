"""The game's core (bot/commands, bot/rules) imports no platform, scheduler or database library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = [ROOT / "bot" / "commands", ROOT / "bot" / "rules"]
FORBIDDEN = frozenset({"discord", "telegram", "apscheduler", "sqlalchemy"})
DYNAMIC = frozenset({"import_module", "__import__"})


def forbidden_imports(source: str, filename: str = "<source>") -> list[str]:
    """Top-level package names from FORBIDDEN that `source` imports, in any form."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in DYNAMIC and isinstance(first, ast.Constant):
                names = [str(first.value)]
        found += [name for name in names if name.split(".")[0] in FORBIDDEN]
    return found


def core_files() -> list[Path]:
    return sorted(path for folder in CORE for path in folder.rglob("*.py"))


def test_the_core_folders_hold_modules() -> None:
    names = {path.name for path in core_files()}
    assert {"board.py", "listening.py", "points.py", "schedule.py", "settings.py"} <= names


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports_no_platform_scheduler_or_database(path: Path) -> None:
    assert forbidden_imports(path.read_text(encoding="utf-8"), str(path)) == []


@pytest.mark.parametrize(
    "source",
    [
        "import discord",
        "import telegram.ext",
        "import os, sqlalchemy as sa",
        "from apscheduler.schedulers.asyncio import AsyncIOScheduler",
        "from sqlalchemy import select",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import discord",
        "def f():\n    from telegram import Update\n    return Update",
        "try:\n    import discord\nexcept ImportError:\n    discord = None",
        "import importlib\nimportlib.import_module('sqlalchemy.orm')",
        "from importlib import import_module\nimport_module('apscheduler')",
        "__import__('telegram')",
    ],
)
def test_the_checker_sees_every_import_form(source: str) -> None:
    assert forbidden_imports(source)


@pytest.mark.parametrize(
    "source",
    [
        "import discordant",
        "from bot.commands import discord_text",
        "from . import telegram",
        "from .store import Store",
        "import bot.sqlalchemy_free",
        "name = 'discord'",
    ],
)
def test_the_checker_ignores_lookalike_names(source: str) -> None:
    assert forbidden_imports(source) == []
