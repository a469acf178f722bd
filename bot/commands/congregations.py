"""Congregations: crews side by side (/congregation), and the lobby's /crews, /looking, /knock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.commands.board import PICTURE, with_picture
from bot.commands.context import Context, Refusal
from bot.commands.events import Actor, Button, Chat, Mention, Message, say
from bot.commands.ledger import no_points, post
from bot.commands.registry import Option, command
from bot.commands.store import Store
from bot.pictures.board import Bar, Section, draw_board
from bot.rules import congregation as rules
from bot.rules import settings as crew_settings
from bot.rules.congregation import Congregation, Knock
from bot.rules.levels import LEVELS
from bot.rules.model import Crew
from bot.rules.schedule import month_key
from bot.rules.text import names, plural, quoted

AREA = "congregation"
ACTIONS = ("create", "join", "leave", "rename", "code", "remove", "steward", "lobby", PICTURE)
PLATFORMS = {"telegram": "Telegram", "discord": "Discord", "console": "console"}
INVITE, DECLINE = "Invite", "Decline"
NONE_YET = ("This crew is in no congregation. An admin can start one with /congregation create "
            "<name>, or join one with /congregation join <code> (a steward of it has the code).")


def platform_name(platform: str) -> str:
    return PLATFORMS.get(platform, platform)


@dataclass(frozen=True)
class CrewFigures:
    """What the congregation sees of one crew: crew-level figures only, never a member's."""

    crew: Crew
    size: int
    month: dict[int, int]
    all_time: dict[int, int]
    circles: int
    meetings: int

    @property
    def settings(self) -> dict:
        return crew_settings.effective(self.crew.settings)

    def rhythm(self) -> str:
        return f"meets {self.crew.schedule}" if self.crew.schedule else "no meeting rhythm set"

    def practice(self) -> str:
        practice = self.settings["practice"]
        return f"practice {practice}" if practice != "none" else "no extra practice"


# the board


async def figures(store: Store, crews: list[Crew], now: datetime) -> list[CrewFigures]:
    sizes = await store.congregations.sizes([c.id for c in crews])
    out = []
    for crew in crews:
        tz = ZoneInfo(crew_settings.effective(crew.settings)["timezone"])
        month = await store.ledger.totals(crew.id, month_key(now, tz))
        all_time = await store.ledger.totals(crew.id, "all")
        done = await store.ledger.activity(crew.id, None)
        out.append(CrewFigures(crew, sizes[crew.id], summed(month), summed(all_time),
                               done.get("listening_circle", 0), done.get("meeting_attended", 0)))
    return out


def summed(totals: dict[int, dict[int, int]]) -> dict[int, int]:
    """The crew's points per level: its members' totals added up (no member is named)."""
    out: dict[int, int] = {}
    for levels in totals.values():
        for level, points in levels.items():
            out[level] = out.get(level, 0) + points
    return out


def per_level(levels: dict[int, int]) -> str:
    parts = [f"{level.name} {levels[level.number]}" for level in LEVELS if levels.get(level.number)]
    return " (" + " \u00b7 ".join(parts) + ")" if parts else ""


