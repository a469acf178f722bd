"""The `crewbot` command line: run, console, export, db upgrade and check."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import logging
import signal
import sys
import textwrap
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.adapters.console_adapter import Console, LineError, parse_instant, pictures_dir
from bot.adapters.console_terminal import Terminal, TerminalErrors, in_thread, is_terminal
from bot.adapters.scheduler import Ticker
from bot.adapters.telegram_poller import PollerElection
from bot.app import App, freeze_startup_heap, open_app
from bot.check import check
from bot.clock import SimClock, utc_now
from bot.commands.game import Game
from bot.config import (
    VARIABLES,
    Config,
    ConfigError,
    PlatformRefused,
    TokenRefused,
    from_env,
    setup_logging,
)
from bot.export import as_csv, as_json
from bot.health import Health
from bot.logs import quiet_for_terminal
from storage.engine import database_url, redacted
from storage.instance import Instance
from storage.leader_lock import LeaderLock, poller_key

log = logging.getLogger("crewbot")
SKEW = timedelta(minutes=5)  # how far another machine's clock may run ahead of ours


DB_HELP = "database URL or SQLite file path (default: CREWBOT_DATABASE_URL or crewbot.sqlite3)"
ENV_NOTE = ("Settings come from the environment and from a .env file in the working directory "
            "(or the file named by CREWBOT_ENV_FILE); the environment wins.")


def para(text: str) -> str:
    return textwrap.fill(text, 78)


def reads(*names: str) -> str:
    """The epilog of a command's --help: the variables it reads, with their defaults."""
    lines = [f"  {n}\n" + textwrap.fill(f"{VARIABLES[n].meaning.replace('`', '')} (default: "
                                       f"{VARIABLES[n].default})", 78, initial_indent=" " * 6,
                                       subsequent_indent=" " * 6)
             for n in (*names, "CREWBOT_ENV_FILE")]
    return "environment variables:\n" + "\n".join(lines) + "\n\n" + textwrap.fill(ENV_NOTE, 78)


def version() -> str:
    """The installed package's version, as pyproject.toml gives it."""
    try:
        return importlib.metadata.version("crewbot")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree never installed
        return "(version unknown: not installed; run python3 dev.py once)"


def parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    top = argparse.ArgumentParser(
        prog="crewbot", formatter_class=formatter,
        description=para("The Reciprocity Game for a crew's group chat on Discord, Telegram or a "
        "console. `crewbot COMMAND --help` tells more about each command."),
        epilog=reads(*(n for n in VARIABLES if n != "CREWBOT_ENV_FILE")))
    top.add_argument("--version", action="version", version=f"crewbot {version()}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "run", formatter_class=formatter,
        help="serve every configured platform and the scheduler; with no platform token set, "
        "play in the console",
        description=para("Serves Telegram and/or Discord (whichever has a token) and the scheduler "
        "in one process until SIGTERM or SIGINT, after applying pending database migrations. "
        "With no platform token set it plays in the console on the real clock instead. With "
        "CREWBOT_HEALTH_PORT set it answers GET /healthz and /readyz over HTTP."),
        epilog=reads(*(n for n in VARIABLES if n != "CREWBOT_ENV_FILE")))
    console = sub.add_parser(
        "console", formatter_class=formatter, help="play the game from standard input",
        description=para("Plays the whole game from standard input, one line per member action "
        "(see the README's console section), printing the transcript; exits 0 at the end of "
        "input."), epilog=reads("CREWBOT_DATABASE_URL", "CREWBOT_DEFAULT_TIMEZONE"))
    console.add_argument("--db", help=DB_HELP)
    console.add_argument("--start", help="start a simulated clock at this ISO 8601 time "
                         "(no offset means UTC); time then moves only with :at and :advance")
    export = sub.add_parser(
        "export", formatter_class=formatter, help="print every crew, its members and its ledger",
        description=para("Prints every crew with its members (zero-point members too) and its "
        "ledger, as JSON or CSV, on standard output."), epilog=reads("CREWBOT_DATABASE_URL"))
    export.add_argument("--db", help=DB_HELP)
    export.add_argument("--format", choices=("json", "csv"), default="json",
                        help="output format (default: json)")
    db = sub.add_parser("db", formatter_class=formatter, help="database maintenance",
                        description="Database maintenance.", epilog=reads("CREWBOT_DATABASE_URL"))
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser(
        "upgrade", formatter_class=formatter, help="apply pending migrations",
        description=para("Applies pending database migrations (crewbot run also does it at start; "
        "safe while other crewbot processes run)."), epilog=reads("CREWBOT_DATABASE_URL"))
    upgrade.add_argument("--db", help=DB_HELP)
    check = sub.add_parser(
        "check", formatter_class=formatter,
        help="check the settings, the database and each platform; exit 1 on a problem",
        description=para("Reports what the bot can see, one line each (ok, note or PROBLEM with "
        "what to do): whether the database answers and is migrated, which platforms are "
        "configured, and with a token set, the bot's identity and its rights in each crew's "
        "chat (Telegram: admin or not; Discord: View Channel, Send Messages, Add Reactions, "
        "Read Message History, Use Application Commands; and its gateway shards). Changes "
        "nothing. Exit code 0 when all is well, 1 when something is wrong."),
        epilog=reads("CREWBOT_DATABASE_URL", "CREWBOT_TELEGRAM_TOKEN",
                     "CREWBOT_TELEGRAM_API_URL", "CREWBOT_DISCORD_TOKEN",
                     "CREWBOT_DISCORD_API_URL"))
    check.add_argument("--db", help=DB_HELP)
    return top


