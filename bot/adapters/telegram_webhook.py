"""Telegram's webhook, served in the bot's own loop: an update is answered once it is handled."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import Application

log = logging.getLogger("crewbot.telegram")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's default; it counts across all of the bot's processes, not per process.
MAX_CONNECTIONS = 40
MAX_BODY = 1024 * 1024  # an update is a few kilobytes
SHUTDOWN_SECONDS = 5.0  # how long a stopping process lets updates in hand finish


@dataclass(frozen=True)
class Webhook:
    """Where Telegram posts updates (`url`), where this process listens for them, and the
    secret Telegram sends with each."""

    url: str
    host: str
    port: int
    secret: str = field(repr=False)

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"


class WebhookServer:
    """Answers Telegram's POSTs on the webhook's path: 403 without the secret, 400 for a body
    that is no update, and otherwise 200 once the update was handled (its effects and kept
    replies committed), or 500 when handling it failed, so Telegram sends it again."""

    def __init__(self, app: Application, webhook: Webhook,
                 failed: Callable[[int], bool]) -> None:
        self.app = app
        self.webhook = webhook
        self.failed = failed  # whether handling this update id raised (and forgets it)
        self.secret = webhook.secret.encode()
        self.runner: web.AppRunner | None = None

    @property
    def listening(self) -> bool:
        return self.runner is not None and bool(self.runner.addresses)

    async def start(self) -> None:
        server = web.Application(client_max_size=MAX_BODY)
        server.router.add_post(self.webhook.path, self.receive)
        self.runner = web.AppRunner(server, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.webhook.host, self.webhook.port).start()
        log.info("platform=telegram outcome=webhook_listening host=%s port=%d",
                 self.webhook.host, self.webhook.port)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            log.warning("platform=telegram outcome=webhook_refused reason=secret")
            return web.Response(status=403, text="wrong or missing secret token\n")
        try:
            body = json.loads(await request.read())
            update = Update.de_json(body, self.app.bot) if isinstance(body, dict) else None
        except Exception:  # any body PTB cannot read as an update is the sender's error
            update = None
        if update is None or not isinstance(body.get("update_id"), int):
            log.warning("platform=telegram outcome=webhook_refused reason=not_an_update")
            return web.Response(status=400, text="the body is not a Telegram update\n")
        # Through the application's update processor: one chat's updates one at a time, in
        # the order they arrive, and no more at once than it allows.
        await self.app.update_processor.process_update(update, self.app.process_update(update))
        if self.failed(update.update_id):
            return web.Response(status=500, text="handling the update failed; send it again\n")
        return web.Response(text="ok\n")
