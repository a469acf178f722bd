"""Crew housekeeping: /settings, /revoke (admins) and /help."""

from __future__ import annotations

from bot.commands.care import INVITATION, PEER_SUPPORT, agreement_of
from bot.commands.context import Context, Refusal
from bot.commands.entries import lookup_for
from bot.commands.events import Message, say
from bot.commands.ledger import give
from bot.commands.meetings import plan_next
from bot.commands.registry import COMMANDS, Command, Option, command, unknown_command
from bot.rules import settings as crew_settings
from bot.rules.levels import LEVELS, level_named
from bot.rules.points import REVOKED, Award
from bot.rules.text import local_time, plural, signed
from bot.rules.words import entry_words

REPLANS = {"timezone", "reflect_days", "attendance_hours"}


@command("settings", level=0, usage="/settings [name value]",
         summary="show the crew's settings; admins change one",
         options=(Option("name", "choice", "which setting", choices=tuple(crew_settings.SETTINGS)),
                  Option("value", "text", "the new value")))
async def settings(ctx: Context) -> list[Message]:
    words = ctx.args.split(maxsplit=1)
    current = ctx.settings
    if not words:
        return [say("Crew settings:\n" + "\n".join(
            f"{name}: {crew_settings.show(current[name])} \u2014 {s.describe}"
            for name, s in crew_settings.SETTINGS.items())
            + "\nAdmins change one with /settings <name> <value>, e.g. /settings circle_hours 12.")]
    if len(words) < 2:
        raise ctx.usage(f"Give a value for {words[0][:40]}, e.g. /settings circle_hours 12; "
                        "/settings alone shows them all.")
    if not ctx.is_admin:
        raise Refusal("Only a crew admin can change a setting: ask one to send "
                      f"/settings {words[0][:40]} {words[1][:40]}. Anyone can read the settings "
                      "with /settings.")
    try:
        key, value = crew_settings.parse_setting(words[0], words[1])
    except crew_settings.SettingError as error:
        raise Refusal(str(error)) from None
    overrides = {**ctx.crew.settings, key: value}
    await ctx.store.crews.update_crew(ctx.crew.id, settings=overrides)
    note = ""
    if key in REPLANS and ctx.crew.schedule:
        for planned in await ctx.store.meetings.meetings_with_status(ctx.crew.id, "planned"):
            await ctx.store.meetings.drop_meeting(planned.id)
        await plan_next(ctx.store, await ctx.store.crews.crew_by_id(ctx.crew.id), ctx.now)
        note = " The next meeting was planned again with it."
    return [say(f"{key} is now {crew_settings.show(value)}.{note}")]


@command("revoke", level=0, usage="/revoke <entry number>",
         summary="an admin's correction: cancels one ledger entry with a new one", admin=True,
         options=(Option("entry", "id", "the entry's number (/score @member shows it to admins)",
                         True),))
async def revoke(ctx: Context) -> list[Message]:
    """The crew sees only that a correction was made; the admin and the member concerned each
    hear what it was, privately."""
    ctx.require_admin()
    words = ctx.args.split()
    if len(words) != 1:
        raise ctx.usage("Give the number of one ledger entry (/score @member shows an admin "
                        "the numbers, privately).")
    entry = await ctx.store.ledger.entry(ctx.item_id(words[0], "ledger entry"))
    if entry is None or entry.crew_id != ctx.crew.id:
        raise Refusal(f"There is no ledger entry {words[0][:20]} in this crew.")
    if entry.reason == REVOKED:
        raise Refusal(f"Entry {entry.id} is itself a correction and cannot be revoked.")
    correction = Award(REVOKED, entry.level, -entry.points)
    # The correction counts in the month of the entry it cancels, so that month's board is true.
    if not await give(ctx.store, ctx.crew, entry.member_id, correction, f"ledger:{entry.id}",
                      ctx.now, month_of=entry.at, exact=True):
        raise Refusal(f"Entry {entry.id} was already revoked.")
    member = await ctx.store.crews.member_by_id(entry.member_id)
    lookup = await lookup_for(ctx.store, ctx.crew, [entry])
    what = (f"\u201c{entry_words(entry, lookup)}\u201d ({signed(entry.points)}, "
            f"{local_time(entry.at, lookup.tz)}) is cancelled: {signed(-entry.points)} recorded "
            "as a correction.")
    total = sum((await ctx.store.ledger.member_totals(ctx.crew.id, member.id, "all")).values())
    own = member.id == ctx.member.id
    told = [Message((f"Corrected: your entry {what} Your total is now "
                     f"{plural(total, 'point')}.",), dm_to=ctx.mention(ctx.member))]
    if not own:
        told = [Message((f"Corrected: {member.name}'s entry {what} {member.name} now has "
                         f"{plural(total, 'point')}; I'm telling them privately, where I can reach "
                         "them.",),
                        dm_to=ctx.mention(ctx.member)),
                Message((f"An admin corrected an entry of yours: {what} Your total is now "
                         f"{plural(total, 'point')}.",), dm_to=ctx.mention(member))]
    return [say("An admin corrected an entry in the ledger."), *told]