async def read_lines(console: Console, stream: object = None) -> None:
    stream = stream or sys.stdin
    loop = asyncio.get_running_loop()
    interactive = stream.isatty()  # type: ignore[attr-defined]
    while True:
        if interactive:
            console.out.write("> ")
            console.out.flush()
        read = stream.readline  # type: ignore[attr-defined]
        # typed at a terminal (its output piped): Ctrl-C must not wait for the line to end
        line = await (in_thread(read) if interactive else loop.run_in_executor(None, read))
        if not line:
            return
        await console.feed(line)


async def edit_lines(console: Console, terminal: Terminal) -> None:
    """Reads a terminal's lines with line editing and history until Ctrl-D."""
    while (line := await terminal.read_line()) is not None:
        await console.feed(line)


async def play_console(database: str, start: str | None, live: bool, tick: float,
                       zone: str = "UTC", pictures: str | None = None) -> int:
    begin = parse_instant(start) if start is not None else None
    clock = SimClock(begin)
    app = await open_app(database, clock, zone)
    try:
        await not_before_the_records(app.game, begin or clock(), simulated=begin is not None)
        if is_terminal(sys.stdin, sys.stdout):
            with Terminal(sys.stdout) as terminal:
                quiet_for_terminal(TerminalErrors(terminal, sys.stderr))
                console = Console(app.game, clock, terminal,
                                  pictures=pictures_dir(database, pictures))
                await play(console, database, live, tick, edit_lines(console, terminal))
        else:
            console = Console(app.game, clock, sys.stdout,
                              pictures=pictures_dir(database, pictures))
            await play(console, database, live, tick, read_lines(console))
    finally:
        await app.close()
    return 0


async def play(console: Console, database: str, live: bool, tick: float,
               lines: Coroutine[Any, Any, None]) -> None:
    """Catches up on what fell due, then feeds the console its lines (with the scheduler
    ticking if `live`) until they end."""
    ticker = Ticker(console.game, console.deliver, tick) if live else None
    try:
        if sys.stdin.isatty():
            console.print(banner(console, database))
        await console.catch_up()
        if ticker:
            await ticker.start()
        await lines
    finally:
        lines.close()  # never started if catching up failed
        if ticker:
            ticker.stop()


def banner(console: Console, database: str) -> str:
    clock = (f"simulated, at {console.clock():%Y-%m-%d %H:%M} UTC (move it with :at or "
             ":advance)" if console.simulated else "real")
    return (f"Crewbot console on {redacted(database)}. You are in room '{console.room}'; the "
            f"clock is {clock}.\nTry: alice: /help   (end with Ctrl-D)")


