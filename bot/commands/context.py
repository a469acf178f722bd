"""What a command handler gets: the store, the crew, the member acting, the time and the words."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bot.commands.events import Actor, Mention
from bot.commands.store import Store
from bot.rules import settings as crew_settings
from bot.rules.model import Crew, Favour, Link, Member
from bot.rules.numbers import is_number
from bot.rules.schedule import month_key
from bot.rules.text import MAX_TEXT

T = TypeVar("T")
MENTION = re.compile(r"(?<!\S)@([^\s@]{1,64})")  # not mail@example.com


class Refusal(Exception):
    """A command that cannot be done: its message says what was wrong and how to do it right."""


class NotCounted(Exception):
    """A reaction that changes nothing: its message says why. Only the console shows it (as a
    note); the platforms stay silent about reactions."""


@dataclass
class Context:
    store: Store
    crew: Crew
    member: Member
    actor: Actor
    is_admin: bool
    now: datetime
    command: str
    args: str
    reply_to: Link | None = None
    reply_favour: tuple[Favour, Member] | None = None  # reply_to's favour and its author
    mentions: dict[str, Actor] = field(default_factory=dict)
    joined: bool = False  # this command (re)joined the member: they were not in the crew before
    space: str = ""  # the Discord server of the chat (Chat.space), for congregations

    @property
    def settings(self) -> dict[str, Any]:
        return crew_settings.effective(self.crew.settings)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings["timezone"])

    @property
    def month(self) -> str:
        return month_key(self.now, self.tz)

    def day_bounds(self) -> tuple[datetime, datetime]:
        """The crew's current calendar day, as UTC instants (DST days are 23 or 25 hours)."""
        day = self.now.astimezone(self.tz).date()
        start, end = (datetime.combine(d, time(0), self.tz) for d in (day, day + timedelta(1)))
        return start.astimezone(UTC), end.astimezone(UTC)

    def usage(self, problem: str) -> Refusal:
        from bot.commands.registry import COMMANDS

        cmd = COMMANDS.get(self.command)
        hint = f" Usage: {cmd.usage}" if cmd else ""
        problem = problem.rstrip()
        return Refusal(problem + ("" if problem.endswith((".", "?", "!")) else ".") + hint)

    def require_admin(self, action: str = "", instead: str = "") -> None:
        """Refuses a non-admin: only an admin can `action` (by default, use the command);
        `instead` says what they can do themselves."""
        if not self.is_admin:
            raise Refusal(f"Only a crew admin can {action or 'use /' + self.command}. Ask an "
                          "admin of this chat to do it" + (f"; {instead}" if instead else "")
                          + ".")

    def text(self, text: str, what: str = "text") -> str:
        text = text.strip()
        if len(text) > MAX_TEXT:
            raise Refusal(f"That {what} is {len(text)} characters; the limit is {MAX_TEXT}. "
                          "Please shorten it and send it again.")
        return text

    def mention(self, member: Member) -> Mention:
        return Mention(member.user_id, member.name)

    async def resolve(self, token: str, left_ok: bool = False) -> Member:
        """A member of this crew named by an @mention (`left_ok`: or one who left it)."""
        name = token.lstrip("@")
        actor = self.mentions.get(name) or self.mentions.get(name.lower())
        # Being mentioned never enrols anyone: people join by /join or their own commands.
        if actor is not None:
            member = await self.store.crews.member(self.crew.id, actor.user_id)
        else:
            member = await self.store.crews.member_by_name(self.crew.id, name)
        if member is None:
            raise Refusal(f"I don't know @{name[:64]} in this crew. They can join with /join.")
        if not member.active and not left_ok:
            raise Refusal(f"{member.name} has left this crew. Name someone still in it, or "
                          f"ask {member.name} to come back with /join.")
        return member

    def split_mentions(self, text: str) -> tuple[list[str], str]:
        """The @names in `text` and the text with them taken out."""
        names = MENTION.findall(text)
        rest = MENTION.sub("", text)
        return names, " ".join(rest.split())

    async def choose(self, words: list[str], kind: str,
                     numbered: Callable[[int, int], Awaitable[T | None]],
                     fetch: Callable[[int], Awaitable[T | None]],
                     candidates: Callable[[], Awaitable[list[T]]],
                     nothing: str, several: str) -> T:
        """The item a command acts on (GAME.md): by the number a member types (`numbered`, with
        the crew's id and that number), by the message replied to (`fetch`, with the id the
        message link keeps), or the only candidate; `several` gets the candidates' numbers in
        place of {ids}."""
        if words:
            found = await numbered(self.crew.id, self.item_id(words[0], kind))
            if found is None:
                raise Refusal(f"There is no {kind} {words[0][:20]} in this crew. Use the "
                              f"number shown on the {kind}'s message, or reply to it.")
            return found
        if self.reply_to and self.reply_to.kind == kind:
            found = await fetch(self.reply_to.item_id)
            assert found is not None
            return found
        mine = await candidates()
        if len(mine) == 1:
            return mine[0]
        if not mine:
            raise Refusal(nothing)
        raise self.usage(several.format(
            ids=", ".join(str(getattr(c, "number", "")) for c in mine)))

    def item_id(self, word: str, what: str) -> int:
        word = word.lstrip("#")
        if not is_number(word):
            article = "an" if what[0] in "aeiou" else "a"
            raise self.usage(f"'{word[:20]}' is not {article} {what} number.")
        return int(word)
