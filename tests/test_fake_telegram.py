"""The fake Telegram Bot API server, driven by the real python-telegram-bot Application."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReactionTypeEmoji,
    Update,
)
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackContext,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageReactionHandler,
)

from tests.fakes.telegram_api import FakeTelegram

CREW = -1001234567890
ALL = ["message", "callback_query", "message_reaction", "my_chat_member", "chat_member"]


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(bot_username="crewbot") as fake:
        yield fake


@asynccontextmanager
async def running(
    tg: FakeTelegram,
    *handlers: BaseHandler[Any, Any, Any],
    allowed_updates: Sequence[str] = ALL,
    timeout: int = 10,
) -> AsyncIterator[tuple[Application[Any, Any, Any, Any, Any, Any], list[Exception]]]:
    """A polling PTB Application against the fake; yields it and the errors its handlers raised."""
    app = tg.application_builder().build()
    errors: list[Exception] = []

    async def record(update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
        assert context.error is not None
        errors.append(context.error)

    for handler in handlers:
        app.add_handler(handler)
    app.add_error_handler(record)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(
        allowed_updates=list(allowed_updates), poll_interval=0, timeout=timeout,
    )
    try:
        yield app, errors
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def test_start_command_is_answered_with_a_reply(tg: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"Welcome, {update.effective_user.first_name}")

    alice = tg.user(11, "Alice", "alice")
    async with running(tg, CommandHandler("start", start)) as (_, errors):
        asked = tg.push(tg.message(CREW, alice, "/start"))
        tg.push(tg.message(CREW, alice, "/start@otherbot"))  # addressed to another bot
        tg.push(tg.message(CREW, alice, "/start@crewbot"))
        sent = await tg.wait_sent(count=2)
        await tg.wait_idle()

    assert errors == []
    assert len(tg.sent) == 2
    first = sent[0]
    assert first["chat_id"] == CREW
    assert first["text"] == "Welcome, Alice"
    # In groups PTB's reply_text quotes the command by default (do_quote=None -> reply).
    assert first["reply_parameters"] == {"message_id": asked["message"]["message_id"]}
    reply = tg.sent_messages[0]
    assert reply["from"]["username"] == "crewbot"
    assert reply["reply_to_message"]["text"] == "/start"
    assert tg.calls["getMe"] == 1
    assert tg.calls["deleteWebhook"] == 1
    assert tg.allowed_updates == ALL


async def test_private_reply_does_not_quote_and_text_stays_a_string(tg: FakeTelegram) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("123")

    bob = tg.user(12, "Bob")
    async with running(tg, CommandHandler("ping", echo)) as (_, errors):
        tg.push(tg.private_message(bob, "/ping"))
        (sent,) = await tg.wait_sent()

    assert errors == []
    assert sent == {"chat_id": 12, "text": "123"}  # "123" is not decoded into an int


async def test_callback_query_is_answered_and_the_message_edited(tg: FakeTelegram) -> None:
    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Noted")
        await query.edit_message_text(f"Listened: {query.data}")

    carol = tg.user(13, "Carol", "carol")
    tg.add_chat(CREW)
    async with running(tg, CallbackQueryHandler(pressed)) as (app, errors):
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("I listened", callback_data="l:7")]])
        prompt = await app.bot.send_message(CREW, "Did you listen?", reply_markup=keyboard)
        assert prompt.reply_markup == keyboard  # echoed back as an inline keyboard
        tg.push(tg.callback(CREW, carol, prompt.message_id, "l:7"))
        (answer,) = await tg.wait_answered()
        await tg.wait_call("editMessageText")

    assert errors == []
    assert answer["text"] == "Noted"
    assert tg.edited[0]["text"] == "Listened: l:7"
    # Editing the text without reply_markup removes the keyboard, as on Telegram.
    assert "reply_markup" not in tg.messages[(CREW, prompt.message_id)]


async def test_reaction_update_is_delivered(tg: FakeTelegram) -> None:
    seen: list[tuple[int, list[str], list[str]]] = []

    async def reacted(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.message_reaction
        assert change is not None and change.user is not None

        def emoji(reactions: Sequence[Any]) -> list[str]:
            return [r.emoji for r in reactions if isinstance(r, ReactionTypeEmoji)]

        seen.append((change.user.id, emoji(change.old_reaction), emoji(change.new_reaction)))
        await context.bot.send_message(change.chat.id, "thanks")

    dan = tg.user(14, "Dan")
    tg.set_bot_admin(CREW)
    async with running(tg, MessageReactionHandler(reacted)) as (_, errors):
        tg.push(tg.reaction(CREW, dan, 5, old=["👍"], new=["👍", "🔥"]))
        await tg.wait_sent()

    assert errors == []
    assert seen == [(14, ["👍"], ["👍", "🔥"])]


async def test_reactions_are_withheld_unless_allowed(tg: FakeTelegram) -> None:
    reacted: list[Update] = []

    async def on_reaction(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        reacted.append(update)

    dan = tg.user(14, "Dan")
    handler = MessageReactionHandler(on_reaction)
    async with running(tg, handler, allowed_updates=["message"]) as (app, errors):
        tg.push(tg.reaction(CREW, dan, 5, new=["👍"]))
        tg.push(tg.message(CREW, dan, "hello"))
        await tg.wait_idle()
        await app.update_queue.join()  # every fetched update has been handled

    assert errors == []
    assert reacted == []
    assert tg.allowed_updates == ["message"]


def seconds(error: RetryAfter) -> float:
    """retry_after is an int, or a timedelta when PTB_TIMEDELTA=true."""
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# RetryAfter.__init__ itself reads the deprecated int retry_after unless PTB_TIMEDELTA=true.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_429_surfaces_as_retry_after(tg: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("hello")

    erin = tg.user(15, "Erin")
    async with running(tg, CommandHandler("start", start)) as (app, errors):
        tg.fail_next("sendMessage", status=429, retry_after=3)
        with pytest.raises(RetryAfter, match="Flood control exceeded") as raised:
            await app.bot.send_message(CREW, "direct")
        assert seconds(raised.value) == 3

        tg.fail_next("sendMessage", retry_after=2)
        tg.push(tg.message(CREW, erin, "/start"))
        await tg.wait_idle()
        await app.update_queue.join()

    (error,) = errors
    assert isinstance(error, RetryAfter) and seconds(error) == 2
    assert tg.calls["sendMessage"] == 2
    assert tg.sent == []


async def test_set_my_commands_is_stored_per_scope(tg: FakeTelegram) -> None:
    app = tg.application_builder().build()
    async with app:
        await app.bot.set_my_commands([BotCommand("checkin", "Check in with the crew")])
        await app.bot.set_my_commands(
            [BotCommand("setup", "What the bot needs")], scope=BotCommandScopeAllGroupChats(),
        )
        got = await app.bot.get_my_commands()
        with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
            await app.bot.set_my_commands([BotCommand("CheckIn", "upper case is refused")])
        await app.bot.delete_my_commands(scope=BotCommandScopeAllGroupChats())

    assert [c.command for c in got] == ["checkin"]
    assert tg.commands == {
        "default": [{"command": "checkin", "description": "Check in with the crew"}],
    }
    assert tg.calls["setMyCommands"] == 3


async def test_shutdown_is_fast_with_a_pending_long_poll() -> None:
    began = time.monotonic()
    async with FakeTelegram() as tg, running(tg, timeout=30):
        await tg.wait_idle()  # a 30 s long poll is now waiting
    assert time.monotonic() - began < 2


async def test_chat_member_status_follows_admin_sets(tg: FakeTelegram) -> None:
    changes: list[tuple[str, str]] = []

    async def member_changed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member or update.chat_member
        assert change is not None
        changes.append((change.old_chat_member.status, change.new_chat_member.status))

    frank = tg.user(16, "Frank", "frank")
    gina = tg.user(17, "Gina")
    tg.add_chat(CREW)
    tg.set_admin(CREW, frank)
    handler = ChatMemberHandler(member_changed, ChatMemberHandler.ANY_CHAT_MEMBER)
    async with running(tg, handler) as (app, errors):
        bot = app.bot
        assert (await bot.get_chat_member(CREW, bot.id)).status == "member"
        assert (await bot.get_chat_member(CREW, 16)).status == "administrator"
        assert (await bot.get_chat_member(CREW, 17)).status == "member"
        tg.push(tg.my_chat_member(CREW, "member", "administrator", frank))
        tg.push(tg.chat_member(CREW, gina, "member", "administrator", by_user=frank))
        await tg.wait_idle()
        await app.update_queue.join()
        assert (await bot.get_chat_member(CREW, bot.id)).status == "administrator"
        admins = await bot.get_chat_administrators(CREW)
        chat = await bot.get_chat(CREW)

    assert errors == []
    assert changes == [("member", "administrator"), ("member", "administrator")]
    assert sorted(a.user.id for a in admins) == [16, 17, tg.bot_user["id"]]
    assert chat.title == "Crew"


async def test_sending_where_the_bot_may_not(tg: FakeTelegram) -> None:
    hal = tg.user(18, "Hal")
    tg.add_chat(CREW)
    app = tg.application_builder().build()
    async with app:
        with pytest.raises(Forbidden, match="can't initiate conversation"):
            await app.bot.send_message(hal["id"], "hi")
        with pytest.raises(BadRequest, match="Chat not found"):
            await app.bot.send_message(-100999, "hi")
        tg.push(tg.my_chat_member(CREW, "member", "kicked", hal))
        with pytest.raises(Forbidden, match="kicked from the supergroup"):
            await app.bot.send_message(CREW, "hi")
        with pytest.raises(EndPointNotFound, match="'noSuchMethod' not found"):
            await app.bot.do_api_request("noSuchMethod")
        with pytest.raises(InvalidToken, match="method not found"):  # PTB's word for a 404
            await app.bot.request.post(f"{tg.base_url}{tg.token}/noSuchMethod")


async def test_edits_keyboards_and_reactions_behave_like_telegram(tg: FakeTelegram) -> None:
    tg.add_chat(CREW)
    app = tg.application_builder().build()
    async with app:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
        sent = await app.bot.send_message(CREW, "Round 1", reply_markup=keyboard)
        with pytest.raises(BadRequest, match="Message is not modified"):
            await app.bot.edit_message_text("Round 1", CREW, sent.message_id,
                                             reply_markup=keyboard)
        edited = await app.bot.edit_message_reply_markup(CREW, sent.message_id)
        assert isinstance(edited, type(sent)) and edited.reply_markup is None
        await app.bot.set_message_reaction(CREW, sent.message_id, "👍")
        with pytest.raises(BadRequest, match=r"(?i)reaction_invalid"):
            await app.bot.set_message_reaction(CREW, sent.message_id, "✅")
        assert await app.bot.delete_message(CREW, sent.message_id)
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await app.bot.delete_message(CREW, sent.message_id)

    assert tg.bot_reactions[0]["reaction"] == [{"type": "emoji", "emoji": "👍"}]


async def test_uploads_are_recorded_and_downloadable(tg: FakeTelegram) -> None:
    tg.add_chat(CREW)
    app = tg.application_builder().build()
    async with app:
        sent = await app.bot.send_document(CREW, io.BytesIO(b"a,b\n1,2\n"), filename="crew.csv",
                                           caption="Export")
        await app.bot.send_photo(CREW, b"\x89PNG fake")
        assert sent.document is not None
        file = await app.bot.get_file(sent.document.file_id)
        content = await file.download_as_bytearray()

    assert bytes(content) == b"a,b\n1,2\n"
    document, photo = tg.uploads
    assert (document["filename"], document["content"]) == ("crew.csv", b"a,b\n1,2\n")
    assert document["params"]["caption"] == "Export"
    assert (photo["method"], photo["content"]) == ("sendPhoto", b"\x89PNG fake")


async def test_get_updates_over_raw_http(tg: FakeTelegram) -> None:
    url = f"{tg.base_url}{tg.token}"
    ivy = tg.user(19, "Ivy")
    first = tg.push(tg.message(CREW, ivy, "one"))["update_id"]
    tg.push(tg.message(CREW, ivy, "two"))
    tg.push(tg.reaction(CREW, ivy, 1, new=["👍"]))  # not sent without allowed_updates
    async with aiohttp.ClientSession() as http:

        async def get_updates(**params: Any) -> Any:
            async with http.post(f"{url}/getUpdates", data=params) as response:
                body = await response.json()
                assert body["ok"] is True, body
                return body["result"]

        assert [u["update_id"] for u in await get_updates(limit="1")] == [first]
        assert len(await get_updates(offset=str(first + 1))) == 1  # confirms the first
        assert await get_updates(offset=str(first + 2)) == []
        started = time.monotonic()
        waiting = get_updates(offset=str(first + 2), timeout="5", allowed_updates='["message"]')
        polling = asyncio.ensure_future(waiting)
        await tg.wait_call("getUpdates", count=4)
        tg.push(tg.message(CREW, ivy, "three"))
        (update,) = await polling
        assert update["message"]["text"] == "three"
        assert time.monotonic() - started < 2  # answered at once, not after the timeout

        async with http.get(f"{url}/fooBar") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False, "error_code": 404, "description": "Not Found: method not found",
            }


async def test_a_second_poller_ends_the_first_with_409_and_callers_are_named(
        tg: FakeTelegram) -> None:
    """Like Telegram, one long poll per bot: a second getUpdates ends the waiting one with 409
    Conflict. Each caller's own root (via_url) names it in `polls`."""
    async with aiohttp.ClientSession() as http:

        async def get_updates(caller: str, timeout: str) -> Any:
            async with http.post(f"{tg.via_url(caller)}/bot{tg.token}/getUpdates",
                                 data={"timeout": timeout}) as response:
                return response.status, await response.json()

        first = asyncio.ensure_future(get_updates("alpha", "5"))
        await tg.wait_call("getUpdates")
        second = await get_updates("beta", "0")
        status, body = await first
    assert second == (200, {"ok": True, "result": []})
    assert status == 409 and body["error_code"] == 409
    assert body["description"].startswith("Conflict: terminated by other getUpdates request")
    assert tg.conflicts == 1
    assert tg.pollers() == {"alpha", "beta"}
    assert tg.pollers(since=tg.polls[-1].at) == {"beta"}


