"""The console on a real terminal (a pty): line editing and history, Ctrl-D and Ctrl-C end the
session cleanly and put the terminal back, and the log stays out of the transcript."""

from __future__ import annotations

import logging
import os
import pty
import re
import select
import signal
import sys
import termios
import time
from pathlib import Path

import pytest

from bot.logs import ShortFormatter
from tests.processes import CREWBOT, ROOT, clean_env

WAIT = 60.0
UP = "\x1b[A"
BACKSPACE = "\x7f"
CTRL_C, CTRL_D = "\x03", "\x04"
STAMP = ROOT / ".venv" / ".crewbot-installed"


class Terminal:
    """A program running on a pseudo-terminal of its own, as if someone had started it in a
    shell: keys go in, the screen's text comes out."""

    def __init__(self, program: list[str], env: dict[str, str], cwd: Path) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes the program, the pty its controlling terminal
            try:
                os.chdir(cwd)
                os.execve(program[0], program, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.screen = ""
        self.seen = 0  # how much of the screen wait_for has looked past
        self.status: int | None = None

    def read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the program has closed the terminal
            return False
        self.screen += data.decode("utf-8", "replace")
        return bool(data)

    def wait_for(self, text: str) -> None:
        """Waits until `text` comes after what the last wait found (keys typed before the
        program asks for them would be typed ahead, which people rarely do)."""
        deadline = time.monotonic() + WAIT
        while (at := self.screen.find(text, self.seen)) < 0:
            assert time.monotonic() < deadline, f"{text!r} never came:\n{self.screen}"
            assert self.read(0.2), f"ended before {text!r}:\n{self.screen}"
        self.seen = at + len(text)

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def settings(self) -> list:
        """The terminal's settings (echo, line mode...), as the shell will find them."""
        return termios.tcgetattr(self.fd)

    def ended(self) -> int:
        """Waits for the program to end; its exit code (128 + N if signal N killed it)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                while self.read(0.05):  # what it wrote last
                    pass
                return self.status if self.status >= 0 else 128 - self.status
            self.read(0.1)
        pytest.fail(f"the program did not end:\n{self.screen}")

    def close(self) -> None:
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.fixture
def terminal(tmp_path):
    started: list[Terminal] = []

    def start(*args: str, program: tuple[str, ...] = (str(CREWBOT),), **settings: str
              ) -> Terminal:
        env = clean_env(HOME=str(tmp_path), TERM="xterm", **settings)
        started.append(Terminal([*program, *args], env, tmp_path))
        return started[-1]

    yield start
    for term in started:
        term.close()


def assert_cooked(settings: list) -> None:
    """The terminal as a shell wants it: typed keys echoed, lines edited by the terminal,
    Ctrl-C a signal, Enter a newline."""
    iflag, lflag = settings[0], settings[3]
    assert lflag & termios.ECHO and lflag & termios.ICANON and lflag & termios.ISIG, settings
    assert iflag & termios.ICRNL, settings


def lines_of(screen: str) -> list[str]:
    return [line.rstrip() for line in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
            .replace("\r", "").split("\n")]


def test_arrow_keys_edit_and_recall_lines_and_ctrl_d_ends_cleanly(terminal, tmp_path):
    term = terminal("console", "--db", str(tmp_path / "crew.sqlite3"),
                    "--start", "2026-11-02T09:00")
    term.wait_for("the clock is simulated, at 2026-11-02 09:00 UTC")
    term.wait_for("> ")
    term.type("alice: /ask a lift\r")
    term.wait_for("#2 bot: alice asks (ask 1)")
    term.wait_for("> ")
    term.type(UP + BACKSPACE * 4 + "hand\r")  # the last line again, its last word changed
    term.wait_for("#4 bot: alice asks (ask 2)")
    term.wait_for("> ")
    term.type("bob: /chekin hi" + "\x1b[D" * 6 + "c\r")  # left arrow to mend a typo
    term.wait_for("#6 bot: bob checked in")
    term.wait_for("> ")
    term.type(CTRL_D)
    assert term.ended() == 0
    shown = lines_of(term.screen)
    assert "#3 alice: /ask a hand" in shown
    assert "#5 bob: /checkin hi" in shown
    assert "Traceback" not in term.screen
    assert_cooked(term.settings())
    assert (tmp_path / ".crewbot_history").read_text().splitlines()[-3:] == [
        "alice: /ask a lift", "alice: /ask a hand", "bob: /checkin hi"]


def test_ctrl_c_mid_line_ends_cleanly_and_puts_the_terminal_back(terminal, tmp_path):
    term = terminal("console", "--db", str(tmp_path / "crew.sqlite3"),
                    "--start", "2026-11-02T09:00")
    term.wait_for("> ")
    term.type("alice: /join\r")
    term.wait_for("#2 bot: Welcome, alice!")
    term.wait_for("> ")
    term.type("bob: /jo")
    term.wait_for("bob: /jo")
    term.type(CTRL_C)
    assert term.ended() == 0
    assert "Traceback" not in term.screen and "KeyboardInterrupt" not in term.screen
    assert_cooked(term.settings())
    assert "#3 bob: /jo" not in lines_of(term.screen)  # the half-typed line was not played


def test_ctrl_c_ends_at_once_when_only_the_input_is_a_terminal(terminal, tmp_path):
    out = tmp_path / "transcript.txt"
    term = terminal("-c", 'exec "$0" console --db "$1" --start 2026-11-02T09:00 > "$2"',
                    str(CREWBOT), str(tmp_path / "crew.sqlite3"), str(out),
                    program=("/bin/sh",))
    term.type("alice: /join\r")
    deadline = time.monotonic() + WAIT
    while "#2 bot: Welcome, alice!" not in (out.read_text() if out.exists() else ""):
        assert time.monotonic() < deadline, term.screen
        term.read(0.2)
    term.type(CTRL_C)  # no line is ever typed after it
    assert term.ended() == 0
    assert "Traceback" not in term.screen
    transcript = out.read_text()
    assert transcript.splitlines()[-2].startswith("#2 bot: Welcome, alice!")
    assert transcript.endswith("\n> ")  # it was waiting for the next line


@pytest.mark.skipif(not STAMP.exists(), reason="dev.py has not set up .venv here yet "
                    "(`python3 dev.py test` does it)")
def test_dev_py_run_on_a_terminal_keeps_the_log_out_and_ends_on_ctrl_c(terminal, tmp_path):
    # dev.py runs in the clone, where a developer's own .env may set tokens: these win over it.
    term = terminal("run", program=(sys.executable, str(ROOT / "dev.py")),
                    CREWBOT_DATABASE_URL=str(tmp_path / "run.sqlite3"), CREWBOT_LOG_LEVEL="INFO",
                    CREWBOT_TELEGRAM_TOKEN="", CREWBOT_DISCORD_TOKEN="")
    term.wait_for("the clock is real")
    term.wait_for("> ")
    term.type("alice: /checkin hi\r")
    term.wait_for("#2 bot: alice checked in")
    term.type(":advance 1d\r")
    term.wait_for("! the clock is real here, so it cannot be moved.")
    term.wait_for("> ")
    term.type(CTRL_C)
    assert term.ended() == 0
    assert "Traceback" not in term.screen and "KeyboardInterrupt" not in term.screen
    assert "level=INFO" not in term.screen and "event=" not in term.screen


def test_a_log_line_on_a_terminal_is_one_short_line_without_secrets():
    formatter = ShortFormatter(["hunter2-secret"])
    try:
        raise ValueError("the database\nsaid no to hunter2-secret")
    except ValueError:
        record = logging.LogRecord("crewbot", logging.ERROR, __file__, 1,
                                   "outcome=crashed token=%s", ("hunter2-secret",),
                                   sys.exc_info())
    assert formatter.format(record) == (
        "crewbot error: outcome=crashed token=*** (ValueError: the database said no to ***)")
    record = logging.LogRecord("crewbot", logging.WARNING, __file__, 1, "x" * 500, (), None)
    line = formatter.format(record)
    assert line.startswith("crewbot warning: xxx") and len(line) < 240 and "\n" not in line
