"""The game's PostgreSQL statements run on asyncpg's public API, in SQLAlchemy's transaction."""

from __future__ import annotations

import asyncio
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy import CompoundSelect, Executable, Select, TextClause
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import (
    DatabaseError,
    DataError,
    DBAPIError,
    IntegrityError,
    MultipleResultsFound,
    NoResultFound,
    OperationalError,
    StatementError,
)
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:  # imported when an error needs it: a SQLite bot never loads asyncpg
    import asyncpg

# Through SQLAlchemy's execution (its execution context, cursor adapter, result object and
# the greenlet hops of its asyncio layer) one of these statements cost the bot about as much
# CPU again as asyncpg's own work. So each is compiled once by SQLAlchemy, with the bind and
# result processors of its types (TypeEngine.bind_processor / result_processor), and run with
# asyncpg's Connection.fetch / execute (its statement cache prepares it once per connection),
# inside the transaction SQLAlchemy's asyncpg adapter began with the unit of work's first
# statement; commit and rollback stay SQLAlchemy's. An error is raised as the SQLAlchemy
# exception it would have raised, and a lost connection is invalidated for the retry.

Processor = Callable[[Any], Any] | None


class Rows:
    """The part of SQLAlchemy's Result the store reads: rows whose columns are read by name, as
    SQLAlchemy's Row is, and the row count."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def all(self) -> list[Any]:
        return self.rows

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def one(self) -> Any:
        if not self.rows:
            raise NoResultFound("No row was found when one was required")
        if len(self.rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when exactly one was required")
        return self.rows[0]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]


def row_class(keys: Sequence[str | None]) -> type[tuple[Any, ...]]:
    """A named tuple class of these column keys: rows read by name (`row.member_id`), as
    SQLAlchemy's rows are; one class per statement, made when it is compiled. A column without
    a usable name (an unlabelled expression) gets a positional one, and is not read by name."""
    return namedtuple("Row", [str(k) for k in keys], rename=True)  # type: ignore[return-value]


_TEXT_ROWS: dict[tuple[str, ...], type[tuple[Any, ...]]] = {}


def _keeps_null(processor: Processor) -> bool:
    if processor is None:
        return True
    try:
        return processor(None) is None
    except Exception:
        return False


def _result_columns(statement: Executable) -> Sequence[Any] | None:
    if isinstance(statement, Select | CompoundSelect):
        return list(statement.selected_columns)
    if isinstance(statement, TextClause):
        return None  # rows as asyncpg decodes them
    return list(getattr(statement, "exported_columns", ()))  # INSERT/UPDATE ... RETURNING


class PgStatement:
    """One statement compiled once by SQLAlchemy for PostgreSQL, with its types' processors."""

    __slots__ = ("args", "results", "returns", "row", "sql")

    def __init__(self, sql: str, args: list[tuple[str | None, Any]],
                 results: list[tuple[int, Callable[[Any], Any]]] | None, returns: bool,
                 row: type[tuple[Any, ...]] | None = None) -> None:
        self.sql = sql
        self.args = args  # (parameter name, its processor) or (None, a constant's value)
        self.results = results  # (column index, its result processor); None: rows as they come
        self.returns = returns  # whether it returns rows (else its status gives the row count)
        self.row = row  # the rows' class; None: from the first record's keys (a text statement)

    @classmethod
    def compile(cls, statement: Executable, dialect: Dialect) -> PgStatement | None:
        """None for what this does not handle (an IN list, a default computed in Python): that
        statement runs through SQLAlchemy."""
        compiled: Any = statement.compile(dialect=dialect)
        sql: str = compiled.string
        if compiled.positiontup is None:
            return None
        # Columns whose Python-side default SQLAlchemy fills in at execution: constants only.
        defaults = {c.key: c.default for c in compiled.insert_prefetch}
        defaults |= {c.key: c.onupdate for c in compiled.update_prefetch}
        args: list[tuple[str | None, Any]] = []
        # The placeholders are numbered ($1, ...) in positiontup order without the IN lists; a
        # constant IN list's values are given the numbers after the last one.
        tail: list[tuple[str | None, Any]] = []
        number = 1 + sum(not compiled.binds[n].expanding for n in compiled.positiontup)
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in defaults:
                default = defaults[name]
                if default is None or not default.is_scalar:
                    return None
                args.append((None, process(default.arg) if process else default.arg))
            elif bind.expanding:  # an IN list: only a constant one, written out here
                if bind.required or not isinstance(bind.value, list | tuple):
                    return None
                marks = ", ".join(f"${number + i}" for i in range(len(bind.value)))
                number += len(bind.value)
                tail += [(None, process(v) if process else v) for v in bind.value]
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", marks)
            elif bind.required:
                args.append((name, process))
            else:
                args.append((None, process(bind.value) if process else bind.value))
        if "POSTCOMPILE" in sql:
            return None
        args += tail
        columns = _result_columns(statement)
        if columns is None:
            return cls(sql, args, None, True)
        results = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        if not all(_keeps_null(p) for p in results):
            return None  # rows() passes NULLs by unprocessed
        processed = [(i, p) for i, p in enumerate(results) if p is not None]
        return cls(sql, args, processed or None, bool(columns),
                   row_class([c.key for c in columns]) if columns else None)

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        try:
            return [value if name is None else (value(params[name]) if value else params[name])
                    for name, value in self.args]
        except Exception as error:  # a value its type refuses (a naive time), as SQLAlchemy
            raise StatementError(f"({type(error).__name__}) {error}", self.sql, None, error,
                                 hide_parameters=True) from error

    def rows(self, records: Sequence[Any]) -> list[Any]:
        """asyncpg's records as SQLAlchemy would return them: through the result processors,
        only on the columns that have one, and a NULL passed by (a union's rows are mostly
        NULLs of the other parts' columns)."""
        row = self.row
        if row is None:
            if not records:
                return []
            keys = tuple(records[0].keys())
            row = _TEXT_ROWS.get(keys) or _TEXT_ROWS.setdefault(keys, row_class(keys))
        if self.results is None:
            return [row(*record) for record in records]
        out = []
        for record in records:
            values = list(record)
            for i, process in self.results:
                if values[i] is not None:
                    values[i] = process(values[i])
            out.append(row(*values))
        return out

    async def run(self, conn: AsyncConnection, driver: asyncpg.Connection,
                  params: Mapping[str, Any]) -> Rows:
        """`driver`: the asyncpg connection `conn` holds, already in SQLAlchemy's transaction."""
        values = self.values(params)
        try:
            if self.returns:
                records = await driver.fetch(self.sql, *values)
                return Rows(self.rows(records), len(records))
            status = await driver.execute(self.sql, *values)
        except BaseException as error:
            await _raise_as_sqlalchemy(conn, error, self.sql)
        count = status.rsplit(" ", 1)[-1]
        return Rows([], int(count) if count.isdigit() else -1)

    async def run_many(self, conn: AsyncConnection, driver: asyncpg.Connection,
                       params: Sequence[Mapping[str, Any]]) -> None:
        values = [self.values(p) for p in params]
        try:
            await driver.executemany(self.sql, values)
        except BaseException as error:
            await _raise_as_sqlalchemy(conn, error, self.sql)


async def _raise_as_sqlalchemy(conn: AsyncConnection, error: BaseException, sql: str
                               ) -> NoReturn:
    """Raises the exception SQLAlchemy raises for this asyncpg error; a lost connection, or a
    statement cancelled half-way (its connection's state unknown), is invalidated first so
    the pool hands out a fresh one."""
    import asyncpg

    kind: type[DBAPIError] | None = None
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        kind = IntegrityError
    elif isinstance(error, asyncpg.SerializationError | asyncpg.DeadlockDetectedError
                    | asyncpg.LockNotAvailableError):
        kind = OperationalError
    elif isinstance(error, asyncpg.DataError):
        kind = DataError
    elif isinstance(error, asyncpg.PostgresError):
        kind = DatabaseError
    if kind is not None:
        raise kind(sql, None, error, hide_parameters=True) from error  # type: ignore[arg-type]
    await asyncio.shield(conn.invalidate())
    if not isinstance(error, Exception):  # cancelled, or the process is exiting
        raise error
    raise DBAPIError(sql, None, error, hide_parameters=True,  # type: ignore[arg-type]
                     connection_invalidated=True) from error
