"""Joining and leaving a crew."""

from __future__ import annotations

from bot.commands.care import INVITATION, agreement_of
from bot.commands.context import Context
from bot.commands.events import Message, say
from bot.commands.registry import command
from bot.rules.text import plural


@command("join", level=0, usage="/join", summary="join this crew's game")
async def join(ctx: Context) -> list[Message]:
    # Game.handle already (re)joined the member before calling any command.
    roster = await ctx.store.roster(ctx.crew.id)
    invite = "" if agreement_of(ctx.crew) else " " + INVITATION
    return [say(f"Welcome, {ctx.member.name}! The crew has {plural(len(roster), 'member')}. "
                f"Try /checkin to share what is true for you right now, or /help.{invite}")]


@command("leave", level=0, usage="/leave", summary="leave this crew (your points stay)")
async def leave(ctx: Context) -> list[Message]:
    await ctx.store.update_member(ctx.member.id, active=False)
    return [say(f"{ctx.member.name} left the crew. Your points stay in the crew's total; "
                "/join any time to come back.")]
