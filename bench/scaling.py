"""Runs every many-process benchmark and writes their figures into docs/SCALING.md."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "SCALING.md"
BEGIN = "<!-- figures: made by `python -m bench.scaling`; everything below is rewritten -->"
# Each module prints one markdown section (a `## ` heading, what ran, a table of figures).
MODULES = ("scaling_webhooks", "scaling_failover", "scaling_crewlock", "scaling_shards",
           "scaling_fanout")


def available() -> list[str]:
    return [m for m in MODULES if (ROOT / "bench" / f"{m}.py").exists()]


def run(module: str, quick: bool, database: str | None) -> str:
    args = [sys.executable, "-m", f"bench.{module}", *(["--quick"] if quick else [])]
    if database:
        args += ["--database", database]
    started = time.monotonic()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    took = time.monotonic() - started
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        return (f"## bench.{module}\n\nThis run failed (exit {done.returncode}, {took:.0f} s):"
                f"\n\n```\n{tail}\n```\n")
    return done.stdout.strip() + f"\n\n(`python -m bench.{module}`: {took:.0f} s)\n"


def write(sections: list[str]) -> None:
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Scaling\n\n"
    head = text.split(BEGIN, 1)[0].rstrip() + "\n\n"
    DOC.write_text(head + BEGIN + "\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__)
    p.add_argument("--quick", action="store_true", help="seconds-long runs, for a smoke test")
    p.add_argument("--database", default=os.environ.get("CREWBOT_TEST_DATABASE_URL"),
                   help="the PostgreSQL the processes share (default: "
                        "CREWBOT_TEST_DATABASE_URL)")
    p.add_argument("--only", nargs="*", choices=MODULES, help="run only these")
    p.add_argument("--print", action="store_true", help="print, do not write docs/SCALING.md")
    options = p.parse_args()
    sections = []
    for module in options.only or available():
        print(f"running bench.{module} ...", file=sys.stderr, flush=True)
        sections.append(run(module, options.quick, options.database))
    if options.print or options.quick:
        print("\n\n".join(sections))
    else:
        write(sections)
        print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 1 if any("This run failed" in s for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
