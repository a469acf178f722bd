"""AiohttpRequest, the adapter's HTTP client, against the fake Bot API and small servers on
127.0.0.1: the bytes PTB's calls put on the wire, timeouts, errors that never show the token."""

from __future__ import annotations

import asyncio
import base64
import io
import socket
import struct
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, closing, suppress
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlencode

import httpx
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import NetworkError, TimedOut
from telegram.ext import ApplicationBuilder
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.adapters.telegram_adapter import TelegramAdapter
from bot.adapters.telegram_http import AiohttpRequest, multipart, scrubbed
from bot.commands.game import Game
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "7000000001:SECRET-http-token-5c1e"
CREW = -1001000000001
GUARD = 10  # seconds a test waits for a timeout that should come much sooner
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
ME = {"id": 7000000001, "is_bot": True, "first_name": "Crewbot", "username": "crewbot"}
MESSAGE = {"message_id": 1, "date": 0, "chat": {"id": CREW, "type": "supergroup"}}


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(bot_username="crewbot", token=TOKEN) as fake:
        fake.add_chat(CREW, title="Garden crew")
        yield fake


def bot_on(base: str, request: BaseRequest | None = None) -> Bot:
    return Bot(
        TOKEN,
        base_url=f"{base}/bot",
        base_file_url=f"{base}/file/bot",
        request=request or AiohttpRequest(),
        get_updates_request=AiohttpRequest(connection_pool_size=1),
    )


def fake_root(tg: FakeTelegram) -> str:
    return tg.base_url.removesuffix("/bot")


@dataclass
class Seen:
    """One request a Recorder received."""

    method: str
    path: str
    url: str
    headers: dict[str, str]
    body: bytes
    peer_port: int


@dataclass
class Recorder:
    """A small aiohttp.web server that keeps every request whole and answers as told."""

    answer: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None
    seen: list[Seen] = field(default_factory=list)
    root: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.seen.append(
            Seen(
                request.method,
                request.path,
                str(request.url),
                dict(request.headers),
                body,
                peer[1] if peer else 0,
            )
        )
        if self.answer is not None:
            return await self.answer(request)
        sleep = request.match_info["method"].removeprefix("sleep")
        if sleep != request.match_info["method"]:
            await asyncio.sleep(float(sleep))
        method = request.match_info["method"]
        result = ME if method == "getMe" else MESSAGE if method.startswith("send") else True
        return web.json_response({"ok": True, "result": result})


