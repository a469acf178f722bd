"""Joining and leaving a crew."""

from __future__ import annotations

from bot.commands.care import INVITATION, agreement_of
from bot.commands.context import Context, Refusal
from bot.commands.events import Message, say
from bot.commands.registry import command
from bot.rules.text import plural

INVITED = "invited"  # crew settings key: the new-crew invitation was said once on /join


@command("join", level=0, usage="/join", summary="join this crew's game")
async def join(ctx: Context) -> list[Message]:
    # Game.handle already (re)joined the member before calling any command.
    if not ctx.joined:
        return [say(f"You are already in this crew, {ctx.member.name}. Try /checkin to share "
                    "what is true for you right now, or /help.")]
    roster = await ctx.store.crews.roster(ctx.crew.id)
    invite = ""
    if not agreement_of(ctx.crew) and not ctx.crew.settings.get(INVITED):
        invite = " " + INVITATION
        await ctx.store.crews.update_crew(ctx.crew.id, settings={**ctx.crew.settings,
                                                                 INVITED: True})
    return [say(f"Welcome, {ctx.member.name}! The crew has {plural(len(roster), 'member')}. "
                f"Try /checkin to share what is true for you right now, or /help.{invite}")]


@command("leave", level=0, usage="/leave", summary="leave this crew (your points stay)")
async def leave(ctx: Context) -> list[Message]:
    if ctx.joined:  # refused, so the automatic join is undone too
        raise Refusal("You are not in this crew, so there is nothing to leave. "
                      "/join when you want to play.")
    await ctx.store.crews.update_member(ctx.member.id, active=False)
    return [say(f"{ctx.member.name} left the crew; their points stay in the crew's total. "
                "/join any time to come back.")]
