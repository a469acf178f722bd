"""PTB's BaseRequest on aiohttp: what its HTTPXRequest does, at a fraction of the CPU."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import urllib.request
from typing import IO, Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import Payload
from aiohttp.abc import AbstractStreamWriter
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* sent "
    "to Telegram. Consider adjusting the connection pool size or the pool timeout."
)
# aiohttp's writer waits for the socket only once more than this is buffered: a smaller body
# never waits to be written, so only a larger one needs the write timeout (see TimedBody).
WRITE_CHUNK = 64 * 1024
URLENCODED = "application/x-www-form-urlencoded"
# How httpx writes a name or file name in a multipart header (its _format_form_param, the
# HTML5 form encoding): raw UTF-8, with " and control characters %-escaped, \ doubled.
_FORM_ESCAPES = {'"': "%22", "\\": "\\\\"} | {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_FORM_ESCAPE = re.compile("|".join(re.escape(c) for c in _FORM_ESCAPES))


def _form_param(name: str, value: str) -> bytes:
    value = _FORM_ESCAPE.sub(lambda match: _FORM_ESCAPES[match.group(0)], value)
    return f'{name}="{value}"'.encode()


def _file_bytes(content: bytes | IO[bytes]) -> bytes:
    if isinstance(content, bytes | bytearray | memoryview):
        return bytes(content)
    if isinstance(content, str):
        return content.encode()
    if hasattr(content, "seek"):  # read from the start, as httpx does
        with contextlib.suppress(io.UnsupportedOperation, OSError):
            content.seek(0)
    return content.read()


def multipart(
    fields: dict[str, str], files: dict[str, tuple[str, Any, str]], boundary: bytes | None = None
) -> tuple[bytes, str]:
    """The multipart/form-data body and its Content-Type, laid out byte for byte as httpx lays
    out `data=fields, files=files`: the plain fields first, then each file part with its file
    name and Content-Type. A file handle is read whole."""
    boundary = boundary or os.urandom(16).hex().encode("ascii")
    parts: list[bytes] = []
    for name, value in fields.items():
        parts += [
            b"--",
            boundary,
            b"\r\nContent-Disposition: form-data; ",
            _form_param("name", name),
            b"\r\n\r\n",
            value.encode(),
            b"\r\n",
        ]
    for name, (filename, content, mimetype) in files.items():
        parts += [
            b"--",
            boundary,
            b"\r\nContent-Disposition: form-data; ",
            _form_param("name", name),
        ]
        if filename:
            parts += [b"; ", _form_param("filename", filename)]
        if mimetype:
            parts += [b"\r\nContent-Type: ", mimetype.encode()]
        parts += [b"\r\n\r\n", _file_bytes(content), b"\r\n"]
    parts += [b"--", boundary, b"--\r\n"]
    return b"".join(parts), f"multipart/form-data; boundary={boundary.decode('ascii')}"


class TimedBody(Payload):
    """A body larger than the socket buffer, written a chunk at a time with each write bounded
    by the write timeout, as httpx bounds each socket write (aiohttp has no write timeout)."""

    def __init__(self, value: bytes, content_type: str, write_timeout: float | None) -> None:
        super().__init__(value, content_type=content_type)
        self._size = len(value)
        self.write_timeout = write_timeout

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return bytes(self._value).decode(encoding, errors)

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        view = memoryview(self._value)[:content_length]
        for start in range(0, len(view), WRITE_CHUNK):
            async with asyncio.timeout(self.write_timeout):
                await writer.write(view[start : start + WRITE_CHUNK])


def env_proxy(origin: str) -> tuple[URL | None, dict[str, str] | None]:
    """The proxy the environment sets for this origin (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, as
    the standard library reads them) and the headers that give it the credentials in its URL.
    Only http:// proxies, as aiohttp's own trust_env."""
    url = URL(origin)
    if url.host is not None and urllib.request.proxy_bypass(url.host):
        return None, None
    found = urllib.request.getproxies().get(url.scheme)
    proxy = URL(found) if found else None
    if proxy is None or proxy.scheme != "http":
        return None, None
    auth = aiohttp.BasicAuth.from_url(proxy)
    return proxy.with_user(None), {"Proxy-Authorization": auth.encode()} if auth else None


def scrubbed(text: str, url: str) -> str:
    """The text without the request's URL, whose path holds the bot token, in any of the forms
    aiohttp and yarl print it."""
    parsed = URL(url)
    for secret in sorted({url, str(parsed), parsed.raw_path, parsed.path}, key=len, reverse=True):
        if len(secret) > 1:
            text = text.replace(secret, "<url>")
    return text