@asynccontextmanager
async def recording(
    answer: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None,
) -> AsyncIterator[Recorder]:
    recorder = Recorder(answer)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/bot{token}/{method}", recorder.handle)
    app.router.add_route("*", "/{tail:.*}", recorder.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    recorder.root = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield recorder
    finally:
        await runner.cleanup()


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shown(error: BaseException) -> str:
    """Everything an error shows in a message, a repr or a logged traceback."""
    return f"{error} {error!r} " + "".join(traceback.format_exception(error))


class Keep(AiohttpRequest):
    """AiohttpRequest keeping the RequestData of each call, to compare with what httpx sends."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[RequestData] = []

    async def do_request(
        self, url: str, method: str, request_data: Any = None, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        self.seen.append(request_data)
        return await super().do_request(url, method, request_data, *args, **kwargs)


# ------------------------------------------------------------------ the wire


async def test_send_message_goes_through_ptb_and_comes_back(tg: FakeTelegram) -> None:
    text = 'Grüße & a=b+c 100% ✓ "quoted" <b>'
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("I listened", callback_data="l:1")]])
    async with bot_on(fake_root(tg)) as bot:
        sent = await bot.send_message(CREW, text, reply_markup=keyboard)
        assert bot.username == "crewbot"  # getMe at initialize went through too
    assert sent.text == text and sent.chat.id == CREW
    params = tg.sent[-1]
    assert params["text"] == text and params["chat_id"] == CREW
    assert params["reply_markup"] == {
        "inline_keyboard": [[{"text": "I listened", "callback_data": "l:1"}]]
    }


async def test_a_form_is_the_bytes_httpx_sends_with_ptbs_user_agent() -> None:
    async with recording() as server, bot_on(server.root, keep := Keep()) as bot:
        await bot.send_message(CREW, "Grüße & a=b+c 100% ✓", disable_notification=True)
    got = server.seen[-1]
    assert got.method == "POST" and got.path == f"/bot{TOKEN}/sendMessage"
    assert got.headers["User-Agent"] == BaseRequest.USER_AGENT
    assert got.headers["Content-Type"] == "application/x-www-form-urlencoded"
    fields = keep.seen[-1].json_parameters
    assert got.body == urlencode(fields).encode()
    assert got.body == httpx.Request("POST", "http://x/", data=fields).read()
    assert int(got.headers["Content-Length"]) == len(got.body)


@pytest.mark.parametrize("size", [len(PNG), 300_000])  # one write, and the chunked TimedBody
async def test_an_upload_is_the_bytes_httpx_sends(size: int) -> None:
    content = (PNG * (size // len(PNG) + 1))[:size]
    name = 'crew "board" é\\.png'  # quotes, a backslash and UTF-8, as httpx escapes them
    async with recording() as server, bot_on(server.root, keep := Keep()) as bot:
        await bot.send_photo(CREW, content, caption="Board ✓", filename=name)
    got = server.seen[-1]
    assert got.path == f"/bot{TOKEN}/sendPhoto"
    content_type = got.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1]
    data = keep.seen[-1]
    expected = httpx.Request(
        "POST",
        "http://x/",
        data=data.json_parameters,
        files=data.multipart_data,
        headers={"Content-Type": content_type},
    ).read()
    assert got.body == expected
    assert int(got.headers["Content-Length"]) == len(expected)
    assert got.body.count(content) == 1
    assert multipart(data.json_parameters, data.multipart_data, boundary.encode()) == (
        expected,
        content_type,
    )


async def test_photos_and_documents_arrive_with_name_caption_and_bytes(tg: FakeTelegram) -> None:
    big = bytes(range(251)) * 1200  # 300 kB: several chunked writes
    handle = io.BytesIO(b"a file handle, read whole")
    async with bot_on(fake_root(tg)) as bot:
        photo = await bot.send_photo(CREW, PNG, caption="Our board ✓", filename="board.png")
        doc = await bot.send_document(CREW, InputFile(big, filename="ledger.csv"), caption="Ledger")
        later = await bot.send_document(
            CREW, InputFile(handle, filename="notes.txt", read_file_handle=False)
        )
        downloaded = await (await bot.get_file(doc.document.file_id)).download_as_bytearray()
    first, second, third = tg.uploads[-3:]
    assert (first["method"], first["field"], first["filename"]) == (
        "sendPhoto",
        "photo",
        "board.png",
    )
    assert first["content"] == PNG and first["content_type"] == "image/png"
    assert first["params"]["caption"] == "Our board ✓" and photo.caption == "Our board ✓"
    assert (second["method"], second["field"], second["filename"]) == (
        "sendDocument",
        "document",
        "ledger.csv",
    )
    assert second["content"] == big and second["content_type"] == "text/csv"
    assert doc.document.file_name == "ledger.csv" and doc.caption == "Ledger"
    assert bytes(downloaded) == big  # a GET through the same request, whole
    assert third["content"] == b"a file handle, read whole"
    assert later.document.file_name == "notes.txt"


async def test_redirects_are_not_followed_as_with_httpx() -> None:
    async def moved(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/ping"):
            raise web.HTTPFound("/elsewhere")
        return web.json_response({"ok": True, "result": True})

    async with recording(moved) as server, AiohttpRequest() as request:
        status, _ = await request.do_request(f"{server.root}/bot{TOKEN}/ping", "POST")
    assert status == 302
    assert [s.path for s in server.seen] == [f"/bot{TOKEN}/ping"]


# ------------------------------------------------------------------ timeouts


async def test_a_slow_answer_times_out_at_the_read_timeout() -> None:
    async with recording() as server, AiohttpRequest(read_timeout=0.3) as request:
        began = time.monotonic()
        with pytest.raises(TimedOut) as caught:
            await request.post(f"{server.root}/bot{TOKEN}/sleep3")
        took = time.monotonic() - began
    assert 0.25 < took < 2.0
    assert TOKEN not in shown(caught.value)


async def test_per_call_timeouts_override_the_defaults() -> None:
    url = "{root}/bot" + TOKEN + "/sleep{seconds}"
    async with recording() as server:
        async with AiohttpRequest(read_timeout=0.2) as request:
            # A longer read timeout, and none at all, let a 0.5 s answer come.
            assert (
                await request.post(url.format(root=server.root, seconds=0.5), read_timeout=3)
                is True
            )
            assert (
                await request.post(url.format(root=server.root, seconds=0.5), read_timeout=None)
                is True
            )
        async with AiohttpRequest(read_timeout=30) as request:
            began = time.monotonic()
            with pytest.raises(TimedOut):
                await request.post(url.format(root=server.root, seconds=5), read_timeout=0.2)
            assert time.monotonic() - began < 2.0


async def test_a_full_pool_times_out_without_sending() -> None:
    async with (
        recording() as server,
        AiohttpRequest(connection_pool_size=1, pool_timeout=0.2) as request,
    ):
        slow = asyncio.create_task(request.post(f"{server.root}/bot{TOKEN}/sleep1"))
        while not server.seen:
            await asyncio.sleep(0.01)
        with pytest.raises(TimedOut, match="Pool timeout") as caught:
            await request.post(f"{server.root}/bot{TOKEN}/ping")
        assert len(server.seen) == 1  # never sent
        assert TOKEN not in shown(caught.value)
        # The per-call pool timeout overrides: this one waits for the slow one's connection.
        assert await request.post(f"{server.root}/bot{TOKEN}/ping", pool_timeout=5) is True
        assert await slow is True
    assert [s.path.rsplit("/", 1)[1] for s in server.seen] == ["sleep1", "ping"]


@asynccontextmanager
async def unanswered_listener() -> AsyncIterator[int]:
    """A port whose accept queue is full, so a new connection hangs in its handshake."""
    with closing(socket.socket()) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        fillers = []
        try:
            for _ in range(4):
                filler = socket.socket()
                filler.setblocking(False)
                fillers.append(filler)
                with suppress(BlockingIOError):
                    filler.connect(("127.0.0.1", port))
            await asyncio.sleep(0.1)
            yield port
        finally:
            for filler in fillers:
                filler.close()


async def test_a_connection_that_hangs_times_out_at_the_connect_timeout() -> None:
    async with unanswered_listener() as port, AiohttpRequest(connect_timeout=30) as request:
        began = time.monotonic()
        with pytest.raises(TimedOut) as caught:
            async with asyncio.timeout(GUARD):  # a request that ignored it would hang
                await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe", connect_timeout=0.3)
        assert time.monotonic() - began < 2.0
    # aiohttp's own error says "Connection timeout to host <the URL>": never shown
    assert TOKEN not in shown(caught.value)
    assert TOKEN.split(":")[1] not in shown(caught.value)


async def test_an_upload_the_server_never_reads_times_out_at_the_write_timeout() -> None:
    with closing(socket.socket()) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = int(listener.getsockname()[1])
        bot = bot_on(f"http://127.0.0.1:{port}", AiohttpRequest(media_write_timeout=60))
        began = time.monotonic()
        try:
            with pytest.raises(TimedOut) as caught:
                async with asyncio.timeout(GUARD):  # a request that ignored it would hang
                    await bot.send_document(CREW, b"\0" * (16 << 20), filename="huge.bin",
                                            write_timeout=0.5)
            assert time.monotonic() - began < 5.0
        finally:
            await bot.shutdown()
    assert TOKEN not in shown(caught.value)


# ------------------------------------------------------------------ errors and lifecycle


async def test_a_refused_connection_is_a_network_error_without_the_token() -> None:
    bot = bot_on(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(NetworkError) as caught:
            await bot.get_me()  # before initialize, as HTTPXRequest allows
    finally:
        await bot.shutdown()
    error = caught.value
    assert not isinstance(error, TimedOut)
    assert str(error).startswith("aiohttp.ClientConnectorError: ")
    assert TOKEN not in shown(error) and TOKEN.split(":")[1] not in shown(error)


async def test_a_connection_reset_mid_upload_is_a_network_error_without_the_token() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # an RST while the body is still being sent

    server = await asyncio.start_server(reset, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    bot = bot_on(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(NetworkError) as caught:
            await bot.send_document(CREW, b"\0" * (16 << 20), filename="huge.bin")
    finally:
        await bot.shutdown()
        server.close()
        await server.wait_closed()
    # aiohttp's own message is "Can not write request body for <the URL>"
    assert str(caught.value).startswith("aiohttp.")
    assert TOKEN not in shown(caught.value) and TOKEN.split(":")[1] not in shown(caught.value)


async def test_an_error_aiohttp_words_with_the_url_is_shown_without_it() -> None:
    # An API URL that is no http(s) URL (a mistyped CREWBOT_TELEGRAM_API_URL, say): aiohttp's
    # error message is the URL itself.
    async with AiohttpRequest() as request:
        with pytest.raises(NetworkError) as caught:
            await request.post(f"ftp://127.0.0.1/bot{TOKEN}/getMe")
    assert str(caught.value) == "aiohttp.NonHttpUrlClientError: <url>"
    assert TOKEN not in shown(caught.value) and TOKEN.split(":")[1] not in shown(caught.value)


def test_the_url_is_scrubbed_in_every_form_aiohttp_prints() -> None:
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    text = f"Connection timeout to host {url}; URL('{url}'); path /bot{TOKEN}/sendMessage"
    assert scrubbed(text, url) == ("Connection timeout to host <url>; URL('<url>'); path <url>")


async def test_initialize_and_shutdown_are_idempotent_and_it_reopens() -> None:
    async with recording() as server:
        url = f"{server.root}/bot{TOKEN}/ping"
        request = AiohttpRequest()
        await request.shutdown()  # never opened: nothing to do
        await request.initialize()
        assert await request.post(url) is True
        await request.initialize()  # again: the same session, the same kept-alive connection
        assert await request.post(url) is True
        assert server.seen[0].peer_port == server.seen[1].peer_port
        await request.shutdown()
        await request.shutdown()
        with pytest.raises(RuntimeError, match="not initialized"):
            await request.do_request(url, "POST")
        await request.initialize()  # a new session after shutdown
        assert await request.post(url) is True
        assert server.seen[2].peer_port != server.seen[1].peer_port
        await request.shutdown()
    assert len(server.seen) == 3


async def test_proxies_come_from_the_environment_like_httpx(monkeypatch) -> None:
    for name in (
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    async with recording() as proxy:
        # The proxy's credentials go in the URL, as httpx reads them.
        monkeypatch.setenv("HTTP_PROXY", proxy.root.replace("//", "//crew:p%40ss@"))
        async with AiohttpRequest() as request:
            # No such host: only the proxy can answer.
            assert await request.post(f"http://api.telegram.invalid/bot{TOKEN}/ping") is True
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
            async with recording() as direct:
                await request.post(f"{direct.root}/bot{TOKEN}/ping")
    assert proxy.seen[0].url == f"http://api.telegram.invalid/bot{TOKEN}/ping"
    credentials = base64.b64encode(b"crew:p@ss").decode()
    assert proxy.seen[0].headers["Proxy-Authorization"] == f"Basic {credentials}"
    assert "Proxy-Authorization" not in direct.seen[0].headers
    assert len(proxy.seen) == 1 and len(direct.seen) == 1


# ------------------------------------------------------------------ the adapter


async def test_the_adapter_uses_aiohttp_for_both_connections_unless_told_otherwise() -> None:
    game = cast(Game, None)
    adapter = TelegramAdapter(game, TOKEN)
    request, polls = adapter.app.bot.request, adapter.poll.inner
    assert isinstance(request, AiohttpRequest) and request.connection_pool_size == 256
    assert isinstance(polls, AiohttpRequest) and polls.connection_pool_size == 1

    given, given_polls = HTTPXRequest(connection_pool_size=8), HTTPXRequest(connection_pool_size=1)
    adapter = TelegramAdapter(game, TOKEN, request=given)
    assert adapter.app.bot.request is given
    assert isinstance(adapter.poll.inner, AiohttpRequest)
    adapter = TelegramAdapter(game, TOKEN, get_updates_request=given_polls)
    assert adapter.poll.inner is given_polls and isinstance(adapter.app.bot.request, AiohttpRequest)

    # Connection settings on the builder are PTB's to honour (it refuses .request() then).
    proxied = ApplicationBuilder().token(TOKEN).proxy("http://127.0.0.1:3128").read_timeout(9)
    adapter = TelegramAdapter(game, TOKEN, builder=proxied)
    assert isinstance(adapter.app.bot.request, HTTPXRequest)
    assert adapter.app.bot.request.read_timeout == 9
