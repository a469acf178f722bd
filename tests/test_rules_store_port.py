"""The Store port is written for the command layer: SqlStore provides each of its methods as
declared, and each of them is one the command layer uses (a port nothing needs is gone)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from bot.commands.store import Store
from storage.repository import SqlStore

ROOT = Path(__file__).resolve().parent.parent
PORT = sorted(name for name, value in vars(Store).items()
              if callable(value) and not name.startswith("_"))


def shape(function: object) -> tuple[bool, list[tuple[str, object, object, str]], str]:
    """Async or not, the parameters (name, kind, default, annotation) and the return type."""
    signature = inspect.signature(function)  # type: ignore[arg-type]
    words = re.compile(r"\s+")
    return (inspect.iscoroutinefunction(function),
            [(p.name, p.kind, p.default, words.sub("", str(p.annotation)))
             for p in signature.parameters.values()],
            words.sub("", str(signature.return_annotation)))


@pytest.mark.parametrize("name", PORT)
def test_sql_store_provides_the_port_method_as_declared(name: str) -> None:
    assert shape(getattr(SqlStore, name)) == shape(getattr(Store, name))


def test_every_port_method_is_used_by_the_command_layer() -> None:
    source = "\n".join(path.read_text() for path in (ROOT / "bot").rglob("*.py")
                       if path.name != "store.py")
    unused = [name for name in PORT if not re.search(rf"\.{name}\b", source)]
    assert unused == []
