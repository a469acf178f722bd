"""The optional HTTP health endpoint: /healthz (the loop answers) and /readyz (database and
platforms answer), served from `crewbot run`'s own event loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("crewbot.health")

DATABASE_TIMEOUT = 2.0  # seconds SELECT 1 may take before the database counts as down


class Platform(Protocol):
    @property
    def connected(self) -> bool: ...


def role(platform: Platform) -> str | None:
    """What this process does for the platform among several ("polling", "standby"), if it
    says."""
    value = getattr(platform, "role", None)
    return value if isinstance(value, str) else None


async def database_answers(engine: AsyncEngine, timeout: float = DATABASE_TIMEOUT
                           ) -> dict[str, Any]:
    """{"ok": True, "ms": n} when SELECT 1 answers in time, else ok False and why (no URL)."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {timeout:g} s"}
    except Exception as error:  # any failure means "not ready"; the type says which
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000)}


class Health:
    """Answers /healthz and /readyz with a JSON body of checks, 200 or 503."""

    def __init__(self, timeout: float = DATABASE_TIMEOUT) -> None:
        self.engine: AsyncEngine | None = None  # None until the database is open and migrated
        self.platforms: list[tuple[str, Platform]] = []
        self.timeout = timeout
        self.runner: web.AppRunner | None = None

    def watch(self, engine: AsyncEngine, platforms: Sequence[tuple[str, Platform]]) -> None:
        """What readiness checks, once the bot has opened them."""
        self.engine = engine
        self.platforms = list(platforms)

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {"database": {"ok": False, "error": "starting"}}
        if self.engine is not None:
            checks["database"] = await database_answers(self.engine, self.timeout)
        roles: dict[str, str] = {}
        for name, platform in self.platforms:
            detail = getattr(platform, "health", None)  # a platform may say more (its shards)
            checks[name] = detail() if callable(detail) else {"ok": platform.connected}
            if (said := role(platform)) is not None:
                roles[name] = said
        body: dict[str, Any] = {
            "status": "ok" if all(c["ok"] for c in checks.values()) else "unavailable",
            "checks": checks}
        if roles:
            body["roles"] = roles
        return body

    async def healthz(self, request: web.Request) -> web.Response:
        # Answering at all proves the loop is responsive.
        return web.json_response({"status": "ok", "checks": {"loop": {"ok": True}}})

    async def readyz(self, request: web.Request) -> web.Response:
        body = await self.readiness()
        return web.json_response(body, status=200 if body["status"] == "ok" else 503)

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self.runner.setup()
        await web.TCPSite(self.runner, host, port).start()
        log.info("event=health outcome=listening host=%s port=%d", host, port)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
