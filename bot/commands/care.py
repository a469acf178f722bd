"""Care and consent: the crew's confidentiality agreement, passing, and pointers to real help."""

from __future__ import annotations

from bot.commands.context import Context
from bot.commands.events import Button, Message, say
from bot.commands.registry import Option, command
from bot.rules.model import Crew
from bot.rules.text import quoted

PASS = Button("Pass", "p:0")
PEER_SUPPORT = ("This is peer support, not therapy or financial advice: if someone is in crisis, "
                "help them reach a professional or emergency services.")
INVITATION = ("This is a new crew. Before sharing, agree together on confidentiality, e.g. "
              "/agreement What is shared here stays here.")


def agreement_of(crew: Crew) -> str:
    return str(crew.settings.get("agreement", ""))


@command("agreement", level=0, usage="/agreement [the crew's confidentiality agreement]",
         summary="show or (admins) record the crew's confidentiality agreement",
         options=(Option("text", "text", "what the crew agrees about confidentiality"),))
async def agreement(ctx: Context) -> list[Message]:
    text = ctx.text(ctx.args, "agreement")
    if not text:
        current = agreement_of(ctx.crew)
        return [say(f"Our confidentiality agreement: {current}" if current else
                    "No confidentiality agreement yet. Talk it over, then an admin records it: "
                    "/agreement What is shared here stays here.")]
    ctx.require_admin("record the crew's agreement", "anyone can read it with /agreement")
    await ctx.store.crews.update_crew(ctx.crew.id, settings={**ctx.crew.settings,
                                                             "agreement": text})
    return [say(f"Recorded our confidentiality agreement: {quoted(text)} I'll repeat it at "
                "the start of each meeting.")]


def passed() -> list[Message]:
    """Passing is recorded as nothing at all."""
    return [Message(("You passed; nothing is recorded. Join in whenever you like.",),
                    private=True)]
