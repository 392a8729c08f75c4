"""Case operations the desk needs beyond casework: assigning a case, opening one evidence file, and
recording views and exports in the audit log.

Every function here checks first that the officer holds a wrapped key for the case and may work it as
the directory has them now (active, a casework role, not conflicted out: storage.casework.check_may_work):
an officer who cannot open a case can neither assign it nor learn that it exists (the answer is the same
"no case"). An assignee is checked by the same rule, and the assigner, who can open the case, is told why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit, crypto, payloads
from storage.cases import EVIDENCE
from storage.casework import (
    CASEWORK_ROLES,
    QUEUE_LEAD,
    OpenedItem,
    case_by_reference,
    check_assignee,
    check_may_work,
    rematched_conflicts,
)
from storage.clock import coarsen
from storage.errors import NotEntitledError, NotFoundError, NotPermittedError
from storage.models import Case, CaseAssignment, CaseItem, CaseKey, Officer
from storage.officers import UnlockedOfficer, get_by_login
from storage.vault import Vault


@dataclass(frozen=True)
class CaseExtras:
    """What the case page shows beside the decrypted case: the assignee, and who wrote each officer item."""

    assignee: str | None
    item_officers: dict[str, str]


async def _entitled(vault: Vault, session: AsyncSession, officer_id: int, reference: str) -> Case:
    """The live case, if this officer holds a wrap for it and may work it now (`check_may_work`);
    otherwise the same NotFoundError as no case.

    Threat: a wrap outliving the right to it (deactivated, a role taken away, a late match as a subject)
    still letting its holder assign the case, read who works it or record an export.
    """
    try:
        case = await case_by_reference(session, reference)
    except NotFoundError:
        raise NotFoundError(f"no case {reference.strip().upper()!r} that you can open") from None
    wrap = (
        await session.exec(
            select(CaseKey.id).where(CaseKey.case_id == case.id, CaseKey.officer_id == officer_id)
        )
    ).first()
    if wrap is None or case.purged_at is not None:
        raise NotFoundError(f"no case {case.reference!r} that you can open")
    try:
        await check_may_work(vault, session, officer_id, case)
    except NotEntitledError:
        raise NotFoundError(f"no case {case.reference!r} that you can open") from None
    return case


async def assign(vault: Vault, *, officer: UnlockedOfficer, reference: str, login: str | None) -> str | None:
    """Assign a case to an officer who can open it (None unassigns); a standards officer may take a case
    or give it up, a queue lead may assign anyone. Returns the new assignee's login."""
    officer.require(*CASEWORK_ROLES)
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        case = await _entitled(vault, session, officer.id, reference)
        # Why re-match with the assigner's key: a subject found only now must be neither assigner nor assignee.
        conflicts = await rematched_conflicts(vault, session, case, officer.private_key)
        try:
            await check_may_work(vault, session, officer.id, case, conflicts)
        except NotEntitledError:
            raise NotFoundError(f"no case {case.reference!r} that you can open") from None
        current = await session.get(CaseAssignment, case.id)
        if QUEUE_LEAD not in officer.roles:
            taking = login == officer.login
            giving_up = login is None and current is not None and current.officer_id == officer.id
            if not (taking or giving_up):
                raise NotPermittedError(
                    f"{officer.login} may take a case or give it up; assigning others needs the role {QUEUE_LEAD}"
                )
        if login is None:
            if current is not None:
                await session.delete(current)
        else:
            assignee = await get_by_login(session, login=login)
            await check_assignee(session, case=case, assignee=assignee, conflicts=conflicts)
            assert assignee.id is not None
            if current is None:
                session.add(
                    CaseAssignment(
                        case_id=case.id, officer_id=assignee.id, assigned_at=now, assigned_by=officer.id
                    )
                )
            else:
                current.officer_id, current.assigned_at, current.assigned_by = assignee.id, now, officer.id
                session.add(current)
        await audit.append(
            session,
            at=now,
            actor=officer.actor,
            action="case.assigned",
            case_id=case.id,
            detail={"to": login},
        )
        return login


