"""Level 4: conflict repair: propose, accept, apologise, forgive, or end unresolved."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.commands.care import PEER_SUPPORT
from bot.commands.context import Context, Refusal
from bot.commands.events import Button, ItemRef, Mention, Message, say
from bot.commands.ledger import give, no_points, post, scored
from bot.commands.registry import Option, command
from bot.commands.store import Store
from bot.rules import settings as crew_settings
from bot.rules.model import Conflict, Crew
from bot.rules.numbers import is_number
from bot.rules.points import CONFLICT_RESOLVED, CONFLICT_UNRESOLVED
from bot.rules.text import plural, quoted

ACCEPT = "Accept"
ACCEPT_DAYS = 7
# A conflict's status as a member reads it.
STATUS_WORDS = {"proposed": "still waiting to be accepted",
                "accepted": "already accepted and under way", "lapsed": "over, as it lapsed",
                "resolved": "already resolved", "unresolved": "over, as it ended unresolved"}


@command("conflict", level=4, usage="/conflict @member | /conflict accept [number] | "
         "/conflict unresolved [number]",
         summary="propose a repair with someone; they accept; or declare it unresolved",
         options=(Option("member", "member", "who the repair is with"),
                  Option("action", "choice", "accept or declare unresolved",
                         choices=("accept", "unresolved")),
                  Option("conflict", "id", "the conflict's id")))
async def conflict(ctx: Context) -> list[Message]:
    words = ctx.args.split()
    action = words[0].lower() if words else ""
    if action == "accept":
        return await accept(ctx, await pick(ctx, words[1:], "accept"))
    if action == "unresolved":
        return await unresolved(ctx, await pick(ctx, words[1:], "declare unresolved"))
    who, rest = ctx.split_mentions(ctx.args)
    if len(who) != 1 or rest:
        raise ctx.usage("Name the one member the repair is with, e.g. /conflict @sam.")
    other = await ctx.resolve(who[0])
    if other.id == ctx.member.id:
        raise Refusal("A conflict repair is between you and another member; name them, e.g. "
                      "/conflict @sam.")
    for c in await ctx.store.conflicts.open_conflicts(ctx.crew.id, ctx.member.id):
        if other.id in (c.proposer_id, c.other_id):
            raise Refusal(f"A repair with {other.name} is already under way (conflict {c.number}). "
                          "Carry it on with /apologise or /forgive.")
    item = await ctx.store.conflicts.add_conflict(ctx.crew.id, ctx.member.id, other.id, ctx.now)
    await ctx.store.outbox.add_due(ctx.crew.id, "conflict_lapse", item.id,
                                   ctx.now + timedelta(days=ACCEPT_DAYS))
    return [say(f"{ctx.member.name} proposes a repair with ", ctx.mention(other),
                f" (conflict {item.number}). {other.name}, press {ACCEPT} or send /conflict accept "
                f"{item.number} within {ACCEPT_DAYS} days; otherwise it lapses"
                f"{'' if no_points(ctx.crew) else ' with no points'}. "
                f"{PEER_SUPPORT}",
                buttons=(Button(ACCEPT, f"a:{item.id}"),), ref=ItemRef("conflict", item.id))]


async def pick(ctx: Context, words: list[str], verb: str) -> Conflict:
    """The conflict a command acts on: by id, by the message replied to, or the only one."""

    async def mine() -> list[Conflict]:
        open_ones = await ctx.store.conflicts.open_conflicts(ctx.crew.id, ctx.member.id)
        if verb == "accept":
            return [c for c in open_ones
                    if c.status == "proposed" and c.other_id == ctx.member.id]
        return [c for c in open_ones if c.status == "accepted"]

    return await ctx.choose(words, "conflict", ctx.store.conflicts.numbered_conflict,
                            ctx.store.conflicts.conflict, mine,
                            f"You have no conflict to {verb}. A repair starts with "
                            "/conflict @member.",
                            "You have several conflicts ({ids}); say which by its number.")


def party(ctx: Context, item: Conflict) -> None:
    if ctx.member.id not in (item.proposer_id, item.other_id):
        raise Refusal(f"Only the two people in conflict {item.number} can do that; a repair is "
                      "theirs to make. Start your own with /conflict @member.")


async def accept(ctx: Context, item: Conflict) -> list[Message]:
    if item.other_id != ctx.member.id:
        raise Refusal(f"Only the member invited to conflict {item.number} can accept it; it waits "
                      "for them to press Accept.")
    if not await ctx.store.conflicts.move_conflict(item.id, "proposed", status="accepted",
                                                   accepted_at=ctx.now):
        raise Refusal(f"Conflict {item.number} is {STATUS_WORDS[item.status]}, so there is nothing "
                      "to accept. A new repair starts with /conflict @member.")
    days = ctx.settings["conflict_days"]
    await ctx.store.outbox.add_due(ctx.crew.id, "conflict_half", item.id,
                                   ctx.now + timedelta(days=days) / 2)
    await ctx.store.outbox.add_due(ctx.crew.id, "conflict_deadline", item.id,
                                   ctx.now + timedelta(days=days))
    return [say(f"{ctx.member.name} accepted the repair (conflict {item.number}). A repair is "
                f"under way: one of you apologises with /apologise {item.number}, the other "
                f"forgives with /forgive {item.number}, within {days} days."
                + ("" if no_points(ctx.crew) else " Both done: +10 each."))]


async def unresolved(ctx: Context, item: Conflict) -> list[Message]:
    party(ctx, item)
    if item.status != "accepted":
        raise Refusal(f"Conflict {item.number} is {STATUS_WORDS[item.status]}; only a repair under "
                      "way can be declared unresolved. /help conflict shows how a repair goes.")
    return await end_unresolved(ctx.store, ctx.crew, item, ctx.now, declared=True)


async def end_unresolved(store: Store, crew: Crew, item: Conflict, now: datetime,
                         declared: bool) -> list[Message]:
    if not await store.conflicts.move_conflict(item.id, "accepted", status="unresolved",
                                               ended_at=now):
        return []
    cost = scored(crew, CONFLICT_UNRESOLVED.points)
    how = "was declared unresolved" if declared else "reached its deadline without a resolution"
    told: list[Message] = []
    for member_id in (item.proposer_id, item.other_id):
        await give(store, crew, member_id, CONFLICT_UNRESOLVED, f"conflict:{item.id}", now)
        if cost:
            member = await store.crews.member_by_id(member_id)
            told.append(Message((f"Conflict {item.number} {how}. As this crew plays it, that costs "
                                 f"each of you {-cost} points. It still matters: you can always "
                                 "talk again, and outside help (a mediator, a counsellor) can "
                                 "make that easier.",), dm_to=Mention(member.user_id, member.name)))
    # The crew sees that the repair ended, not who lost what.
    return [say(f"A repair (conflict {item.number}) {how}. It still matters; you can always talk "
                "again."), *told]


@command("apologise", level=4, usage="/apologise [number] [share] [text]",
         summary="apologise in a repair; add 'share' to show your words to the crew",
         options=(Option("conflict", "id", "the conflict's id"),
                  Option("text", "text", "your apology (kept private unless you write share)")))
async def apologise(ctx: Context) -> list[Message]:
    words = ctx.args.split()
    ids = words[:1] if words and is_number(words[0].lstrip("#")) else []
    rest = ctx.args.split(maxsplit=len(ids))[len(ids):]
    text = rest[0] if rest else ""
    head = text.split(maxsplit=1)
    share = bool(head) and head[0].lower() == "share"  # the word itself, not "shared ..."
    if share:
        text = head[1] if len(head) > 1 else ""
    text = ctx.text(text, "apology")
    item = await pick(ctx, ids, "apologise")
    party(ctx, item)
    if item.status != "accepted":
        raise Refusal(f"Conflict {item.number} is {STATUS_WORDS[item.status]}; apologies are for a "
                      "repair under way. A new one starts with /conflict @member.")
    if item.apologiser_id is not None:
        who = "You" if item.apologiser_id == ctx.member.id else "The other party"
        raise Refusal(f"{who} already apologised in conflict {item.number}; now it's time to "
                      "forgive.")
    await ctx.store.conflicts.move_conflict(item.id, "accepted", apologiser_id=ctx.member.id,
                                            apology=text)
    other_id = item.other_id if ctx.member.id == item.proposer_id else item.proposer_id
    other = await ctx.store.crews.member_by_id(other_id)
    said = f" They said: {quoted(text)}" if share and text else ""
    return [say(f"{ctx.member.name} apologised in conflict {item.number}.{said} {other.name}, "
                f"when you are ready, /forgive {item.number}.")]


@command("forgive", level=4, usage="/forgive [number]", summary="forgive an apology: +10 each",
         options=(Option("conflict", "id", "the conflict's id"),))
async def forgive(ctx: Context) -> list[Message]:
    item = await pick(ctx, ctx.args.split()[:1], "forgive")
    party(ctx, item)
    if item.status != "accepted":
        raise Refusal(f"Conflict {item.number} is {STATUS_WORDS[item.status]}; there is nothing to "
                      "forgive now. /help forgive shows how a repair goes.")
    if item.apologiser_id is None:
        raise Refusal(f"Nobody has apologised in conflict {item.number} yet; forgiving comes after "
                      f"an apology (/apologise {item.number}).")
    if item.apologiser_id == ctx.member.id:
        raise Refusal("You apologised; the other party is the one to forgive. Give them "
                      "time.")
    if not await ctx.store.conflicts.move_conflict(item.id, "accepted", status="resolved",
                                                   ended_at=ctx.now):
        raise Refusal(f"Conflict {item.number} has already ended; nothing more to do.")
    for member_id in (item.proposer_id, item.other_id):
        await give(ctx.store, ctx.crew, member_id, CONFLICT_RESOLVED, f"conflict:{item.id}",
                   ctx.now)
    a, b = [await ctx.store.crews.member_by_id(i) for i in (item.proposer_id, item.other_id)]
    bonus = "" if no_points(ctx.crew) else " +10 each!"
    return [say(f"Conflict {item.number} is resolved: {a.name} and {b.name} turned it into greater "
                f"connection.{bonus}")]


# scheduled work


async def lapse_due(store: Store, crew: Crew, conflict_id: int, now: datetime) -> None:
    item = await store.conflicts.conflict(conflict_id)
    if item and await store.conflicts.move_conflict(item.id, "proposed", status="lapsed",
                                                    ended_at=now):
        await post(store, crew, say(f"The repair proposed in conflict {item.number} was not "
                                    f"accepted within {ACCEPT_DAYS} days and has lapsed, with "
                                    "no points."),
                   now)


async def half_due(store: Store, crew: Crew, conflict_id: int, now: datetime) -> None:
    item = await store.conflicts.conflict(conflict_id)
    if item is None or item.status != "accepted":
        return
    a, b = [await store.crews.member_by_id(i) for i in (item.proposer_id, item.other_id)]
    days = crew_settings.effective(crew.settings)["conflict_days"]
    assert item.accepted_at is not None
    left = item.accepted_at + timedelta(days=days) - now
    await post(store, crew, say(
        Mention(a.user_id, a.name), " and ", Mention(b.user_id, b.name),
        f": half the time for conflict {item.number} has passed "
        f"({plural(max(left.days, 0), 'day')} left). "
        + (f"An apology was made; /forgive {item.number} resolves it"
           if item.apologiser_id else
           f"/apologise {item.number} and /forgive {item.number} resolve it")
        + ("." if no_points(crew) else ": +10 each.")), now)


async def deadline_due(store: Store, crew: Crew, conflict_id: int, now: datetime) -> None:
    item = await store.conflicts.conflict(conflict_id)
    if item is None or item.status != "accepted":
        return
    for message in await end_unresolved(store, crew, item, now, declared=False):
        await post(store, crew, message, now)
