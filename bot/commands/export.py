"""/export: an admin gets the crew's ledger privately, as the CSV file `crewbot export` writes."""

from __future__ import annotations

from bot.commands.context import Context
from bot.commands.entries import tallied_meetings
from bot.commands.events import Attachment, Message
from bot.commands.game import CrewExport
from bot.commands.registry import command
from bot.export import as_csv
from bot.rules.text import plural


@command("export", level=0, usage="/export", admin=True,
         summary="the crew's members and ledger as a CSV file, sent to you alone")
async def export(ctx: Context) -> list[Message]:
    ctx.require_admin()
    if ctx.args:
        raise ctx.usage("/export takes no words; it sends the whole ledger.")
    crew = await ctx.store.crews.crew_by_id(ctx.crew.id)
    members = await ctx.store.crews.all_members(crew.id)
    ledger = await ctx.store.ledger.ledger(crew.id)
    data = as_csv([CrewExport(crew, members, await ctx.store.ledger.totals(crew.id, "all"), ledger,
                              await tallied_meetings(ctx.store, crew))])
    day = ctx.now.astimezone(ctx.tz).date().isoformat()
    entries = f"{len(ledger)} ledger {'entry' if len(ledger) == 1 else 'entries'}"
    # Privately: the file itemizes everyone's entries, penalties included.
    text = (f"For you alone: the crew's ledger as CSV, {plural(len(members), 'member')} and "
            f"{entries}, one row each (record=member or record=entry). It shows every member's "
            "entries, missed meetings included, so please keep it to yourself.")
    return [Message((text,), dm_to=ctx.mention(ctx.member), again="/export",
                    attachment=Attachment(f"crewbot-ledger-{day}.csv", data.encode("utf-8"),
                                          "document", text, tuple(m.name for m in members)))]