async def board(store: Store, congregation: Congregation, now: datetime,
                picture: bool) -> list[Message]:
    crews = await store.congregations.crews(congregation.id)
    shown = [c for c in crews
             if crew_settings.effective(c.settings)["congregation_board"] == "yes"]
    rows = await figures(store, shown, now)
    scored = [r for r in rows if not no_points(r.crew)]
    month = sum(sum(r.month.values()) for r in scored)
    ever = sum(sum(r.all_time.values()) for r in scored)
    lines = [f"Congregation {congregation.name}: {plural(len(crews), 'crew')} side by side. "
             f"Together this month: {plural(month, 'point')}; all time: "
             f"{plural(ever, 'point')}. The congregation is won together."]
    for number, row in enumerate(rows, 1):
        points = ("plays without points" if no_points(row.crew) else
                  f"this month {sum(row.month.values())}{per_level(row.month)}, all time "
                  f"{sum(row.all_time.values())}{per_level(row.all_time)}")
        lines.append(f"{number}. {row.crew.title} ({platform_name(row.crew.platform)}): "
                     f"{plural(row.size, 'member')}, {row.practice()}, {row.rhythm()}; {points}; "
                     f"{plural(row.circles, 'circle')} completed, "
                     f"{plural(row.meetings, 'meeting')} held.")
    hidden = len(crews) - len(shown)
    if hidden:
        lines.append(f"{plural(hidden, 'crew')} chose to stay off the board "
                     "(/settings congregation_board).")
    if not crews:
        lines.append("No crew is in it now. A crew's admin joins with /congregation join "
                     "<code>.")
    text = say("\n".join(lines))
    if not picture:
        return [text]
    sections = [Section(heading, tuple(
        Bar(row.crew.title, sum(levels(row).values()),
            tuple((level.number, levels(row).get(level.number, 0)) for level in LEVELS
                  if levels(row).get(level.number, 0) > 0))
        for row in scored)) for heading, levels in (
            ("This month", lambda r: r.month), ("All time", lambda r: r.all_time))]
    drawn = draw_board(f"Congregation {congregation.name}",
                       f"Together: {plural(month, 'point')} this month, {plural(ever, 'point')} "
                       "all time", sections, legend=LEVELS)
    return [with_picture(text, "congregation.png", drawn)]


# /congregation in a crew's chat


@command("congregation", level=0, area=AREA,
         usage="/congregation [create <name> | join [code] | leave | rename <name> | code [new] "
               "| remove <crew> | steward @member | lobby <code> | picture]",
         summary="crews side by side: the board, or start, join, leave and tend a congregation",
         options=(Option("action", "choice", "what to do (nothing: the board)", choices=ACTIONS),
                  Option("value", "text", "a name, a join code, a crew or a member")))
async def congregation(ctx: Context) -> list[Message]:
    word, _, rest = ctx.args.partition(" ")
    action, rest = word.lower(), rest.strip()
    if action and action not in ACTIONS:
        raise ctx.usage(f"'{word[:20]}' is not a /congregation action.")
    if action in ("", PICTURE):
        if rest:
            raise ctx.usage("/congregation alone shows the board; add picture for a picture.")
        found = await ctx.store.congregations.of_crew(ctx.crew.id)
        if found is None:
            raise Refusal(NONE_YET)
        return await board(ctx.store, found, ctx.now, action == PICTURE)
    if action == "create":
        return await create(ctx, rest)
    if action == "join":
        return await join(ctx, rest)
    if action == "lobby":
        raise Refusal("A lobby needs a chat of its own, one that is no crew: make a group or "
                      "channel for it, add me, and send /congregation lobby <code> there.")
    found = await ctx.store.congregations.of_crew(ctx.crew.id)
    if found is None:
        raise Refusal(NONE_YET)
    if action == "leave":
        ctx.require_admin("take the crew out of its congregation")
        await ctx.store.congregations.remove_crew(found.id, ctx.crew.id)
        return [say(f"{ctx.crew.title} left the congregation {found.name}; its figures are off "
                    "the board. To come back, an admin sends /congregation join <code>.")]
    await require_steward(ctx.store, found, ctx.crew.platform, ctx.actor, action)
    if action == "rename":
        name = rules.clean_name(rest)
        if not name:
            raise ctx.usage("Give the new name, e.g. /congregation rename Lakeside.")
        await ctx.store.congregations.update_congregation(found.id, name=name)
        return [say(f"The congregation {found.name} is now called {name}.")]
    if action == "code":
        if rest.lower() not in ("", "new"):
            raise ctx.usage("/congregation code shows the join code; /congregation code new "
                            "makes a new one.")
        code = found.code
        if rest.lower() == "new":
            code = rules.new_code()
            await ctx.store.congregations.update_congregation(found.id, code=code)
        return [code_message(ctx, found.name, code, rest.lower() == "new")]
    if action == "remove":
        return await remove(ctx, found, rest)
    # steward
    names_, _ = ctx.split_mentions(rest)
    if len(names_) != 1:
        raise ctx.usage("Name one member of this crew, e.g. /congregation steward @Ann.")
    member = await ctx.resolve(names_[0])
    await ctx.store.congregations.add_steward(found.id, ctx.crew.platform, member.user_id,
                                              member.name)
    return [say(f"{member.name} is now a steward of {found.name}: they can rename it, make a "
                "new code, remove a crew and set up the lobby.")]