async def not_before_the_records(game: Game, begin: datetime, simulated: bool) -> None:
    """Refuses to play from a time earlier than the newest one the database records: time never
    runs backwards on existing data. The real clock is allowed a few minutes of skew between
    machines; a database played ahead on a simulated clock is not."""
    latest = await game.latest_time()
    if latest is None or begin >= latest - (timedelta() if simulated else SKEW):
        return
    earliest = (latest + timedelta(minutes=1)).replace(second=0, microsecond=0)
    if simulated:
        raise LineError(
            f"--start {begin:%Y-%m-%dT%H:%M} is earlier than {latest:%Y-%m-%d %H:%M:%S} UTC, "
            "the latest time this database records, and time never runs backwards on existing "
            f"data. Start at {earliest:%Y-%m-%dT%H:%M} or later, or play on a new database file "
            "with --db.")
    raise LineError(
        f"this database records times up to {latest:%Y-%m-%d %H:%M:%S} UTC, later than now: it "
        "was played ahead on a simulated clock, and time never runs backwards on existing data. "
        f"Go on playing it with crewbot console --start {earliest:%Y-%m-%dT%H:%M}, or use "
        "another database.")


async def run(config: Config, database: str) -> int:
    """Serves every configured platform and the scheduler in this loop until cancelled."""
    if not config.platforms:
        if not sys.stdin.isatty():  # in a container this ends at once: say why
            log.warning("event=start outcome=console reason=no_platform_token "
                        "set=CREWBOT_TELEGRAM_TOKEN,CREWBOT_DISCORD_TOKEN")
        return await play_console(database, None, live=True, tick=config.tick_seconds,
                                  zone=config.default_timezone, pictures=config.pictures_dir)
    health = Health()
    if config.health_port is not None:  # first, so a busy port stops us before anything runs
        try:
            await health.start(config.health_host, config.health_port)
        except OSError as error:
            raise ConfigError(
                f"CREWBOT_HEALTH_PORT {config.health_port} on {config.health_host} cannot be "
                f"used ({error.strerror or error}): choose a free port, or check "
                "CREWBOT_HEALTH_HOST") from None
    try:
        return await serve(config, database, health)
    finally:
        await health.stop()


async def serve(config: Config, database: str, health: Health) -> int:
    app = await open_app(database, utc_now, config.default_timezone, config.db_pool_size)
    adapters: list[Any] = []
    instance = Instance(app.engine, app.game.holder)
    if config.telegram_token:
        from bot.adapters.telegram_adapter import TelegramAdapter
        from bot.adapters.telegram_webhook import Webhook

        webhook = Webhook(config.webhook_url, config.webhook_host, config.webhook_port,
                          config.webhook_secret or "") if config.webhook_url else None

        from bot.adapters.telegram_pacing import WindowRateLimiter
        from storage.send_slots import shared_slots

        # On PostgreSQL every process of this bot keeps to one set of Telegram's limits.
        bot = "telegram:" + config.telegram_token.partition(":")[0]  # the bot's public id
        pacing = WindowRateLimiter(shared=shared_slots(app.engine), bot=bot)
        adapters.append(TelegramAdapter(app.game, config.telegram_token, config.telegram_api_url,
                                        rate_limiter=pacing, webhook=webhook,
                                        elect=None if webhook else poller_election(app)))
    if config.discord_token:
        from bot.adapters.discord_adapter import DiscordAdapter
        from bot.adapters.discord_shards import TURN
        from storage.identify_turns import shared_turns

        adapters.append(DiscordAdapter(
            app.game, config.discord_token, list(config.discord_guild_ids),
            config.discord_api_url, shard_count=config.discord_shard_count,
            shard_ids=list(config.discord_shard_ids) if config.discord_shard_ids else None,
            turns=shared_turns(app.engine, TURN)))

    async def deliver() -> None:
        await instance.keep_alive()
        app.game.holder = instance.id
        for adapter in adapters:
            await adapter.deliver()

    ticker = Ticker(app.game, deliver, config.tick_seconds)
    health.watch(app.engine, list(zip(config.platforms, adapters, strict=True)))
    started = []
    running = False
    try:
        if config.telegram_token:
            # Telegram replies are kept with their events until sent; this process's number
            # tells the others whether it still runs (storage/instance.py).
            await instance.start()
            app.game.holder = instance.id
        for adapter in adapters:
            started.append(adapter)  # before start: one that fails half-way is closed too
            await adapter.start()
        await ticker.start()
        freeze_startup_heap()
        log.info("event=start outcome=running platforms=%s database=%s",
                 ",".join(config.platforms), redacted(database))
        running = True
        await until_one_fails(adapters)
    finally:
        ticker.stop()
        for adapter in started:
            await adapter.stop()
        await instance.stop()
        await app.close()
        if running:
            log.info("event=stop outcome=stopped")
    return 0


