"""The console adapter: plays the whole game from text lines, for people and for scripts."""

from __future__ import annotations

import logging
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from bot.clock import SimClock
from bot.commands.events import (
    Actor,
    ButtonPressed,
    Chat,
    CommandReceived,
    MemberLeft,
    Message,
    Post,
    ReactionChanged,
)
from bot.commands.game import Game, Replies
from bot.rules.numbers import is_number
from bot.rules.schedule import parse_duration
from bot.rules.text import names
from storage.engine import database_url

log = logging.getLogger("crewbot.console")

NAME = r"[^\s:#^@\"]{1,64}"
SAY = re.compile(rf"^({NAME}):\s?(.*)$")
REPLY = re.compile(rf"^({NAME}) replies (\S+):\s?(.*)$")
REACT = re.compile(rf"^({NAME}) (reacts|unreacts) (\S+) (\S+)$")
PRESS = re.compile(rf"^({NAME}) presses \"([^\"]+)\" (\S+)$")
MENTION = re.compile(r"(?<!\S)@([^\s@]{1,64})")
ROOM = re.compile(r"(\S{1,64})(?: +(console|telegram|discord)(?: +(\S{1,64}))?)?", re.I)
HOW = (
    "write NAME: TEXT, NAME replies REF: TEXT, NAME reacts EMOJI REF, NAME unreacts EMOJI REF, "
    'NAME presses "LABEL" REF, :room ROOM [PLATFORM [SERVER]], :at DATETIME, :advance DURATION '
    "or :leave NAME (REF is #N or ^NAME)"
)


PICTURES = "crewbot-pictures"


def pictures_dir(database: str | None = None, chosen: str | None = None) -> Path:
    """Where the console saves pictures and files: `chosen` (CREWBOT_PICTURES_DIR), else a
    crewbot-pictures directory next to a SQLite database file, else one in the temp dir."""
    if chosen:
        return Path(chosen).expanduser()
    url = database_url(database)
    if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
        return Path(url.database).expanduser().resolve().parent / PICTURES
    return Path(tempfile.gettempdir()) / PICTURES


class LineError(ValueError):
    """A console line that cannot be read; the message says how to write it."""


