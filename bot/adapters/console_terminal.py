"""The console on a terminal: line editing and history, and output that spares the typed line."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TextIO, TypeVar

T = TypeVar("T")

PROMPT = "> "
HISTORY = Path("~/.crewbot_history")
HISTORY_LENGTH = 1000
CLEAR_LINE = "\r\x1b[K"
# readline turns bracketed paste on while it reads a line; a session ended by Ctrl-C leaves the
# reading thread behind without readline putting the terminal back, so we do it.
PASTE_OFF = "\x1b[?2004l"


def is_terminal(stdin: TextIO, stdout: TextIO) -> bool:
    return stdin.isatty() and stdout.isatty()


def typed() -> str | None:
    """A line typed at the prompt, or None at Ctrl-D."""
    try:
        return input(PROMPT)
    except EOFError:
        return None


async def in_thread(read: Callable[[], T]) -> T:
    """`read()`, done in a daemon thread rather than the loop's executor: Ctrl-C must end the
    session at once, not wait at exit for a line that the person will never type."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, error: Exception | None) -> None:
        if done.done():
            return
        if error is None:
            done.set_result(value)  # type: ignore[arg-type]
        else:
            done.set_exception(error)

    def work() -> None:
        value, error = None, None
        try:
            value = read()
        except Exception as failed:  # handed to the loop, raised there
            error = failed
        with contextlib.suppress(RuntimeError):  # the loop is gone: the session has ended
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=work, name="crewbot-console-input", daemon=True).start()
    return await done


def load_readline() -> ModuleType | None:
    """The standard library's readline, where the platform has it (not on Windows)."""
    try:
        import readline
    except ImportError:
        return None
    return readline


class Terminal:
    """Reads lines with readline (arrow keys, history in ~/.crewbot_history) in a thread of its
    own, so the event loop keeps running (scheduled posts, the clock) while someone types.
    Output written while a line is being typed clears that line, then draws the prompt and
    the typed text again under it. As a context manager it puts the terminal back as it found
    it, however the session ends."""

    def __init__(self, stdout: TextIO, stdin: TextIO | None = None,
                 history: Path | None = HISTORY) -> None:
        self.stdout = stdout
        self.stdin = stdin or sys.stdin
        self.history = history.expanduser() if history else None
        self.readline = load_readline()
        self.waiting = False
        self.saved: list | None = None

    def __enter__(self) -> Terminal:
        with contextlib.suppress(ImportError, OSError):
            import termios

            self.saved = termios.tcgetattr(self.stdin.fileno())
        if self.readline and self.history:
            self.readline.set_history_length(HISTORY_LENGTH)
            with contextlib.suppress(OSError):
                self.readline.read_history_file(self.history)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if kind is not None:  # ended mid-line (Ctrl-C): the shell's prompt starts a new one
            self.stdout.write("\n")
        if self.readline and self.history:
            with contextlib.suppress(OSError):
                self.readline.write_history_file(self.history)
        if self.saved is not None:
            import termios

            with contextlib.suppress(OSError):
                termios.tcsetattr(self.stdin.fileno(), termios.TCSADRAIN, self.saved)
            self.stdout.write(PASTE_OFF)
        self.stdout.flush()

    async def read_line(self) -> str | None:
        """The next line typed, or None at Ctrl-D."""
        self.waiting = True
        try:
            result = await in_thread(typed)
        finally:
            self.waiting = False
        if result is None:
            self.stdout.write("\n")  # Ctrl-D leaves the cursor after the prompt
            self.stdout.flush()
        return result

    def write(self, text: str) -> int:
        if not self.waiting:
            return self.stdout.write(text)
        typed = self.readline.get_line_buffer() if self.readline else ""
        return self.stdout.write(CLEAR_LINE + text + PROMPT + typed)

    def flush(self) -> None:
        self.stdout.flush()


class TerminalErrors:
    """Standard error on a terminal console: a log line clears the line being typed first and
    draws it again after, like the transcript."""

    def __init__(self, terminal: Terminal, stderr: TextIO) -> None:
        self.terminal = terminal
        self.stderr = stderr

    def write(self, text: str) -> int:
        if not self.terminal.waiting:
            return self.stderr.write(text)
        self.terminal.stdout.write(CLEAR_LINE)
        self.terminal.stdout.flush()
        written = self.stderr.write(text)
        self.stderr.flush()
        self.terminal.write("")
        return written

    def flush(self) -> None:
        self.stderr.flush()
        self.terminal.flush()
