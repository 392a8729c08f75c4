"""The auditor's view of the audit log: newest entries first, paged by sequence number, filtered by
action, and the chain checked the same way `candour audit verify` checks it: against the newest signed
checkpoint kept outside the database (storage/checkpoints.py).

Threat: an auditor named in a report (or in a subject's unit) reading its routing in the log: the queues
and rules of `case.submitted`, why and where a case was escalated, to whom it was granted. Why every
case-bound entry is withheld in the default view, not only the conflicted ones: a row withheld for one
auditor and shown to another would mark the very cases the first is conflicted out of. So the list shows,
for an entry bound to a case, its sequence number, hour, actor, action and hash (the chain stays
checkable) but neither the case's reference nor the entry's detail. One case at a time is shown whole by
`reveal`, given its reference, which applies the conflict rule (storage.conflicts), answers a conflicted
viewer exactly as it answers for a case that does not exist, and records the look in the audit log as its
own entry. Why by reference only, never "this entry's case": an entry the viewer can see exists, so a
refusal for it would say "you are conflicted out of this one"; a reference comes from outside the view.
Why a refusal is logged too (`audit.case-refused`, bound to no case, the same for both reasons): probing
for one's own case is then seen by the other auditors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit, checkpoints
from storage.clock import coarsen
from storage.conflicts import Conflicts, recorded, routed_units
from storage.errors import InputError, NotEntitledError
from storage.models import AuditEntry, Case, Officer
from storage.vault import Vault

MAX_PAGE = 500
REVEALED = "audit.case-shown"
REFUSED = "audit.case-refused"
# One answer for "no such case" and "you are conflicted out of it" (the desk's 404 words match).
NO_SUCH_CASE = "no case with that reference that you can open"
_ACTION = re.compile(r"^[a-z0-9.-]{1,48}$")
_REFERENCE = re.compile(r"^[A-Z0-9-]{1,16}$")


@dataclass(frozen=True)
class AuditRow:
    """One entry as the auditor sees it; `withheld` where it is bound to a case not revealed here."""

    seq: int
    at: datetime
    actor: str
    action: str
    reference: str | None
    detail: dict[str, Any]
    hash: str
    withheld: bool = False


@dataclass(frozen=True)
class AuditPage:
    """Entries newest first, and the sequence number to ask for the next (older) page."""

    rows: tuple[AuditRow, ...]
    next_before: int | None


def _row(entry: AuditEntry, reference: str | None, *, shown: bool) -> AuditRow:
    withheld = entry.case_id is not None and not shown
    return AuditRow(
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        reference=None if withheld else reference,
        detail={} if withheld else dict(entry.detail),
        hash=entry.hash,
        withheld=withheld,
    )


def _check(before: int | None, action: str | None, limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"a page holds 1 to {MAX_PAGE} entries")
    if action and not _ACTION.match(action):
        raise InputError("an action is a name such as case.opened")
    if before is not None and before < 1:
        raise InputError("`before` is a sequence number, 1 or more")


async def page(
    vault: Vault, *, before: int | None = None, action: str | None = None, limit: int = 100
) -> AuditPage:
    """Entries with a sequence number below `before` (or the newest), optionally of one action; every
    case-bound entry withheld (no reference, no detail)."""
    _check(before, action, limit)
    statement: Any = select(AuditEntry)
    if before is not None:
        statement = statement.where(col(AuditEntry.seq) < before)
    if action:
        statement = statement.where(AuditEntry.action == action)
    statement = statement.order_by(col(AuditEntry.seq).desc()).limit(limit + 1)
    async with vault.db.reading() as session:
        found = list((await session.exec(statement)).all())
    rows = tuple(_row(entry, None, shown=False) for entry in found[:limit])
    return AuditPage(rows=rows, next_before=rows[-1].seq if len(found) > limit and rows else None)


async def _case_for(session: AsyncSession, reference: str) -> Case | None:
    """The case with this reference, if there is one."""
    wanted = reference.strip().upper()
    if not _REFERENCE.match(wanted):
        raise InputError("a reference has letters, digits and hyphens only, such as CN-7K3M9Q2T")
    return (await session.exec(select(Case).where(Case.reference == wanted))).first()


async def _conflicted(session: AsyncSession, vault: Vault, case: Case, viewer: Officer) -> bool:
    """Whether the viewer is conflicted out of the case (named, or in a subject's unit)."""
    conflicts = await recorded(session, vault.keys.relay, case)
    return (conflicts or Conflicts(frozenset(), routed_units(case))).excludes(viewer)


async def reveal(vault: Vault, *, viewer: int, reference: str, limit: int = MAX_PAGE) -> AuditPage:
    """Every entry of one case, newest first, with its reference and detail, recorded first as an
    `audit.case-shown` entry of that case.

    Threat: a conflicted viewer learning that the case exists by a different answer. Why one error for
    both: NotEntitledError with the same words, and the same `audit.case-refused` entry (no case, no
    detail), whether there is no such case or the viewer is conflicted out of it.
    """
    _check(None, None, limit)
    async with vault.db.transaction() as session:
        officer = await session.get(Officer, viewer)
        case = await _case_for(session, reference)
        refused = officer is None or case is None or await _conflicted(session, vault, case, officer)
        if not refused and officer is not None and case is not None:
            await audit.append(
                session,
                at=coarsen(vault.clock.now()),
                actor=_actor(officer),
                action=REVEALED,
                case_id=case.id,
            )
            statement = (
                select(AuditEntry)
                .where(AuditEntry.case_id == case.id)
                .order_by(col(AuditEntry.seq).desc())
                .limit(limit)
            )
            found = list((await session.exec(statement)).all())
            return AuditPage(rows=tuple(_row(e, case.reference, shown=True) for e in found), next_before=None)
    async with vault.db.transaction() as session:
        await audit.append(
            session, at=coarsen(vault.clock.now()), actor=_actor(officer), action=REFUSED, detail={}
        )
    raise NotEntitledError(NO_SUCH_CASE)


def _actor(officer: Officer | None) -> str:
    return f"officer:{officer.login}" if officer is not None else "desk"


async def verify(vault: Vault, *, keys_dir: Path, checkpoint_dir: Path) -> checkpoints.Verification:
    """Walk the whole chain against the newest signed checkpoints (as `candour audit verify` does) and
    report the first entry that no longer matches, if any, and which checkpoint it was checked against."""
    return await checkpoints.verify(vault, keys_dir=keys_dir, directory=checkpoint_dir)
