"""The outbox: scheduled work stored in the database so nothing due is lost to a restart.

Entries are claimed with a lease by the dispatcher (see issue on follow-up); this module schedules,
lists and cancels them. A message for the reporter carries a copy sealed under the relay keyring,
destroyed once delivered, so the bot can deliver it without being able to open the case.

Times (promise 1): an entry that still waits (pending, or claimed under a lease) keeps its exact due
time, because a check-in's send time is drawn at random within hours (jitter) and a retry comes seconds
later; rounded to the hour every check-in would go out on the hour, and a retry would come due at once.
The moment an entry stops waiting (sent, notified, done, failed, cancelled) every time on it is
coarsened to the hour and the lease is cleared (`coarsen_settled`, applied to every ORM write of an
entry), so the database keeps when a reporter's phone was pinged only for as long as it is in the future.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.clock import coarsen
from storage.db import insert_rows
from storage.models import OutboxEntry
from storage.vault import Vault

OUTBOX_PURPOSE = "outbox"

CHECKIN = "checkin"
REPORTER_MESSAGE = "reporter-message"
DEADLINE_WARNING = "deadline-warning"
DEADLINE_DUE = "deadline-due"
PROGRESS_UPDATE = "progress-update"
PURGE = "purge"
# Statuses in which an entry still waits for its moment and may keep exact times.
WAITING = ("pending", "claimed")


def coarse_detail(value: Any) -> Any:
    """A copy of an entry's detail with every time in it (a datetime, or text in ISO 8601 form) coarsened."""
    if isinstance(value, dict):
        return {key: coarse_detail(item) for key, item in value.items()}
    if isinstance(value, list):
        return [coarse_detail(item) for item in value]
    if isinstance(value, datetime):
        return coarsen(value).isoformat()
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and value[10:11] in ("T", " "):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return coarsen(moment).isoformat() if moment.tzinfo is not None else value
    return value


def coarsen_settled(entry: OutboxEntry) -> None:
    """Coarsen every time on an entry that no longer waits, and drop its lease (see the module's note)."""
    if entry.status in WAITING:
        return
    entry.due_at, entry.created_at = coarsen(entry.due_at), coarsen(entry.created_at)
    if entry.done_at is not None:
        entry.done_at = coarsen(entry.done_at)
    entry.lease_owner = entry.lease_until = None
    detail = coarse_detail(entry.detail)
    if detail != entry.detail:
        entry.detail = detail


@event.listens_for(OutboxEntry, "before_insert")
@event.listens_for(OutboxEntry, "before_update")
def _settle_on_write(_mapper: Any, _connection: Any, entry: OutboxEntry) -> None:
    """Why a mapper event: every path that finishes an entry (here, in storage.followup, storage.conflicts
    and any added later) goes through the ORM, so none can leave exact times on a finished entry."""
    coarsen_settled(entry)


