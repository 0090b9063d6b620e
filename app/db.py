"""The async engine, sessions and the unit of work; id and column helpers shared by all tables."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Field
from sqlmodel.ext.asyncio.session import AsyncSession

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
T = TypeVar("T")


def new_id() -> str:
    """A 25-character, time-ordered, opaque id in the spirit of ValueRank's cuids."""
    millis = int(time.time() * 1000)
    stamp = ""
    while millis:
        millis, digit = divmod(millis, 36)
        stamp = _ALPHABET[digit] + stamp
    rand = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "c" + stamp.rjust(8, "0") + rand


def sqlalchemy_url(url: str) -> str:
    """`postgresql://...` (what users write) → the psycopg 3 dialect SQLAlchemy needs."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


def libpq_url(url: str) -> str:
    """The plain `postgresql://` form psycopg and Procrastinate take."""
    return "postgresql://" + sqlalchemy_url(url)[len("postgresql+psycopg://") :]


# Column helpers: timestamps are timestamptz with server defaults so raw SQL inserts get them too.
def id_field() -> Any:
    return Field(default_factory=new_id, primary_key=True, max_length=40)


def created_at_field() -> Any:
    return Field(
        default=None,
        sa_type=sa.DateTime(timezone=True),
        sa_column_kwargs={"server_default": sa.func.now(), "nullable": False},
    )


def updated_at_field() -> Any:
    return Field(
        default=None,
        sa_type=sa.DateTime(timezone=True),
        sa_column_kwargs={
            "server_default": sa.func.now(),
            "onupdate": sa.func.now(),
            "nullable": False,
        },
    )


def timestamp_field(*, index: bool = False) -> Any:
    return Field(default=None, sa_type=sa.DateTime(timezone=True), index=index)


def json_field(*, nullable: bool = False, server_default: str | None = None) -> Any:
    kwargs: dict[str, Any] = {"nullable": nullable}
    if server_default is not None:
        kwargs["server_default"] = sa.text(f"'{server_default}'::jsonb")
    return Field(default=None, sa_type=JSONB, sa_column_kwargs=kwargs)


def check_in(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=name)


# A server process never holds more than POOL_SIZE + MAX_OVERFLOW connections (plus its one
# LISTEN connection), however many requests or subscribers it serves.
POOL_SIZE = 10
MAX_OVERFLOW = 10


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement and its parameters, for `Database.pipeline`."""

    clause: sa.TextClause
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Done:
    """What a statement of `Database.pipeline` did: the rows it counted and returned."""

    rowcount: int
    rows: list[tuple[Any, ...]]

    def scalar(self) -> Any:
        """The first column of the first row, or None without rows."""
        return self.rows[0][0] if self.rows else None


