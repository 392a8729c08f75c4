"""The outbox: scheduled work stored in the database so nothing due is lost to a restart.

Entries are claimed with a lease by the dispatcher (see issue on follow-up); this module schedules,
lists and cancels them. A message for the reporter carries a copy sealed under the relay keyring,
destroyed once delivered, so the bot can deliver it without being able to open the case.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import OutboxEntry
from storage.vault import Vault

OUTBOX_PURPOSE = "outbox"

CHECKIN = "checkin"
REPORTER_MESSAGE = "reporter-message"
DEADLINE_WARNING = "deadline-warning"
DEADLINE_DUE = "deadline-due"
PROGRESS_UPDATE = "progress-update"
PURGE = "purge"


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


def deadline_entries(
    session: AsyncSession, *, case_id: str, name: str, start: datetime, due: datetime, now: datetime
) -> None:
    """A warning at three quarters of the time, and the deadline itself."""
    warning_at = start + (due - start) * 3 / 4
    schedule(
        session, kind=DEADLINE_WARNING, due_at=warning_at, now=now, case_id=case_id, detail={"deadline": name}
    )
    schedule(session, kind=DEADLINE_DUE, due_at=due, now=now, case_id=case_id, detail={"deadline": name})


def checkin_entries(
    session: AsyncSession, *, case_id: str, start: datetime, days: tuple[int, ...], now: datetime, phase: str
) -> None:
    """One check-in per policy interval, counted from `start`."""
    for day in days:
        schedule(
            session,
            kind=CHECKIN,
            due_at=start + timedelta(days=day),
            now=now,
            case_id=case_id,
            detail={"phase": phase, "day": day},
        )


async def cancel(
    session: AsyncSession, *, case_id: str, kinds: tuple[str, ...] | None = None, reason: str
) -> int:
    """Cancel pending entries of a case (all, or of some kinds); sealed copies are destroyed too."""
    statement = (
        update(OutboxEntry)
        .where(col(OutboxEntry.case_id) == case_id, col(OutboxEntry.status) == "pending")
        .values(status="cancelled", sealed_payload=None, key_id=None, last_error=reason[:200])
    )
    if kinds:
        statement = statement.where(col(OutboxEntry.kind).in_(kinds))
    result = await session.exec(statement)  # type: ignore[call-overload]
    return int(result.rowcount or 0)


async def pending_for_case(session: AsyncSession, *, case_id: str) -> list[OutboxEntry]:
    """Pending entries of a case, earliest first."""
    rows = await session.exec(
        select(OutboxEntry)
        .where(OutboxEntry.case_id == case_id, OutboxEntry.status == "pending")
        .order_by(col(OutboxEntry.due_at), col(OutboxEntry.id))
    )
    return list(rows.all())