async def until_one_fails(adapters: list[Any]) -> None:
    """Serves until cancelled; an adapter whose connection ends for good (its `task`, when it
    has one, raises) ends the run with that error."""
    tasks = [task for adapter in adapters if (task := getattr(adapter, "task", None))]
    if tasks:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    await asyncio.Event().wait()


def poller_election(app: App) -> Callable[[int], PollerElection] | None:
    """On PostgreSQL, several processes elect the one that polls Telegram; on SQLite one process
    serves the bot and polls."""
    if app.engine.dialect.name != "postgresql":
        return None
    url = app.engine.url
    return lambda bot_id: PollerElection(LeaderLock(url, poller_key(bot_id)))


async def export(database: str, fmt: str) -> int:
    app = await open_app(database, utc_now)
    try:
        crews = await app.game.export()
        congregations = await app.game.export_congregations() if fmt == "json" else []
    finally:
        await app.close()
    sys.stdout.write((as_json(crews, congregations) + "\n") if fmt == "json"
                     else as_csv(crews))
    return 0


async def db_upgrade(database: str) -> int:
    app = await open_app(database, utc_now)
    await app.close()
    print(f"database {redacted(database)} is at the latest schema")
    return 0


async def check_all(config: Config, database: str) -> int:
    """Prints each finding on its own line; 1 if any is a problem."""
    findings = await check(config, database)
    for finding in findings:
        print(hide(finding.line(), config, database))
    return 1 if any(f.level == "PROBLEM" for f in findings) else 0


def hide(text: str, config: Config, database: str) -> str:
    """The text with every secret (tokens, the database password) replaced by ***."""
    for secret in [*config.secrets, database_url(database).password or ""]:
        if secret:
            text = text.replace(secret, "***")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = from_env()
    except ConfigError as error:
        for problem in error.problems:
            print(f"crewbot: {problem}", file=sys.stderr)
        return 2
    setup_logging(config.log_level if args.command == "run" else "WARNING",
                  [*config.secrets, *_password(getattr(args, "db", None))], config.log_format)
    if args.command == "run":
        for text in config.unknown_notes():
            log.warning("event=settings outcome=unknown_variable note=%s", text.split()[0])
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
            work = play_console(database, args.start, live=False, tick=config.tick_seconds,
                                zone=config.default_timezone, pictures=config.pictures_dir)
        elif args.command == "check":
            work = check_all(config, database)
        elif args.command == "export":
            work = export(database, args.format)
        else:
            work = db_upgrade(database)
        return asyncio.run(_until_signal(work))
    except (LineError, ConfigError) as error:
        print(f"crewbot: {error}", file=sys.stderr)
        return 2
    except (OSError, SQLAlchemyError) as error:
        first = hide((str(error).strip().splitlines() or [""])[0][:200], config, database)
        print(f"crewbot: cannot use the database {redacted(database)}: "
              f"{type(error).__name__}: {first}", file=sys.stderr)
        return 2
    except (TokenRefused, PlatformRefused) as error:
        print(f"crewbot: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # one line, secrets hidden; the traceback goes to the log
        log.error("outcome=crashed", exc_info=error)
        first = hide((str(error).strip().splitlines() or [""])[0][:200], config, database)
        print(f"crewbot: stopped by an error: {type(error).__name__}: {first}", file=sys.stderr)
        return 1


def _password(db: str | None) -> list[str]:
    try:
        return [database_url(db).password or ""] if db else []
    except ValueError:
        return []


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
