"""Level 3: monthly meetings: schedule, reflection prompts, reminders, attendance and tallies."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.commands.board import activity_bars
from bot.commands.care import PASS, agreement_of
from bot.commands.context import Context, NotCounted, Refusal
from bot.commands.events import Attachment, Button, ItemRef, Mention, Message, Part, say
from bot.commands.ledger import (
    crew_tz,
    give_many,
    no_points,
    post,
    post_many,
    scored,
    worth,
)
from bot.commands.registry import Option, command
from bot.commands.store import Store
from bot.rules import settings as crew_settings
from bot.rules.levels import LEVELS
from bot.rules.model import Crew, Meeting
from bot.rules.points import MEETING_MISSED, Award, meeting_attended
from bot.rules.schedule import RuleError, month_key, occurrences_after, parse_rule
from bot.rules.text import local_time, plural

HERE = "I'm here"
REMINDER_BEFORE = timedelta(hours=1)


def attendance_message(crew: Crew, meeting: Meeting) -> Message:
    tz = crew_settings.effective(crew.settings)["timezone"]
    agreed = agreement_of(crew)
    reminder = f" Remember our agreement: {agreed}" if agreed else ""
    return say(f"The meeting has started. Mark your presence with "
               f"{HERE}, a reaction on this message, or /here, until "
               f"{local_time(meeting.ends_at, tz)}.{reminder}",
               buttons=(Button(HERE, f"h:{meeting.id}"),), ref=ItemRef("meeting", meeting.id))


@command("meeting", level=3, usage="/meeting [schedule <rule> | now]",
         summary="show, schedule (admin) or hold now (admin) the monthly meeting",
         options=(Option("action", "choice", "what to do", choices=("schedule", "now")),
                  Option("rule", "text", "e.g. first tuesday 19:00 or day 15 18:30")))
async def meeting(ctx: Context) -> list[Message]:
    words = ctx.args.split(maxsplit=1)
    action = words[0].lower() if words else ""
    if action == "schedule":
        return await schedule(ctx, words[1] if len(words) > 1 else "")
    if action == "now":
        return await meeting_now(ctx)
    if action:
        raise ctx.usage(f"'{action[:20]}' is not a meeting action.")
    planned = await ctx.store.meetings.meetings_with_status(ctx.crew.id, "planned")
    tz = ctx.settings["timezone"]
    rule = f"The crew meets {ctx.crew.schedule} ({tz})." if ctx.crew.schedule else (
        "No schedule yet: an admin sets one with /meeting schedule first tuesday 19:00.")
    nxt = f" Next meeting: {local_time(planned[0].starts_at, tz)}." if planned else ""
    return [say(rule + nxt)]


async def schedule(ctx: Context, text: str) -> list[Message]:
    ctx.require_admin("schedule meetings", "anyone can see the schedule with /meeting")
    try:
        rule = parse_rule(text)
    except RuleError as error:
        raise ctx.usage(str(error)) from None
    for planned in await ctx.store.meetings.meetings_with_status(ctx.crew.id, "planned"):
        await ctx.store.meetings.drop_meeting(planned.id)
    await ctx.store.crews.update_crew(ctx.crew.id, schedule=str(rule))
    crew = await ctx.store.crews.crew_by_id(ctx.crew.id)
    nxt = await plan_next(ctx.store, crew, ctx.now)
    days = ctx.settings["reflect_days"]
    return [say(f"The crew now meets {rule} ({ctx.settings['timezone']}). Next meeting: "
                f"{local_time(nxt.starts_at, ctx.settings['timezone'])}. Reflection prompts come "
                f"{plural(days, 'day') + ' before' if days else 'on the day'}, a reminder 1 hour "
                "before.")]


async def plan_next(store: Store, crew: Crew, after: datetime) -> Meeting:
    """Plans the crew's next scheduled meeting in a month that has none yet, with its timers."""
    assert crew.schedule
    settings = crew_settings.effective(crew.settings)
    tz = crew_tz(crew)
    for start in occurrences_after(parse_rule(crew.schedule), after, tz):
        month = month_key(start, tz)
        if await store.meetings.meeting_in_month(crew.id, month) is None:
            break
    else:  # pragma: no cover - 24 months all taken cannot happen with one meeting a month
        raise RuntimeError("no free month for the next meeting")
    ends = start + timedelta(hours=settings["attendance_hours"])
    meeting = await store.meetings.add_meeting(crew.id, month, start, ends, True, "planned")
    prompt = max(after, start - timedelta(days=settings["reflect_days"]))
    for kind, due in (("meeting_prompt", prompt), ("meeting_reminder", start - REMINDER_BEFORE),
                      ("meeting_start", start), ("meeting_tally", ends)):
        if kind != "meeting_reminder" or due > after:
            await store.outbox.add_due(crew.id, kind, meeting.id, due)
    return meeting


