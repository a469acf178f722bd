"""Seeing the game: /leaderboard and /score, as text or a picture, from the cached totals."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from bot.commands.context import Context
from bot.commands.entries import entry_lines
from bot.commands.events import Attachment, Message, say
from bot.commands.ledger import no_points
from bot.commands.registry import Option, command
from bot.pictures.board import Bar, Section, draw_board
from bot.pictures.drawing import Drawn
from bot.pictures.recap import draw_recap
from bot.rules.levels import LEVELS
from bot.rules.model import LedgerEntry, Member
from bot.rules.text import plural
from bot.rules.words import COUNTED

LATEST = 5
PICTURE = "picture"
PICTURE_OPTION = Option("view", "choice", "answer with a picture (default: text)",
                        choices=(PICTURE,))


def breakdown(levels: dict[int, int]) -> str:
    """' (Money 5 · Co-owners 100)': the levels a member has points in, by name; '' if none."""
    parts = [f"{level.name} {levels[level.number]}" for level in LEVELS
             if levels.get(level.number)]
    return " (" + " \u00b7 ".join(parts) + ")" if parts else ""


def ranks(points: list[int]) -> list[int]:
    """Competition ranking of points already sorted high to low: ties share a rank (1, 1, 3)."""
    out: list[int] = []
    for i, p in enumerate(points):
        out.append(out[-1] if i and p == points[i - 1] else i + 1)
    return out


DRAWERS = {"recap": draw_recap}  # pictures that may be queued as recipes


def picture_word(words: list[str]) -> tuple[bool, list[str]]:
    """Whether `picture` was asked for, and the other words."""
    return PICTURE in words, [w for w in words if w != PICTURE]


def picture(filename: str, drawn: Drawn, alt: str, names: Iterable[str]) -> Attachment:
    """A drawn picture to send; its labels are the people's names shown in it and every text
    drawn on it."""
    return Attachment(filename, drawn.png, "photo", alt[:1000], (*names, *drawn.texts))


def drawn_now(message: Message) -> Message:
    """The message with its picture drawn, if it was queued as a recipe (see Attachment)."""
    attachment = message.attachment
    if attachment is None or attachment.recipe is None:
        return message
    draw = DRAWERS[attachment.recipe["draw"]]
    drawn = draw(**attachment.recipe["args"])
    return replace(message, attachment=picture(attachment.filename, drawn, attachment.alt,
                                               attachment.labels))


def with_picture(message: Message, filename: str, drawn: Drawn, names: Iterable[str] = ()
                 ) -> Message:
    """The text answer, carrying its picture; the text stays as the caption (and alt text)."""
    return replace(message, attachment=picture(filename, drawn, message.plain(), names))


def level_bars(levels: dict[int, int]) -> tuple[Bar, ...]:
    return tuple(Bar(level.name, levels.get(level.number, 0), level=level.number)
                 for level in LEVELS)


def activity_bars(done: dict[str, int], labels: dict[str, tuple[str, str]] | None = None
                  ) -> tuple[Bar, ...]:
    return tuple(Bar((labels or {}).get(reason, (one, many))[1].capitalize(),
                     done.get(reason, 0)) for reason, one, many in ACTIVITY)


@command("leaderboard", level=0, usage="/leaderboard [month|all|hide|show] [picture]",
         summary="the crew's total, then members ranked; hide/show takes you out of or back in",
         options=(Option("period", "choice", "which points, or hide/show yourself",
                         choices=("month", "all", "hide", "show")), PICTURE_OPTION))
async def leaderboard(ctx: Context) -> list[Message]:
    wanted, words = picture_word(ctx.args.lower().split())
    if len(words) > 1:
        raise ctx.usage(f"'{' '.join(words)[:30]}' is not a leaderboard option; give one period.")
    word = words[0] if words else "all"
    if word in ("hide", "show") and wanted:
        raise ctx.usage(f"/leaderboard {word} takes no picture.")
    if word in ("hide", "show"):
        await ctx.store.crews.update_member(ctx.member.id, hidden=word == "hide")
        return [say(f"{ctx.member.name}, you are now out of the ranking; your points still count "
                    "in the crew total." if word == "hide" else
                    f"{ctx.member.name}, you are back in the ranking.")]
    if word not in ("month", "all"):
        raise ctx.usage(f"'{word[:20]}' is not a leaderboard option.")
    period = ctx.month if word == "month" else "all"
    label = f"this month ({period})" if word == "month" else "all time"
    title = f"{ctx.crew.title} \u00b7 {label}"
    if no_points(ctx.crew):
        done = await ctx.store.ledger.activity(ctx.crew.id, period if word == "month" else None)
        text = say(together_text(done, label))
        if not wanted:
            return [text]
        drawn = draw_board(title, "What we did together. This crew plays without points.",
                           [Section("Together", activity_bars(done))])
        return [with_picture(text, "leaderboard.png", drawn)]
    totals = await ctx.store.ledger.totals(ctx.crew.id, period)
    crew_total = sum(sum(levels.values()) for levels in totals.values())
    shown = [m for m in await ctx.store.crews.roster(ctx.crew.id) if not m.hidden]
    shown.sort(key=lambda m: (-sum(totals.get(m.id, {}).values()), m.name.lower()))
    scores = [sum(totals.get(m.id, {}).values()) for m in shown]
    lines = [f"Crew total, {label}: {plural(crew_total, 'point')}. The game is won together."]
    for rank, member, score in zip(ranks(scores), shown, scores, strict=True):
        lines.append(f"{rank}. {member.name} {score}{breakdown(totals.get(member.id, {}))}")
    text = say("\n".join(lines))
    if not wanted:
        return [text]
    crew_levels = {level.number: sum(t.get(level.number, 0) for t in totals.values())
                   for level in LEVELS}
    members = tuple(
        Bar(f"{rank}. {member.name}", score, tuple(sorted(totals.get(member.id, {}).items())),
            person=True)
        for rank, member, score in zip(ranks(scores), shown, scores, strict=True))
    drawn = draw_board(title, f"Crew total: {plural(crew_total, 'point')}. The game is won "
                       "together.", [Section("The crew, by level", level_bars(crew_levels)),
                                     Section("Members", members)], legend=LEVELS)
    return [with_picture(text, "leaderboard.png", drawn, (m.name for m in shown))]


ACTIVITY = COUNTED  # from the one table of ledger words


MEMBER_LABELS = {"meeting_attended": ("meeting attended", "meetings attended")}


def activity_text(done: dict[str, int], labels: dict[str, tuple[str, str]] | None = None) -> str:
    items = []
    for reason, one, many in ACTIVITY:
        one, many = (labels or {}).get(reason, (one, many))
        if done.get(reason):
            items.append(f"{done[reason]} {one if done[reason] == 1 else many}")
    return ", ".join(items) if items else "nothing yet; /checkin is a good start"


def together_text(done: dict[str, int], label: str) -> str:
    """The rhythm-mode board: what the crew did together, no points, no ranking."""
    return f"What we did together, {label}: {activity_text(done)}. This crew plays without points."


async def what_they_did(ctx: Context, member: Member) -> dict[str, int]:
    """The rhythm-mode /score: a member's part in it, without points (not even earlier ones)."""
    sources: dict[str, set[str]] = {}
    for entry in await ctx.store.ledger.member_ledger(ctx.crew.id, member.id):
        sources.setdefault(entry.reason, set()).add(entry.source)
    return {reason: len(events) for reason, events in sources.items()}


