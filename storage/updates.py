"""Telegram updates already applied, so a redelivered one changes nothing.

Threat: the same update comes twice (the bot stopped before confirming it to Telegram, a webhook answer was
lost, another replica received it too) and its answer is stored twice: a narrative part, an evidence file.
Why in the database, and written in the transaction of the update's main effect (the chat's state): a
record kept in memory dies with the process and is not shared by replicas, and a record written apart
from the effect can say "done" for an update whose effect was rolled back, or miss one that took effect.

What is stored carries no identity and no fine time: a keyed tag of the bot and update id (the sequence
of update ids would otherwise order events finer than the hour) and the hour it was handled, never a chat
tag. Records older than `KEEP` are purged: Telegram keeps an unconfirmed update for at most 24 hours.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, delete

from storage.clock import coarsen
from storage.db import Pending, Query, query_sync
from storage.models import HandledUpdate
from storage.vault import Vault

KEEP = timedelta(hours=48)


class AlreadyHandledError(Exception):
    """The update was applied by another handling of it (another replica, an earlier delivery)."""


def tag(vault: Vault, *, bot_id: int, update_id: int) -> bytes:
    """The keyed tag an update is recorded under (update ids are per bot, so the bot is part of it)."""
    return vault.keys.chat_tag(f"update:{bot_id}:{update_id}")


def send_seen(session: Session, update_tag: bytes) -> Pending:
    """Ask whether the update was recorded (a row if so), in the caller's transaction: inside
    `pipeline_sync` on PostgreSQL it shares the round trip of the chat's draft."""
    return query_sync(session, _SEEN, update_tag)


def record_sync(vault: Vault, session: Session, update_tag: bytes) -> None:
    """Record the update in the caller's transaction; AlreadyHandledError if another handling recorded it.

    Why raise: the caller's transaction then rolls back, so the second handling's effect is not stored
    either. On PostgreSQL a concurrent insert of the same tag waits for the first to commit, then conflicts.
    """
    table = HandledUpdate.__table__  # type: ignore[attr-defined]
    connection = session.connection()
    insert = sqlite_insert(table) if connection.dialect.name == "sqlite" else pg_insert(table)
    row = {"update_tag": update_tag, "handled_hour": coarsen(vault.clock.now())}
    # Why RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT DO NOTHING.
    statement = insert.values(row).on_conflict_do_nothing().returning(table.c.update_tag)
    if connection.execute(statement).first() is None:
        raise AlreadyHandledError("this update was already handled")


async def seen(vault: Vault, *, update_tag: bytes) -> bool:
    """Whether the update was recorded as handled."""
    return await vault.db.run(
        lambda session: send_seen(session, update_tag).first() is not None, read_only=True
    )


async def record(vault: Vault, *, update_tag: bytes) -> None:
    """Record an update whose effect has no transaction of its own; AlreadyHandledError if recorded."""
    await vault.db.run(lambda session: record_sync(vault, session, update_tag))


async def purge(vault: Vault) -> int:
    """Forget updates handled more than `KEEP` ago; returns how many."""
    cutoff = coarsen(vault.clock.now()) - KEEP
    async with vault.db.transaction() as session:
        result = await session.exec(delete(HandledUpdate).where(col(HandledUpdate.handled_hour) < cutoff))  # type: ignore[call-overload]
        return int(result.rowcount or 0)


_SEEN = Query(
    postgresql="SELECT 1 FROM handled_updates WHERE update_tag = %s",
    sqlite="SELECT 1 FROM handled_updates WHERE update_tag = ?",
)
