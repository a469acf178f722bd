"""Level 5: co-owners: propose sharing a venture, every named member confirms, +100 each."""

from __future__ import annotations

from bot.commands.context import Context, Refusal
from bot.commands.events import Button, ItemRef, Message, say
from bot.commands.ledger import give, no_points
from bot.commands.registry import Option, command
from bot.rules.model import Member, Venture
from bot.rules.points import COOWNERS
from bot.rules.text import names

CONFIRM = "Confirm"
NOT_MONEY = ("Points carry no money value, and sharing legal ownership deserves legal advice "
             "before you sign anything.")
ACTIONS = ("confirm", "drop", "withdraw", "status")


@command("coown", level=5,
         usage="/coown <venture> @member [@member ...] | /coown confirm|withdraw|status [number] "
               "| /coown drop @member [number]",
         summary="propose co-owning a venture; every named member confirms: +100 each",
         options=(Option("action", "choice", "what to do", choices=ACTIONS),
                  Option("venture", "text", "the venture's name and @members (or its number)")))
async def coown(ctx: Context) -> list[Message]:
    words = ctx.args.split()
    action = words[0].lower() if words else "status"
    rest = words[1:]
    if action == "confirm":
        return await confirm(ctx, await pick(ctx, rest))
    if action == "drop" and rest and rest[0].startswith("@") and len(rest) <= 2:
        return await drop(ctx, rest[0], rest[1:])
    if action == "drop" and not any(w.startswith("@") for w in rest):
        raise ctx.usage("Name the member who left, e.g. /coown drop @sam 1.")
    if action == "withdraw" and len(rest) <= 1:
        return await withdraw(ctx, rest)
    if action == "status" and len(rest) <= 1:
        return await status(ctx, rest)
    return await propose(ctx)


async def propose(ctx: Context) -> list[Message]:
    who, name = ctx.split_mentions(ctx.args)
    name = ctx.text(name, "venture name")
    if not name or not who:
        raise ctx.usage("Name the venture, then the members who share it, e.g. "
                        "/coown Bread Coop @sam @kim.")
    if len(name) > 100:
        raise Refusal(f"A venture name can be at most 100 characters; this one has {len(name)}. "
                      "Please give a shorter name.")
    owners = [ctx.member]
    for token in who:
        member = await ctx.resolve(token)
        if member.id == ctx.member.id:
            raise Refusal("You are already in your own venture; name the others, e.g. "
                          "/coown Bread Coop @sam.")
        if member.id not in {o.id for o in owners}:
            owners.append(member)
    key = " ".join(name.lower().split())
    existing = await ctx.store.ventures.venture_by_key(ctx.crew.id, key)
    if existing:
        raise Refusal(f"This crew already has a venture called \u201c{existing.name}\u201d "
                      f"(venture {existing.number}); pick another name.")
    venture = await ctx.store.ventures.add_venture(ctx.crew.id, name, key, ctx.member.id,
                                                   [o.id for o in owners], ctx.now)
    others = owners[1:]
    parts: list = [f"{ctx.member.name} proposes to co-own \u201c{name}\u201d (venture "
                   f"{venture.number}) with "]
    for i, member in enumerate(others):
        parts += [", " if i else "", ctx.mention(member)]
    parts.append(f". Each of you: press {CONFIRM} or send /coown confirm {venture.number}"
                 + ("." if no_points(ctx.crew) else ". When all have confirmed: +100 each.")
                 + f" {NOT_MONEY}")
    return [say(*parts, buttons=(Button(CONFIRM, f"c:{venture.id}"),),
                ref=ItemRef("venture", venture.id))]


async def pick(ctx: Context, words: list[str]) -> Venture:
    """The venture a command acts on: by id, by the message replied to, or the only one."""
    return await ctx.choose(
        words, "venture", ctx.store.ventures.numbered_venture, ctx.store.ventures.venture,
        lambda: ctx.store.ventures.ventures_awaiting(ctx.crew.id, ctx.member.id),
        "No venture is waiting for your confirmation. /coown status shows your ventures.",
        "Several ventures wait for you ({ids}); say which by its number.")


async def pick_mine(ctx: Context, words: list[str]) -> Venture:
    """A still open venture the member proposed: by id, by reply, or the only one."""

    async def mine() -> list[Venture]:
        return [v for v in await ctx.store.ventures.member_ventures(ctx.member.id)
                if v.status == "proposed" and v.proposer_id == ctx.member.id]

    venture = await ctx.choose(
        words, "venture", ctx.store.ventures.numbered_venture, ctx.store.ventures.venture, mine,
        "You have no venture waiting for confirmations. /coown status shows your ventures.",
        "You proposed several ventures still waiting ({ids}); say which by its number.")
    if venture.proposer_id != ctx.member.id:
        proposer = await ctx.store.crews.member_by_id(venture.proposer_id)
        raise Refusal(f"Only {proposer.name}, who proposed venture {venture.number}, can change "
                      "it; ask them.")
    if venture.status != "proposed":
        raise Refusal(ended(venture))
    return venture


def ended(venture: Venture) -> str:
    if venture.status == "owned":
        return (f"\u201c{venture.name}\u201d is already co-owned; nothing is left to change. "
                "Propose a new venture with /coown.")
    return (f"\u201c{venture.name}\u201d was withdrawn. Propose it again with /coown "
            f"{venture.name} @member.")


def mention_word(member: Member) -> str:
    return f"@{member.handle or member.name}"


def waiting_for(venture: Venture, members: dict[int, Member]) -> str:
    """Who a venture still waits for; members who left are said to have left."""
    waiting = [members[m] for m, done in venture.confirmations.items() if not done]
    return names(m.name if m.active else f"{m.name}, who left the crew" for m in waiting)


