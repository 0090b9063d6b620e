"""Reading a large result in bounded memory: COPY ... TO STDOUT, or a server-side cursor.

Both hold one session's connection for the export's duration, in one read-only transaction (a consistent
snapshot: rows committed meanwhile are not half in, half out), and yield chunks of about
`CHUNK_BYTES`: one HTTP write per chunk, not per row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import sqlalchemy as sa
from psycopg import AsyncConnection, sql

from app.db import Database

CHUNK_BYTES = 64 * 1024
# Rows fetched per round trip from the server-side cursor.
ROWS_PER_FETCH = 2000


def iso(column: str) -> str:
    """`column` (timestamptz) as ISO 8601 text in UTC, e.g. 2026-01-02T03:04:05.000006Z."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


async def copy_out(db: Database, statement: sql.Composed) -> AsyncIterator[bytes]:
    """The output of a `COPY (...) TO STDOUT` statement, in chunks."""
    async with db.session() as session:
        raw = await (await session.connection()).get_raw_connection()
        driver: AsyncConnection[object] = raw.driver_connection  # type: ignore[assignment]
        await driver.execute("SET TRANSACTION READ ONLY")
        async with driver.cursor() as cursor, cursor.copy(statement) as copy:
            buffer = bytearray()
            async for data in copy:
                buffer += data
                if len(buffer) >= CHUNK_BYTES:
                    yield bytes(buffer)
                    buffer.clear()
            if buffer:
                yield bytes(buffer)


async def lines(db: Database, statement: sa.Executable) -> AsyncIterator[bytes]:
    """Each row's only (text) column as one line, in chunks."""
    async with db.session() as session:
        connection = await session.connection()
        await connection.execute(sa.text("SET TRANSACTION READ ONLY"))
        result = await connection.stream(statement.execution_options(yield_per=ROWS_PER_FETCH))
        buffer: list[str] = []
        size = 0
        async for (text,) in result:
            buffer.append(text)
            size += len(text) + 1
            if size >= CHUNK_BYTES:
                yield _joined(buffer)
                buffer, size = [], 0
        if buffer:
            yield _joined(buffer)


def _joined(texts: list[str]) -> bytes:
    return ("\n".join(texts) + "\n").encode()


async def row_batches(db: Database, statement: sa.Executable) -> AsyncIterator[list[sa.RowMapping]]:
    """The rows of `statement` as mappings, `ROWS_PER_FETCH` at a time."""
    async with db.session() as session:
        connection = await session.connection()
        await connection.execute(sa.text("SET TRANSACTION READ ONLY"))
        result = await connection.stream(statement.execution_options(yield_per=ROWS_PER_FETCH))
        async for rows in result.mappings().partitions():
            yield list(rows)