async def meeting_now(ctx: Context) -> list[Message]:
    ctx.require_admin("hold a meeting now, as it can cost absent members points",
                      "anyone can see the schedule with /meeting")
    tz = ctx.settings["timezone"]
    existing = await ctx.store.meetings.meeting_in_month(ctx.crew.id, ctx.month)
    if existing and existing.status == "planned":
        raise Refusal(f"This month's meeting is scheduled for "
                      f"{local_time(existing.starts_at, tz)}; only one meeting a month is scored. "
                      "Meet then, or move it with /meeting schedule.")
    if existing:
        raise Refusal(f"The crew already met this month ({local_time(existing.starts_at, tz)}); "
                      "only one meeting a month is scored. See you next month!")
    ends = ctx.now + timedelta(hours=ctx.settings["attendance_hours"])
    held = await ctx.store.meetings.add_meeting(ctx.crew.id, ctx.month, ctx.now, ends, False,
                                                "open")
    await ctx.store.meetings.take_roster(ctx.crew.id, held.id,
                                         [m.id for m in await ctx.store.crews.roster(ctx.crew.id)])
    await ctx.store.outbox.add_due(ctx.crew.id, "meeting_tally", held.id, ends)
    return [attendance_message(ctx.crew, held)]


async def open_meeting(ctx: Context) -> Meeting | None:
    for held in await ctx.store.meetings.meetings_with_status(ctx.crew.id, "open"):
        if held.starts_at <= ctx.now < held.ends_at:
            return held
    return None


@command("here", level=3, usage="/here", summary="mark yourself present at the open meeting")
async def here(ctx: Context) -> list[Message]:
    if ctx.args.strip():
        raise Refusal("You can only mark yourself present: just send /here.")
    held = await open_meeting(ctx)
    if held is None:
        planned = await ctx.store.meetings.meetings_with_status(ctx.crew.id, "planned")
        nxt = (f" The next one starts {local_time(planned[0].starts_at, ctx.settings['timezone'])}."
               if planned else "")
        raise Refusal("No meeting is open for attendance right now." + (
            nxt or " /meeting shows the schedule; an admin can hold one with /meeting now."))
    return await mark_present(ctx, held)


async def mark_present(ctx: Context, held: Meeting) -> list[Message]:
    if not await ctx.store.meetings.mark_present(ctx.crew.id, held.id, ctx.member.id, ctx.now):
        return [Message((f"You are already marked present, {ctx.member.name}.",), private=True)]
    return [say(f"{ctx.member.name} is here.")]


async def attend(ctx: Context, meeting_id: int, via: str) -> list[Message]:
    held = await ctx.store.meetings.meeting(meeting_id)
    if held is None or held.crew_id != ctx.crew.id:
        raise Refusal("That is not a meeting of this crew. Mark your presence on your own "
                      "crew's meeting post, or send /here there.")
    if held.status != "open" or not held.starts_at <= ctx.now < held.ends_at:
        if via == "reaction":
            raise NotCounted("Attendance for that meeting is closed, so the reaction changes "
                             "nothing.")
        raise Refusal("Attendance for that meeting is closed. /meeting shows the next one.")
    return await mark_present(ctx, held)


@command("reflect", level=3, usage="/reflect <where you've been, where you might go next>",
         summary="share a reflection before or during the monthly meeting",
         options=(Option("text", "text", "your reflection", True),))
