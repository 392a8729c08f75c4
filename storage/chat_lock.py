"""Per-chat locks in the database, so that one chat's updates never overlap across intake replicas.

Threat: a lost answer. Each update of a chat loads the chat's sealed state, lets a flow answer (which talks
to Telegram and may clean a file) and saves the state; two handlings of one chat at once would both start
from the same state, and the second save would drop the first's answer. Telegram sends a chat's next update
only once the current one is answered, and one process orders a chat's updates itself
(bot.application.ChatOrderedProcessor); but a delivery that times out is sent again, possibly to another
replica, while the first is still being handled, and a replica's push delivery touches the same state.

On PostgreSQL the lock is `pg_advisory_xact_lock` on a keyed hash of the chat (never the chat itself: the
key shows in pg_locks), held by a transaction of its own, on a connection of its own, for the whole
handling. Why not in the transaction that loads or saves the state: those are two short transactions with
the flow's Telegram calls between them, and a lock taken in either would be gone before the other. Why a
transaction lock rather than a session lock: the server releases it when the transaction ends, however it
ends (commit, rollback, a dropped connection, a killed process), so none is left held in a pooled
connection. The lock transaction only waits: under READ COMMITTED it holds no snapshot while idle, so it
keeps no row versions from vacuum. Why a pool of its own: a lock holder goes on to load and save through the
vault's pool, so sharing that pool could leave every connection held by a lock that waits for one.

On SQLite there is one intake process (a database file is one machine's), whose own per-chat lock orders
a chat's updates; this lock is then nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.errors import DatabaseUnavailableError
from storage.keyring import ServerKeys
from storage.vault import Vault

# Why set_config in the same statement: lock_timeout bounds this wait only (is_local: to the transaction's
# end), without a round trip of its own; it is evaluated before the lock is asked for.
_LOCK = text("SELECT set_config('lock_timeout', :wait, true), pg_advisory_xact_lock(:key)")
_LOCK_NOT_AVAILABLE = "55P03"


class ChatLockTimeoutError(DatabaseUnavailableError):
    """The chat's lock stayed held past the wait: the caller should let the update come again later."""


class ChatLocks:
    """Per-chat locks shared by every process on one PostgreSQL database (nothing on SQLite)."""

    def __init__(self, vault: Vault, *, connections: int = 10, wait_seconds: float = 120.0) -> None:
        self._keys: ServerKeys = vault.keys
        self._wait = f"{max(1, round(wait_seconds * 1000))}ms"
        self._engine: AsyncEngine | None = None
        if not vault.db.sqlite:
            # Why max_overflow=0 and a semaphore of the same size: waiting for a slot here is an update
            # waiting its turn, never a pool timeout. Why no pre-ping (one more round trip per update): a
            # connection the server dropped fails its update's lock, which is answered 503 and sent again,
            # and the pool then replaces its older connections (tests/test_webhook_replicas.py).
            self._engine = create_async_engine(
                vault.db.engine.url, pool_size=connections, max_overflow=0, pool_pre_ping=False
            )
        self._slots = asyncio.Semaphore(connections)

    @property
    def shared(self) -> bool:
        """Whether the locks are held in the database (PostgreSQL), not only by this process."""
        return self._engine is not None

    def key(self, chat_tag: str) -> int:
        """The advisory lock key of a chat: 64 bits of its keyed tag, as PostgreSQL's signed bigint."""
        return int.from_bytes(self._keys.chat_tag("lock:" + chat_tag)[:8], "big", signed=True)

    @asynccontextmanager
    async def hold(self, chat_tag: str) -> AsyncIterator[None]:
        """Hold the chat's lock for the block; ChatLockTimeoutError if it stays taken past the wait,
        DatabaseUnavailableError if the database does not answer."""
        if self._engine is None:
            yield
            return
        key = self.key(chat_tag)
        async with self._slots, _locked(self._engine, key, self._wait):
            yield

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()


@asynccontextmanager
async def _locked(engine: AsyncEngine, key: int, wait: str) -> AsyncIterator[None]:
    """A transaction holding the advisory lock `key`, ended (so the lock released) when the block ends."""
    connection = await _lock(engine, key, wait)
    try:
        yield
    finally:
        # Why roll back: the transaction did nothing but lock; the block's work committed on its own.
        try:
            await connection.rollback()
        except (DBAPIError, OSError):
            # The connection is gone or broken: the server ends its transaction, and the lock, with it.
            await connection.invalidate()
        finally:
            await connection.close()


async def _lock(engine: AsyncEngine, key: int, wait: str) -> AsyncConnection:
    """A connection whose open transaction holds the lock; the failures said as the vault says them."""
    try:
        connection = await engine.connect()
    except (DBAPIError, OSError) as exc:
        raise DatabaseUnavailableError(_why(exc)) from None
    try:
        await connection.begin()
        await connection.execute(_LOCK, {"wait": wait, "key": key})
    except BaseException as exc:
        await connection.close()
        if isinstance(exc, DBAPIError) and _sqlstate(exc) == _LOCK_NOT_AVAILABLE:
            raise ChatLockTimeoutError("a chat's lock stayed held past the wait") from None
        if isinstance(exc, DBAPIError | OSError):
            raise DatabaseUnavailableError(_why(exc)) from None
        raise
    return connection


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)


def _why(exc: BaseException) -> str:
    # Why not str(exc): a driver's message can carry the URL with its password.
    return f"the database is unavailable for a chat's lock ({type(getattr(exc, 'orig', exc)).__name__})"
