"""Your data: /mydata sends a member everything stored about them; /forgetme erases it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.commands import listening
from bot.commands.congregations import erase_words
from bot.commands.context import Context
from bot.commands.entries import entry_lines
from bot.commands.events import Message, say
from bot.commands.registry import Option, command
from bot.commands.store import Store
from bot.rules.model import Member
from bot.rules.text import local_time

CONFLICT_WORDS = {"proposed": "waiting to be accepted", "accepted": "under way",
                  "lapsed": "lapsed, never accepted", "resolved": "resolved",
                  "unresolved": "ended unresolved"}
VENTURE_WORDS = {"proposed": "waiting for confirmations", "owned": "co-owned",
                 "withdrawn": "withdrawn"}

FORMER = "former member"  # the name a forgotten member's anonymous ledger rows keep
CONFIRM = "confirm"
KINDS = {"ask": "ask", "offer": "offer", "money": "money talk"}
ERASED = "A member left the game and their words were erased; the crew's totals stay."
EXPLAIN = (
    "/forgetme erases you from this crew's game: every check-in, ask, offer, money talk, "
    "reflection and apology you wrote, your name and handle, also in the bot's posts, and your "
    "words and knocks in a congregation's lobby. Your "
    "ledger entries stay, under no name, so the crew's totals stay true; you leave the crew and "
    "the leaderboard, and if you play again later you start fresh at 0 points. It cannot be "
    "undone. /mydata shows what is stored first. To go ahead, send /forgetme confirm. "
    "Nothing has been changed yet.")


def forgotten_id(member: Member) -> str:
    return f"forgotten:{member.id}"


def is_forgotten(member: Member) -> bool:
    return member.user_id == forgotten_id(member)


@command("mydata", level=0, usage="/mydata",
         summary="everything the game stores about you in this crew, sent to you alone")
async def mydata(ctx: Context) -> list[Message]:
    if ctx.args:
        raise ctx.usage("/mydata takes no words; it shows everything stored about you.")
    store, me = ctx.store, ctx.member
    tz = ctx.settings["timezone"]

    def when(at: datetime) -> str:
        return local_time(at, tz)

    checkins = await store.circles.member_checkins(me.id)
    listens = await store.circles.member_listens(me.id)
    favours = await store.favours.member_favours(me.id)
    reflections = await store.meetings.member_reflections(me.id)
    meetings = await store.meetings.member_meetings(me.id)
    conflicts = await store.conflicts.member_conflicts(me.id)
    ventures = await store.ventures.member_ventures(me.id)
    entries = await store.ledger.member_ledger(ctx.crew.id, me.id)
    others = await store.crews.members_by_id(
        {author for _, author in listens}
        | {i for f in favours for i in (f.member_id, f.recipient_id) if i is not None}
        | {i for c, _ in conflicts for i in (c.proposer_id, c.other_id)}
        | {i for v in ventures for i in (v.proposer_id, *v.confirmations)})

    def name(member_id: int) -> str:
        return "you" if member_id == me.id else others[member_id].name

    def said(text: str) -> str:
        return f": {text}" if text else " (no text)"

    mine = [f for f in favours if f.member_id == me.id]
    received = [f for f in favours if f.member_id != me.id]
    sections: list[tuple[str, list[str]]] = [
        ("Check-ins", [f"{when(at)}{said(text)}" for _, at, text in checkins]),
        ("Check-ins you confirmed listening to",
         [f"{name(author)}'s check-in" for _, author in listens]),
        ("Your asks, offers and money talks", [
            f"{KINDS.get(f.kind, f.kind)} {f.number}"
            + (f" to {name(f.recipient_id)}" if f.recipient_id is not None else "")
            + f", {when(f.created_at)}" + (", scored" if f.scored else "")
            + (", thanked" if f.thanked else "") + said(f.text) for f in mine]),
        ("Offers made to you", [
            f"offer {f.number} from {name(f.member_id)}, {when(f.created_at)}"
            + (", you thanked it" if f.thanked else "") for f in received]),
        ("Reflections", [f"{when(at)}{said(text)}" for at, text in reflections]),
        ("Meetings", [f"the meeting of {when(m.starts_at)}: "
                      + ("present" if present else "not marked present")
                      for m, present in meetings]),
        ("Conflicts", [
            f"conflict {c.number} with "
            f"{name(c.other_id if c.proposer_id == me.id else c.proposer_id)}"
            f", {CONFLICT_WORDS.get(c.status, c.status)}" + (
                (f"; you apologised: \u201c{apology}\u201d" if apology else "; you apologised")
                if c.apologiser_id == me.id else
                f"; {name(c.apologiser_id)} apologised" if c.apologiser_id is not None else "")
            for c, apology in conflicts]),
        ("Ventures", [
            f"venture {v.number} \u201c{v.name}\u201d, {VENTURE_WORDS.get(v.status, v.status)}, "
            "proposed by "
            f"{name(v.proposer_id)}; "
            "co-owners: " + ", ".join(f"{name(m)} ({'confirmed' if ok else 'not confirmed'})"
                                      for m, ok in v.confirmations.items())
            for v in ventures]),
        ("Ledger entries", await entry_lines(store, ctx.crew, entries)),
    ]
    lobby = await lobby_lines(store, ctx.crew.platform, me.user_id, when)
    if lobby:  # only for people who were in a congregation's lobby
        sections.append(("In a congregation's lobby", lobby))
    handle = f"@{me.handle}" if me.handle else "none"
    lines = [f"Everything stored about you in this crew, for you alone. Name: {me.name}; "
             f"handle: {handle}; joined {when(await store.crews.member_joined(me.id))}; "
             + ("on the roster" if me.active else "not on the roster") + "; "
             + ("hidden from" if me.hidden else "shown in") + " the ranking; "
             + f"{sum(e.points for e in entries)} points."]
    for title, items in sections:
        lines.append(f"{title} ({len(items)}):" if items else f"{title}: none.")
        lines += [f"- {item}" for item in items]
    lines.append("To erase your words and your name from this crew: /forgetme.")
    # To them alone: by direct message where the platform has one (Telegram would otherwise post
    # a private reply to a command in the group), privately in the chat otherwise.
    return [Message(("\n".join(lines),), private=True, dm_to=ctx.mention(me), again="/mydata")]


@command("forgetme", level=0, usage="/forgetme [confirm]",
         summary="erase your words and your name from this crew (you confirm first)",
         options=(Option("confirm", "choice", "erase now; without it, I explain first",
                         choices=(CONFIRM,)),))
async def forgetme(ctx: Context) -> list[Message]:
    word = ctx.args.lower()
    if not word:
        return [Message((EXPLAIN,), private=True)]
    if word != CONFIRM:
        raise ctx.usage(f"'{ctx.args[:20]}' is not a /forgetme option. Send /forgetme to read "
                        "what it erases, then /forgetme confirm to erase it.")
    me = ctx.member
    # Repairs and ventures they were part of end now, with no points: nobody can be penalised
    # by, or left waiting on, someone who has gone.
    for item in await ctx.store.conflicts.open_conflicts(ctx.crew.id, me.id):
        await ctx.store.conflicts.move_conflict(item.id, item.status, status="lapsed",
                                                ended_at=ctx.now)
    for venture in await ctx.store.ventures.ventures_awaiting(ctx.crew.id, me.id):
        await ctx.store.ventures.set_venture_status(venture.id, "withdrawn")
    await scrub_posts(ctx, me)
    await erase_words(ctx.store, ctx.crew.platform, me.user_id)
    await ctx.store.congregations.forget_person(ctx.crew.platform, me.user_id)
    await ctx.store.crews.forget_member(me.id, forgotten_id(me), FORMER)
    messages = [say(ERASED)]
    # Like leaving the chat: their check-in no longer holds the open circle back.
    circle = await ctx.store.circles.open_circle(ctx.crew.id)
    if circle is not None:
        messages += await listening.settle(ctx.store, ctx.crew, circle, ctx.now, closing=False)
    return messages


async def lobby_lines(store: Store, platform: str, user_id: str,
                      when: Callable[[datetime], str]) -> list[str]:
    """What congregations' lobbies keep about the person: their words while they look, and
    their knocks (/forgetme erases both)."""
    looking = await store.congregations.person_looking(platform, user_id)
    knocks = await store.congregations.person_knocks(platform, user_id)
    crews = await store.crews.crews_by_id({k.crew_id for k in knocks})
    return ([f"looking for a crew since {when(p.since)}: \u201c{p.words}\u201d" for p in looking]
            + [f"knocked on {crews[k.crew_id].title}, {when(k.at)}: {k.status}" for k in knocks])


async def scrub_posts(ctx: Context, member: Member) -> None:
    """Takes the member's name, handle and user id out of the crew's queued and sent posts; a
    post still waiting to be sent to them alone is not sent any more."""
    spellings = {member.name, *((f"@{member.handle}", member.handle) if member.handle else ())}
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(
        re.escape(s) for s in sorted(spellings, key=len, reverse=True)) + r")(?!\w)")
    anonymous = forgotten_id(member)

    def scrubbed_attachment(item: dict) -> dict | None:
        """A picture that shows the member is dropped (pixels cannot be scrubbed); the bytes
        of any other file are left alone, only its description is scrubbed."""
        if any(pattern.search(label) for label in item.get("labels", [])):
            return None
        return {**item, "alt": pattern.sub(FORMER, item.get("alt", ""))}

    def scrubbed(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(FORMER, value)
        if isinstance(value, list):
            return [scrubbed(v) for v in value]
        if not isinstance(value, dict):
            return value
        if value.get("user_id") == member.user_id:  # a mention
            return {**value, "user_id": anonymous, "name": FORMER}
        out = {}
        for key, item in value.items():
            if key in ("buttons", "ref"):
                out[key] = item
            elif key == "attachment" and isinstance(item, dict):
                out[key] = scrubbed_attachment(item)
            elif key == "dm_to" and isinstance(item, list) and item[:1] == [member.user_id]:
                out[key] = [anonymous, FORMER]
            else:
                out[key] = scrubbed(item)
        return out

    for post_id, payload, sent in await ctx.store.outbox.crew_posts(ctx.crew.id):
        clean = scrubbed(payload)
        if clean == payload:
            continue
        await ctx.store.outbox.set_post_payload(post_id, clean)
        if not sent and clean.get("dm_to") != payload.get("dm_to"):
            await ctx.store.outbox.post_sent(post_id, None, ctx.now)