def schedule(
    session: AsyncSession,
    *,
    kind: str,
    due_at: datetime,
    now: datetime,
    case_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> OutboxEntry:
    """Add one entry to the outbox in the caller's transaction."""
    entry = OutboxEntry(case_id=case_id, kind=kind, due_at=due_at, created_at=now, detail=dict(detail or {}))
    session.add(entry)
    return entry


def schedule_for_reporter(
    vault: Vault,
    session: AsyncSession,
    *,
    case_id: str,
    text: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> OutboxEntry:
    """Queue a message for the reporter, its text sealed under the relay keyring for the bot to deliver."""
    key_id, sealed = vault.keys.relay.seal(text.encode("utf-8"), purpose=OUTBOX_PURPOSE, context=case_id)
    entry = schedule(session, kind=REPORTER_MESSAGE, due_at=now, now=now, case_id=case_id, detail=detail)
    entry.key_id, entry.sealed_payload = key_id, sealed
    return entry


def open_reporter_payload(vault: Vault, entry: OutboxEntry) -> str:
    """The text of a reporter message (for the bot at delivery time)."""
    assert entry.case_id is not None and entry.key_id is not None and entry.sealed_payload is not None
    return vault.keys.relay.open(
        entry.key_id, entry.sealed_payload, purpose=OUTBOX_PURPOSE, context=entry.case_id
    ).decode("utf-8")


def entry_row(
    *,
    kind: str,
    due_at: datetime,
    now: datetime,
    case_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A pending outbox row, for bulk inserts."""
    return {
        "case_id": case_id,
        "kind": kind,
        "due_at": due_at,
        "status": "pending",
        "attempts": 0,
        "lease_owner": None,
        "lease_until": None,
        "key_id": None,
        "sealed_payload": None,
        "detail": dict(detail or {}),
        "created_at": now,
        "done_at": None,
        "last_error": None,
    }


def deadline_rows(
    *, case_id: str, name: str, start: datetime, due: datetime, now: datetime
) -> list[dict[str, Any]]:
    """A warning at three quarters of the time, and the deadline itself."""
    warning_at = coarsen(start + (due - start) * 3 / 4)
    return [
        entry_row(
            kind=DEADLINE_WARNING, due_at=warning_at, now=now, case_id=case_id, detail={"deadline": name}
        ),
        entry_row(kind=DEADLINE_DUE, due_at=due, now=now, case_id=case_id, detail={"deadline": name}),
    ]


def checkin_rows(
    *, case_id: str, start: datetime, days: tuple[int, ...], now: datetime, phase: str
) -> list[dict[str, Any]]:
    """One check-in per policy interval, counted from `start`."""
    return [
        entry_row(
            kind=CHECKIN,
            due_at=start + timedelta(days=day),
            now=now,
            case_id=case_id,
            detail={"phase": phase, "day": day},
        )
        for day in days
    ]


async def add_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows in one statement."""
    await insert_rows(session, OutboxEntry, rows)


async def cancel(
    session: AsyncSession, *, case_id: str, kinds: tuple[str, ...] | None = None, reason: str
) -> int:
    """Cancel pending entries of a case (all, or of some kinds); sealed copies are destroyed too.

    Why through the ORM rather than one UPDATE: a cancelled entry's times are coarsened on the way
    (coarsen_settled). FOR UPDATE (PostgreSQL) waits for a dispatcher that is claiming the same row and
    then sees it claimed, so an entry being sent is not cancelled under it.
    """
    statement = select(OutboxEntry).where(
        col(OutboxEntry.case_id) == case_id, col(OutboxEntry.status) == "pending"
    )
    if kinds:
        statement = statement.where(col(OutboxEntry.kind).in_(kinds))
    entries = list((await session.exec(statement.with_for_update())).all())
    for entry in entries:
        entry.status, entry.sealed_payload, entry.key_id = "cancelled", None, None
        entry.last_error = reason[:200]
        session.add(entry)
    await session.flush()
    return len(entries)


async def pending_for_case(session: AsyncSession, *, case_id: str) -> list[OutboxEntry]:
    """Pending entries of a case, earliest first."""
    rows = await session.exec(
        select(OutboxEntry)
        .where(OutboxEntry.case_id == case_id, OutboxEntry.status == "pending")
        .order_by(col(OutboxEntry.due_at), col(OutboxEntry.id))
    )
    return list(rows.all())


async def claim_due(
    vault: Vault, *, kinds: tuple[str, ...], owner: str, lease: timedelta, limit: int = 50
) -> list[OutboxEntry]:
    """Claim due entries (or ones whose lease ran out) for this worker, so no other worker sends them.

    Why a lease rather than a flag: a worker that dies after claiming must not strand the entry; when
    the lease expires another worker takes it. On PostgreSQL SKIP LOCKED lets replicas claim disjoint
    rows without waiting on each other; SQLite serialises writers with BEGIN IMMEDIATE.
    """
    now = vault.clock.now()
    async with vault.db.transaction() as session:
        claimable = (col(OutboxEntry.status) == "pending") | (
            (col(OutboxEntry.status) == "claimed") & (col(OutboxEntry.lease_until) < now)
        )
        statement = (
            select(OutboxEntry)
            .where(claimable, col(OutboxEntry.due_at) <= now, col(OutboxEntry.kind).in_(kinds))
            .order_by(col(OutboxEntry.due_at), col(OutboxEntry.id))
            .limit(limit)
        )
        if not vault.db.sqlite:
            statement = statement.with_for_update(skip_locked=True)
        entries = list((await session.exec(statement)).all())
        for entry in entries:
            entry.status, entry.lease_owner, entry.lease_until = "claimed", owner, now + lease
            entry.attempts += 1
            session.add(entry)
        return entries


async def release(vault: Vault, *, owner: str) -> int:
    """Put back every entry this worker has claimed and not finished; returns how many."""
    async with vault.db.transaction() as session:
        result = await session.exec(  # type: ignore[call-overload]
            update(OutboxEntry)
            .where(col(OutboxEntry.status) == "claimed", col(OutboxEntry.lease_owner) == owner)
            .values(status="pending", lease_owner=None, lease_until=None)
        )
        return int(result.rowcount or 0)


async def finish(
    vault: Vault, *, entry_id: int, status: str, keep_payload: bool = False, error: str | None = None
) -> None:
    """Record the outcome of a claimed entry; the sealed copy is destroyed unless kept for a later step."""
    async with vault.db.transaction() as session:
        entry = await session.get(OutboxEntry, entry_id)
        if entry is None:
            return
        entry.status, entry.lease_owner, entry.lease_until = status, None, None
        entry.last_error = error[:200] if error else None
        if status not in WAITING:
            entry.done_at = coarsen(vault.clock.now())
        if not keep_payload:
            entry.sealed_payload, entry.key_id = None, None
        session.add(entry)


async def get(vault: Vault, *, entry_id: int) -> OutboxEntry | None:
    """One outbox entry."""
    async with vault.db.transaction() as session:
        return await session.get(OutboxEntry, entry_id)