async def reflect(ctx: Context) -> list[Message]:
    text = ctx.text(ctx.args, "reflection")
    if not text:
        raise ctx.usage("Share where you have been and where you might go next.")
    held = await open_meeting(ctx)
    planned = await ctx.store.meetings.meetings_with_status(ctx.crew.id, "planned")
    target = held or (planned[0] if planned else None)
    await ctx.store.meetings.add_reflection(ctx.crew.id, ctx.member.id,
                                            target.id if target else None, text, ctx.now)
    return [say(f"Thank you, {ctx.member.name}: your reflection is shared with the crew.")]


# scheduled work


async def prompt_due(store: Store, crew: Crew, meeting_id: int, now: datetime) -> None:
    held = await store.meetings.meeting(meeting_id)
    if held is None or held.status != "planned" or now >= held.starts_at:
        return  # caught up after the meeting began: the attendance post says it all
    settings = crew_settings.effective(crew.settings)
    extra = " ".join(crew_settings.PRACTICES[settings["practice"]])
    await post(store, crew, say(
        f"Our monthly meeting is on {local_time(held.starts_at, settings['timezone'])}. Before we "
        "meet, reflect: Where have you been? Where might you go next? "
        + (extra + " " if extra else "") + "Share with /reflect <text>, or pass.",
        buttons=(PASS,)), now)


async def reminder_due(store: Store, crew: Crew, meeting_id: int, now: datetime) -> None:
    held = await store.meetings.meeting(meeting_id)
    if held is None or held.status != "planned" or now >= held.starts_at:
        return
    roster = await store.crews.roster(crew.id)
    if not roster:
        return
    tz = crew_settings.effective(crew.settings)["timezone"]
    parts: list[Part] = [f"Reminder: our meeting starts in 1 hour "
                         f"({local_time(held.starts_at, tz)}). "]
    for i, member in enumerate(roster):
        parts += [", " if i else "", Mention(member.user_id, member.name)]
    await post(store, crew, say(*parts), now)


async def start_due(store: Store, crew: Crew, meeting_id: int, now: datetime) -> None:
    held = await store.meetings.meeting(meeting_id)
    if held is None or held.status != "planned":
        return
    # Catching up after the whole attendance window passed while the bot was down: nobody
    # could mark presence, so the tally must not punish anyone for it.
    offline = now >= held.ends_at
    await store.meetings.set_meeting_status(held.id, "offline" if offline else "open")
    await store.meetings.take_roster(crew.id, held.id,
                                     [m.id for m in await store.crews.roster(crew.id)])
    if not offline:
        await post(store, crew, attendance_message(crew, held), now)
    if crew.schedule:
        await plan_next(store, crew, held.starts_at)


async def tally_due(store: Store, crew: Crew, meeting_id: int, now: datetime) -> None:
    """Scores everyone on the roster once. The post names who was present, never who was not:
    absences are counted, and each absent member is told privately what it cost."""
    held = await store.meetings.meeting(meeting_id)
    if held is None or held.status not in ("open", "offline"):
        return
    await store.meetings.set_meeting_status(held.id, "tallied")
    if held.status == "offline":
        await _tally_offline(store, crew, held, await store.meetings.meeting_roster(held.id), now)
        return
    settings = crew_settings.effective(crew.settings)
    tz = settings["timezone"]
    when = local_time(held.starts_at, tz)
    present: list[str] = []
    came: list[str] = []
    awards: list[tuple[int, Award]] = []
    notes: list[Message] = []
    absent = 0
    for member, was_present, was_excused, attended in await store.meetings.tally_roster(crew.id,
                                                                                        held.id):
        if was_present:
            award = meeting_attended(attended + 1)
            awards.append((member.id, award))
            present.append(member.name + worth(crew, award.points))
            came.append(member.name)
            continue
        absent += 1
        forgiven = was_excused and settings["excused_absence"] == "on"
        missed = Award(MEETING_MISSED.reason, MEETING_MISSED.level, 0) if forgiven else (
            MEETING_MISSED)
        awards.append((member.id, missed))
        cost = scored(crew, missed.points)
        if cost:
            # Someone who said /away already did what the note would ask of them.
            advice = ("Thank you for telling the crew beforehand; an admin can make announced "
                      "absences free with /settings excused_absence on." if was_excused
                      else "Next time, /away before the start tells the crew you can't come.")
            notes.append(Message(
                (f"We missed you at the meeting of {when}. As this crew plays it, a missed "
                 f"meeting costs {-cost} points. {advice}",),
                dm_to=Mention(member.user_id, member.name)))
    await give_many(store, crew, awards, f"meeting:{held.id}", now)
    summary = f"Meeting of {when} tallied. "
    summary += ("Present: " + ", ".join(present) + ". ") if present else "Nobody marked presence. "
    if absent:
        summary += f"{plural(absent, 'member')} could not make it this time."
    picture = await recap(store, crew, held, when, came, absent)
    await post_many(store, crew, [*notes, replace(say(summary.strip()), attachment=picture)], now)


