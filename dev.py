#!/usr/bin/env python3
"""Sets up a local virtualenv on first use, then runs the bot or the tests.

    python3 dev.py run      # play: with no platform token set, the console on crewbot.sqlite3
    python3 dev.py test     # the whole test suite (extra arguments go to pytest)
    python3 dev.py crewbot ARGS...   # any crewbot command, e.g. export --format csv
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".crewbot-installed"


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script runs on any python3
        sys.exit(f"crewbot needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and (BIN / "crewbot").exists():
        return
    if not (BIN / "python").exists():
        print("Setting up .venv (first run only)...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(wanted)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("run", "test", "crewbot"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ensure_venv()
    verb, rest = sys.argv[1], sys.argv[2:]
    if verb == "run":
        command = [str(BIN / "crewbot"), "run", *rest]
    elif verb == "crewbot":
        command = [str(BIN / "crewbot"), *rest]
    else:
        subprocess.run([str(BIN / "ruff"), "check", str(ROOT)], check=True)
        command = [str(BIN / "python"), "-m", "pytest", *rest]
    os.chdir(ROOT)
    return run(command)


def run(command: list[str]) -> int:
    """Runs the command to its end. Ctrl-C reaches it as well as us (one process group): it
    ends by itself, cleanly, while we wait for it rather than stopping with a traceback."""
    child = subprocess.Popen(command)
    while True:
        try:
            code = child.wait()
        except KeyboardInterrupt:
            continue
        return 128 - code if code < 0 else code  # killed by signal N: the shell's 128 + N


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C while the virtualenv is being set up
        print(file=sys.stderr)
        sys.exit(130)
