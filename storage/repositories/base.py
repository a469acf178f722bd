"""What every repository shares: the unit of work's connection, session and statements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.repositories.statements import IN_CREW, NUMBER_TRIES, pg_statements, statements
from storage.sqlite_loop import LoopConnection, LoopSession

# Called with the connection, the SQL and the parameters of each prebuilt statement run on
# asyncpg's own API, which SQLAlchemy's before_cursor_execute event does not see.
StatementHook = Callable[[AsyncConnection, str, Mapping[str, Any]], None]


class Db:
    """One transaction on one connection, which every repository of a unit of work uses.

    The prebuilt statements of the hot paths run on it as Core statements, and an ORM session
    is made on the same transaction only when a method needs one (most game actions never do;
    a session's set-up and commit cost more than two statements). On a SQLite file the
    connection is a LoopConnection, whose statements run on the loop's thread
    (storage/sqlite_loop.py)."""

    def __init__(self, conn: AsyncConnection | LoopConnection,
                 on_statement: StatementHook | None = None) -> None:
        self.conn = conn
        self.on_statement = on_statement
        # The crew this unit of work holds (SqlStore.hold_crew), once it holds one: every read
        # or write of an item by its id is then also kept to this crew (in_crew, run_in_crew),
        # so that it never reaches another crew's rows and each statement names its crew
        # (docs/SCALING.md, "Distributing by crew").
        self.crew: int | None = None
        self.dialect = conn.dialect.name
        self.sql = statements(self.dialect)
        self._session: AsyncSession | LoopSession | None = None
        self._pg = pg_statements(conn.dialect) if self.dialect == "postgresql" else {}
        self._driver: Any = None  # asyncpg's connection, on PostgreSQL

    @property
    def session(self) -> AsyncSession | LoopSession:
        if self._session is None:
            # control_fully: the session's commit and rollback are the connection's.
            self._session = (LoopSession(self.conn) if isinstance(self.conn, LoopConnection)
                             else AsyncSession(bind=self.conn, expire_on_commit=False,
                                               join_transaction_mode="control_fully"))
        return self._session

    async def run(self, name: str, **params: Any) -> Any:
        """Runs a prebuilt statement on the connection as a Core statement, past the ORM layer
        (every ORM write here flushes at once, so there is nothing to autoflush first); on
        PostgreSQL on asyncpg's own API once the transaction has begun."""
        fast = self._pg.get(name)
        if fast is not None and (driver := await self._in_pg_transaction()) is not None:
            if self.on_statement is not None:
                self.on_statement(self.conn, fast.sql, params)  # type: ignore[arg-type]
            return await fast.run(self.conn, driver, params)
        return await self.conn.execute(self.sql[name], params)

    def in_crew(self, *tables: Any) -> tuple[Any, ...]:
        """Conditions keeping a statement on these tables (ORM classes) to the held crew; none
        while no crew is held."""
        return () if self.crew is None else tuple(t.crew_id == self.crew for t in tables)

    async def run_in_crew(self, name: str, **params: Any) -> Any:
        """`run` of a statement that finds an item by its id, kept to the held crew (its
        IN_CREW variant) once one is held."""
        if self.crew is None:
            return await self.run(name, **params)
        return await self.run(name + IN_CREW, in_crew=self.crew, **params)

    async def run_many(self, name: str, rows: list[dict[str, Any]]) -> None:
        """`run` once per row (no rows returned): the driver's executemany."""
        fast = self._pg.get(name)
        if fast is not None and (driver := await self._in_pg_transaction()) is not None:
            if self.on_statement is not None:
                for row in rows:
                    self.on_statement(self.conn, fast.sql, row)  # type: ignore[arg-type]
            await fast.run_many(self.conn, driver, rows)
            return
        await self.conn.execute(self.sql[name], rows)

    async def _in_pg_transaction(self) -> Any:
        """asyncpg's connection once SQLAlchemy's transaction has begun on it, else None: its
        asyncpg adapter sends BEGIN with the unit of work's first statement, which therefore
        goes through SQLAlchemy."""
        if self._driver is None:
            self._driver = (await self.conn.get_raw_connection()).driver_connection
        return self._driver if self._driver.is_in_transaction() else None

    async def first(self, name: str, **params: Any) -> Any:
        """The first row a prebuilt statement returned, or None."""
        return (await self.run(name, **params)).first()

    async def first_of(self, statement: Executable) -> Any:
        return (await self.session.execute(statement)).first()

    def insert(self, table: Any) -> Any:
        return (pg_insert if self.dialect == "postgresql" else sqlite_insert)(table)

    async def commit(self) -> None:
        # The session commits the transaction only if it began it (or joined it since its
        # last commit or rollback); a statement run on the connection after that began its own.
        if self._session is not None:
            await self._session.commit()
        if self.conn.in_transaction():
            await self.conn.commit()

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()
        if self.conn.in_transaction():
            await self.conn.rollback()

    async def close(self) -> None:
        """Rolls back what was not committed and closes the session, if one was made."""
        await self.rollback()
        if self._session is not None:
            await self._session.close()


async def numbered(insert_once: Callable[[], Awaitable[Any]]) -> Any:
    """The row an insert taking the `next_number` returned, trying again while it returns none.

    Two PostgreSQL transactions inserting at once read the same greatest number. The second
    insert waits on the unique index until the first commits, then does nothing (ON CONFLICT
    DO NOTHING), and the same insert again, a new statement with a new snapshot, reads the
    first one's number and takes the next: no error, no repeated unit of work (which a burst
    of asks in one crew would exhaust). SQLite's writers take turns, so its first try wins."""
    for _ in range(NUMBER_TRIES):
        row = await insert_once()
        if row is not None:
            return row
    raise RuntimeError(f"no free item number after {NUMBER_TRIES} tries")