async def test_wait_sent_times_out_with_a_listing(tg: FakeTelegram) -> None:
    tg.add_chat(CREW)
    app = tg.application_builder().build()
    async with app:
        await app.bot.send_message(CREW, "something else")
    with pytest.raises(AssertionError, match="something else"):
        await tg.wait_sent(lambda p: p["text"] == "never", timeout=0.05)


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # RetryAfter
async def test_flood_limits_are_refused_with_429_and_counted() -> None:
    # Telegram's rules (30 a second overall, 20 a minute in a group) on smaller numbers.
    async with FakeTelegram(flood_limits=True, overall=(3, 0.5), per_group=(2, 3.0)) as tg:
        first, second, third = -1001, -1002, -1003
        for chat in (first, second, third):
            tg.add_chat(chat, title="Crew")
        app = tg.application_builder().build()
        async with app:
            await app.bot.send_message(first, "one")
            await app.bot.send_message(first, "two")
            with pytest.raises(RetryAfter) as group_full:  # the group's third within 3 s
                await app.bot.send_message(first, "three")
            assert seconds(group_full.value) == 3
            await app.bot.send_message(second, "a third message in half a second")
            with pytest.raises(RetryAfter) as bot_full:  # the bot's fourth within 0.5 s
                await app.bot.send_message(third, "four")
            assert seconds(bot_full.value) == 1
            await asyncio.sleep(0.5)
            await app.bot.send_message(third, "four, later")
    assert tg.too_many == {"sendMessage": 2}
    assert [m["text"] for m in tg.sent] == ["one", "two", "a third message in half a second",
                                            "four, later"]
