"""Database engines and transactions: SQLite (WAL, durable commits) by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
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

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run a synchronous unit of work in one transaction, off the event loop.

        Why: through the async drivers every statement is a hand-off between the event loop and the driver
        (aiosqlite's thread, or asyncpg through SQLAlchemy's greenlet bridge); for a submission that cost
        more than its cryptography (benchmarks/README.md). Here the whole unit of work, sealing included,
        runs in one worker thread on a plain synchronous connection, and the event loop stays free.
        """
        with _outage_as_unavailable():
            return await asyncio.to_thread(self._run_in_thread, work)

    def _run_in_thread(self, work: Callable[[Session], T]) -> T:
        with Session(self._sync_engine, expire_on_commit=False) as session, session.begin():
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
    """The same, in a synchronous unit of work.

    Why not ORM objects: on the submission path the ORM's per-object bookkeeping and flushes cost more than
    the cryptography (benchmarks/README.md); a Core insert on the table compiles once and is reused.
    """
    if rows:
        session.connection().execute(model.__table__.insert(), rows)  # type: ignore[attr-defined]
