"""Relay key rotation: re-seal contact handles, drafts, outbox copies, officers' chat links, desk TOTP
secrets and cases' conflict records under the newly active key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from storage import audit, desk_accounts
from storage.cases import CONTACT_PURPOSE
from storage.clock import coarsen
from storage.conflicts import CONFLICTS_PURPOSE
from storage.drafts import DRAFT_PURPOSE
from storage.followup import LINK_PURPOSE
from storage.keyring import RelayKeyring
from storage.models import CaseConflict, ContactHandle, Draft, OfficerLink, OutboxEntry
from storage.outbox import OUTBOX_PURPOSE
from storage.vault import Vault


@dataclass(frozen=True)
class RotationResult:
    """How many blobs were re-sealed, by kind."""

    contacts: int
    drafts: int
    outbox: int
    totp: int = 0
    links: int = 0
    conflicts: int = 0


async def reseal_all(vault: Vault, *, keyring: RelayKeyring, actor: str) -> RotationResult:
    """Re-seal everything not yet under the keyring's active key, in one transaction.

    Why one transaction: a crash half-way leaves every blob under a key still in the keyring, because
    old keys are retired only after this commits (see `candour keys rotate-relay`).
    """
    active = keyring.active_id
    counts = {"contacts": 0, "drafts": 0, "outbox": 0, "totp": 0, "links": 0, "conflicts": 0}
    async with vault.db.transaction() as session:
        for contact in (
            await session.exec(select(ContactHandle).where(ContactHandle.key_id != active))
        ).all():
            plain = keyring.open(
                contact.key_id, contact.sealed, purpose=CONTACT_PURPOSE, context=contact.case_id
            )
            contact.key_id, contact.sealed = keyring.seal(
                plain, purpose=CONTACT_PURPOSE, context=contact.case_id
            )
            session.add(contact)
            counts["contacts"] += 1
        for draft in (await session.exec(select(Draft).where(Draft.key_id != active))).all():
            context = draft.chat_tag.hex()
            plain = keyring.open(draft.key_id, draft.sealed, purpose=DRAFT_PURPOSE, context=context)
            draft.key_id, draft.sealed = keyring.seal(plain, purpose=DRAFT_PURPOSE, context=context)
            session.add(draft)
            counts["drafts"] += 1
        entries = await session.exec(
            select(OutboxEntry).where(
                col(OutboxEntry.sealed_payload).is_not(None), OutboxEntry.key_id != active
            )
        )
        for entry in entries.all():
            assert entry.key_id is not None and entry.sealed_payload is not None and entry.case_id is not None
            plain = keyring.open(
                entry.key_id, entry.sealed_payload, purpose=OUTBOX_PURPOSE, context=entry.case_id
            )
            entry.key_id, entry.sealed_payload = keyring.seal(
                plain, purpose=OUTBOX_PURPOSE, context=entry.case_id
            )
            session.add(entry)
            counts["outbox"] += 1
        for link in (await session.exec(select(OfficerLink).where(OfficerLink.key_id != active))).all():
            context = str(link.officer_id)
            plain = keyring.open(link.key_id, link.sealed, purpose=LINK_PURPOSE, context=context)
            link.key_id, link.sealed = keyring.seal(plain, purpose=LINK_PURPOSE, context=context)
            session.add(link)
            counts["links"] += 1
        # Left behind, retiring the old key would leave notices and queues unable to apply the conflict rule.
        for record in (await session.exec(select(CaseConflict).where(CaseConflict.key_id != active))).all():
            plain = keyring.open(
                record.key_id, record.sealed, purpose=CONFLICTS_PURPOSE, context=record.case_id
            )
            record.key_id, record.sealed = keyring.seal(
                plain, purpose=CONFLICTS_PURPOSE, context=record.case_id
            )
            session.add(record)
            counts["conflicts"] += 1
        # Desk second factors are relay-sealed too; left behind, retiring the old key would lock officers out.
        counts["totp"] = await desk_accounts.reseal_totp(session, keyring=keyring)
        await audit.append(
            session,
            at=coarsen(vault.clock.now()),
            actor=actor,
            action="keys.relay-rotated",
            detail={"active": active, **counts},
        )
    return RotationResult(**counts)
