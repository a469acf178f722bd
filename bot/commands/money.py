"""Level 2: money talk, asks, offers and thanks, with the daily caps."""

from __future__ import annotations

from bot.commands.care import PASS, PEER_SUPPORT
from bot.commands.context import Context, Refusal
from bot.commands.events import Button, ItemRef, Message, say
from bot.commands.ledger import give, give_many, no_points
from bot.commands.registry import Option, command
from bot.rules.model import Favour, Member
from bot.rules.points import ASK, MUTUAL_REGARD, OFFER, scores_under_cap

THANK_YOU = "Thank you"
MONEY_QUESTIONS = (
    "Where does your income come from, and does it support you to be at your best?",
    "What lifestyle would support you, and what would need to change to reach it?",
    "If you need more, which creative new tactics could you try?",
    "If you have enough, could you earn it with less compromise, more freedom or more impact?",
    "If you have a surplus, what would need to be true for you to share it with your crewmates?",
)
KEEP = "keep"


@command("money", level=2, usage="/money [keep] [your paid work / your meaningful work]",
         summary="start a money talk: your paid work and your meaningful work (no figures)",
         options=(Option("text", "text", "your paid work and meaningful work; start with 'keep' "
                         "to have it stored"),))
async def money(ctx: Context) -> list[Message]:
    words = ctx.args.split(maxsplit=1)
    keep = bool(words) and words[0].lower() == KEEP
    text = ctx.text(words[1] if keep and len(words) > 1 else ("" if keep else ctx.args),
                    "money talk")
    # The words are stored only if the member asks; no figures are ever asked for.
    talk = await ctx.store.favours.add_favour(ctx.crew.id, "money", ctx.member.id, None,
                                              text if keep else "", False, ctx.now)
    questions = " ".join(f"({i}) {q}" for i, q in enumerate(MONEY_QUESTIONS, 1))
    stored = ("Your words are stored with the crew's game, as you asked." if keep else
              "I don't store your words (start with /money keep if you want them kept), and I "
              "never ask for figures: share only what you choose.")
    return [say(f"{ctx.member.name} opens a money talk: (A) the work you do for money and (B) the "
                f"work most meaningful to you. Questions to talk through together: {questions} "
                "Anyone can help bring A and B closer: reply to this with /offer. "
                + ("" if no_points(ctx.crew) else "No points for the talk itself. ")
                + f"It stays in this crew. {stored} "
                f"{PEER_SUPPORT}",
                buttons=(PASS,), ref=ItemRef("money", talk.id))]


def _unscored(kind: str, cap: int) -> str:
    """Why an ask or offer over the daily cap did not score; no promise for tomorrow at cap 0."""
    if cap == 0:
        return (f"Recorded, thank you; it did not score, as {kind}s do not score in this crew "
                f"({kind}_cap is 0).")
    limit = f"only 1 {kind} a day scores" if cap == 1 else f"only {cap} {kind}s a day score"
    later = " Tomorrow's will." if kind == "ask" else ""
    return f"Recorded, thank you; it did not score, as {limit}.{later}"


async def _add_capped(ctx: Context, kind: str, recipient_id: int | None, text: str,
                      cap: int) -> Favour:
    """Records an ask or offer, scored while fewer than `cap` of the member's of this kind
    scored today (`scores_under_cap`)."""
    since, until = ctx.day_bounds()
    return await ctx.store.favours.add_favour_counted(
        ctx.crew.id, kind, ctx.member.id, recipient_id, text, since, until, ctx.now,
        lambda already: scores_under_cap(already, cap))


@command("ask", level=2, usage="/ask <what you need>",
         summary="ask the crew for something you need (+5)",
         options=(Option("text", "text", "what you need", True),))
async def ask(ctx: Context) -> list[Message]:
    text = ctx.text(ctx.args, "ask")
    if not text:
        raise ctx.usage("Say what you need, e.g. /ask an intro to a bookkeeper.")
    cap = ctx.settings["ask_cap"]
    item = await _add_capped(ctx, "ask", None, text, cap)
    if item.scored:
        await give(ctx.store, ctx.crew, ctx.member.id, ASK, f"favour:{item.id}", ctx.now)
        tail = ("Thank you for asking for what you need." if no_points(ctx.crew) else
                "+5 points for asking for what you need.")
    else:
        tail = _unscored("ask", cap)
    return [say(f"{ctx.member.name} asks (ask {item.number}). {tail} "
                "Anyone can reply to this with /offer.", ref=ItemRef("ask", item.id))]


@command("offer", level=2, usage="/offer @member <what you offer> (or reply to their ask)",
         summary="offer something to another member (+5); they thank you (+1 each)",
         options=(Option("member", "member", "who you offer it to", True),
                  Option("text", "text", "what you offer", True)))
