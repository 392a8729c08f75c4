"""Half-written reports, sealed under the relay keyring and found by a keyed tag of the chat.

Threat: a restart or a second replica must carry on a report in progress, yet a database dump must
not show which chat is writing what. Why a keyed tag: the lookup key turns a chat reference into a tag
that cannot be reversed or recomputed without the server's key file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, delete

from storage import policy_store
from storage.clock import coarsen
from storage.db import Query, pipeline_sync, query_sync
from storage.models import Draft
from storage.policy_store import PublishedPolicy
from storage.vault import Vault

DRAFT_PURPOSE = "draft"
DRAFT_LIFETIME = timedelta(hours=24)
# Why the extra hour: expiry is counted from the hour-coarsened time (an exact time would say when the
# reporter was typing), so a draft lives between 24 and 25 hours, never less than the promised 24.
_ROUNDING = timedelta(hours=1)


async def save(
    vault: Vault, *, chat_ref: str, state: dict[str, Any], lifetime: timedelta = DRAFT_LIFETIME
) -> None:
    """Seal and store the draft of a chat (replacing the previous one); it expires `lifetime` later
    (24 hours unless the front door keeps something longer, such as message ids still deletable)."""
    tag = vault.keys.chat_tag(chat_ref)
    key_id, sealed = vault.keys.relay.seal(
        json.dumps(state, separators=(",", ":")).encode("utf-8"), purpose=DRAFT_PURPOSE, context=tag.hex()
    )
    now = coarsen(vault.clock.now())
    row = {
        "chat_tag": tag,
        "key_id": key_id,
        "sealed": sealed,
        "updated_at": now,
        "expires_at": now + lifetime + _ROUNDING,
    }
    await vault.db.run(lambda session: _upsert(session, row))


def _upsert(session: Session, row: dict[str, Any]) -> None:
    # Why one upsert statement: the bot saves a draft after every update of every chat.
    table = Draft.__table__  # type: ignore[attr-defined]
    dialect = session.connection().dialect.name
    insert = sqlite_insert(table) if dialect == "sqlite" else pg_insert(table)
    changes = {name: insert.excluded[name] for name in ("key_id", "sealed", "updated_at", "expires_at")}
    session.connection().execute(insert.values(row).on_conflict_do_update(index_elements=["chat_tag"], set_=changes))


async def load(vault: Vault, *, chat_ref: str) -> dict[str, Any] | None:
    """The chat's draft, or None if there is none or it has expired."""
    draft, _policy = await load_with_policy(vault, chat_ref=chat_ref, policy=False)
    return draft


async def load_with_policy(
    vault: Vault, *, chat_ref: str, policy: bool = True
) -> tuple[dict[str, Any] | None, PublishedPolicy | None]:
    """The chat's draft (or None) and the active routing policy, read together in one transaction.

    Why together: the bot needs both for every update; one read transaction (one round trip on
    PostgreSQL) instead of two.
    """
    tag = vault.keys.chat_tag(chat_ref)

    def read(session: Session) -> tuple[tuple[Any, ...] | None, PublishedPolicy | None]:
        with pipeline_sync(session):
            draft = query_sync(session, _DRAFT, tag)
            head = policy_store.send_head(session) if policy else None
        return draft.first(), policy_store.active_from(session, head) if head is not None else None

    row, published = await vault.db.run(read, read_only=True)
    if row is None:
        return None, published
    key_id, sealed, expires_at = row
    if _as_utc(expires_at) <= vault.clock.now():
        return None, published
    plaintext = vault.keys.relay.open(key_id, bytes(sealed), purpose=DRAFT_PURPOSE, context=tag.hex())
    return json.loads(plaintext.decode("utf-8")), published


_DRAFT = Query(
    postgresql="SELECT key_id, sealed, expires_at FROM drafts WHERE chat_tag = %s",
    sqlite="SELECT key_id, sealed, expires_at FROM drafts WHERE chat_tag = ?",
)


def _as_utc(value: datetime | str) -> datetime:
    """A time read by a raw query: SQLite gives the text SQLAlchemy stored, PostgreSQL an aware datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def discard(vault: Vault, *, chat_ref: str) -> bool:
    """Delete a chat's draft; True if there was one."""
    tag = vault.keys.chat_tag(chat_ref)
    async with vault.db.transaction() as session:
        row = await session.get(Draft, tag)
        if row is None:
            return False
        await session.delete(row)
        return True


async def purge_expired(vault: Vault) -> int:
    """Delete every expired draft; returns how many."""
    async with vault.db.transaction() as session:
        result = await session.exec(delete(Draft).where(col(Draft.expires_at) <= vault.clock.now()))  # type: ignore[call-overload]
        return int(result.rowcount or 0)
