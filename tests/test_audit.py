"""The audit log: hash-chained, append-only in the database, and `verify` names the first broken entry."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage import audit, cases
from storage.vault import Vault


async def _entries(vault: Vault, n: int) -> None:
    for i in range(n):
        await cases.submit(
            vault, report=cases.ReportSubmission(categories=("other",), narrative=f"report {i}")
        )


async def test_chain_verifies(vault: Vault) -> None:
    await _entries(vault, 3)
    async with vault.db.transaction() as session:
        report = await audit.verify(session, batch=2)  # several batches
    assert report.ok and report.entries == 5


async def test_database_refuses_update_and_delete(vault: Vault) -> None:
    for statement in ("UPDATE audit_log SET actor = 'someone else' WHERE seq = 1", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with vault.db.transaction() as session:
                await session.exec(text(statement))


async def _drop_triggers(vault: Vault) -> None:
    async with vault.db.transaction() as session:
        if vault.db.sqlite:
            await session.exec(text("DROP TRIGGER audit_log_no_update"))
            await session.exec(text("DROP TRIGGER audit_log_no_delete"))
        else:
            await session.exec(text("DROP TRIGGER audit_log_no_change ON audit_log"))


@pytest.mark.parametrize(
    ("statement", "broken", "reason"),
    [
        ("UPDATE audit_log SET actor = 'officer:mallory' WHERE seq = 3", 3, "content"),
        ("DELETE FROM audit_log WHERE seq = 2", 2, "missing"),
        ("UPDATE audit_log SET prev_hash = hash WHERE seq = 4", 4, "link"),
    ],
)
async def test_tampering_is_named(vault: Vault, statement: str, broken: int, reason: str) -> None:
    await _entries(vault, 3)
    await _drop_triggers(vault)  # an attacker with DDL rights can do this; the chain still tells
    async with vault.db.transaction() as session:
        await session.exec(text(statement))
    async with vault.db.transaction() as session:
        report = await audit.verify(session)
    assert not report.ok and report.first_broken == broken and reason in report.reason
    assert report.entries == broken - 1


async def test_recomputed_entry_still_breaks_the_next_link(vault: Vault) -> None:
    """An attacker who edits an entry and recomputes its hash breaks the following entry's link."""
    await _entries(vault, 2)
    await _drop_triggers(vault)
    async with vault.db.transaction() as session:
        row = (
            await session.exec(
                text("SELECT seq, at, action, case_id, prev_hash FROM audit_log WHERE seq = 3")
            )
        ).one()
    forged = audit.entry_hash(
        prev_hash=row.prev_hash,
        seq=3,
        at=_aware(row.at),
        actor="officer:mallory",
        action=row.action,
        case_id=row.case_id,
        detail={},
    )
    async with vault.db.transaction() as session:
        await session.exec(
            text(
                "UPDATE audit_log SET actor = 'officer:mallory', detail = '{}', hash = :h WHERE seq = 3"
            ).bindparams(h=forged)
        )
    async with vault.db.transaction() as session:
        report = await audit.verify(session)
    assert report.first_broken == 4 and "link" in report.reason


def _aware(value):
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
