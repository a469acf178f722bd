"""The storage ports are written for the command layer: each repository of the unit of work
provides its aggregate's port as declared, the unit of work provides the rest, and each port
method is one the command layer uses (a port nothing needs is gone)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import get_type_hints

import pytest

from bot.commands.store import Store
from storage.unit_of_work import REPOSITORIES, SqlStore

ROOT = Path(__file__).resolve().parent.parent
# the port of each aggregate, by the name of the unit of work's property that gives it
AGGREGATES: dict[str, type] = {name: get_type_hints(value.fget)["return"]
                               for name, value in vars(Store).items()
                               if isinstance(value, property)}


def methods(port: type) -> list[str]:
    """The port's methods (its properties, the repositories, are not callable)."""
    return sorted(name for name, value in vars(port).items()
                  if callable(value) and not name.startswith("_"))


def shape(function: object) -> tuple[bool, list[tuple[str, object, object, str]], str]:
    """Async or not, the parameters (name, kind, default, annotation) and the return type."""
    signature = inspect.signature(function)  # type: ignore[arg-type]
    words = re.compile(r"\s+")
    return (inspect.iscoroutinefunction(function),
            [(p.name, p.kind, p.default, words.sub("", str(p.annotation)))
             for p in signature.parameters.values()],
            words.sub("", str(signature.return_annotation)))


PORT = [(aggregate, name) for aggregate, port in AGGREGATES.items() for name in methods(port)]
UNIT = methods(Store)


def test_the_unit_of_work_has_a_repository_for_each_aggregate_of_the_port() -> None:
    assert list(REPOSITORIES) == list(AGGREGATES)
    assert sorted(AGGREGATES) == sorted(["crews", "circles", "favours", "meetings", "conflicts",
                                         "ventures", "ledger", "outbox",
                                         "congregations"])


@pytest.mark.parametrize(("aggregate", "name"), PORT)
def test_each_repository_provides_its_port_method_as_declared(aggregate: str,
                                                              name: str) -> None:
    port, repository = AGGREGATES[aggregate], REPOSITORIES[aggregate]
    assert shape(getattr(repository, name)) == shape(getattr(port, name))


@pytest.mark.parametrize("name", UNIT)
def test_the_unit_of_work_provides_its_own_port_method_as_declared(name: str) -> None:
    assert shape(getattr(SqlStore, name)) == shape(getattr(Store, name))


def test_every_port_method_is_used_by_the_command_layer() -> None:
    source = "\n".join(path.read_text() for path in (ROOT / "bot").rglob("*.py")
                       if path.name != "store.py")
    unused = [f"{aggregate}.{name}" for aggregate, name in PORT
              if not re.search(rf"\.{aggregate}\.{name}\b", source)]
    unused += [name for name in UNIT if not re.search(rf"\.{name}\b", source)]
    assert unused == []