def left_hint(venture: Venture, members: dict[int, Member]) -> str:
    gone = [members[m] for m, done in venture.confirmations.items()
            if not done and not members[m].active]
    if not gone:
        return ""
    proposer = members[venture.proposer_id].name
    return (f" {proposer} can go on without them with /coown drop {mention_word(gone[0])} "
            f"{venture.number}, or withdraw it with /coown withdraw {venture.number}.")


async def confirm(ctx: Context, venture: Venture) -> list[Message]:
    if ctx.member.id not in venture.confirmations:
        raise Refusal(f"Only the members named in venture {venture.number} can confirm it. "
                      "/coown status shows the ventures you are in.")
    open_ = venture.status == "proposed"
    again = (f"You already confirmed venture {venture.number}."
             + (" /coown status shows who it still waits for." if open_ else ""))
    if venture.confirmations[ctx.member.id]:
        raise Refusal(again)
    if not open_:
        raise Refusal(ended(venture))
    if not await ctx.store.ventures.confirm_owner(venture.id, ctx.member.id, ctx.now):
        raise Refusal(again)
    refreshed = await ctx.store.ventures.venture(venture.id)
    assert refreshed is not None
    members = await ctx.store.crews.members_by_id(refreshed.confirmations)
    if not all(refreshed.confirmations.values()):
        return [say(f"{ctx.member.name} confirmed \u201c{venture.name}\u201d. Still to confirm: "
                    f"{waiting_for(refreshed, members)}.{left_hint(refreshed, members)}")]
    return await complete(ctx, refreshed, members)


async def complete(ctx: Context, venture: Venture, members: dict[int, Member]
                   ) -> list[Message]:
    await ctx.store.ventures.set_venture_status(venture.id, "owned")
    for member_id in venture.confirmations:
        await give(ctx.store, ctx.crew, member_id, COOWNERS, f"venture:{venture.id}", ctx.now)
    bonus = "" if no_points(ctx.crew) else " +100 each!"
    return [say(f"\u201c{venture.name}\u201d is co-owned by "
                f"{names(members[m].name for m in venture.confirmations)}:{bonus} "
                f"Whatever happens, this is part of your story now. {NOT_MONEY}")]


async def drop(ctx: Context, token: str, words: list[str]) -> list[Message]:
    """The proposer goes on without a named member who left the crew."""
    venture = await pick_mine(ctx, words)
    member = await ctx.resolve(token, left_ok=True)
    if member.id not in venture.confirmations:
        raise Refusal(f"{member.name} is not named in \u201c{venture.name}\u201d. "
                      "/coown status shows who it waits for.")
    if member.active:
        raise Refusal(f"{member.name} is still in the crew and can confirm with /coown confirm "
                      f"{venture.number}. To go on without them, /coown withdraw "
                      f"{venture.number} and propose it again.")
    if len(venture.confirmations) <= 2:
        raise Refusal(f"{member.name} is the only other member named in "
                      f"\u201c{venture.name}\u201d; a venture is shared with at least one other. "
                      f"Withdraw it with /coown withdraw {venture.number}, or name someone else in "
                      "a new one.")
    if not await ctx.store.ventures.drop_owner(venture.id, member.id):
        raise Refusal(f"{member.name} already confirmed \u201c{venture.name}\u201d and stays in "
                      f"it. To start over, /coown withdraw {venture.number}.")
    refreshed = await ctx.store.ventures.venture(venture.id)
    assert refreshed is not None
    members = await ctx.store.crews.members_by_id(refreshed.confirmations)
    note = say(f"{ctx.member.name} goes on with \u201c{venture.name}\u201d without "
               f"{member.name}, who left the crew.")
    if all(refreshed.confirmations.values()):
        return [note, *await complete(ctx, refreshed, members)]
    return [say(f"{note.plain()} Still to confirm: {waiting_for(refreshed, members)}."
                f"{left_hint(refreshed, members)}")]


async def withdraw(ctx: Context, words: list[str]) -> list[Message]:
    venture = await pick_mine(ctx, words)
    await ctx.store.ventures.withdraw_venture(venture.id)
    return [say(f"{ctx.member.name} withdrew \u201c{venture.name}\u201d "
                f"(venture {venture.number}); nobody scores for it. A new venture can be "
                "proposed any time with /coown.")]


async def status(ctx: Context, words: list[str]) -> list[Message]:
    """Where the member's open ventures stand: who confirmed, who is still awaited."""
    if words:
        found = await ctx.store.ventures.numbered_venture(ctx.crew.id,
                                                          ctx.item_id(words[0], "venture"))
        if found is None:
            raise Refusal(f"There is no venture {words[0][:20]} in this crew. /coown status "
                          "shows your ventures.")
        ventures = [found]
    else:
        ventures = [v for v in await ctx.store.ventures.member_ventures(ctx.member.id)
                    if v.status == "proposed" and v.crew_id == ctx.crew.id]
    if not ventures:
        return [say("You have no venture waiting for confirmations. Propose one, e.g. "
                    "/coown Bread Coop @sam @kim.")]
    lines = []
    for venture in ventures:
        members = await ctx.store.crews.members_by_id(venture.confirmations)
        if venture.status != "proposed":
            lines.append(ended(venture))
            continue
        done = [members[m].name for m, ok in venture.confirmations.items() if ok]
        lines.append(f"\u201c{venture.name}\u201d (venture {venture.number}): confirmed by "
                     f"{names(done)}; waiting for {waiting_for(venture, members)}."
                     f"{left_hint(venture, members)}")
    return [say("\n".join(lines))]
