"""The append-only audit log: every write of the vault adds an entry hash-chained to the one before.

Threat: an insider with database access rewrites or deletes entries to hide what they read or did.
Why a hash chain: each entry's hash covers its content and the previous hash, so an edit, a deletion
or an insertion breaks every later link and `candour audit verify` names the first broken entry.
A chain alone cannot tell a history rebuilt from some entry on, or a cut-off tail: signed checkpoints
kept outside the database (storage/checkpoints.py) anchor it, and `verify` takes them as anchors.
Entries never carry report content or anything that identifies a reporter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import Pending, Query, insert_rows_sync, query_sync
from storage.models import AuditEntry

GENESIS = "0" * 64
# An arbitrary constant naming the one advisory lock that serialises appends on PostgreSQL.
_PG_LOCK_ID = 0x43414E44


def entry_hash(
    *,
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    case_id: str | None,
    detail: Mapping[str, Any],
) -> str:
    """SHA-256 over the canonical JSON of an entry and its predecessor's hash."""
    body = json.dumps(
        {
            "prev": prev_hash,
            "seq": seq,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "case": case_id,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(body.encode("ascii")).hexdigest()


async def append(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    case_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry in the caller's transaction, so the audit record commits or rolls back with the write."""
    return await session.run_sync(
        lambda sync: append_sync(sync, at=at, actor=actor, action=action, case_id=case_id, detail=detail)
    )


def append_sync(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    case_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """The same, in a synchronous unit of work (see storage.db.Database.run)."""
    head = send_locked_head(session)
    row = entry_after(head, at=at, actor=actor, action=action, case_id=case_id, detail=detail)
    insert_rows_sync(session, AuditEntry, [row])
    return AuditEntry(**row)


def entry_after(
    head: Pending,
    *,
    at: datetime,
    actor: str,
    action: str,
    case_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The row of the entry that follows `head` (from `send_locked_head`), for the caller to insert in this
    transaction. From the lock to the commit this transaction holds the append lock (on SQLite, the write
    lock it began with), so no other entry can take the same place in the chain."""
    row = head.first()
    seq, prev = (1, GENESIS) if row is None else (int(row[0]) + 1, str(row[1]))
    clean_detail = dict(detail or {})
    digest = entry_hash(
        prev_hash=prev, seq=seq, at=at, actor=actor, action=action, case_id=case_id, detail=clean_detail
    )
    return {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "case_id": case_id,
        "detail": clean_detail,
        "prev_hash": prev,
        "hash": digest,
    }


def send_locked_head(session: Session) -> Pending:
    """Take the append lock and ask for the head entry (in a pipeline, if one is open).

    Why the lock: two transactions must not both chain onto the same head. On PostgreSQL it is an
    advisory lock held to the commit; the head is read by a later statement, so under READ COMMITTED it
    sees what the previous holder committed, even when both share one pipeline round trip. SQLite's
    BEGIN IMMEDIATE already serialises writers.
    """
    if session.connection().dialect.name == "postgresql":
        query_sync(session, _LOCK, _PG_LOCK_ID)
    return query_sync(session, _HEAD)


_LOCK = Query(postgresql="SELECT pg_advisory_xact_lock(%s)", sqlite="")
_HEAD = Query(
    postgresql="SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
    sqlite="SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
)


class Anchors(Protocol):
    """Hashes that entries must still have, as recorded outside the database by signed checkpoints
    (storage/checkpoints.py)."""

    def mismatch(self, seq: int, entry_hash: str) -> str | None:
        """The name of a record that gave entry `seq` another hash, or None."""
        ...

    def furthest(self) -> tuple[int, str] | None:
        """The highest entry a record covers, and the record's name."""
        ...


@dataclass(frozen=True)
class ChainReport:
    """The result of checking the chain: how many entries, and the first broken one if any."""

    entries: int
    head_hash: str
    first_broken: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken is None


async def verify(
    session: AsyncSession,
    *,
    batch: int = 5000,
    anchors: Anchors | None = None,
    start: tuple[int, str] | None = None,
) -> ChainReport:
    """Walk the chain in order and report the first entry whose link or hash does not hold, or that no
    longer has the hash an anchor recorded, or that is missing although an anchor covers it.

    `start` (a sequence number and the hash a signed checkpoint gave it) checks only from there on: the
    entry at that number must still have that hash, and every later one must chain onto it.
    """
    expected_seq, prev, count = 1, GENESIS, 0
    if start is not None:
        start_seq, start_hash = start
        found = (await session.exec(select(AuditEntry).where(col(AuditEntry.seq) == start_seq))).first()
        if found is None:
            return ChainReport(0, GENESIS, start_seq, "it is missing, but a signed checkpoint covers it")
        if found.hash != start_hash:
            return ChainReport(0, GENESIS, start_seq, "its hash is not the one the newest checkpoint signed")
        expected_seq, prev, count = start_seq + 1, found.hash, start_seq
    last_seq = expected_seq - 1
    while True:
        rows = (
            await session.exec(
                select(AuditEntry)
                .where(col(AuditEntry.seq) > last_seq)
                .order_by(col(AuditEntry.seq))
                .limit(batch)
            )
        ).all()
        if not rows:
            return _ended(count, prev, anchors)
        for entry in rows:
            if entry.seq != expected_seq:
                return ChainReport(count, prev, expected_seq, f"entry {expected_seq} is missing")
            if entry.prev_hash != prev:
                return ChainReport(count, prev, entry.seq, "its link to the previous entry does not match")
            recomputed = entry_hash(
                prev_hash=entry.prev_hash,
                seq=entry.seq,
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                case_id=entry.case_id,
                detail=entry.detail,
            )
            if recomputed != entry.hash:
                return ChainReport(count, prev, entry.seq, "its content does not match its hash")
            record = anchors.mismatch(entry.seq, entry.hash) if anchors is not None else None
            if record is not None:
                return ChainReport(count, prev, entry.seq, f"it no longer matches {record}")
            prev, count, expected_seq, last_seq = entry.hash, count + 1, entry.seq + 1, entry.seq
        session.expunge_all()


def _ended(count: int, head: str, anchors: Anchors | None) -> ChainReport:
    """The walk reached the last entry: a log shorter than a checkpoint says was cut off."""
    furthest = anchors.furthest() if anchors is not None else None
    if furthest is None or furthest[0] <= count:
        return ChainReport(entries=count, head_hash=head)
    seq, record = furthest
    return ChainReport(
        count,
        head,
        count + 1,
        f"it is missing: the log ends at entry {count}, but {record} covers up to {seq}",
    )