def code_message(ctx: Context, name: str, code: str, new: bool) -> Message:
    first = (f"The new join code of {name} is {code}; the old one no longer works."
             if new else f"The join code of {name} is {code}.")
    return Message((f"{first} Give it only to admins of crews you trust: they send "
                    f"/congregation join {code} in their crew's chat. A steward makes a new "
                    "one with /congregation code new.",), private=True,
                   dm_to=ctx.mention(ctx.member), again="/congregation code")


async def require_steward(store: Store, found: Congregation, platform: str, actor: Actor,
                          action: str) -> None:
    if await store.congregations.is_steward(found.id, platform, actor.user_id):
        return
    stewards = [name for _, _, name in await store.congregations.stewards(found.id)]
    raise Refusal(f"Only a steward of {found.name} can use /congregation {action}. Ask "
                  f"{names(stewards) or 'a steward'} to do it.")


async def create(ctx: Context, rest: str) -> list[Message]:
    ctx.require_admin("start a congregation")
    name = rules.clean_name(rest)
    if not name:
        raise ctx.usage("Give the congregation a name, e.g. /congregation create Lakeside.")
    already = await ctx.store.congregations.of_crew(ctx.crew.id)
    if already is not None:
        raise Refusal(f"This crew is already in the congregation {already.name}. An admin can "
                      "/congregation leave it first.")
    found = await ctx.store.congregations.add_congregation(name, rules.new_code(), ctx.now)
    await ctx.store.congregations.add_crew(found.id, ctx.crew.id, ctx.space, ctx.now)
    await ctx.store.congregations.add_steward(found.id, ctx.crew.platform, ctx.actor.user_id,
                                              ctx.member.name)
    return [say(f"{ctx.crew.title} started the congregation {name}, and {ctx.member.name} is "
                "its steward. Other crews join with /congregation join <code>; the code went "
                f"to {ctx.member.name} privately. /congregation shows the crews side by side."),
            code_message(ctx, name, found.code, False)]


async def join(ctx: Context, rest: str) -> list[Message]:
    ctx.require_admin("join a congregation")
    already = await ctx.store.congregations.of_crew(ctx.crew.id)
    if already is not None:
        raise Refusal(f"This crew is already in the congregation {already.name}; a crew is in "
                      "one at most. An admin can /congregation leave it first.")
    if rest:
        found = await ctx.store.congregations.by_code(rules.typed_code(rest))
        if found is None:
            raise Refusal(f"No congregation has the code {rest[:20]}. Check it with the steward "
                          "who gave it to you, and send /congregation join <code>.")
    else:
        found = await same_server(ctx)
    others = await ctx.store.congregations.crews(found.id)
    await ctx.store.congregations.add_crew(found.id, ctx.crew.id, ctx.space, ctx.now)
    for crew in others:
        await post(ctx.store, crew, say(f"News of {found.name}: the crew {ctx.crew.title} is "
                                        "in the congregation now too. /congregation shows the "
                                        "crews side by side."), ctx.now)
    return [say(f"{ctx.crew.title} joined the congregation {found.name}, beside "
                f"{plural(len(others), 'crew')}. /congregation shows the crews side by side; "
                "only crew totals are shared, never a member's.")]