async def recap(store: Store, crew: Crew, held: Meeting, when: str, came: list[str],
                absent: int) -> Attachment:
    """The tally's small picture: who came by name, the others only counted, and the month."""
    if no_points(crew):
        done = await store.ledger.activity(crew.id, held.month)
        heading = f"What we did together in {held.month}"
        bars = [(bar.label, bar.value, 0) for bar in activity_bars(done)]
    else:
        totals = await store.ledger.totals(crew.id, held.month)
        levels = {level: sum(t.get(level.number, 0) for t in totals.values()) for level in LEVELS}
        heading = f"Crew points in {held.month}: {sum(levels.values())}"
        bars = [(level.name, points, level.number) for level, points in levels.items()]
    alt = (f"Meeting of {when}: {len(came)} present, {absent} could not make it. {heading}: "
           + ", ".join(f"{label} {value}" for label, value, _ in bars) + ".")
    # Drawn when it is sent (Game.pending_posts), not here: a tick may tally a thousand crews.
    recipe = {"draw": "recap", "args": {"title": f"Meeting of {when}", "present": came,
                                        "absent": absent, "month_heading": heading,
                                        "month_bars": [list(bar) for bar in bars]}}
    return Attachment("meeting-recap.png", b"", "photo", alt[:1000], tuple(came), recipe)


async def _tally_offline(store: Store, crew: Crew, held: Meeting, roster: dict[int, bool],
                         now: datetime) -> None:
    """The bot was down for the whole attendance window: the meeting is recorded, at 0."""
    spared = Award(MEETING_MISSED.reason, MEETING_MISSED.level, 0)
    await give_many(store, crew, [(member_id, spared) for member_id in roster],
                    f"meeting:{held.id}", now, exact=True)
    when = local_time(held.starts_at, crew_settings.effective(crew.settings)["timezone"])
    cost = "" if no_points(crew) else " and nobody loses points for it"
    await post(store, crew, say(
        f"Meeting of {when} tallied: I was offline for its whole attendance window, so nobody "
        f"could mark presence{cost}. Sorry about that!"), now)


@command("away", level=3, usage="/away [reason]",
         summary="before a meeting starts, tell the crew you can't come",
         options=(Option("reason", "text", "why (kept private)"),))
async def away(ctx: Context) -> list[Message]:
    ctx.text(ctx.args, "reason")  # the reason is never stored: only that you said so in time
    held = await open_meeting(ctx)
    if held is not None:  # not silently next month's: this one is under way
        raise Refusal(f"The meeting of {local_time(held.starts_at, ctx.settings['timezone'])} "
                      "has already started; /away works before a meeting's start. You can "
                      "still join in with /here.")
    planned = await ctx.store.meetings.meetings_with_status(ctx.crew.id, "planned")
    upcoming = [m for m in planned if m.starts_at > ctx.now]
    if not upcoming:
        raise Refusal("There is no upcoming meeting to be away from; /away works before a "
                      "meeting starts. /meeting shows the schedule.")
    meeting = upcoming[0]
    when = local_time(meeting.starts_at, ctx.settings["timezone"])
    if not await ctx.store.meetings.excuse(ctx.crew.id, meeting.id, ctx.member.id):
        raise Refusal(f"You already said you'll be away on {when}; the crew knows, nothing "
                      "more to do.")
    if ctx.settings["excused_absence"] == "on" or scored(ctx.crew, MEETING_MISSED.points) == 0:
        cost = "it costs you nothing"
    else:
        cost = (f"in this crew an absence still costs {-MEETING_MISSED.points} points "
                "(an admin can set /settings excused_absence on)")
    return [say(f"Thanks for telling us, {ctx.member.name}: you'll be away on {when}; {cost}.")]
