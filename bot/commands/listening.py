"""Level 1: the feelings circle: /checkin, listening confirmed by reaction or button, closing."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.commands.care import PASS
from bot.commands.context import Context, NotCounted, Refusal
from bot.commands.events import Button, ItemRef, Message, say
from bot.commands.ledger import give_many, no_points
from bot.commands.registry import Option, command
from bot.commands.store import Store
from bot.rules import listening
from bot.rules import settings as crew_settings
from bot.rules.model import Checkin, Circle, Crew, Member
from bot.rules.points import LISTENING_CIRCLE
from bot.rules.text import local_time, names, plural

LISTENED = "I listened"


def listen_button(checkin_id: int) -> Button:
    return Button(LISTENED, f"l:{checkin_id}")


@command("checkin", level=1, usage="/checkin <something true for you right now>",
         summary="share what is true for you; others confirm they listened",
         options=(Option("text", "text", "something true for you right now", True),))
async def checkin(ctx: Context) -> list[Message]:
    text = ctx.text(ctx.args, "check-in")
    if not text:
        raise ctx.usage("Say something true for you right now, e.g. /checkin I'm tired but glad.")
    roster, circle, authors, heard = await ctx.store.circles.open_circle_state(ctx.crew.id)
    if circle is None:
        closes = ctx.now + timedelta(hours=ctx.settings["circle_hours"])
        circle = await ctx.store.circles.add_circle(ctx.crew.id, ctx.now, closes)
        await ctx.store.outbox.add_due(ctx.crew.id, "circle_close", circle.id, closes)
    entry, created = await ctx.store.circles.put_checkin(ctx.crew.id, circle.id, ctx.member.id,
                                                         text, ctx.now)
    # The circle as it is now, for the count line and for settle: a new check-in is the
    # newest; an updated one keeps its id and its confirmations.
    authors = {**authors, entry.id: ctx.member.id}
    lead = ctx.member.name + (" checked in" if created else " updated their check-in")
    standing = heard_by(roster, authors, heard)
    reply = say(
        f"{lead} ({len(standing)} of {plural(len(roster), 'member')} in this circle, open until "
        f"{local_time(circle.closes_at, ctx.settings['timezone'])}). "
        f"Listen, then react to {ctx.member.name}'s check-in or press {LISTENED}. "
        + summary(standing),
        buttons=(listen_button(entry.id), PASS), ref=ItemRef("checkin", entry.id))
    return [reply, *await settle(ctx.store, ctx.crew, circle, ctx.now, closing=False,
                                 known=(roster, authors, heard))]


@command("circle", level=1, usage="/circle",
         summary="where the open circle stands: whose check-ins are fully heard")
async def circle_(ctx: Context) -> list[Message]:
    if ctx.args.strip():
        raise ctx.usage("/circle takes no words; it shows the open circle.")
    roster, circle, authors, heard = await ctx.store.circles.open_circle_state(ctx.crew.id)
    if circle is None:
        raise Refusal("No circle is open: /checkin to open one.")
    people = {m.id: m for m in roster}
    standing = heard_by(roster, authors, heard)
    when = local_time(circle.closes_at, ctx.settings["timezone"])
    lines = [f"The circle is open until {when}, with {len(standing)} of "
             f"{plural(len(roster), 'member')} checked in."]
    lines += [f"  {people[a].name}: " + ("fully heard" if not n else
                                         f"{plural(n, 'confirmation')} missing")
              for a, n in standing.items()]
    if len(standing) < 2:
        lines.append("A circle needs at least two check-ins: /checkin to add yours.")
    else:
        lines.append(f"Listen, then react to each check-in or press {LISTENED} on it.")
    return [say("\n".join(lines))]


def heard_by(roster: list[Member], authors: dict[int, int], heard: set[tuple[int, int]]
             ) -> dict[int, int]:
    """Each participant still in the crew, in check-in order, with how many confirmations
    their check-in still misses (never who has not listened)."""
    present = {m.id for m in roster}
    kept = {c: a for c, a in sorted(authors.items()) if a in present}
    missing = listening.missing_confirmations(kept, {(c, m) for c, m in heard if m in present})
    return {a: len(missing.get(a, ())) for a in kept.values()}


def summary(standing: dict[int, int]) -> str:
    """One line on the open circle (`heard_by`'s standing), for the /checkin reply."""
    if len(standing) < 2:
        return "A circle needs at least two check-ins."
    full = sum(1 for n in standing.values() if not n)
    missing = sum(standing.values())
    tail = f"; {plural(missing, 'confirmation')} missing" if missing else ""
    return (f"So far {full} of {plural(len(standing), 'check-in')} fully heard{tail}: "
            "/circle shows each.")


async def confirm(ctx: Context, checkin_id: int, via: str, added: bool) -> list[Message]:
    """A member confirms (or, removing a reaction, withdraws) listening to a check-in."""
    return await confirm_found(ctx, await ctx.store.circles.checkin_circle(checkin_id), via, added)


async def confirm_found(ctx: Context, found: tuple[Checkin, Circle] | None, via: str,
                        added: bool) -> list[Message]:
    """`confirm`, with the check-in and its circle already read (None: not one of this crew's,
    which is all a unit of work holding the crew can see, or no longer there)."""
    entry, circle = found or (None, None)
    if entry is None or circle is None or circle.crew_id != ctx.crew.id:
        raise Refusal("That check-in is not one of this crew's; confirm listening in the chat "
                      "where it was shared. /circle shows this crew's open circle.")
    if entry.member_id == ctx.member.id:
        if via == "button":
            raise Refusal(f"That is your own check-in; listening counts from the others. Press "
                          f"{LISTENED} on theirs.")
        raise NotCounted(f"That is {ctx.member.name}'s own check-in; listening counts from the "
                         "others.")
    if circle.status != "open":
        if via == "button":
            raise Refusal("That circle has already closed. Start a new one with /checkin.")
        raise NotCounted("That check-in's circle has already closed, so the reaction changes "
                         "nothing. Start a new circle with /checkin.")
    if added:
        new = await ctx.store.circles.add_listen(ctx.crew.id, entry.id, ctx.member.id, via)
        notes = []
        if via == "button":  # a reaction needs no note, so no author either
            author = await ctx.store.crews.member_by_id(entry.member_id)
            notes = [say(f"Noted: {ctx.member.name} listened to {author.name}." if new else
                         f"You already confirmed you listened to {author.name}.")]
    else:
        await ctx.store.circles.remove_listen(ctx.crew.id, entry.id, ctx.member.id, via)
        notes = []
    return notes + await settle(ctx.store, ctx.crew, circle, ctx.now, closing=False)


# Skin tones and text/emoji presentation selectors: platforms differ in sending them (Telegram
# reports ❤ where Discord and most keyboards give ❤️), so 👂🏽 counts where the crew listed 👂.
EMOJI_VARIANTS: dict[int, None] = {**dict.fromkeys(range(0x1F3FB, 0x1F400)),
                                   0xFE0E: None, 0xFE0F: None}


def bare_emoji(emoji: str) -> str:
    return emoji.translate(EMOJI_VARIANTS) or emoji


def emoji_counts(crew: Crew, emoji: str) -> bool:
    allowed = {bare_emoji(e) for e in crew_settings.effective(crew.settings)["listening_emoji"]}
    return not allowed or bare_emoji(emoji) in allowed


async def settle(store: Store, crew: Crew, circle: Circle, now: datetime, closing: bool,
                 known: tuple[list[Member], dict[int, int], set[tuple[int, int]]] | None = None
                 ) -> list[Message]:
    """Closes the circle if it is complete with the whole roster in it, or if its time is up.
    `known`: the roster and `store.circles.circle_state_roster`, if the caller just read them."""
    members, all_authors, all_heard = known or await store.circles.circle_state_roster(crew.id,
                                                                                       circle.id)
    roster = {m.id: m for m in members}
    authors = {c: m for c, m in all_authors.items() if m in roster}
    heard = {(c, m) for c, m in all_heard if m in roster}
    if not closing and not listening.closes_early(set(roster), authors, heard):
        return []
    complete = listening.is_complete(authors, heard)
    if not await store.circles.close_circle(circle.id, "complete" if complete else "incomplete",
                                            now):
        return []
    people = [roster[m] for m in sorted(set(authors.values()))]
    if complete:
        await give_many(store, crew, [(m.id, LISTENING_CIRCLE) for m in people],
                        f"circle:{circle.id}", now)
        who = names(m.name for m in people)
        tail = f"Thank you, {who}." if no_points(crew) else (
            f"+1 point each for {who}. Thank you all.")
        return [say(f"The circle is complete: everyone listened to everyone. {tail}")]
    if len(people) < 2:
        who = f"only {people[0].name}'s check-in" if people else "no check-ins"
        return [say(f"The circle has closed with {who}; a circle needs at least two. "
                    "Start a new one any time with /checkin.")]
    waiting = listening.missing_confirmations(authors, heard)
    # Whose check-ins wait, and how many confirmations: never who did not listen (as /circle).
    lines = [f"{roster[a].name} ({plural(len(ms), 'confirmation')} missing)"
             for a, ms in sorted(waiting.items())]
    return [say("The circle has closed. Thank you for sharing; not everyone was heard in time, so "
                f"{'nothing to count' if no_points(crew) else 'no points'} this round. "
                "Still waiting to be heard: " + "; ".join(lines) +
                ". Try again with /checkin.")]


async def close_due_circle(store: Store, crew: Crew, circle_id: int, now: datetime
                           ) -> list[Message]:
    circle = await store.circles.circle(circle_id)
    if circle.status != "open":
        return []
    return await settle(store, crew, circle, now, closing=True)
