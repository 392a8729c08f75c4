"""Database engines and transactions: SQLite (WAL, durable commits) by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Session, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.errors import DatabaseUnavailableError, InputError

T = TypeVar("T")
READ_ONLY = "candour_read_only"


@dataclass(frozen=True)
class DatabaseConfig:
    """What the vault needs to open its database; built from settings by the composition root."""

    url: str
    sqlite_synchronous: str = "FULL"
    pool_size: int = 5
    echo: bool = False


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for in-memory)."""
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def create_engine(config: DatabaseConfig) -> AsyncEngine:
    """An async engine; on SQLite every connection is put in WAL mode with the configured durability."""
    try:
        url = make_url(config.url)
    except ArgumentError as exc:
        raise InputError(f"the database URL is not valid: {exc}") from None
    if url.drivername in {"sqlite", "sqlite+pysqlite"}:
        url = url.set(drivername="sqlite+aiosqlite")
    if url.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
        url = url.set(drivername="postgresql+asyncpg")
    if url.drivername not in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
        raise InputError(f"unsupported database driver {url.drivername!r}: use sqlite or postgresql")
    kwargs: dict[str, Any] = {"echo": config.echo}
    if url.drivername.startswith("sqlite"):
        # isolation_level=None hands transaction control to us, so we can say BEGIN IMMEDIATE:
        # writers queue on the lock at the start instead of failing half-way with "database is locked".
        kwargs["connect_args"] = {"timeout": 30, "isolation_level": None}
    else:
        kwargs["pool_size"] = config.pool_size
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    if url.drivername.startswith("sqlite"):
        _configure_sqlite(engine, config.sqlite_synchronous)
    return engine


def _sync_engine(config: DatabaseConfig, async_engine: AsyncEngine) -> Engine:
    """A synchronous engine on the same database (pysqlite or psycopg), for units of work run whole in a
    worker thread."""
    url = async_engine.url
    if url.drivername.startswith("sqlite"):
        engine = sqlalchemy.create_engine(
            url.set(drivername="sqlite+pysqlite"),
            echo=config.echo,
            connect_args={"timeout": 30, "isolation_level": None, "check_same_thread": False},
        )
        _configure_sqlite(engine, config.sqlite_synchronous)
        return engine
    return sqlalchemy.create_engine(
        url.set(drivername="postgresql+psycopg"),
        echo=config.echo,
        pool_size=config.pool_size,
        pool_pre_ping=True,
    )


def _configure_sqlite(engine: AsyncEngine | Engine, synchronous: str) -> None:
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Why: purged rows are overwritten, not left in free pages for a file-carving attacker.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Why deferred for readers: WAL lets them read beside a writer; taking the write lock to read
        # made every chat's draft lookup queue behind every other chat's save.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    """The engine plus a session factory; `transaction()` is the unit of work of every vault operation."""

    def __init__(self, config: DatabaseConfig) -> None:
        self.config = config
        self.engine = create_engine(config)
        self.sqlite = is_sqlite(config.url)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._sync_engine = _sync_engine(config, self.engine)

    @property
    def sync_engine(self) -> Engine:
        """The synchronous engine that `run` works on (for instrumentation; front doors use `run`)."""
        return self._sync_engine

    async def run(self, work: Callable[[Session], T], *, read_only: bool = False) -> T:
        """Run a synchronous unit of work in one transaction, off the event loop.

        Why: through the async drivers every statement is a hand-off between the event loop and the driver
        (aiosqlite's thread, or asyncpg through SQLAlchemy's greenlet bridge); for a submission that cost
        more than its cryptography (benchmarks/README.md). Here the whole unit of work, sealing included,
        runs in one worker thread on a plain synchronous connection, and the event loop stays free.
        """
        with _outage_as_unavailable():
            return await asyncio.to_thread(self._run_in_thread, work, read_only)

    def _run_in_thread(self, work: Callable[[Session], T], read_only: bool = False) -> T:
        with Session(self._sync_engine, expire_on_commit=False) as session, session.begin():
            if read_only:
                # On SQLite a plain BEGIN: readers do not queue for the write lock (see _configure_sqlite).
                session.connection(execution_options={READ_ONLY: True})
            return work(session)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed if the block succeeds, rolled back if it raises."""
        with _outage_as_unavailable():
            async with self._sessions() as session, session.begin():
                yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction: on SQLite it does not take the write lock."""
        with _outage_as_unavailable():
            async with self._sessions() as session:
                # Procuring the connection with the option begins the session's transaction with it.
                await session.connection(execution_options={READ_ONLY: True})
                yield session
                await session.commit()

    async def ping(self) -> None:
        """Raise DatabaseUnavailableError unless the database answers."""
        async with self.transaction() as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]

    async def dispose(self) -> None:
        await self.engine.dispose()
        self._sync_engine.dispose()


