"""Writes bot/commands/store.py: the Store protocol, from storage.repository.SqlStore's methods."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
source = (ROOT / "storage/repository.py").read_text()
tree = ast.parse(source)
cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SqlStore")
lines = [
    '"""The storage port: what the command layer may ask of the database (made by',
    'scripts/gen_store_protocol.py from storage.repository.SqlStore; do not edit)."""',
    "",
    "from __future__ import annotations",
    "",
    "from collections.abc import Iterable",
    "from datetime import datetime",
    "from typing import Any, Protocol",
    "",
    "from bot.rules.model import (",
    "    Checkin,",
    "    Circle,",
    "    Conflict,",
    "    Crew,",
    "    Due,",
    "    Favour,",
    "    LedgerEntry,",
    "    Link,",
    "    Meeting,",
    "    Member,",
    "    Venture,",
    ")",
    "",
    "",
    "class Store(Protocol):",
]
for node in cls.body:
    if not isinstance(node, ast.AsyncFunctionDef) or node.name.startswith("_"):
        continue
    header = ast.get_source_segment(source, node).split(":\n", 1)[0]
    lines.append("    " + header.strip().replace("\n", "\n") + ": ...")
    lines.append("")
(ROOT / "bot/commands/store.py").write_text("\n".join(lines).rstrip() + "\n")