MODE_LINES = {
    "points": "This crew plays for points, as the essay has it.",
    "gentle": "This crew plays gently: missed meetings and unresolved conflicts are recorded but "
              "cost no points.",
    "rhythm": "This crew plays for rhythm, without points: the board shows what you did together.",
}


@command("help", level=0, usage="/help [command]",
         summary="the levels and their commands, or how to use one command",
         options=(Option("command", "text", "a command to explain, e.g. checkin"),))
async def help_(ctx: Context) -> list[Message]:
    words = ctx.args.split()
    if len(words) > 1:
        raise ctx.usage("Ask about one command at a time, e.g. /help checkin.")
    if words:
        name = words[0].lstrip("/").split("@", 1)[0].lower()
        if name not in COMMANDS:
            raise Refusal(unknown_command(name))
        return [say(command_help(COMMANDS[name]))]
    agreed = agreement_of(ctx.crew)
    agreement = (f"Our confidentiality agreement: {agreed}" if agreed else
                 INVITATION.replace("This is a new crew. ", ""))
    return [say(help_text() + "\n" + MODE_LINES[ctx.settings["mode"]] +
                " Admins choose: /settings mode points|gentle|rhythm.\n" + agreement)]


def help_text() -> str:
    lines = ["The Reciprocity Game: build trust by doing each other favours. Points belong to the "
             "crew, and the game is won together."]
    areas = [(level.number, f"Level {level.number}: {level.name}") for level in LEVELS]
    for number, heading in [*areas, (0, "The crew")]:
        lines.append(heading)
        lines += [f"  {c.usage}: {c.summary}{' (admins)' if c.admin else ''}"
                  for c in COMMANDS.values() if c.level == number and not c.area]
    lines.append("The congregation (crews side by side, and a lobby for people looking)")
    lines += [f"  {c.usage}: {c.summary}" for c in COMMANDS.values() if c.area]
    lines.append(PEER_SUPPORT)
    return "\n".join(lines)


def command_help(cmd: Command) -> str:
    """One command explained: how to type it, what it does, its options and who may use it."""
    summary = cmd.summary[0].upper() + cmd.summary[1:]
    lines = [cmd.usage, f"{summary}."]
    for option in cmd.options:
        need = "needed" if option.required else "optional"
        choices = f": {', '.join(option.choices)}" if option.choices else ""
        lines.append(f"  {option.name} ({need}): {option.description}{choices}")
    area = ("The congregation" if cmd.area else level_named(cmd.level) if cmd.level
            else "The crew")
    who = "crew admins only" if cmd.admin else "every member"
    lines.append(f"{area}; for {who}. /help lists every command.")
    return "\n".join(lines)


def intro_text() -> str:
    """Three lines a crew reads when the bot arrives in its chat."""
    return ("Hello, I'm Crewbot: I help this crew play the Reciprocity Game, building trust by "
            "doing each other favours.\n"
            "Share what is true for you with /checkin and confirm you listened to the others; "
            "/ask and /offer help; meet monthly; repair conflicts; co-own ventures.\n"
            "Points belong to the crew and the game is won together: /help shows the levels.\n"
            + INVITATION.replace("This is a new crew. ", ""))