@contextmanager
def _outage_as_unavailable() -> Iterator[None]:
    """Turn operational failures (server gone, connection refused, SQLite busy past its timeout) into
    DatabaseUnavailableError, so front doors can say "try again shortly"; anything else propagates."""
    try:
        yield
    except OperationalError as exc:
        raise DatabaseUnavailableError(_describe_unavailable(exc)) from None
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise DatabaseUnavailableError(_describe_unavailable(exc)) from None
        raise
    except OSError as exc:
        # asyncpg reports refused or unreachable servers as plain socket errors.
        raise DatabaseUnavailableError(_describe_unavailable(exc)) from None


def _describe_unavailable(exc: BaseException) -> str:
    # Why not str(exc): driver messages can carry the URL with a password.
    orig = getattr(exc, "orig", exc)
    return f"the database is unavailable ({type(orig).__name__})"


async def insert_rows(session: AsyncSession, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Insert plain rows in the session's transaction with one cached executemany statement."""
    if rows:
        await session.run_sync(insert_rows_sync, model, rows)


def insert_rows_sync(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """The same, in a synchronous unit of work."""
    write_rows_sync(session, [(model, rows)])


def write_rows_sync(session: Session, batches: Sequence[tuple[type[SQLModel], list[dict[str, Any]]]]) -> None:
    """Insert the rows of several tables, in order, in the session's transaction.

    Why below the ORM: on the submission path SQLAlchemy's per-statement work (compilation cache lookups,
    execution contexts, result set-up) and one round trip per table cost more than the cryptography
    (benchmarks/README.md). Each table's rows go in one multi-row INSERT, compiled once per dialect and
    row count with the columns' own bind processors, then handed to the driver; on PostgreSQL all tables
    go in one psycopg pipeline, a single round trip. Rows of one table must give the same columns; a
    column left out must have no Python-side default. Through an async driver (AsyncSession.run_sync) the
    rows go through SQLAlchemy Core instead.
    """
    batches = [(model, rows) for model, rows in batches if rows]
    if not batches:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.driver not in {"psycopg", "pysqlite"}:
        for model, rows in batches:
            connection.execute(model.__table__.insert(), rows)  # type: ignore[attr-defined]
        return
    statements = []
    for model, rows in batches:
        table: sqlalchemy.Table = model.__table__  # type: ignore[attr-defined]
        keys = tuple(rows[0])
        # Why these bounds: psycopg caches the parsing of a statement only up to 4 KiB and 50 parameters.
        step = min(len(rows), max(1, _MAX_PARAMETERS // len(keys)))
        while step > 1 and len(_insert_plan(dialect, table, keys, step).sql) > _MAX_STATEMENT_CHARS:
            step //= 2
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            plan = _insert_plan(dialect, table, keys, len(chunk))
            statements.append((plan.sql, plan.parameters(chunk)))
    driver = connection.connection.driver_connection
    assert driver is not None
    if dialect.driver == "psycopg":
        # Why binary: ciphertext goes as bytes, not as hex text twice its size for the server to parse.
        with driver.pipeline(), driver.cursor(binary=True) as cursor:
            for sql, parameters in statements:
                cursor.execute(sql, parameters)
        return
    cursor = driver.cursor()
    try:
        for sql, parameters in statements:
            cursor.execute(sql, parameters)
    finally:
        cursor.close()


_MAX_PARAMETERS = 50
_MAX_STATEMENT_CHARS = 4096


@dataclass(frozen=True)
class _InsertPlan:
    """A multi-row INSERT of one table for given columns and row count, with positional parameters."""

    sql: str
    keys: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]

    def parameters(self, rows: list[dict[str, Any]]) -> list[Any]:
        values: list[Any] = []
        for row in rows:
            for key, process in zip(self.keys, self.processors, strict=True):
                value = row[key]
                values.append(value if process is None else process(value))
        return values


@functools.lru_cache(maxsize=1024)
def _insert_plan(dialect: Any, table: sqlalchemy.Table, keys: tuple[str, ...], count: int) -> _InsertPlan:
    """Compiled once per dialect, table, columns and row count (a pure function of them, so cached)."""
    missing = [c.name for c in table.columns if c.name not in keys and c.default is not None]
    if missing:
        raise ValueError(f"rows for {table.name} leave out columns with defaults: {', '.join(missing)}")
    names = [[f"{key}__{index}" for key in keys] for index in range(count)]
    statement = table.insert().values(
        [
            {
                key: sqlalchemy.bindparam(name, type_=table.columns[key].type)
                for key, name in zip(keys, row, strict=True)
            }
            for row in names
        ]
    )
    # Why a positional copy of the dialect: the parameters can then be one flat list in row order.
    compiled = statement.compile(
        dialect=type(dialect)(paramstyle="qmark" if dialect.name == "sqlite" else "format")
    )
    if list(compiled.positiontup or ()) != [name for row in names for name in row]:
        raise RuntimeError(f"unexpected parameter order compiling the insert into {table.name}")
    return _InsertPlan(
        sql=compiled.string,
        keys=keys,
        processors=tuple(
            table.columns[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys
        ),
    )


@dataclass(frozen=True)
class Query:
    """A hot read written out for each engine, so it can skip SQLAlchemy and, on PostgreSQL, share a round
    trip with others (see `pipeline_sync`). Parameters are positional; a list parameter is an array on
    PostgreSQL (`= ANY(%s)`) and a JSON array on SQLite (`IN (SELECT value FROM json_each(?))`)."""

    postgresql: str
    sqlite: str


class Pending:
    """The rows of a query sent, perhaps not yet answered (inside a pipeline); `rows()` waits for them."""

    def __init__(self, fetch: Callable[[], list[tuple[Any, ...]]]) -> None:
        self._fetch = fetch
        self._rows: list[tuple[Any, ...]] | None = None

    def rows(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            self._rows = self._fetch()
        return self._rows

    def first(self) -> tuple[Any, ...] | None:
        rows = self.rows()
        return rows[0] if rows else None


def query_sync(session: Session, query: Query, *parameters: Any) -> Pending:
    """Send a read in the session's transaction (queued, inside `pipeline_sync` on PostgreSQL)."""
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql":
        values = tuple(parameters)
        driver = connection.connection.driver_connection
        if dialect.driver == "psycopg" and driver is not None:
            cursor = driver.cursor()
            cursor.execute(query.postgresql, values)

            def fetch() -> list[tuple[Any, ...]]:
                with cursor:
                    return [tuple(row) for row in cursor.fetchall()]

            return Pending(fetch)
        sql = query.postgresql
        if dialect.paramstyle == "numeric_dollar":  # asyncpg, when called through AsyncSession.run_sync
            sql = _numbered(sql)
        result = connection.exec_driver_sql(sql, values)
    else:
        values = tuple(json.dumps(p) if isinstance(p, list | tuple) else p for p in parameters)
        driver = connection.connection.driver_connection
        if dialect.driver == "pysqlite" and driver is not None:
            # In-process: nothing to pipeline, but the raw cursor skips SQLAlchemy's result set-up.
            cursor = driver.cursor()
            try:
                found = [tuple(row) for row in cursor.execute(query.sqlite, values).fetchall()]
            finally:
                cursor.close()
            return Pending(lambda: found)
        result = connection.exec_driver_sql(query.sqlite, values)
    rows = [tuple(row) for row in result]
    return Pending(lambda: rows)


def _numbered(sql: str) -> str:
    parts = sql.split("%s")
    return parts[0] + "".join(f"${index}{part}" for index, part in enumerate(parts[1:], start=1))


@contextmanager
def pipeline_sync(session: Session) -> Iterator[None]:
    """Within the block, reads sent with `query_sync` on PostgreSQL (psycopg) share one round trip; their
    rows are there once the block ends. Elsewhere the block changes nothing."""
    connection = session.connection()
    driver = connection.connection.driver_connection
    if connection.dialect.driver == "psycopg" and driver is not None:
        with driver.pipeline():
            yield
    else:
        yield