class Database:
    """One engine per process; sessions never outlive a request or a job."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = POOL_SIZE,
        max_overflow: int = MAX_OVERFLOW,
        pre_ping: bool = True,
    ) -> None:
        self.url = libpq_url(url)
        self.engine: AsyncEngine = create_async_engine(
            sqlalchemy_url(url),
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=pre_ping,
        )
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._readers = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"),
            class_=AsyncSession,
            expire_on_commit=False,
        )

    def new_session(self) -> AsyncSession:
        """A session the caller closes."""
        return self._sessions()

    def new_reader(self) -> AsyncSession:
        """A session for reads only, that the caller closes (see `RequestSession`). Each
        statement is its own transaction, as in `autocommit`: a request's reads save the BEGIN
        and ROLLBACK round trips, and see what they would in a transaction (READ COMMITTED
        takes a snapshot per statement). Without the ROLLBACK, psycopg keeps the statements
        it prepared on the connection from one request to the next."""
        return self._readers()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit: rolled back at the end."""
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block succeeds, rolls back when it raises."""
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncSession]:
        """Each statement its own transaction, committed as it ends: no BEGIN or COMMIT round
        trips, and a transaction-level lock a statement takes ends with that statement."""
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            async with AsyncSession(bind=connection, expire_on_commit=False) as session:
                yield session

    async def autocommit_or_undo(
        self,
        work: Callable[[AsyncSession], Awaitable[T]],
        undo: Callable[[T], Awaitable[None]],
    ) -> T:
        """`work` in an autocommit session, run to its end even if the caller is cancelled
        meanwhile (an aborted job): what it committed is then handed to `undo` before the
        cancellation goes on, so nothing it took is left behind."""

        async def working() -> T:
            async with self.autocommit() as session:
                return await work(session)

        task = asyncio.ensure_future(working())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await undo(await task)
            raise

    async def pipeline(
        self, transaction: Sequence[Statement], then: Sequence[Statement] = ()
    ) -> list[Done]:
        """`transaction` in one transaction, then each of `then` on its own, after the commit
        (so it sees everything committed before it), sent together and answered together: one
        round trip (psycopg's pipeline mode) where a transaction and a look after it took one
        per statement and two more for BEGIN and COMMIT (issue 14). Returns what each statement
        did, in order. Raises the first error; nothing of `transaction` is then committed."""
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            raw = (await connection.get_raw_connection()).driver_connection
            assert isinstance(raw, psycopg.AsyncConnection)
            try:
                return await _pipelined(raw, connection.dialect, transaction, then)
            except BaseException:
                if raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    await asyncio.shield(raw.rollback())
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()


async def _pipelined(
    raw: psycopg.AsyncConnection[Any],
    dialect: sa.Dialect,
    transaction: Sequence[Statement],
    then: Sequence[Statement],
) -> list[Done]:
    cursors: list[psycopg.AsyncCursor[Any]] = []
    async with raw.pipeline():
        await raw.execute("BEGIN")
        for statement in transaction:
            cursors.append(await _send(raw, dialect, statement))
        await raw.execute("COMMIT")
        for statement in then:
            cursors.append(await _send(raw, dialect, statement))
    return [
        Done(cursor.rowcount, list(await cursor.fetchall()) if cursor.description else [])
        for cursor in cursors
    ]


async def _send(
    raw: psycopg.AsyncConnection[Any], dialect: sa.Dialect, statement: Statement
) -> psycopg.AsyncCursor[Any]:
    compiled = _compiled(statement.clause, dialect)
    cursor = raw.cursor()
    await cursor.execute(str(compiled), compiled.construct_params(dict(statement.params)))
    return cursor


_COMPILED: dict[tuple[int, str], tuple[sa.TextClause, Any]] = {}


def _compiled(clause: sa.TextClause, dialect: sa.Dialect) -> Any:
    """The clause in the driver's parameter style, compiled once per clause (the pipeline's
    statements are module constants; the clause is kept with it so its id is not reused)."""
    key = (id(clause), dialect.name)
    if key not in _COMPILED:
        if len(_COMPILED) >= 256:  # a caller building clauses per call: stay bounded
            _COMPILED.clear()
        _COMPILED[key] = (clause, clause.compile(dialect=dialect))
    return _COMPILED[key][1]


def is_transient(exc: BaseException) -> bool:
    """True when `exc` (or what it wraps) says the database went away or is not answering yet:
    a dropped or refused connection, a server shutting down or starting up, a pool that could not
    connect in time. Such an error is worth waiting out and retrying; any other is a bug or a
    refusal that a retry would only repeat. Procrastinate's ConnectorException and SQLAlchemy's
    DBAPIError wrap the psycopg error, so the whole cause chain is read."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # OperationalError covers connection failures (08xxx), admin shutdown and "starting
        # up" (57Pxx) and psycopg_pool's PoolTimeout; ConnectionError, sockets reset under us.
        if isinstance(current, psycopg.OperationalError | ConnectionError):
            return True
        if isinstance(current, sa.exc.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


def describe(exc: BaseException) -> str:
    """One line for a log: the innermost error's type and first line (no traceback)."""
    innermost, seen = exc, {id(exc)}
    while (inner := innermost.__cause__ or innermost.__context__) and id(inner) not in seen:
        innermost = inner
        seen.add(id(inner))
    text = str(innermost).strip().splitlines()
    return f"{type(innermost).__name__}: {text[0]}" if text else type(innermost).__name__


def now() -> datetime:
    return datetime.now(UTC)
