"""The `crewbot` command line: run, console, export and db upgrade."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.adapters.console_adapter import Console, LineError, parse_instant, pictures_dir
from bot.adapters.scheduler import Ticker
from bot.app import open_app
from bot.clock import SimClock, utc_now
from bot.config import Config, ConfigError, from_env, setup_logging
from bot.export import as_csv, as_json
from storage.engine import database_url, redacted

log = logging.getLogger("crewbot")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="crewbot", description="The Reciprocity Game for a crew's "
                                  "group chat on Discord, Telegram or a console.")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="serve every configured platform and the scheduler; with no "
                   "platform token set, play in the console")
    console = sub.add_parser("console", help="play the game from standard input")
    console.add_argument("--db", help="database URL or SQLite file path "
                         "(default: CREWBOT_DATABASE_URL or crewbot.sqlite3)")
    console.add_argument("--start", help="start a simulated clock at this ISO 8601 time "
                         "(no offset means UTC); time then moves only with :at and :advance")
    export = sub.add_parser("export", help="print every crew, its members and its ledger")
    export.add_argument("--db", help="database URL or SQLite file path")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply pending migrations")
    upgrade.add_argument("--db", help="database URL or SQLite file path")
    return top


async def read_lines(console: Console, stream: object = None) -> None:
    stream = stream or sys.stdin
    loop = asyncio.get_running_loop()
    interactive = stream.isatty()  # type: ignore[attr-defined]
    while True:
        if interactive:
            console.out.write("> ")
            console.out.flush()
        line = await loop.run_in_executor(None, stream.readline)  # type: ignore[attr-defined]
        if not line:
            return
        await console.feed(line)


async def play_console(database: str, start: str | None, live: bool, tick: float) -> int:
    clock = SimClock(parse_instant(start) if start is not None else None)
    app = await open_app(database, clock)
    console = Console(app.game, clock, sys.stdout, pictures=pictures_dir(database))
    ticker = Ticker(app.game, console.deliver, tick) if live else None
    try:
        if sys.stdin.isatty():
            console.print(f"Crewbot console on {redacted(database)}. You are in room "
                          f"'{console.room}'. Try: alice: /help   (end with Ctrl-D)")
        await console.catch_up()
        if ticker:
            await ticker.start()
        await read_lines(console)
    finally:
        if ticker:
            ticker.stop()
        await app.close()
    return 0


async def run(config: Config, database: str) -> int:
    """Serves every configured platform and the scheduler in this loop until cancelled."""
    if not config.platforms:
        return await play_console(database, None, live=True, tick=config.tick_seconds)
    app = await open_app(database, utc_now)
    adapters: list[Any] = []
    if config.telegram_token:
        from bot.adapters.telegram_adapter import TelegramAdapter

        adapters.append(TelegramAdapter(app.game, config.telegram_token, config.telegram_api_url))
    if config.discord_token:
        from bot.adapters.discord_adapter import DiscordAdapter

        adapters.append(DiscordAdapter(app.game, config.discord_token,
                                       list(config.discord_guild_ids), config.discord_api_url))

    async def deliver() -> None:
        for adapter in adapters:
            await adapter.deliver()

    ticker = Ticker(app.game, deliver, config.tick_seconds)
    started = []
    try:
        for adapter in adapters:
            await adapter.start()
            started.append(adapter)
        await ticker.start()
        log.info("outcome=running platforms=%s database=%s", ",".join(config.platforms),
                 redacted(database))
        await asyncio.Event().wait()
    finally:
        ticker.stop()
        for adapter in started:
            await adapter.stop()
        await app.close()
        log.info("outcome=stopped")
    return 0


async def export(database: str, fmt: str) -> int:
    app = await open_app(database, utc_now)
    try:
        crews = await app.game.export()
    finally:
        await app.close()
    sys.stdout.write((as_json(crews) + "\n") if fmt == "json" else as_csv(crews))
    return 0


async def db_upgrade(database: str) -> int:
    app = await open_app(database, utc_now)
    await app.close()
    print(f"database {redacted(database)} is at the latest schema")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = from_env()
    except ConfigError as error:
        print(f"crewbot: {error}", file=sys.stderr)
        return 2
    setup_logging(config.log_level if args.command == "run" else "WARNING", config.secrets)
    database = getattr(args, "db", None) or config.database
    try:
        database_url(database)
    except ValueError as error:
        print(f"crewbot: --db: {error}", file=sys.stderr)
        return 2
    try:
        if args.command == "run":
            work = run(config, database)
        elif args.command == "console":
            work = play_console(database, args.start, live=False, tick=config.tick_seconds)
        elif args.command == "export":
            work = export(database, args.format)
        else:
            work = db_upgrade(database)
        return asyncio.run(_until_signal(work))
    except LineError as error:
        print(f"crewbot: {error}", file=sys.stderr)
        return 2
    except (OSError, SQLAlchemyError) as error:
        first = (str(error).strip().splitlines() or [""])[0][:200]
        for secret in [*config.secrets, database_url(database).password or ""]:
            if secret:
                first = first.replace(secret, "***")
        print(f"crewbot: cannot use the database {redacted(database)}: "
              f"{type(error).__name__}: {first}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def _until_signal(work: object) -> int:
    """Runs the command; SIGINT or SIGTERM cancels it cleanly."""
    task = asyncio.ensure_future(work)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
