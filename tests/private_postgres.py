"""A throwaway PostgreSQL cluster (initdb + pg_ctl in a temporary folder, on a free port) that a
test or benchmark may stop and start: never the machine's shared server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.processes import free_port

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
# initdb and postgres refuse to run as root: as root the cluster runs as this system user.
SERVER_USER = "postgres"


def server_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder with initdb and pg_ctl, if any."""
    for folder in BIN_DIRS:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def unavailable() -> str | None:
    """Why no private cluster can run here (a skip reason), or None when one can."""
    if server_bin() is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl) are installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root, and there is no '{SERVER_USER}' user to run initdb as"
        if shutil.which("runuser") is None:
            return "running as root without runuser to start PostgreSQL as another user"
    return None


class PrivateCluster:
    """`async with PrivateCluster() as pg:` gives `pg.url`; `stop()` and `start()` take the
    server down and bring it back on the same port and data."""

    def __init__(self) -> None:
        folder = server_bin()
        assert folder is not None, unavailable()
        self.bin = folder
        self.root = Path(tempfile.mkdtemp(prefix="crewbot-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_server_user(self, args: Sequence[str]) -> list[str]:
        return (["runuser", "-u", SERVER_USER, "--", *args] if os.geteuid() == 0
                else list(args))

    async def _run(self, *args: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self._as_server_user(args), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {out.decode()[-2000:]}")

    async def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, SERVER_USER)
        await self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                        "-U", "postgres", "-E", "UTF8", "--no-sync")
        await self.start()

    async def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        await self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                        "-o", options, "-w", "-t", "60", "start")

    async def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session and shuts down cleanly; `immediate` is a crash."""
        await self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w",
                        "stop")

    async def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # already down
            await self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    async def __aenter__(self) -> PrivateCluster:
        try:
            await self.create()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.destroy()