class Output(Protocol):
    """Where the transcript goes: a text stream, or the terminal's line keeper."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


@dataclass
class Shown:
    room: str
    author: str
    message_id: str
    number: int
    buttons: dict[str, str] = field(default_factory=dict)


def parse_instant(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        raise LineError("write the time in ISO 8601, e.g. 2026-11-03T19:00 or "
                        "2026-11-03T19:00+01:00 (no offset means UTC)") from None
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


class Console:
    """Reads console lines, prints the transcript as `#N NAME: TEXT`; never exits the process.
    On a clock that is not simulated (not started at a fixed time) `:at` and `:advance` are
    refused: they would record made-up times in a database that keeps real ones."""

    def __init__(self, game: Game, clock: SimClock, out: Output, room: str = "crew",
                 pictures: Path | None = None) -> None:
        self.game = game
        self.pictures = pictures or Path(tempfile.gettempdir()) / PICTURES
        self.clock = clock
        self.out = out
        self.room = room
        self.session = secrets.token_hex(4)
        self.count = 0
        self.shown: dict[int, Shown] = {}
        self.latest: dict[tuple[str, str], int] = {}
        # a room may stand for a chat of another platform (:room ROOM PLATFORM [SERVER]), so
        # that crews of several platforms play side by side in one database
        self.places: dict[str, tuple[str, str]] = {}

    def chat(self, room: str | None = None) -> Chat:
        room = room or self.room
        platform, server = self.places.get(room, ("console", ""))
        return Chat(platform, room, room, server)

    def print(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def show(self, author: str, text: str, room: str | None = None,
              buttons: dict[str, str] | None = None) -> Shown:
        room = room or self.room
        if room != self.room:
            self.print(f"# in room {room}")
        self.count += 1
        shown = Shown(room, author, f"{self.session}-{self.count}", self.count, buttons or {})
        self.shown[self.count] = shown
        self.latest[(room, author)] = self.count
        labels = "".join(f" [{label}]" for label in (buttons or {}).values())
        first, *rest = (text + labels).split("\n")
        self.print(f"#{self.count} {author}: {first}")
        for line in rest:
            self.print(f"   {line}")
        return shown

    @staticmethod
    def text(message: Message) -> str:
        """A direct message shows whom it is for: the console has no private channel; an
        invitation names the room it opens."""
        to = f"(privately to {message.dm_to.name}) " if message.dm_to else ""
        invite = (f" [invitation to room {message.invite.chat_id}]" if message.invite else "")
        return to + message.plain() + invite

    def save(self, message: Message) -> None:
        """Saves a message's picture or file and prints `# picture saved to PATH`."""
        if message.attachment is None:
            return
        what = "picture" if message.attachment.kind == "photo" else "file"
        name = Path(message.attachment.filename).name or "file"
        path = self.pictures / f"{self.session}-{self.count}-{name}"
        try:
            self.pictures.mkdir(parents=True, exist_ok=True)
            path.write_bytes(message.attachment.data)
        except OSError as error:
            self.print(f"# {what} not saved: {error.strerror or error}")
            return
        self.print(f"# {what} saved to {path}")

    async def say(self, messages: list[Message]) -> None:
        for message in messages:
            shown = self.show("bot", self.text(message),
                              buttons={b.action: b.label for b in message.buttons})
            self.save(message)
            await self.game.message_sent(self.chat(), shown.message_id, message.ref)

    async def deliver(self) -> None:
        """Prints what the core queued (scheduled posts) and marks it delivered, for the
        console's rooms and for the other platforms' rooms this session plays in."""
        for platform in dict.fromkeys(["console", *(p for p, _ in self.places.values())]):
            await self.game.deliver(platform, self._print_post)

    async def _print_post(self, posted: Post) -> str:
        shown = self.show("bot", self.text(posted.message), room=posted.chat.chat_id,
                          buttons={b.action: b.label for b in posted.message.buttons})
        self.save(posted.message)
        return shown.message_id

    async def catch_up(self) -> None:
        await self.game.run_due(self.clock())
        await self.deliver()

    @property
    def simulated(self) -> bool:
        return self.clock.frozen

    def real_clock(self) -> LineError:
        day = self.clock().date().isoformat()
        return LineError("the clock is real here, so it cannot be moved. To try time travel, "
                         "play on a separate database with a simulated clock: crewbot console "
                         f"--db play.sqlite3 --start {day}T09:00")

    async def advance_to(self, target: datetime) -> None:
        """Moves the clock to `target`, doing everything that falls due on the way, in order."""
        if not self.simulated:
            raise self.real_clock()
        if target < self.clock():
            raise LineError("time only moves forward; give a later time")
        stuck = None
        while (nxt := await self.game.next_due_at()) is not None and nxt <= target:
            if nxt == stuck:  # work that failed stays due; do not spin on it
                break
            self.clock.move_to(max(nxt, self.clock()))
            await self.catch_up()
            stuck = nxt
        self.clock.move_to(target)
        await self.catch_up()

    def ref(self, text: str) -> Shown:
        if text.startswith("#") and is_number(text[1:]):
            shown = self.shown.get(int(text[1:]))
            if shown is None:
                raise LineError(f"there is no message {text} in this session")
            return shown
        if text.startswith("^") and len(text) > 1:
            number = self.latest.get((self.room, text[1:]))
            if number is None:
                raise LineError(f"{text[1:]} has posted nothing in room {self.room} yet")
            return self.shown[number]
        raise LineError(f"'{text}' is not a reference; REF is #N (message N) or ^NAME")

    async def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            return
        try:
            await self.catch_up()
            await self._feed(line.strip())
        except LineError as error:
            self.print(f"! {error}")
        except Exception:  # a bug must not end a session; the core already kept the data safe
            log.exception("console line failed")
            self.print("! sorry, that line failed on my side; nothing was changed")

    async def _feed(self, line: str) -> None:
        if line.startswith(":"):
            return await self._directive(line)
        if match := REPLY.match(line):
            name, ref, text = match.groups()
            return await self._say(name, text, self.ref(ref))
        if match := REACT.match(line):
            name, verb, emoji, ref = match.groups()
            target = self.ref(ref)
            replies = await self.game.handle(ReactionChanged(
                self.chat(), self.actor(name), target.message_id, emoji, verb == "reacts"))
            await self.say(replies)
            if isinstance(replies, Replies) and replies.note:
                self.print(f"# {replies.note}")
            return None
        if match := PRESS.match(line):
            name, label, ref = match.groups()
            target = self.ref(ref)
            action = next((a for a, lbl in target.buttons.items()
                           if lbl.lower() == label.lower()), None)
            if action is None and not await self.game.button_on(self.chat(), target.message_id,
                                                                label):
                raise LineError(self.no_button(target, label))
            return await self.say(await self.game.handle(ButtonPressed(
                self.chat(), self.actor(name), action=action,
                message_id=None if action else target.message_id, label=label)))
        if match := SAY.match(line):
            name, text = match.groups()
            return await self._say(name, text, None)
        raise LineError(HOW)

    def no_button(self, target: Shown, label: str) -> str:
        """Why a press cannot work: which message of this room has that button, or else which
        buttons the pressed message has."""
        wanted = label.lower()
        for number in reversed(self.shown):
            shown = self.shown[number]
            found = next((lbl for lbl in shown.buttons.values() if lbl.lower() == wanted), None)
            if shown.room == self.room and found:
                return (f"#{target.number} has no \u201c{label}\u201d button. The "
                        f"\u201c{found}\u201d button is on #{number}.")
        if target.buttons:
            have = names(f"\u201c{lbl}\u201d" for lbl in target.buttons.values())
            return f"#{target.number} has no \u201c{label}\u201d button; its buttons are {have}."
        return (f"#{target.number} has no buttons, and no message in room {self.room} has a "
                f"\u201c{label}\u201d button.")

    def actor(self, name: str) -> Actor:
        return Actor(user_id=name, name=name)

    async def _say(self, name: str, text: str, reply_to: Shown | None) -> None:
        if reply_to is not None and reply_to.room != self.room:
            raise LineError("you can only reply to a message in the current room")
        shown = self.show(name, text)
        mentions = tuple(self.actor(m) for m in dict.fromkeys(MENTION.findall(text)))
        await self.say(await self.game.handle(CommandReceived(
            self.chat(), self.actor(name), text, message_id=shown.message_id,
            reply_to=reply_to.message_id if reply_to else None, mentions=mentions)))

    async def _directive(self, line: str) -> None:
        word, _, arg = line.partition(" ")
        arg = arg.strip()
        if word == ":room" and (place := ROOM.fullmatch(arg)):
            room, platform, server = place.groups()
            self.room = room
            if platform:
                self.places[room] = (platform.lower(), server or "")
        elif word in (":at", ":advance") and not self.simulated:
            raise self.real_clock()
        elif word == ":at" and arg:
            await self.advance_to(parse_instant(arg))
        elif word == ":advance" and arg:
            try:
                span = parse_duration(arg)
            except ValueError as error:
                raise LineError(str(error)) from None
            await self.advance_to(self.clock() + span)
        elif word == ":leave" and re.fullmatch(NAME, arg):
            await self.say(await self.game.handle(MemberLeft(self.chat(), arg)))
        else:
            raise LineError(HOW)
