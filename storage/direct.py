"""The game's prebuilt SQLite statements run straight on the sqlite3 connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self, TypeVar

from sqlalchemy import Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound, StatementError

# SQLAlchemy's execution of one prebuilt statement (its execution context, cursor wrapper,
# result object and the greenlet hops of its asyncio layer) costs ~65 us on this machine, four
# times SQLite's own ~16 us; the game's units of work send 5 to 8 of them. These statements are
# compiled by SQLAlchemy once, with its own bind and result processors, so the values going in
# and out are exactly those it would send and return; only the execution is done here, inside
# the transaction SQLAlchemy began (BEGIN IMMEDIATE) and will commit.

Processor = Callable[[Any], Any] | None


class Counted:
    """How many statements ran here (the benchmark counts statements per action)."""

    statements = 0


class Rows:
    """The part of SQLAlchemy's Result the store reads: rows as tuples, and the row count."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def all(self) -> list[tuple[Any, ...]]:
        return self.rows

    def first(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def one(self) -> tuple[Any, ...]:
        if not self.rows:
            raise NoResultFound("No row was found when one was required")
        if len(self.rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when exactly one was required")
        return self.rows[0]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]


class Prebuilt:
    """One statement compiled once by SQLAlchemy for a dialect, with its processors."""

    __slots__ = ("args", "results", "sql")
    DIALECT: ClassVar[str]  # the dialect whose driver runs it

    def __init__(self, sql: str, args: list[tuple[str | None, Any]],
                 results: list[tuple[int, Callable[[Any], Any]]] | None) -> None:
        self.sql = sql
        self.args = args  # (parameter name, its processor) or (None, a constant's value)
        self.results = results  # (column index, its result processor), None if there is none

    @classmethod
    def compile(cls, statement: Executable, dialect: Dialect) -> Self | None:
        """None for what this does not handle: named parameters, or an IN list of values that
        come with the call."""
        compiled: Any = statement.compile(dialect=dialect)
        if compiled.positiontup is None:
            return None
        sql: str = compiled.string
        processors = compiled._bind_processors
        # Columns whose Python-side default SQLAlchemy fills in at execution: constants only.
        defaults = {c.key: c.default for c in compiled.insert_prefetch}
        defaults |= {c.key: c.onupdate for c in compiled.update_prefetch}
        args: list[tuple[str | None, Any]] = []
        # PostgreSQL's placeholders are numbered ($1, ...), in positiontup order without the
        # IN lists; a constant IN list's values are given the numbers after the last one.
        numbered = dialect.paramstyle == "numeric_dollar"
        tail: list[tuple[str | None, Any]] = []
        number = 1 + sum(not compiled.binds[n].expanding for n in compiled.positiontup)
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            process = processors.get(name)
            if name in defaults:
                default = defaults[name]
                if default is None or not default.is_scalar:
                    return None
                args.append((None, process(default.arg) if process else default.arg))
            elif bind.expanding:  # an IN list: only a constant one, written out here
                if bind.required or not isinstance(bind.value, list | tuple):
                    return None
                values = [(None, process(v) if process else v) for v in bind.value]
                if numbered:
                    marks = ", ".join(f"${number + i}" for i in range(len(values)))
                    number += len(values)
                    tail += values
                else:
                    marks = ", ".join("?" * len(values))
                    args += values
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", marks)
            elif bind.required:
                args.append((name, process))
            else:
                args.append((None, process(bind.value) if process else bind.value))
        if "POSTCOMPILE" in sql:
            return None
        args += tail
        results = [column.type._cached_result_processor(dialect, None)
                   for column in compiled._result_columns]
        if not all(_keeps_null(p) for p in results):
            return None  # rows() passes NULLs by unprocessed
        processed = [(i, p) for i, p in enumerate(results) if p is not None]
        return cls(sql, args, processed or None)  # None: rows as they come

    def rows(self, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """The driver's rows as SQLAlchemy would return them: through the result processors."""
        if self.results is None:
            return rows  # type: ignore[return-value]  # sqlite3's tuples, asyncpg's Records
        # Only the columns that have a processor, and a NULL passed by (every processor here
        # turns None into None): a union's rows are mostly NULLs of other parts' columns.
        processed = self.results
        out = []
        for row in rows:
            values = list(row)
            for i, process in processed:
                if values[i] is not None:
                    values[i] = process(values[i])
            out.append(tuple(values))
        return out

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        try:
            return [value if name is None else (value(params[name]) if value else params[name])
                    for name, value in self.args]
        except Exception as error:  # a value its type refuses (a naive time), as SQLAlchemy
            raise StatementError(f"({type(error).__name__}) {error}", self.sql, None, error,
                                 hide_parameters=True) from error



class Direct(Prebuilt):
    """A prebuilt statement for SQLite, run on the sqlite3 connection."""

    __slots__ = ()
    DIALECT = "sqlite"

    def run(self, conn: sqlite3.Connection, params: Mapping[str, Any]) -> Rows:
        return self._go(conn, lambda: conn.execute(self.sql, self.values(params)))

    def run_many(self, conn: sqlite3.Connection, params: Sequence[Mapping[str, Any]]) -> Rows:
        return self._go(conn, lambda: conn.executemany(self.sql, [self.values(p) for p in params]))

    def _go(self, conn: sqlite3.Connection, execute: Callable[[], sqlite3.Cursor]) -> Rows:
        Counted.statements += 1
        try:
            if not conn.in_transaction:  # SQLite ended it (an I/O error, a full disk)
                raise sqlite3.OperationalError("the transaction was rolled back by SQLite")
            cursor = execute()
            rows = cursor.fetchall() if cursor.description else []
            count = cursor.rowcount
            cursor.close()
        except sqlite3.Error as error:  # as SQLAlchemy would raise it: IntegrityError, ...
            raise DBAPIError.instance(self.sql, None, error, sqlite3.Error,
                                      hide_parameters=True) from error
        return Rows(self.rows(rows), count)


def _keeps_null(processor: Processor) -> bool:
    if processor is None:
        return True
    try:
        return processor(None) is None
    except Exception:
        return False


P = TypeVar("P", bound=Prebuilt)


def compile_all(kind: type[P], statements: Mapping[str, Executable], dialect: Dialect
                ) -> dict[str, P]:
    return {name: direct for name, statement in statements.items()
            if (direct := kind.compile(statement, dialect)) is not None}