def _leaks(error: BaseException, url: str) -> bool:
    """Whether the error, or any error chained to it, prints the URL."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = f"{current!s} {current!r}"
        if scrubbed(text, url) != text:
            return True
        current = current.__cause__ or current.__context__
    return False


class AiohttpRequest(BaseRequest):
    """Like PTB's HTTPXRequest (the same timeouts and their defaults, the same errors, the same
    bytes on the wire), on an aiohttp ClientSession that is created inside the running loop.

    `connection_pool_size` is the most requests in flight at once (each needs a connection of
    its own); a request that finds them all busy waits up to `pool_timeout` for one, then fails
    with TimedOut without being sent. `read_timeout` bounds each wait for the response once
    the body is sent, `connect_timeout` the name lookup, connect and TLS handshake of a new
    connection, and `write_timeout` (`media_write_timeout` for uploads) each write of a body
    too large for the socket buffer. None means no limit.
    """

    __slots__ = (
        "_closed",
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
        "_slots",
        "_timeouts",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._closed = False  # shut down: requests fail until initialize() again
        self._slots: asyncio.Semaphore | None = None
        self._proxies: dict[str, tuple[URL | None, dict[str, str] | None]] = {}
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}

    @property
    def connection_pool_size(self) -> int:
        """The most requests in flight at once."""
        return self._pool_size

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call passes none (see BaseRequest.read_timeout)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Opens the session (once; again after shutdown)."""
        self._closed = False
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
                cookie_jar=aiohttp.DummyCookieJar(),  # the Bot API sets no cookies
                # Proxies come from the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) as
                # with httpx's trust_env=True, but looked up once per host in _proxy():
                # aiohttp's own trust_env=True asks the environment and ~/.netrc in a thread
                # on every request.
                trust_env=False,
            )
            self._slots = asyncio.Semaphore(self._pool_size)
            self._proxies = {}

    async def shutdown(self) -> None:
        """Closes the session and its connections; does nothing if already closed."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _timeout(self, read: float | None, connect: float | None) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get((read, connect))
        if timeout is None:
            if len(self._timeouts) > 64:  # callers passing ever new values
                self._timeouts.clear()
            # connect covers a new connection's lookup, connect and TLS handshake; the pool
            # wait happens before, in do_request, so aiohttp's own pool never waits.
            timeout = aiohttp.ClientTimeout(total=None, connect=connect, sock_read=read)
            self._timeouts[(read, connect)] = timeout
        return timeout

    def _proxy(self, url: str) -> tuple[URL | None, dict[str, str] | None]:
        end = url.find("/", url.find("//") + 2)
        origin = url if end < 0 else url[:end]
        found = self._proxies.get(origin)
        if found is None:
            found = self._proxies[origin] = env_proxy(origin)
        return found

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One request; the status and body of its answer (see BaseRequest.do_request)."""
        if self._closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        if self._session is None:  # like HTTPXRequest, usable before initialize()
            await self.initialize()
        session, slots = self._session, self._slots
        assert session is not None and slots is not None

        body: bytes | TimedBody | None = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            fields, files = request_data.json_parameters, request_data.multipart_data
            if files or fields:
                if write_timeout is BaseRequest.DEFAULT_NONE:
                    write_timeout = self._media_write_timeout if files else self._write_timeout
                # What httpx sends for data=fields, files=files: multipart with files, else
                # the fields URL-encoded as a form.
                data, content_type = (
                    multipart(fields, files) if files else (urlencode(fields).encode(), URLENCODED)
                )
                if len(data) > WRITE_CHUNK:
                    body = TimedBody(data, content_type, write_timeout)
                else:
                    body, headers = data, {"Content-Type": content_type}
        if read_timeout is BaseRequest.DEFAULT_NONE:
            read_timeout = self._read_timeout
        if connect_timeout is BaseRequest.DEFAULT_NONE:
            connect_timeout = self._connect_timeout
        if pool_timeout is BaseRequest.DEFAULT_NONE:
            pool_timeout = self._pool_timeout

        if slots.locked():
            try:
                async with asyncio.timeout(pool_timeout):
                    await slots.acquire()
            except TimeoutError:
                raise TimedOut(POOL_TIMEOUT_MESSAGE) from None
        else:
            await slots.acquire()
        try:
            proxy, proxy_headers = self._proxy(url)
            if proxy_headers and url.startswith("http:"):
                # aiohttp gives proxy_headers to the CONNECT of an https:// tunnel only; a
                # plain http:// request goes to the proxy whole, with them among its headers.
                headers = {**(headers or {}), **proxy_headers}
            async with session.request(
                method,
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=self._timeout(read_timeout, connect_timeout),
                proxy=proxy,
                proxy_headers=proxy_headers,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:  # aiohttp's timeouts are asyncio.TimeoutError too
            raise TimedOut from (None if _leaks(error, url) else error)
        except (aiohttp.ClientError, OSError) as error:
            message = scrubbed(f"aiohttp.{type(error).__name__}: {error}", url)
            raise NetworkError(message) from (None if _leaks(error, url) else error)
        except Exception as error:  # as BaseRequest would wrap it, but without the URL
            message = scrubbed(f"Unknown error in HTTP implementation: {error!r}", url)
            raise NetworkError(message) from (None if _leaks(error, url) else error)
        finally:
            slots.release()