async def offer(ctx: Context) -> list[Message]:
    who, text = ctx.split_mentions(ctx.args)
    text = ctx.text(text, "offer")
    if len(who) > 1:
        raise ctx.usage("Offer to one member at a time.")
    if who:
        recipient = await ctx.resolve(who[0])
    elif ctx.reply_to and ctx.reply_to.kind in ("ask", "money"):
        found = ctx.reply_favour or await ctx.store.favours.favour_author(ctx.reply_to.item_id)
        assert found is not None
        recipient = found[1]
        if not recipient.active:
            raise Refusal(f"{recipient.name} has left this crew. Name someone still in it, or "
                          f"ask {recipient.name} to come back with /join.")
    else:
        raise ctx.usage("Say who the offer is for: /offer @name <what you offer>, or reply to "
                        "their ask.")
    if recipient.id == ctx.member.id:
        raise Refusal("You can't make an offer to yourself; offer it to another member.")
    if not text:
        raise ctx.usage("Say what you offer.")
    cap = ctx.settings["offer_cap"]
    item = await _add_capped(ctx, "offer", recipient.id, text, cap)
    if item.scored:
        await give(ctx.store, ctx.crew, ctx.member.id, OFFER, f"favour:{item.id}", ctx.now)
        tail = "Thank you for offering." if no_points(ctx.crew) else "+5 points for offering."
    else:
        tail = _unscored("offer", cap)
    return [say(f"{ctx.member.name} offers something to ", ctx.mention(recipient),
                f" (offer {item.number}). {tail} {recipient.name}, press {THANK_YOU} or reply "
                "/thanks to acknowledge it" + ("." if no_points(ctx.crew) else ": +1 each."),
                buttons=(Button(THANK_YOU, f"t:{item.id}"),), ref=ItemRef("offer", item.id))]


@command("thanks", level=2, usage="/thanks [offer number] (or reply to the offer)",
         summary="acknowledge an offer made to you (+1 to both)",
         options=(Option("offer", "id", "the offer's id"),))
async def thanks(ctx: Context) -> list[Message]:
    words = ctx.args.split()
    if words:  # the offer's number in this crew
        found = await ctx.store.favours.numbered_favour_author(ctx.crew.id, "offer",
                                                               ctx.item_id(words[0], "offer"))
        return await thank(ctx, *(found or (None, None)))
    if ctx.reply_to and ctx.reply_to.kind == "offer":
        found = ctx.reply_favour  # the giver too, for the reply
        if found is None or found[0].id != ctx.reply_to.item_id:
            found = await ctx.store.favours.favour_author(ctx.reply_to.item_id)
        return await thank(ctx, *(found or (None, None)))
    waiting = await ctx.store.favours.offers_awaiting_thanks(ctx.member.id)
    waiting = [f for f in waiting if f.crew_id == ctx.crew.id]
    if not waiting:
        raise Refusal("No offer to you is waiting for thanks. /thanks acknowledges an offer "
                      "someone made to you.")
    if len(waiting) > 1:
        listed = ", ".join(str(f.number) for f in waiting)
        raise ctx.usage(f"Several offers are waiting for your thanks ({listed}); say which.")
    return await thank(ctx, waiting[0])


async def thank(ctx: Context, favour: Favour | None, giver: Member | None = None
                ) -> list[Message]:
    if favour is None or favour.crew_id != ctx.crew.id or favour.kind != "offer":
        raise Refusal("There is no such offer in this crew. /thanks takes the id of an offer "
                      "made to you.")
    if favour.recipient_id != ctx.member.id:
        recipient = await ctx.store.crews.member_by_id(favour.recipient_id or 0)
        raise Refusal(f"Only {recipient.name}, who received offer {favour.number}, can thank it. "
                      "/thanks is for offers made to you.")
    if not await ctx.store.favours.mark_thanked(favour.id):
        raise Refusal(f"You already thanked offer {favour.number}; a thank-you counts once, so "
                      "nothing more is needed.")
    if giver is None:
        giver = await ctx.store.crews.member_by_id(favour.member_id)
    assert favour.recipient_id is not None
    await give_many(ctx.store, ctx.crew, [(favour.member_id, MUTUAL_REGARD),
                                          (favour.recipient_id, MUTUAL_REGARD)],
                    f"favour:{favour.id}", ctx.now)
    regard = "" if no_points(ctx.crew) else " +1 each"
    return [say(f"{ctx.member.name} thanks {giver.name} for offer {favour.number}:{regard} for "
                "talking and listening with mutual regard.")]
