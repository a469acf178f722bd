#!/usr/bin/env python3
"""Sets up a local virtualenv on first use, then runs the bot or the tests.

    python3 dev.py run      # play: with no platform token set, the console on crewbot.sqlite3
    python3 dev.py test     # the whole test suite (extra arguments go to pytest)
    python3 dev.py test --oldest     # the suite on the oldest releases pyproject.toml allows
    python3 dev.py crewbot ARGS...   # any crewbot command, e.g. export --format csv

.venv holds the newest releases pyproject.toml's ranges allow (CI's, as of its set-up);
.venv-oldest, for --oldest, each dependency at its lower bound (.ci/oldest.txt).
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
OLDEST_VENV = ROOT / ".venv-oldest"
OLDEST = ROOT / ".ci" / "oldest.txt"  # each dependency pinned at its range's lower bound


def bin_dir(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts" if os.name == "nt" else "bin")


def ensure_venv(venv_dir: Path = VENV, oldest: bool = False) -> Path:
    """The virtualenv's bin folder, set up first if pyproject.toml (or, for the oldest
    releases, .ci/oldest.txt) changed since it was: with the newest releases the ranges allow,
    or with the oldest."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script runs on any python3
        sys.exit(f"crewbot needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    bin_ = bin_dir(venv_dir)
    stamp = venv_dir / ".crewbot-installed"
    sources = (ROOT / "pyproject.toml").read_bytes() + (OLDEST.read_bytes() if oldest else b"")
    wanted = hashlib.sha256(sources).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted and (bin_ / "crewbot").exists():
        return bin_
    if not (bin_ / "python").exists():
        print(f"Setting up {venv_dir.name} (first run only)...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    pip = [str(bin_ / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    # The newest: every dependency upgraded as far as its range allows, not only the missing
    # ones. The oldest: the lower bounds as constraints, which also take an installed newer
    # release back down.
    choice = ["-c", str(OLDEST)] if oldest else ["--upgrade", "--upgrade-strategy", "eager"]
    subprocess.run([*pip, *choice, "-e", f"{ROOT}[test]"], check=True)
    stamp.write_text(wanted)
    return bin_


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("run", "test", "crewbot"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    verb, rest = sys.argv[1], sys.argv[2:]
    oldest = verb == "test" and "--oldest" in rest
    if oldest:
        rest = [a for a in rest if a != "--oldest"]
    bin_ = ensure_venv(OLDEST_VENV, oldest=True) if oldest else ensure_venv()
    if verb == "run":
        command = [str(bin_ / "crewbot"), "run", *rest]
    elif verb == "crewbot":
        command = [str(bin_ / "crewbot"), *rest]
    else:
        subprocess.run([str(bin_ / "ruff"), "check", str(ROOT)], check=True)
        command = [str(bin_ / "python"), "-m", "pytest", *rest]
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
