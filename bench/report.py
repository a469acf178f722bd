"""The results as a terminal table and as docs/PERFORMANCE.md, with bench/notes/ appended."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench.common import Report, Row, Settings

HEADERS = ("Section", "Measure", "DB", "Result", "p50", "p99", "vs floor / ratio", "Target",
           "Verdict")
KEEP_MARKER = "<!-- bench: everything below this line is copied from bench/notes/*.md -->"
OLD_MARKER = "<!-- bench: everything below this line is kept when the results are rewritten -->"
NOTES = Path(__file__).with_name("notes")
# Hand-written parts, committed beside the harness, so every run rewrites the whole file.
INCLUDED = ("fixes.md", "public_apis.md", "before.md")

METHOD = """\
- **1. Game actions**: `Game.handle` with `CommandReceived`/`ReactionChanged` events carrying
  message and event ids as the Telegram adapter sends them (so the dedup insert and message
  links are paid), one call at a time on one asyncio task, the process pinned to one CPU.
  Per round: crews of six who `/join` (untimed), then every member `/checkin`s, reacts to each
  other member's check-in (30 reactions per crew; the last completes the circle and awards),
  `/ask`s, `/offer`s in reply to the next member's ask, `/thanks` for the offer made to them,
  (untimed `/meeting now`), `/here` and `/leaderboard`. Every reply is checked, so a refusal
  never counts as an action. actions/s is the median over rounds of (calls / wall time of the
  block); p50/p99 pool every call of every round. The floor is one row inserted and committed
  per call on the connections the units of work use (on SQLite the loop thread's engine of
  `storage.sqlite_loop`, with its pragmas and `BEGIN IMMEDIATE`; on PostgreSQL
  `storage.engine.make_engine`'s, no pre-ping); the ratio is p50 over floor p50. "SQL/action"
  counts the statements sent per call (the commit not included; on SQLite the
  `BEGIN IMMEDIATE` is one of them), in the untimed warm-up round: SQLAlchemy's event
  listeners and asyncpg's query logger, attached by the bench for that round only. A second set of
  rounds plays every crew at once (each crew's events in order, as the adapters run chats).
  "bot CPU" is this process's CPU time over a block (`time.process_time`: every thread, so
  SQLite's own work and its checkpoints too) per call, the median over rounds; "PostgreSQL
  server CPU" is the run time of the local server's processes over the same block
  (`/proc/PID/schedstat`), likewise.
  Verdicts: on SQLite, which runs inside the bot's process, p99 and actions/s one at a time.
  On PostgreSQL actions/s one at a time is bound by the server: every call waits for BEGIN,
  each statement and COMMIT in turn, and the floor's BEGIN, INSERT and COMMIT alone stay near
  or under 1,000/s on this machine; so the target "1,000 actions/s on one core" is judged as
  the bot's own capacity, its CPU per action (at most 1 ms) with the crews at once, while the
  server works on the other core.
- **2. History**: one database per size (a SQLite file each; on PostgreSQL a schema each in
  the bench database), where one crew of 8 holds half of all ledger rows (the rest in crews of
  5,000 rows), spread over 36 months and the game's reasons. Ledger rows are bulk-loaded (COPY
  on PostgreSQL, executemany on SQLite; big loads rebuild the ledger's indexes afterwards) and
  the totals cache is rebuilt from the ledger with one `INSERT ... SELECT ... GROUP BY`, then
  checked equal to it (and `/score`'s shown total checked against the ledger). PostgreSQL is
  `ANALYZE`d after loading, as autovacuum would; SQLite is not, as the bot never does it.
  `/leaderboard` and `/score` by a member of the big crew go through `Game.handle` in blocks of
  20 that alternate between the sizes, so a burst of load elsewhere on the machine falls on
  every size alike; the ratio is p50 at each size over p50 at the smallest.
- **3. Due work**: crews, six members each, a schedule, next month's planned meeting with its
  four timers, bulk-created; for the first N crews this month's meeting is open (4 of 6
  present) with its tally falling due at once. `Game.run_due` is timed when nothing is due and
  when the tallies are; afterwards due_work, meetings, ledger and outbox are counted: every
  tally claimed once, one summary per crew, one award per roster member, one note per absent
  member; a second tick must find nothing. Then some tallies are re-armed and run by two
  `Game`s racing on the same database, counted the same way.
- **4. Telegram**: the fake Bot API (`tests/fakes/telegram_api.py`) runs in a child process
  on the other CPU, so its own cost is not charged to the bot. Updates/s: bursts of group
  commands (`/checkin`, `/ask`, `/leaderboard` from six members of many chats) pushed at once
  and timed until every reply was sent and PTB's update queue drained, with the rate limiter
  disabled as in the tests (updates of different chats run concurrently, as the adapter
  configures PTB). Fan-out: posts bulk-queued in the outbox, delivered by
  `TelegramAdapter.deliver()` called back to back (the adapter's own `WindowRateLimiter`, as
  the bot runs) against a subclass of the fake that answers 429 beyond 30 messages/s overall
  or 20 per minute in one group: `window` = a strict sliding window (never more than 30 in
  any second), `bucket` = a leaky bucket like PTB's `AIORateLimiter`. Allowed rate = posts /
  the least time the limits permit for them.
- **5. Footprint**: fresh Python processes. Idle RSS after `open_app` on an empty SQLite file;
  loaded RSS after `open_app` on the section-3 database, an idle tick, 100 tallies and 100
  commands; start-up as `open_app` + migrations on an empty file, and as process launch to
  ready (imports included).
"""


def cells(row: Row) -> tuple[str, ...]:
    return (row.section, row.measure, row.backend, row.result, row.p50, row.p99, row.vs,
            row.target, row.verdict)


def table(rows: list[Row]) -> str:
    """A plain-text table for the terminal (notes follow it, one line per row)."""
    lines = [cells(r) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in lines)) if lines else len(h)
              for i, h in enumerate(HEADERS)]

    def fmt(values: tuple[str, ...]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [fmt(HEADERS), fmt(tuple("-" * w for w in widths))]
    out += [fmt(c) for c in lines]
    return "\n".join(out)


def notes(rows: list[Row]) -> str:
    return "\n".join(f"- {r.section} | {r.measure} | {r.backend}: {r.note}" for r in rows
                     if r.note)


def _md(value: str) -> str:
    return value.replace("|", "\\|")


def markdown(report: Report, settings: Settings, machine: dict[str, str], elapsed: float,
             load: tuple[str, str]) -> str:
    head = "| " + " | ".join((*HEADERS, "Notes")) + " |"
    rule = "|" + "|".join("---" for _ in range(len(HEADERS) + 1)) + "|"
    body = ["| " + " | ".join(_md(c) for c in (*cells(r), r.note)) + " |" for r in report.rows]
    specs = "\n".join(f"| {k} | {v} |" for k, v in machine.items() if v)
    extra = "\n".join(f"- {n}" for n in report.notes)
    return f"""# Crewbot performance

Generated by the benchmark harness in `bench/` on {datetime.now(UTC):%Y-%m-%d %H:%M UTC}
({settings.mode} run, {elapsed / 60:.1f} minutes). Reproduce with:

```
{settings.command}
```

`--quick` runs smaller sizes in about two minutes; `--smoke` (SQLite only, no fan-out) is what
`tests/test_bench_smoke.py` runs. PostgreSQL runs in its own database
(`crewbot_bench`, created if missing; `--pg-url` or `CREWBOT_BENCH_DATABASE_URL` to change it,
never the test suite's). Targets come from issue 8 and are reported, never asserted.

## Machine

| | |
|---|---|
{specs}
| Load average at start / end | {load[0]} / {load[1]} |

Other work shares this machine, so single figures move by tens of percent between runs:
compare medians and ratios, not one value.

## Results

These figures are from the code as it is now, after the fixes for issue 8 (explained in
"What was slow and what fixed it" below) and with every library used through its public API
(issue 15, with its before and after below); the figures before any fix are kept in "Before
any fix" at the end. Load during this run, as load averages over 1, 5 and 15 minutes on
{machine.get("Cores", "?")} cores:

- at the start: {load[0]}
- at the end: {load[1]}

{head}
{rule}
{chr(10).join(body)}

{extra}

## How each figure is measured

{METHOD}
"""


def included() -> str:
    """The hand-written sections from bench/notes/, in order."""
    return "\n\n".join((NOTES / name).read_text().strip() for name in INCLUDED
                        if (NOTES / name).exists()) + "\n"


def write(path: Path, generated: str) -> None:
    """Writes the whole document: this run's results, then the hand-written sections."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(generated.rstrip() + "\n\n" + KEEP_MARKER + "\n\n" + included())


def refresh(path: Path) -> None:
    """Copies bench/notes/*.md into an existing document again, keeping its results."""
    text = path.read_text()
    for marker in (KEEP_MARKER, OLD_MARKER):
        text = text.split(marker, 1)[0]
    write(path, text)


if __name__ == "__main__":
    import sys

    refresh(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/PERFORMANCE.md"))
