"""Half-written reports, sealed under the relay keyring and found by a keyed tag of the chat.

Threat: a restart or a second replica must carry on a report in progress, yet a database dump must
not show which chat is writing what. Why a keyed tag: the lookup key turns a chat reference into a tag
that cannot be reversed or recomputed without the server's key file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, delete

from storage import policy_store, updates
from storage.clock import coarsen
from storage.db import Query, pipeline_sync, query_sync
from storage.models import Draft
from storage.policy_store import PublishedPolicy
from storage.vault import Vault

DRAFT_PURPOSE = "draft"
DRAFT_LIFETIME = timedelta(hours=24)
# The field of a draft's state holding a receipt code not yet shown to the reporter (set by `finish_sync`).
RECEIPT_FIELD = "receipt"
# Why the extra hour: expiry is counted from the hour-coarsened time (an exact time would say when the
# reporter was typing), so a draft lives between 24 and 25 hours, never less than the promised 24.
_ROUNDING = timedelta(hours=1)


class DraftConflictError(Exception):
    """A draft kept changing under a writer that wanted to replace one version of it."""


class _Any:
    """`replacing=ANY`: store whatever is there now (no check)."""


ANY = _Any()


@dataclass(frozen=True)
class StoredDraft:
    """A draft as read: its state (None if absent or expired) and the stored version it was read from.

    Why the version: a draft can have two writers (the bot handling the chat, and a follow-up dispatcher in
    another process adding a message id); saving `replacing` the version read makes a lost update a
    detectable conflict instead of a silent overwrite.
    """

    state: dict[str, Any] | None
    version: bytes | None
    policy: PublishedPolicy | None = None
    # With `read(update=...)`: whether that Telegram update was already applied (storage/updates.py).
    handled: bool = False


async def save(
    vault: Vault,
    *,
    chat_ref: str,
    state: dict[str, Any],
    lifetime: timedelta = DRAFT_LIFETIME,
    replacing: bytes | _Any | None = ANY,
    update: bytes | None = None,
) -> bytes | None:
    """Seal and store the draft of a chat; it expires `lifetime` later (24 hours unless the front door keeps
    something longer, such as message ids still deletable).

    With `replacing` (the version read, or None for none), it is stored only if the draft is still that
    version. Returns the new version, or None if another writer changed the draft meanwhile. With `update`
    (an update tag), that update is recorded as handled in the same transaction, or
    `updates.AlreadyHandledError` is raised and nothing is stored.
    """
    row = _sealed_row(vault, chat_ref, state, lifetime)

    def work(session: Session) -> bool:
        written = _write(session, row, replacing, holds_receipt=_holds_receipt(state))
        if written and update is not None:
            updates.record_sync(vault, session, update)
        return written

    stored = await vault.db.run(work)
    return row["sealed"] if stored else None


def _sealed_row(vault: Vault, chat_ref: str, state: dict[str, Any], lifetime: timedelta) -> dict[str, Any]:
    tag = vault.keys.chat_tag(chat_ref)
    key_id, sealed = vault.keys.relay.seal(
        json.dumps(state, separators=(",", ":")).encode("utf-8"), purpose=DRAFT_PURPOSE, context=tag.hex()
    )
    now = coarsen(vault.clock.now())
    return {
        "chat_tag": tag,
        "key_id": key_id,
        "sealed": sealed,
        "updated_at": now,
        "expires_at": now + lifetime + _ROUNDING,
    }


def _holds_receipt(state: dict[str, Any]) -> bool:
    return bool(state.get(RECEIPT_FIELD))


@dataclass(frozen=True)
class Finish:
    """How a chat's draft is left once its report is a case: written in the case's own transaction.

    Threat: a crash between "the case is stored" and "the chat moved on" (a second Submit, a second case)
    or before the receipt reached the reporter (a case whose receipt exists nowhere). Why in the same
    transaction: either the case exists and the draft holds the finished state with the receipt code
    (sealed under the relay keyring, for the front door to show and then destroy), or neither changed.
    `state_for` makes that state from the receipt code; `replacing` is the draft version the submission
    was read from (None for none), so a draft changed meanwhile fails the whole submission.
    """

    chat_ref: str
    state_for: Callable[[str], dict[str, Any]]
    replacing: bytes | None
    lifetime: timedelta = DRAFT_LIFETIME


def finish_sync(
    vault: Vault,
    session: Session,
    finish: Finish,
    *,
    receipt_code: str,
    receipt_lifetime: timedelta = DRAFT_LIFETIME,
) -> bytes:
    """Store the finished draft in the caller's transaction; the new version, or DraftConflictError.

    Threat: the bot stops after the commit and the reporter comes back days later; were the draft to
    expire with the chat's usual lifetime (72 hours), the case would exist and its receipt nowhere. Why it
    lives `receipt_lifetime` (the case's retention, from storage.cases) while it holds the code: the
    reporter is shown it at their next message however late, and the case is kept at least that long
    (it is purged a retention after closure), so the draft never outlives the case it opens. Every later
    write keeps that expiry while the code is still held (`_write`); the write that follows the receipt
    reaching Telegram clears the code and gives the draft its usual lifetime again.
    """
    state = finish.state_for(receipt_code)
    lifetime = max(finish.lifetime, receipt_lifetime) if _holds_receipt(state) else finish.lifetime
    row = _sealed_row(vault, finish.chat_ref, state, lifetime)
    if not _write(session, row, finish.replacing, holds_receipt=_holds_receipt(state)):
        raise DraftConflictError("the chat's draft changed while its report was being submitted")
    return bytes(row["sealed"])


def _write(
    session: Session, row: dict[str, Any], replacing: bytes | _Any | None, *, holds_receipt: bool = False
) -> bool:
    """Store a sealed draft row. With `holds_receipt`, an expiry already later than the row's is kept: a
    draft holding an undelivered receipt never expires sooner because another writer (a message id added,
    a delivery that failed) saved it with the chat's usual lifetime."""
    # Why single statements: the bot saves a draft after every update of every chat.
    table = Draft.__table__  # type: ignore[attr-defined]
    connection = session.connection()
    if isinstance(replacing, bytes):
        changes: dict[str, Any] = {k: v for k, v in row.items() if k != "chat_tag"}
        if holds_receipt:
            changes["expires_at"] = _later(table.c.expires_at, row["expires_at"])
        result = connection.execute(
            update(table)
            .where(table.c.chat_tag == row["chat_tag"], table.c.sealed == replacing)
            .values(changes)
        )
        return bool(result.rowcount)
    insert = sqlite_insert(table) if connection.dialect.name == "sqlite" else pg_insert(table)
    if replacing is None:
        # Why RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT DO NOTHING.
        created = insert.values(row).on_conflict_do_nothing().returning(table.c.chat_tag)
        return connection.execute(created).first() is not None
    changes = {name: insert.excluded[name] for name in ("key_id", "sealed", "updated_at", "expires_at")}
    if holds_receipt:
        changes["expires_at"] = _later(table.c.expires_at, insert.excluded.expires_at)
    connection.execute(insert.values(row).on_conflict_do_update(index_elements=["chat_tag"], set_=changes))
    return True


def _later(stored: Any, new: Any) -> Any:
    """SQL for the later of the stored expiry and the new one (both engines)."""
    return case((stored > new, stored), else_=new)


async def load(vault: Vault, *, chat_ref: str) -> dict[str, Any] | None:
    """The chat's draft, or None if there is none or it has expired."""
    return (await read(vault, chat_ref=chat_ref, policy=False)).state


async def read(
    vault: Vault, *, chat_ref: str, policy: bool = True, update: bytes | None = None
) -> StoredDraft:
    """The chat's draft with its version, and (with `policy`) the active routing policy, in one read
    transaction (the bot needs both for every update: one round trip on PostgreSQL, not two); with
    `update` (an update tag), also whether that update was already handled, in the same round trip."""
    tag = vault.keys.chat_tag(chat_ref)

    def work(session: Session) -> tuple[tuple[Any, ...] | None, PublishedPolicy | None, bool]:
        with pipeline_sync(session):
            draft = query_sync(session, _DRAFT, tag)
            head = policy_store.send_head(session) if policy else None
            seen = updates.send_seen(session, update) if update is not None else None
        handled = seen is not None and seen.first() is not None
        return draft.first(), policy_store.active_from(session, head) if head is not None else None, handled

    row, published, handled = await vault.db.run(work, read_only=True)
    if row is None:
        return StoredDraft(None, None, published, handled)
    key_id, sealed, expires_at = row
    version = bytes(sealed)
    if _as_utc(expires_at) <= vault.clock.now():
        return StoredDraft(None, version, published, handled)
    plaintext = vault.keys.relay.open(key_id, version, purpose=DRAFT_PURPOSE, context=tag.hex())
    return StoredDraft(json.loads(plaintext.decode("utf-8")), version, published, handled)


_DRAFT = Query(
    postgresql="SELECT key_id, sealed, expires_at FROM drafts WHERE chat_tag = %s",
    sqlite="SELECT key_id, sealed, expires_at FROM drafts WHERE chat_tag = ?",
)


def _as_utc(value: datetime | str) -> datetime:
    """A time read by a raw query: SQLite gives the text SQLAlchemy stored, PostgreSQL an aware datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def discard(
    vault: Vault, *, chat_ref: str, replacing: bytes | _Any | None = ANY, update: bytes | None = None
) -> bool:
    """Delete a chat's draft; True if there was one. With `replacing`, only if it is still the version read
    (True); None means none was read, so True if there is still none. With `update`, that update is
    recorded as handled in the same transaction (see `save`)."""
    tag = vault.keys.chat_tag(chat_ref)

    def work(session: Session) -> bool:
        if replacing is None:
            gone = query_sync(session, _DRAFT, tag).first() is None
        else:
            condition = [col(Draft.chat_tag) == tag]
            if isinstance(replacing, bytes):
                condition.append(col(Draft.sealed) == replacing)
            gone = bool(session.connection().execute(delete(Draft).where(*condition)).rowcount)
        if gone and update is not None:
            updates.record_sync(vault, session, update)
        return gone

    if replacing is None and update is None:
        return (await read(vault, chat_ref=chat_ref, policy=False)).version is None
    return await vault.db.run(work)


async def purge_expired(vault: Vault) -> int:
    """Delete every expired draft; returns how many."""
    async with vault.db.transaction() as session:
        result = await session.exec(delete(Draft).where(col(Draft.expires_at) <= vault.clock.now()))  # type: ignore[call-overload]
        return int(result.rowcount or 0)