async def same_server(ctx: Context) -> Congregation:
    """The congregation crews of this Discord server are in: joined without a code."""
    if ctx.crew.platform != "discord" or not ctx.space:
        raise ctx.usage("Give the join code a steward gave you.")
    found = await ctx.store.congregations.of_server("discord", ctx.space)
    if not found:
        raise Refusal("No crew of this server is in a congregation yet. Start one with "
                      "/congregation create <name>, or join another with /congregation join "
                      "<code>.")
    if len(found) > 1:
        raise Refusal("Crews of this server are in " + names(c.name for c in found)
                      + ". Join one with its code: /congregation join <code>.")
    return found[0]


async def remove(ctx: Context, found: Congregation, rest: str) -> list[Message]:
    crew = await crew_titled(ctx.store, found, rest)
    await ctx.store.congregations.remove_crew(found.id, crew.id)
    if crew.id != ctx.crew.id:
        await post(ctx.store, crew, say(f"A steward took this crew out of the congregation "
                                        f"{found.name}. To come back, ask a steward for the join "
                                        "code."), ctx.now)
    return [say(f"{crew.title} is no longer in the congregation {found.name}.")]


async def crew_titled(store: Store, found: Congregation, title: str) -> Crew:
    """The congregation's crew a typed title names: exactly, or by the only title starting so."""
    wanted = " ".join(title.split()).lower()
    if not wanted:
        raise Refusal("Name the crew by its title; /congregation lists them.")
    crews = await store.congregations.crews(found.id)
    exact = [c for c in crews if c.title.lower() == wanted]
    near = exact or [c for c in crews if c.title.lower().startswith(wanted)]
    if len(near) == 1:
        return near[0]
    if near:
        raise Refusal(f"Several crews match {title[:40]}: {names(c.title for c in near)}. "
                      "Write the whole title.")
    raise Refusal(f"No crew of {found.name} is called {title[:40]}. /crews lists the open "
                  "ones, /congregation all of them.")


# /crews, /looking, /knock: the lobby's commands, which a crew's chat can read too


async def open_crews(store: Store, found: Congregation) -> list[tuple[Crew, int]]:
    crews = await store.congregations.crews(found.id)
    sizes = await store.congregations.sizes([c.id for c in crews])
    return [(c, sizes[c.id]) for c in crews
            if rules.is_open(sizes[c.id], crew_settings.effective(c.settings))]


async def crews_text(store: Store, found: Congregation) -> Message:
    listed = await open_crews(store, found)
    if not listed:
        return say(f"No crew of {found.name} is open right now. Say a few words with /looking "
                   "in the lobby so crews can find you; a crew's admin opens it with /settings "
                   "open yes.")
    lines = [f"Open crews of {found.name}:"]
    for crew, size in listed:
        figures_ = CrewFigures(crew, size, {}, {}, 0, 0)
        free = rules.free_places(size, figures_.settings)
        lines.append(f"- {crew.title} ({platform_name(crew.platform)}): {figures_.practice()}, "
                     f"{figures_.rhythm()}, {size} of {rules.capacity(figures_.settings)}, "
                     f"{plural(free, 'free place')}.")
    lines.append("In the lobby, /knock <crew title> asks one to meet you.")
    return say("\n".join(lines))


def looking_text(found: Congregation, people: list[rules.Looking]) -> Message:
    if not people:
        return say(f"Nobody is looking for a crew in {found.name} right now. In the lobby: "
                   "/looking <a few words about you and what you hope for>.")
    return say("\n".join([f"Looking for a crew in {found.name}:"]
                         + [f"- {p.name}: {quoted(p.words)}" for p in people]
                         + ["A crew's admin can open the crew with /settings open yes; people "
                            "knock with /knock <crew title>."]))


@command("crews", level=0, area=AREA, usage="/crews",
         summary="the open crews of the congregation, with their places")
async def crews_(ctx: Context) -> list[Message]:
    found = await ctx.store.congregations.of_crew(ctx.crew.id)
    if found is None:
        raise Refusal(NONE_YET)
    return [await crews_text(ctx.store, found)]


