"""The game's prebuilt PostgreSQL statements run straight on the asyncpg connection."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util import greenlet_spawn

from storage.direct import Counted, Prebuilt, Rows

# Through SQLAlchemy, one prebuilt statement on asyncpg costs the bot about as much CPU again
# as asyncpg's own work (execution context, cursor adapter, result object, two greenlet hops).
# Here it is compiled once by SQLAlchemy, prepared through SQLAlchemy's per-connection cache of
# asyncpg statements, and run inside the transaction SQLAlchemy's asyncpg adapter started (or
# starts here, as it would); commit and rollback stay SQLAlchemy's. An error goes through
# SQLAlchemy's own handling, so it is raised as the same exception and a dropped connection
# invalidates the pool, as Game.handle's retry expects.

_ROWCOUNT = re.compile(r"(?:SELECT|UPDATE|DELETE|INSERT \d+) (\d+)")


class PgDirect(Prebuilt):
    """A prebuilt statement for PostgreSQL, run on asyncpg inside SQLAlchemy's transaction."""

    __slots__ = ()
    DIALECT = "postgresql"

    async def run(self, conn: AsyncConnection, adapted: Any, params: Mapping[str, Any]
                  ) -> Rows:
        """`adapted`: SQLAlchemy's adapter of the asyncpg connection that `conn` holds."""
        values = self.values(params)
        Counted.statements += 1
        try:
            try:
                prepared = await _prepared(conn, adapted, self.sql)
                records = await prepared.fetch(*values)
                status = prepared.get_statusmsg()
            except Exception as error:
                adapted._handle_exception(error)  # as the DBAPI error SQLAlchemy expects
        except BaseException as error:  # cancelled too: the connection's state is unknown
            await _raise_as_sqlalchemy(conn, error, self.sql)
        counted = _ROWCOUNT.match(status or "")
        return Rows(self.rows(records), int(counted.group(1)) if counted else -1)

    async def run_many(self, conn: AsyncConnection, adapted: Any,
                       params: Sequence[Mapping[str, Any]]) -> None:
        values = [self.values(p) for p in params]
        Counted.statements += 1
        try:
            try:
                prepared = await _prepared(conn, adapted, self.sql)
                await prepared.executemany(values)
            except Exception as error:
                adapted._handle_exception(error)
        except BaseException as error:
            await _raise_as_sqlalchemy(conn, error, self.sql)


async def _prepared(conn: AsyncConnection, adapted: Any, sql: str) -> Any:
    if adapted._transaction is None:
        await adapted._start_transaction()
    prepared, _ = await adapted._prepare(sql, conn.dialect._invalidate_schema_cache_asof)  # type: ignore[attr-defined]
    return prepared


async def _raise_as_sqlalchemy(conn: AsyncConnection, error: BaseException, sql: str
                               ) -> NoReturn:
    """SQLAlchemy's handling of a failed execution: the same exception class, and on a
    disconnect the connection and pool invalidated (which awaits, hence the greenlet)."""
    await greenlet_spawn(_handle, conn.sync_connection, error, sql)
    raise AssertionError("unreachable: SQLAlchemy re-raises")  # pragma: no cover


def _handle(sync: Connection | None, error: BaseException, sql: str) -> NoReturn:
    if sync is None:
        raise error
    try:
        raise error  # _handle_dbapi_exception reads the exception being handled
    except BaseException as raised:
        sync._handle_dbapi_exception(raised, sql, None, None, None)