async def extras(vault: Vault, *, officer_id: int, reference: str) -> CaseExtras:
    """The assignee and the logins of officers who wrote in the case (clear metadata)."""
    async with vault.db.reading() as session:
        case = await _entitled(vault, session, officer_id, reference)
        current = await session.get(CaseAssignment, case.id)
        rows = (
            await session.exec(
                select(CaseItem.id, Officer.login)
                .join(Officer, col(Officer.id) == col(CaseItem.officer_id))
                .where(CaseItem.case_id == case.id)
            )
        ).all()
        item_officers = {item_id: login for item_id, login in rows}
        assignee = None
        if current is not None:
            holder = await session.get(Officer, current.officer_id)
            assignee = holder.login if holder else None
    return CaseExtras(assignee=assignee, item_officers=item_officers)


async def open_file(
    vault: Vault,
    *,
    officer: UnlockedOfficer,
    reference: str,
    item_id: str,
    preview_types: frozenset[str] | None = None,
) -> OpenedItem:
    """Decrypt one evidence file of a case for an entitled officer; audited as a file opened (a
    download), or, with `preview_types`, as a file viewed: then only a file of one of those media types
    that the evidence worker cleaned is served (the case page's inline image), and any other gets the
    same not-found as a missing file.

    Why two actions: an auditor must tell an officer who glanced at a thumbnail while reading the case
    from one who took the file away. The entry is written in the same transaction as the read, so a
    served file is never missing from the chain (storage/audit.py).
    """
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        case = await _entitled(vault, session, officer.id, reference)
        item = await session.get(CaseItem, item_id)
        if item is None or item.case_id != case.id or item.kind != EVIDENCE:
            raise NotFoundError(f"{case.reference} has no file {item_id!r}")
        meta, body = await _decrypt_item(session, officer, case, item)
        # Why only a file the cleaner wrote (metadata_kept false): the desk draws the preview with Pillow in
        # the process that holds officers' unlocked keys, so it decodes only pixels the evidence worker
        # re-encoded, never a file kept as the reporter sent it (that one is only ever downloaded).
        if preview_types is not None and (
            str(meta.get("media_type") or "").strip().lower() not in preview_types
            or meta.get("metadata_kept") is not False
        ):
            raise NotFoundError(f"{case.reference} has no file {item_id!r} to preview")
        await audit.append(
            session,
            at=now,
            actor=officer.actor,
            action="case.file-opened" if preview_types is None else "case.file-viewed",
            case_id=case.id,
            detail={"item": item.id},
        )
    return OpenedItem(
        id=item.id,
        seq=item.seq,
        kind=item.kind,
        author=item.author,
        created_at=item.created_at,
        meta=meta,
        body=body,
    )


async def _decrypt_item(
    session: AsyncSession, officer: UnlockedOfficer, case: Case, item: CaseItem
) -> tuple[dict[str, Any], bytes]:
    """The item's header and body, through the officer's own wrap of the case key."""
    fingerprint = crypto.fingerprint(crypto.public_from_private(officer.private_key))
    wrap = (
        await session.exec(
            select(CaseKey).where(CaseKey.case_id == case.id, CaseKey.recipient_fingerprint == fingerprint)
        )
    ).first()
    if wrap is None:
        raise NotFoundError(f"no case {case.reference!r} that you can open")
    case_key = crypto.unwrap_case_key(
        wrap.wrapped, recipient_private_key=officer.private_key, case_id=case.id
    )
    return payloads.decode(
        crypto.open_item(
            item.ciphertext, case_private_key=case_key, case_id=case.id, item_id=item.id, kind=item.kind
        )
    )


async def record_export(vault: Vault, *, officer: UnlockedOfficer, reference: str, form: str) -> None:
    """Audit that an officer took a decrypted copy of a case out of the desk (e.g. `candour desk pull`)."""
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        case = await _entitled(vault, session, officer.id, reference)
        await audit.append(
            session,
            at=now,
            actor=officer.actor,
            action="case.exported",
            case_id=case.id,
            detail={"form": form},
        )