@command("score", level=0, usage="/score [@member] [picture]",
         summary="a member's total and points per level; your own latest entries, to you alone",
         options=(Option("member", "member", "whose score (default: yours)"), PICTURE_OPTION))
async def score(ctx: Context) -> list[Message]:
    """Totals and per-level totals are public, as the board shows them; entries are not: a
    member gets their own privately, and an admin gets anyone's, with the numbers /revoke
    takes, privately too. Nothing here itemizes anyone's penalty in front of the crew."""
    who, rest = ctx.split_mentions(ctx.args)
    wanted, words = picture_word(rest.lower().split())
    if words or len(who) > 1:
        raise ctx.usage("Name at most one member, with @, and add picture for a picture.")
    member = await ctx.resolve(who[0]) if who else ctx.member
    title = f"{member.name} \u00b7 all time"
    if no_points(ctx.crew):
        done = await what_they_did(ctx, member)
        text = say(f"What {member.name} did, all time: {activity_text(done, MEMBER_LABELS)}. "
                   "This crew plays without points.")
        if not wanted:
            return [text]
        drawn = draw_board(title, "This crew plays without points.",
                           [Section("Their part in it", activity_bars(done, MEMBER_LABELS))])
        return [with_picture(text, "score.png", drawn, (member.name,))]
    levels = await ctx.store.ledger.member_totals(ctx.crew.id, member.id, "all")
    latest = await ctx.store.ledger.latest_entries(ctx.crew.id, member.id, LATEST)
    total = sum(levels.values())
    lines = [f"{member.name}: {plural(total, 'point')}. "
             + " \u00b7 ".join(f"{level.name} {levels.get(level.number, 0)}"
                              for level in LEVELS)]
    if not latest:
        lines.append("No points yet: /checkin is a good start.")
    text = say("\n".join(lines))
    if wanted:
        drawn = draw_board(title, f"{member.name}: {plural(total, 'point')}.",
                           [Section("By level", level_bars(levels))])
        text = with_picture(text, "score.png", drawn, (member.name,))
    mine = member.id == ctx.member.id
    if not latest or not (mine or ctx.is_admin):
        return [text]
    return [text, await entries_privately(ctx, member, latest)]


async def entries_privately(ctx: Context, member: Member, latest: list[LedgerEntry]) -> Message:
    """A member's latest entries in words, for the one who asked alone."""
    shown = await entry_lines(ctx.store, ctx.crew, latest, for_admin=ctx.is_admin)
    whose = "Your" if member.id == ctx.member.id else f"{member.name}'s"
    head = f"{whose} latest entries, for you alone:"
    again = "/score" if member.id == ctx.member.id else f"/score @{member.handle or member.name}"
    return Message(("\n".join([head, *(f"- {line}" for line in shown)]),),
                   dm_to=ctx.mention(ctx.member), again=again)
