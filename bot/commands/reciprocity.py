"""/graph: the crew's reciprocity network, who listened to and who helped whom, as a picture."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.commands.board import picture
from bot.commands.context import Context
from bot.commands.events import Message
from bot.commands.privacy import is_forgotten
from bot.commands.registry import Option, command
from bot.pictures.network import Person, Tie, describe, draw_network

PERIODS = ("month", "3months", "year", "all")
DAYS = re.compile(r"(\d{1,4})d(?:ays?)?")
MAX_DAYS = 3650


def months_back(ctx: Context, months: int) -> datetime:
    """The start of the crew-local month `months` before this one."""
    local = ctx.now.astimezone(ctx.tz)
    index = local.year * 12 + local.month - 1 - months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=ctx.tz)


def period_of(ctx: Context, word: str) -> tuple[datetime | None, str]:
    """When the period starts (None: ever) and how to say it."""
    if word == "month":
        return months_back(ctx, 0), f"this month ({ctx.month})"
    if word == "3months":
        return months_back(ctx, 2), "the last 3 months"
    if word == "year":
        return months_back(ctx, 11), "the last 12 months"
    if word == "all":
        return None, "all time"
    match = DAYS.fullmatch(word)
    if match and 1 <= int(match[1]) <= MAX_DAYS:
        days = int(match[1])
        return ctx.now - timedelta(days=days), f"the last {days} day{'s' * (days != 1)}"
    raise ctx.usage(f"'{word[:20]}' is not a period: give month, 3months, year, all or a number "
                    f"of days such as 30d (at most {MAX_DAYS}).")


@command("graph", level=0, usage="/graph [month|3months|year|all|<days>d]",
         summary="a picture of who listened to and who helped whom (default: this month)",
         options=(Option("period", "choice", "which time (default: this month)",
                         choices=PERIODS),))
async def graph(ctx: Context) -> list[Message]:
    words = ctx.args.lower().split()
    if len(words) > 1:
        raise ctx.usage("Give at most one period.")
    since, label = period_of(ctx, words[0] if words else "month")
    rows = await ctx.store.favours.reciprocity(ctx.crew.id, since)
    everyone = await ctx.store.crews.all_members(ctx.crew.id)
    tied = {m for _, a, b, _ in rows for m in (a, b)}
    # Forgotten members are left out entirely, and people who left are shown only where they
    # took part in the period.
    people = [Person(str(m.id), m.name) for m in sorted(everyone, key=lambda m: m.id)
              if not is_forgotten(m) and (m.active or m.id in tied)]
    ties = [Tie(str(a), str(b), kind, n) for kind, a, b, n in rows]
    caption = describe(people, ties, label)
    drawn, _ = draw_network(f"{ctx.crew.title} \u00b7 {label}", people, ties)
    return [Message((caption,), attachment=picture("graph.png", drawn, caption,
                                                   (p.name for p in people)))]