@command("looking", level=0, area=AREA, usage="/looking [<a few words about you> | off]",
         summary="in the lobby: say you are looking for a crew; alone, who is looking",
         options=(Option("words", "text", "a few words about you and what you hope for, or off"),))
async def looking(ctx: Context) -> list[Message]:
    if ctx.args:
        raise Refusal("This is a crew's chat, not a congregation's lobby. To look for a crew, "
                      "say /looking <a few words> in the lobby chat (a steward can tell you "
                      "where it is); here /looking alone shows who is looking.")
    found = await ctx.store.congregations.of_crew(ctx.crew.id)
    if found is None:
        raise Refusal(NONE_YET)
    return [looking_text(found, await ctx.store.congregations.looking(found.id))]


@command("knock", level=0, area=AREA, usage="/knock <crew title>",
         summary="in the lobby: ask an open crew to meet you",
         options=(Option("crew", "text", "the crew's title, as /crews shows it", True),))
async def knock_here(ctx: Context) -> list[Message]:
    raise Refusal("/knock works in your congregation's lobby chat, where people looking for a "
                  "crew meet the open ones. You are already in this crew.")


# the lobby: a chat that is no crew


@dataclass
class LobbyCall:
    """A command in a lobby chat: the store, the lobby's congregation, who and when."""

    store: Store
    found: Congregation | None
    chat: Chat
    actor: Actor
    now: datetime

    def mention(self) -> Mention:
        return Mention(self.actor.user_id, self.name)

    @property
    def name(self) -> str:
        return " ".join(self.actor.name.split())[:100] or self.actor.user_id


LOBBY_COMMANDS = ("congregation", "crews", "looking", "knock", "help", "mydata", "forgetme")


def is_lobby_command(text: str) -> bool:
    """`/congregation lobby ...`: the one command that makes a chat with no crew a lobby."""
    head, _, rest = text.strip().partition(" ")
    return (head[1:].split("@", 1)[0].lower() == "congregation"
            and rest.strip().lower().startswith("lobby"))


async def in_lobby(lobby: LobbyCall, name: str, args: str) -> list[Message]:
    """A command said in a lobby chat."""
    if name == "congregation" and args.lower().startswith("lobby"):
        return await make_lobby(lobby, args[5:].strip())
    found = lobby.found
    assert found is not None
    if name == "congregation":
        if args.strip().lower() not in ("", PICTURE):
            raise Refusal("In the lobby, /congregation shows the board; tend the congregation "
                          "from your crew's chat.")
        return await board(lobby.store, found, lobby.now, args.strip().lower() == PICTURE)
    if name == "crews":
        return [await crews_text(lobby.store, found)]
    if name == "looking":
        return await look(lobby, found, args)
    if name == "knock":
        return await knock(lobby, found, args)
    if name == "mydata":
        return await lobby_data(lobby)
    if name == "forgetme":
        return await lobby_forget(lobby, args)
    if name == "help":
        return [say(lobby_help(found))]
    raise Refusal(f"This chat is the lobby of {found.name}, where people looking for a crew "
                  "meet the open crews: here you can use /looking, /crews and /knock (and "
                  "/help). Crews play in their own chats.")


def lobby_help(found: Congregation) -> str:
    from bot.commands.registry import COMMANDS

    lines = [f"This is the lobby of the congregation {found.name}: crews side by side, and "
             "people looking for a crew."]
    lines += [f"  {c.usage}: {c.summary}" for c in COMMANDS.values() if c.area == AREA]
    lines += ["  /mydata: what the lobby keeps about you, sent to you alone",
              "  /forgetme: erase it",
              "Nothing happens without both sides choosing it: a crew invites you privately, "
              "and you join its chat if you wish."]
    return "\n".join(lines)


