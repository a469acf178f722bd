"""Level 5: co-owners: propose sharing a venture, every named member confirms, +100 each."""

from __future__ import annotations

from bot.commands.context import Context, Refusal
from bot.commands.events import Button, ItemRef, Message, say
from bot.commands.ledger import give, no_points
from bot.commands.registry import Option, command
from bot.rules.model import Venture
from bot.rules.points import COOWNERS
from bot.rules.text import names

CONFIRM = "Confirm"
NOT_MONEY = ("Points carry no money value, and sharing legal ownership deserves legal advice "
             "before you sign anything.")


@command("coown", level=5, usage="/coown <venture> @member [@member ...] | /coown confirm [id]",
         summary="propose co-owning a venture; every named member confirms: +100 each",
         options=(Option("venture", "text", "the venture's name and @members", True),))
async def coown(ctx: Context) -> list[Message]:
    words = ctx.args.split()
    if words and words[0].lower() == "confirm":
        return await confirm(ctx, await pick(ctx, words[1:]))
    who, name = ctx.split_mentions(ctx.args)
    name = ctx.text(name, "venture name")
    if not name or not who:
        raise ctx.usage("Name the venture, then the members who share it, e.g. "
                        "/coown Bread Coop @sam @kim.")
    if len(name) > 100:
        raise Refusal("A venture name can be at most 100 characters.")
    owners = [ctx.member]
    for token in who:
        member = await ctx.resolve(token)
        if member.id == ctx.member.id:
            raise Refusal("You are already in your own venture; name the others.")
        if member.id not in {o.id for o in owners}:
            owners.append(member)
    key = " ".join(name.lower().split())
    existing = await ctx.store.venture_by_key(ctx.crew.id, key)
    if existing:
        raise Refusal(f"This crew already has a venture called \u201c{existing.name}\u201d "
                      f"(venture {existing.number}); pick another name.")
    venture = await ctx.store.add_venture(ctx.crew.id, name, key, ctx.member.id,
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
        words, "venture", ctx.store.numbered_venture, ctx.store.venture,
        lambda: ctx.store.ventures_awaiting(ctx.crew.id, ctx.member.id),
        "No venture is waiting for your confirmation.",
        "Several ventures wait for you ({ids}); say which by its id.")


async def confirm(ctx: Context, venture: Venture) -> list[Message]:
    if ctx.member.id not in venture.confirmations:
        raise Refusal(f"Only the members named in venture {venture.number} can confirm it.")
    if not await ctx.store.confirm_owner(venture.id, ctx.member.id, ctx.now):
        raise Refusal(f"You already confirmed venture {venture.number}.")
    refreshed = await ctx.store.venture(venture.id)
    assert refreshed is not None
    waiting = [m for m, done in refreshed.confirmations.items() if not done]
    members = await ctx.store.members_by_id(refreshed.confirmations)
    if waiting:
        return [say(f"{ctx.member.name} confirmed \u201c{venture.name}\u201d. Still to confirm: "
                    f"{names(members[m].name for m in waiting)}.")]
    await ctx.store.set_venture_status(venture.id, "owned")
    for member_id in refreshed.confirmations:
        await give(ctx.store, ctx.crew, member_id, COOWNERS, f"venture:{venture.id}", ctx.now)
    bonus = "" if no_points(ctx.crew) else " +100 each!"
    return [say(f"\u201c{venture.name}\u201d is co-owned by "
                f"{names(members[m].name for m in refreshed.confirmations)}:{bonus} "
                f"Whatever happens, this is part of your story now. {NOT_MONEY}")]
