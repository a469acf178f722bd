"""What adapters tell the core: a small vocabulary of platform-free events."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Chat:
    """A chat; `space` is the server a Discord channel is in (crews of one server may join its
    congregation without a code), not part of which chat it is."""

    platform: str
    chat_id: str
    title: str = ""
    space: str = field(default="", compare=False)


@dataclass(frozen=True)
class Actor:
    """A person as the platform knows them; `is_admin` None lets the core decide (console)."""

    user_id: str
    name: str
    is_admin: bool | None = None
    handle: str | None = None  # a platform @username, so typed @mentions find the member


@dataclass(frozen=True)
class CommandReceived:
    chat: Chat
    actor: Actor
    text: str
    message_id: str | None = None
    reply_to: str | None = None
    mentions: tuple[Actor, ...] = ()
    event_id: str | None = None


@dataclass(frozen=True)
class ReactionChanged:
    chat: Chat
    actor: Actor
    message_id: str
    emoji: str
    added: bool
    event_id: str | None = None


@dataclass(frozen=True)
class ButtonPressed:
    """A button on a bot message: by its action string, or by its label on a linked message."""

    chat: Chat
    actor: Actor
    action: str | None = None
    message_id: str | None = None
    label: str | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class MemberLeft:
    chat: Chat
    user_id: str
    event_id: str | None = None


Event = CommandReceived | ReactionChanged | ButtonPressed | MemberLeft


def storable(text: str) -> str:
    """The text without what no database can keep alike: NUL (PostgreSQL refuses it, SQLite
    keeps it) and lone surrogates (no UTF-8 for them), so both databases behave the same."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def scrubbed(value: T) -> T:
    """An event (or actor) with every text in it made storable; itself when nothing needed it."""
    if not is_dataclass(value) or isinstance(value, type):
        return value
    changes: dict[str, Any] = {}
    for f in fields(value):
        old = getattr(value, f.name)
        if isinstance(old, str):
            new: Any = storable(old)
        elif isinstance(old, tuple):
            new = tuple(scrubbed(item) for item in old)
        else:
            new = scrubbed(old)
        if new != old:
            changes[f.name] = new
    return replace(value, **changes) if changes else value  # type: ignore[type-var]


@dataclass(frozen=True)
class ItemRef:
    kind: str
    id: int


@dataclass(frozen=True)
class Mention:
    user_id: str
    name: str


Part = str | Mention


@dataclass(frozen=True)
class Button:
    label: str
    action: str


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message: a `photo` (a PNG picture) or a `document` (an export).
    `alt` describes it for people who cannot see it; `labels` are the names drawn in it, so
    /forgetme can tell whether a queued picture shows someone. A queued picture may carry a
    `recipe` instead of its bytes (`{"draw": name, "args": {...}}`): it is drawn when it is
    sent, so scheduled work that queues many pictures does not pay for drawing them."""

    filename: str
    data: bytes
    kind: str = "photo"  # photo | document
    alt: str = ""
    labels: tuple[str, ...] = ()
    recipe: dict | None = None

    def to_json(self) -> dict:
        out = {"filename": self.filename, "kind": self.kind, "alt": self.alt,
               "labels": list(self.labels), "data": base64.b64encode(self.data).decode("ascii")}
        if self.recipe is not None:
            out["recipe"] = self.recipe
        return out

    @classmethod
    def from_json(cls, data: dict) -> Attachment:
        return cls(data["filename"], base64.b64decode(data["data"]), data.get("kind", "photo"),
                   data.get("alt", ""), tuple(data.get("labels", ())), data.get("recipe"))


@dataclass(frozen=True)
class Message:
    """What the bot says. `private` ones (refusals, usage) go to the actor alone where the
    platform allows (else in the chat); `dm_to` ones (penalties, someone's entries, the export)
    go only to that person, privately (a direct message, or an answer only they see), and never
    into the group. When that person is the one who asked and no private way exists yet (a
    Telegram member who never opened a chat with the bot), the group gets only how to open one,
    then `again`: the command that asks for this again (empty: nothing to ask again)."""

    parts: tuple[Part, ...]
    buttons: tuple[Button, ...] = ()
    ref: ItemRef | None = None
    private: bool = False
    dm_to: Mention | None = None
    attachment: Attachment | None = None
    again: str = ""
    invite: Chat | None = None  # with dm_to: the adapter adds a one-use invitation to this chat

    def plain(self, mention_prefix: str = "@") -> str:
        return "".join(p if isinstance(p, str) else f"{mention_prefix}{p.name}" for p in self.parts)

    def to_json(self) -> dict:
        return {
            "parts": [p if isinstance(p, str) else {"user_id": p.user_id, "name": p.name}
                      for p in self.parts],
            "buttons": [[b.label, b.action] for b in self.buttons],
            "ref": [self.ref.kind, self.ref.id] if self.ref else None,
            "dm_to": [self.dm_to.user_id, self.dm_to.name] if self.dm_to else None,
            **({"attachment": self.attachment.to_json()} if self.attachment else {}),
            **({"again": self.again} if self.again else {}),
            **({"invite": [self.invite.platform, self.invite.chat_id, self.invite.title]}
               if self.invite else {}),
        }

    @classmethod
    def from_json(cls, data: dict) -> Message:
        return cls(
            parts=tuple(p if isinstance(p, str) else Mention(p["user_id"], p["name"])
                        for p in data["parts"]),
            buttons=tuple(Button(label, action) for label, action in data["buttons"]),
            ref=ItemRef(*data["ref"]) if data.get("ref") else None,
            dm_to=Mention(*data["dm_to"]) if data.get("dm_to") else None,
            attachment=Attachment.from_json(data["attachment"]) if data.get("attachment")
            else None,
            again=data.get("again", ""),
            invite=Chat(*data["invite"]) if data.get("invite") else None,
        )


def say(*parts: Part, buttons: tuple[Button, ...] = (), ref: ItemRef | None = None) -> Message:
    return Message(parts=tuple(parts), buttons=buttons, ref=ref)


@dataclass(frozen=True)
class Post:
    """A message the core queued for a chat (scheduled work), waiting to be delivered."""

    id: int
    chat: Chat
    message: Message