async def make_lobby(lobby: LobbyCall, code: str) -> list[Message]:
    found = await lobby.store.congregations.by_code(rules.typed_code(code)) if code else None
    if found is None:
        raise Refusal("Give the congregation's join code: /congregation lobby <code> (a steward "
                      "sees it with /congregation code in their crew's chat).")
    await require_steward(lobby.store, found, lobby.chat.platform, lobby.actor, "lobby")
    current = lobby.found
    if current is not None and current.id != found.id:
        raise Refusal(f"This chat is already the lobby of {current.name}. Make another chat "
                      f"for the lobby of {found.name}.")
    await lobby.store.congregations.set_lobby(found.id, lobby.chat.platform, lobby.chat.chat_id)
    return [say(f"This chat is now the lobby of {found.name}. Looking for a crew? Say "
                "/looking <a few words about you and what you hope for>. /crews lists open "
                "crews, /knock <crew> asks one to meet you; an invitation comes privately. "
                "Your words stay only while you look (/looking off).")]


async def look(lobby: LobbyCall, found: Congregation, args: str) -> list[Message]:
    store, platform, user = lobby.store, lobby.chat.platform, lobby.actor.user_id
    if not args:
        return [looking_text(found, await store.congregations.looking(found.id))]
    if args.lower() == "off":
        await erase_words(store, platform, user)
        if not await store.congregations.stop_looking(platform, user, found.id):
            raise Refusal("You were not looking, so there is nothing to withdraw. /looking "
                          "<a few words> when you want to.")
        return [say(f"{lobby.name} is no longer looking; their words are erased.")]
    words = " ".join(args.split())
    if len(words) > rules.WORDS_LIMIT:
        raise Refusal(f"That is {len(words)} characters; a few words are up to "
                      f"{rules.WORDS_LIMIT}. Please shorten it and send /looking again.")
    await store.congregations.put_looking(found.id, platform, user, lobby.name, words, lobby.now)
    private = (" Invitations come by private message: open a chat with me once (press Start) "
               "so that one can reach you." if platform == "telegram" else "")
    return [say(f"{lobby.name} is looking for a crew: {quoted(words)} /crews lists the open "
                "crews; /knock <crew> asks one to meet you. /looking off withdraws your "
                f"words.{private}")]


async def knock(lobby: LobbyCall, found: Congregation, args: str) -> list[Message]:
    store, platform, user = lobby.store, lobby.chat.platform, lobby.actor.user_id
    if not args:
        raise Refusal("Name the crew: /knock <crew title>. /crews lists the open ones.")
    mine = next((p for p in await store.congregations.looking(found.id)
                 if (p.platform, p.user_id) == (platform, user)), None)
    if mine is None:
        raise Refusal("Say a few words first with /looking <about you and what you hope for>, "
                      "so the crew knows who knocks.")
    recent = await store.congregations.person_knocks(platform, user,
                                                     lobby.now - rules.KNOCK_WINDOW)
    if not rules.may_knock(len(recent)):
        raise Refusal(f"You knocked {plural(len(recent), 'time')} today; that is the limit, so "
                      "that crews are not flooded. Wait for their answers, or knock again "
                      "tomorrow.")
    crew = await crew_titled(store, found, args)
    if crew.platform != platform:
        raise Refusal(f"{crew.title} plays on {platform_name(crew.platform)}, and this lobby is "
                      f"on {platform_name(platform)}: an invitation reaches you only on the "
                      f"crew's platform. Knock from the {platform_name(crew.platform)} lobby, "
                      "or on a crew that plays here.")
    member = await store.crews.member(crew.id, user)
    if member is not None and member.active:
        raise Refusal(f"You are already in {crew.title}.")
    size = (await store.congregations.sizes([crew.id]))[crew.id]
    settings = crew_settings.effective(crew.settings)
    if not rules.is_open(size, settings):
        why = "is full" if rules.free_places(size, settings) == 0 else "is not open"
        raise Refusal(f"{crew.title} {why} right now, so it takes no knocks. /crews lists the "
                      "open crews.")
    earlier = [k for k in await store.congregations.person_knocks(platform, user)
               if k.crew_id == crew.id]
    if any(k.status == "waiting" for k in earlier):
        raise Refusal(f"You already knocked on {crew.title}; its admins will answer. /crews "
                      "lists other open crews.")
    if any(k.status == "declined" and lobby.now - k.at < rules.DECLINED_FOR for k in earlier):
        raise Refusal(f"{crew.title} cannot take anyone in right now. /crews lists other open "
                      "crews.")
    item = await store.congregations.add_knock(found.id, crew.id, platform, user, lobby.name,
                                               lobby.now)
    await post(store, crew, knock_message(item, mine.words), lobby.now)
    return [Message((f"I asked {crew.title} to meet you. Its admins decide; an invitation "
                     "would come to you privately. Nothing happens unless both sides choose "
                     "it.",), private=True)]


