"""The harness's command line: runs every section, prints the table, writes PERFORMANCE.md."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bench import actions, due, footprint, history, report, telegram
from bench.common import (
    DEFAULT_PG_URL,
    FULL,
    POSTGRES,
    QUICK,
    SMOKE,
    SQLITE,
    Report,
    Row,
    Settings,
    check_pg_url,
    ensure_pg_database,
    machine,
    pin_to_one_cpu,
    workdir,
)

SECTIONS = ("1", "2", "3", "4", "5")
DB_SECTIONS = {"1": actions.SECTION, "2": history.SECTION, "3": due.SECTION}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--quick", action="store_true",
                   help="smaller sizes (1k/10k ledger rows, few posts): about two minutes")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, SQLite only, no fan-out: seconds (also "
                        "CREWBOT_BENCH_SMOKE=1)")
    p.add_argument("--out", default="docs/PERFORMANCE.md",
                   help="where to write the results (default: docs/PERFORMANCE.md)")
    p.add_argument("--no-out", action="store_true", help="print only, write no file")
    p.add_argument("--pg-url", default=os.environ.get("CREWBOT_BENCH_DATABASE_URL",
                                                      DEFAULT_PG_URL),
                   help="the benchmark's own PostgreSQL database (created if missing; "
                        "everything in it is dropped)")
    p.add_argument("--no-pg", action="store_true", help="SQLite only")
    p.add_argument("--no-fanout", action="store_true", help="skip the rate-limited fan-out")
    p.add_argument("--fanout", type=int, help="posts in the fan-out (full run: 5000)")
    p.add_argument("--limit-model", choices=telegram.LIMIT_MODELS, default="window",
                   help="how the fake enforces Telegram's limits for the main fan-out row")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help="comma-separated sections to run (default: all)")
    p.add_argument("--no-pin", action="store_true",
                   help="do not pin the harness to one CPU")
    return p


def settings_from(args: argparse.Namespace, argv: Sequence[str]) -> Settings:
    smoke = args.smoke or os.environ.get("CREWBOT_BENCH_SMOKE") == "1"
    mode = "smoke" if smoke else "quick" if args.quick else "full"
    sizes = {"smoke": SMOKE, "quick": QUICK, "full": FULL}[mode]
    if args.fanout is not None:
        sizes = replace(sizes, fanout=max(0, args.fanout))
    pg = None if smoke or args.no_pg else check_pg_url(args.pg_url)
    command = shlex.join(["python", "-m", "bench.run", *argv])
    return Settings(mode=mode, sizes=sizes, pg_url=pg, workdir=workdir(), pin=not args.no_pin,
                    limit_model=args.limit_model, command=command)


def skipped_twins(rows: list[Row], section: str, why: str) -> list[Row]:
    """PostgreSQL rows marked skipped, so the table always has the same lines."""
    return [replace(r, key=r.key.replace(SQLITE, POSTGRES), backend=POSTGRES, result=why,
                    p50="", p99="", vs="", target="", verdict="-", note="")
            for r in rows if r.section == section and r.backend == SQLITE]


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


async def run(settings: Settings, sections: Sequence[str], fanout: bool) -> Report:
    results = Report()
    pg_why = "skipped (--smoke)" if settings.mode == "smoke" else "skipped (--no-pg)"
    if settings.pg_url:
        server = await ensure_pg_database(settings.pg_url)
        if server is None:
            print(f"bench: PostgreSQL at {settings.pg_url} is not reachable; SQLite only",
                  file=sys.stderr)
            settings.pg_url = None
            pg_why = "skipped (no server)"
        else:
            results.details["PostgreSQL"] = server
    steps = {
        "1": lambda: actions.run(settings, results),
        "2": lambda: history.run(settings, results),
        "3": lambda: due.run(settings, results),
        "4": lambda: telegram.run(settings, results, fanout),
        "5": lambda: footprint.run(settings, results),
    }
    for number in sections:
        began = time.perf_counter()
        print(f"bench: section {number}...", file=sys.stderr, flush=True)
        await steps[number]()
        if number in DB_SECTIONS and not settings.pg_url:
            results.rows += skipped_twins(results.rows, DB_SECTIONS[number], pg_why)
        print(f"bench: section {number} took {time.perf_counter() - began:.1f} s",
              file=sys.stderr, flush=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="bench: %(name)s %(levelname)s %(message)s")
    settings = settings_from(args, argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        print(f"bench: unknown sections {sorted(unknown)}", file=sys.stderr)
        return 2
    cpu = pin_to_one_cpu() if settings.pin else None
    start_load = load_average()
    began = time.perf_counter()
    try:
        results = asyncio.run(run(settings, sections,
                                  fanout=settings.mode != "smoke" and not args.no_fanout))
    finally:
        shutil.rmtree(settings.workdir, ignore_errors=True)
    elapsed = time.perf_counter() - began
    specs = machine()
    specs["PostgreSQL"] = str(results.details.get("PostgreSQL", ""))
    specs["Pinned"] = (f"harness on CPU {cpu}; the fake Bot API on the other CPU(s)"
                       if cpu is not None else "no")
    results.notes.append(f"Run: {settings.mode}; {elapsed:.0f} s in all.")
    print(report.table(results.rows))
    print()
    print(report.notes(results.rows))
    print(f"\nbench: {len(results.rows)} rows in {elapsed:.0f} s ({settings.mode})")
    if not args.no_out:
        out = Path(args.out)
        report.write(out, report.markdown(results, settings, specs, elapsed,
                                          (start_load, load_average())))
        print(f"bench: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
