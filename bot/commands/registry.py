"""The table of commands: it registers handlers, and /help and platform menus are made from it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import TYPE_CHECKING

from bot.rules.levels import BY_NUMBER

if TYPE_CHECKING:
    from bot.commands.context import Context
    from bot.commands.events import Message

Handler = Callable[["Context"], Awaitable[list["Message"]]]


@dataclass(frozen=True)
class Option:
    """One argument of a command, typed so platform menus can offer the right input."""

    name: str
    kind: str  # text | member | choice | id
    description: str
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    name: str
    level: int  # 0 for the game's housekeeping, else a level's number (bot.rules.levels)
    usage: str
    summary: str
    handler: Handler
    admin: bool = False
    options: tuple[Option, ...] = field(default=())
    area: str = ""  # "congregation": listed under the congregation in /help, not the crew


COMMANDS: dict[str, Command] = {}


def command(name: str, *, level: int, usage: str, summary: str, admin: bool = False,
            options: tuple[Option, ...] = (), area: str = "") -> Callable[[Handler], Handler]:
    if level and level not in BY_NUMBER:
        raise ValueError(f"/{name}: no level {level}")

    def register(handler: Handler) -> Handler:
        COMMANDS[name] = Command(name, level, usage, summary, handler, admin, options, area)
        return handler

    return register


def unknown_command(name: str) -> str:
    """What to say about a command the bot does not have: the nearest one, if any is close."""
    nearest = get_close_matches(name.lower(), COMMANDS, n=1, cutoff=0.6)
    guess = f" Did you mean /{nearest[0]}?" if nearest else ""
    return f"I don't know /{name[:32]}.{guess} /help lists every command."


def load() -> dict[str, Command]:
    """Imports every command module once, so the table is complete."""
    from bot.commands import (  # noqa: F401
        admin,
        board,
        care,
        conflicts,
        congregations,
        coowners,
        export,
        listening,
        meetings,
        membership,
        money,
        privacy,
        reciprocity,
    )

    return COMMANDS
