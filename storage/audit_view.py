"""The auditor's view of the audit log: newest entries first, paged by sequence number, filtered by
action or case reference, and the chain checked the same way `candour audit verify` checks it: against
the newest signed checkpoint kept outside the database (storage/checkpoints.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from storage import checkpoints
from storage.errors import InputError
from storage.models import AuditEntry, Case
from storage.vault import Vault

MAX_PAGE = 500
_ACTION = re.compile(r"^[a-z0-9.-]{1,48}$")
_REFERENCE = re.compile(r"^[A-Z0-9-]{1,16}$")


@dataclass(frozen=True)
class AuditRow:
    """One entry as the auditor sees it."""

    seq: int
    at: datetime
    actor: str
    action: str
    reference: str | None
    detail: dict[str, Any]
    hash: str


@dataclass(frozen=True)
class AuditPage:
    """Entries newest first, and the sequence number to ask for the next (older) page."""

    rows: tuple[AuditRow, ...]
    next_before: int | None


async def page(
    vault: Vault,
    *,
    before: int | None = None,
    action: str | None = None,
    reference: str | None = None,
    limit: int = 100,
) -> AuditPage:
    """Entries with a sequence number below `before` (or the newest), optionally of one action or case."""
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"a page holds 1 to {MAX_PAGE} entries")
    if action and not _ACTION.match(action):
        raise InputError("an action is a name such as case.opened")
    if before is not None and before < 1:
        raise InputError("`before` is a sequence number, 1 or more")
    statement: Any = select(AuditEntry, Case.reference).outerjoin(
        Case, col(Case.id) == col(AuditEntry.case_id)
    )
    if before is not None:
        statement = statement.where(col(AuditEntry.seq) < before)
    if action:
        statement = statement.where(AuditEntry.action == action)
    if reference:
        wanted = reference.strip().upper()
        if not _REFERENCE.match(wanted):
            raise InputError("a reference has letters, digits and hyphens only, such as CN-7K3M9Q2T")
        statement = statement.where(Case.reference == wanted)
    statement = statement.order_by(col(AuditEntry.seq).desc()).limit(limit + 1)
    async with vault.db.reading() as session:
        found = list((await session.exec(statement)).all())
    more = len(found) > limit
    rows = tuple(
        AuditRow(
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            reference=case_reference,
            detail=dict(entry.detail),
            hash=entry.hash,
        )
        for entry, case_reference in found[:limit]
    )
    return AuditPage(rows=rows, next_before=rows[-1].seq if more and rows else None)


async def verify(vault: Vault, *, keys_dir: Path, checkpoint_dir: Path) -> checkpoints.Verification:
    """Walk the whole chain against the newest signed checkpoints (as `candour audit verify` does) and
    report the first entry that no longer matches, if any, and which checkpoint it was checked against."""
    return await checkpoints.verify(vault, keys_dir=keys_dir, directory=checkpoint_dir)