def knock_message(item: Knock, words: str) -> Message:
    """A knock as the crew sees it; without the words once the person stopped looking."""
    said_ = (f"In their words: {quoted(words)}" if words else
             "(Their words are erased: they are no longer looking.)")
    return say(f"{item.name} knocks: they are looking for a crew and would like to meet this "
               f"one. {said_} An admin's Invite sends them an invitation to this chat, "
               "privately; Decline tells them only that the crew cannot take them in now.",
               buttons=(Button(INVITE, f"k:{item.id}"), Button(DECLINE, f"n:{item.id}")))


async def erase_words(store: Store, platform: str, user_id: str) -> None:
    """Takes the person's lobby words out of the bot's copies of their knocks (the outbox), as
    they stop looking: the words live only while they look."""
    for item in await store.congregations.person_knocks(platform, user_id):
        action = f"k:{item.id}"
        for post_id, payload, _ in await store.outbox.crew_posts(item.crew_id):
            if any(a == action for _, a in payload.get("buttons", [])):
                await store.outbox.set_post_payload(post_id, knock_message(item, "").to_json())


async def person_joined(store: Store, crew: Crew, user_id: str, now: datetime) -> None:
    """Someone joined a crew: if they were looking, they stop, and their knocks on it are
    done."""
    if await store.congregations.person_looking(crew.platform, user_id):
        await erase_words(store, crew.platform, user_id)
        await store.congregations.joined(crew.id, crew.platform, user_id, now)


async def answer(ctx: Context, knock_id: int, invite: bool) -> list[Message]:
    """An admin's press of Invite or Decline on a knock in the crew's chat."""
    item = await ctx.store.congregations.knock(knock_id)
    if item is None:
        raise Refusal("That request is gone: the person asked to be forgotten, or the crew "
                      "left the congregation. Nothing was sent.")
    if item.crew_id != ctx.crew.id:
        raise Refusal("That request is not for this crew. Use the buttons on this chat's own "
                      "messages.")
    ctx.require_admin("answer a knock", "they see the request here too")
    if item.status != "waiting":
        raise Refusal(f"That request was already answered ({STATUS[item.status]}).")
    person = Mention(item.user_id, item.name)
    if not invite:
        await ctx.store.congregations.move_knock(item.id, "waiting", "declined", ctx.now)
        return [say(f"The request of {item.name} was declined. They hear only that this crew "
                    "cannot take them in now, not who decided."),
                Message((f"{ctx.crew.title} cannot take you in right now. /crews in the lobby "
                         "lists other open crews.",), dm_to=person)]
    return await invite_person(ctx, item, person)


STATUS = {"waiting": "waiting", "invited": "they were invited",
          "declined": "it was declined", "joined": "they joined"}


