"""Helpers for tests that run `crewbot` as a real process beside the loopback fakes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
CREWBOT = Path(sys.executable).parent / "crewbot"


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any CREWBOT_* setting, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREWBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    return {**env, **settings}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def crewbot(*args: str, env: dict[str, str], cwd: Path, stdin: str = "",
                  timeout: float = 60) -> tuple[int, str, str]:
    """Runs a crewbot command to its end, `stdin` piped in: exit code, stdout, stderr."""
    proc = await asyncio.create_subprocess_exec(
        str(CREWBOT), *args, env=env, cwd=cwd, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@contextlib.asynccontextmanager
async def running(program: list[str], env: dict[str, str], cwd: Path
                  ) -> AsyncIterator[asyncio.subprocess.Process]:
    """A long-running process; killed on the way out if the test did not stop it."""
    proc = await asyncio.create_subprocess_exec(
        *program, env=env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()


async def get_json(url: str, timeout: float = 5) -> tuple[int, Any]:
    """A real HTTP GET: status and decoded JSON body (status 0 if nothing answers)."""
    try:
        async with (aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
                    http.get(url) as response):
            return response.status, json.loads(await response.text())
    except (aiohttp.ClientError, TimeoutError):
        return 0, None


async def until(url: str, status: int, timeout: float = 30) -> Any:
    """Polls the URL until it answers with `status`; returns that body."""
    last: tuple[int, Any] = (0, None)
    try:
        async with asyncio.timeout(timeout):
            while True:
                last = await get_json(url)
                if last[0] == status:
                    return last[1]
                await asyncio.sleep(0.1)  # polling another process: no event to wait on
    except TimeoutError:
        raise AssertionError(f"{url} never answered {status}; last {last}") from None


@dataclass
class Logged:
    """A running process and the standard-error lines it wrote so far (read as they come)."""

    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(self.lines)


@contextlib.asynccontextmanager
async def logged(program: list[str], env: dict[str, str], cwd: Path) -> AsyncIterator[Logged]:
    """`running`, its standard error collected line by line; SIGTERM and a wait for the end on
    the way out (the test then checks the exit code)."""
    async with running(program, env, cwd) as proc:
        out = Logged(proc)

        async def read() -> None:
            assert proc.stderr is not None
            while line := await proc.stderr.readline():
                out.lines.append(line.decode(errors="replace"))

        reader = asyncio.create_task(read())
        try:
            yield out
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
            await asyncio.wait_for(reader, 10)


def owns_port(pid: int, port: int) -> bool:
    """Whether process `pid` has the TCP socket whose local port is `port` (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    fds = Path(f"/proc/{pid}/fd")
    return any(str(fd.readlink()) == f"socket:[{inode}]" for fd in fds.iterdir()
               for inode in inodes if fd.is_symlink())