async def invite_person(ctx: Context, item: Knock, person: Mention) -> list[Message]:
    looking_now = await ctx.store.congregations.person_looking(item.platform, item.user_id)
    if not any(p.congregation_id == item.congregation_id for p in looking_now):
        raise Refusal(f"{item.name} is no longer looking for a crew, so no invitation was "
                      "sent.")
    size = (await ctx.store.congregations.sizes([ctx.crew.id]))[ctx.crew.id]
    if rules.free_places(size, ctx.settings) == 0:
        raise Refusal(f"This crew is full ({size} of {rules.capacity(ctx.settings)}), so no "
                      "invitation was sent. An admin can raise /settings max_size.")
    await ctx.store.congregations.move_knock(item.id, "waiting", "invited", ctx.now)
    return [say(f"An invitation to this crew went to {item.name}, privately. They become a "
                "member when they join the chat."),
            Message((f"{ctx.crew.title} would like to meet you. Here is your invitation to its "
                     "chat; it works once. Joining is your choice.",), dm_to=person,
                    invite=Chat(ctx.crew.platform, ctx.crew.chat_id, ctx.crew.title))]


async def lobby_data(lobby: LobbyCall) -> list[Message]:
    store, platform, user = lobby.store, lobby.chat.platform, lobby.actor.user_id
    looking_now = await store.congregations.person_looking(platform, user)
    knocks = await store.congregations.person_knocks(platform, user)
    crews = await store.crews.crews_by_id({k.crew_id for k in knocks})
    lines = ["What the lobby keeps about you, for you alone:"]
    lines += [f"- looking since {p.since:%Y-%m-%d}, as {p.name}: {quoted(p.words)}"
              for p in looking_now] or ["- you are not looking (no words kept)"]
    lines += [f"- you knocked on {crews[k.crew_id].title} on {k.at:%Y-%m-%d}: "
              f"{STATUS[k.status]}" for k in knocks]
    lines.append("/looking off erases your words; /forgetme erases all of it.")
    return [Message(("\n".join(lines),), private=True, dm_to=lobby.mention(), again="/mydata")]


async def lobby_forget(lobby: LobbyCall, args: str) -> list[Message]:
    if args.lower() != "confirm":
        return [Message(("/forgetme here erases what the lobby keeps about you: your words and "
                         "your knocks. Crews you joined keep you as a member (/forgetme in a "
                         "crew's chat erases you there). To go ahead, send /forgetme confirm. "
                         "Nothing has been changed yet.",), private=True)]
    await erase_words(lobby.store, lobby.chat.platform, lobby.actor.user_id)
    gone = await lobby.store.congregations.forget_person(lobby.chat.platform,
                                                         lobby.actor.user_id)
    return [Message((("Done: your words and knocks are erased." if gone else
                      "The lobby kept nothing about you; nothing to erase."),), private=True)]


# `crewbot export`


async def exported(store: Store) -> list[dict]:
    """Every congregation as plain data for `crewbot export`: its crews (by platform and chat),
    stewards, lobbies, the people looking with their words, and the knocks."""
    out = []
    for found in await store.congregations.all_congregations():
        crews = await store.congregations.crews(found.id)
        knocks = await store.congregations.knocks(found.id)
        by_id = await store.crews.crews_by_id({k.crew_id for k in knocks})
        out.append({
            "name": found.name,
            "code": found.code,
            "crews": [{"platform": c.platform, "chat_id": c.chat_id, "title": c.title}
                      for c in crews],
            "stewards": [{"platform": p, "user_id": u, "name": n}
                         for p, u, n in await store.congregations.stewards(found.id)],
            "lobbies": [{"platform": lobby.platform, "chat_id": lobby.chat_id}
                        for lobby in await store.congregations.lobbies(found.id)],
            "looking": [{"platform": p.platform, "user_id": p.user_id, "name": p.name,
                         "words": p.words, "since": p.since.isoformat()}
                        for p in await store.congregations.looking(found.id)],
            "knocks": [{"platform": k.platform, "user_id": k.user_id, "name": k.name,
                        "crew_chat_id": by_id[k.crew_id].chat_id, "status": k.status,
                        "at": k.at.isoformat()} for k in knocks],
        })
    return out
