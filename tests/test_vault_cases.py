"""The vault's case operations on a real database (SQLite and PostgreSQL): routing, sealing to the
entitled officers only, conflict of interest, receipts, messages both ways, status, referral, grants, purge.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from policies.loader import starter_policy_text
from storage import audit, cases, casework, outbox, policy_store, receipts
from storage.errors import (
    ConflictOfInterestError,
    InputError,
    InvalidTransitionError,
    NoRecipientError,
    NotEntitledError,
    NotPermittedError,
    ReceiptTypoError,
    UnknownReceiptError,
)
from storage.models import AuditEntry, Case, CaseItem, CaseKey, ContactHandle, OutboxEntry, Receipt
from storage.vault import Vault

pytestmark = pytest.mark.asyncio


def report(**overrides) -> cases.ReportSubmission:
    values = {"categories": ("bullying",), "narrative": "My sergeant humiliates me in briefings."}
    values.update(overrides)
    return cases.ReportSubmission(**values)


async def test_submitted_case_opens_for_routed_queue_only(vault: Vault, make_officer) -> None:
    conduct = await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    corruption = await make_officer("dave", queues=("psd-counter-corruption",), unit="professional-standards")
    photo = cases.Evidence(
        filename="shot.png", media_type="image/png", content=b"\x89PNG" + bytes(300_000), metadata_kept=False
    )
    result = await cases.submit(
        vault, report=report(evidence=(photo,), checkin_consent=True), contact="chat-1"
    )

    assert result.queues == ("psd-conduct",)
    opened = await casework.open_case(vault, officer=conduct, reference=result.reference)
    assert opened.first(cases.REPORT).meta["narrative"] == "My sergeant humiliates me in briefings."
    evidence = opened.first(cases.EVIDENCE)
    assert evidence.body == photo.content and evidence.meta["sha256"] == photo.sha256
    assert opened.policy_version == 1 and opened.matched_rules[-1] == "catch-all"
    with pytest.raises(NotEntitledError):
        await casework.open_case(vault, officer=corruption, reference=result.reference)


async def test_clear_metadata_and_schedule(vault: Vault, clock) -> None:
    clock.current = clock.current.replace(minute=37, second=12, microsecond=345)
    result = await cases.submit(
        vault, report=report(categories=("racism",), checkin_consent=True), contact="c"
    )
    async with vault.db.transaction() as session:
        case = await session.get(Case, result.case_id)
        entries = (await session.exec(select(OutboxEntry).where(OutboxEntry.case_id == result.case_id))).all()
    assert case.received_at.minute == 0 and case.received_at.second == 0
    assert case.ack_due_at - case.received_at == timedelta(days=7)
    assert "iopc-referral-assessment" in case.flags and case.priority == "high"
    checkins = sorted((e.due_at - case.received_at).days for e in entries if e.kind == outbox.CHECKIN)
    assert checkins == [7, 30, 90]
    deadlines = {(e.kind, e.detail["deadline"]) for e in entries if e.kind.startswith("deadline")}
    assert deadlines == {
        (k, d) for k in (outbox.DEADLINE_WARNING, outbox.DEADLINE_DUE) for d in ("acknowledge", "feedback")
    }


async def test_no_checkins_without_consent(vault: Vault) -> None:
    result = await cases.submit(vault, report=report(checkin_consent=False))
    async with vault.db.transaction() as session:
        kinds = (
            await session.exec(select(OutboxEntry.kind).where(OutboxEntry.case_id == result.case_id))
        ).all()
    assert outbox.CHECKIN not in kinds


async def test_named_subject_in_receiving_queue_cannot_open(vault: Vault, make_officer) -> None:
    subject = await make_officer(
        "sam", queues=("psd-conduct",), staff_number="PC 4471", display_name="Sam Stone"
    )
    colleague = await make_officer("erin", queues=("psd-conduct",))
    result = await cases.submit(
        vault, report=report(subjects=(cases.Person(name="Someone", staff_number="pc-4471"),))
    )
    with pytest.raises(NotEntitledError):
        await casework.open_case(vault, officer=subject, reference=result.reference)
    assert (
        await casework.open_case(vault, officer=colleague, reference=result.reference)
    ).reference == result.reference
    # Matching by full name too, whatever the case and spacing.
    by_name = await cases.submit(vault, report=report(subjects=(cases.Person(name="  sam   STONE "),)))
    with pytest.raises(NotEntitledError):
        await casework.open_case(vault, officer=subject, reference=by_name.reference)
    async with vault.db.transaction() as session:
        wrapped_to = (
            await session.exec(select(CaseKey.officer_id).where(CaseKey.case_id == by_name.case_id))
        ).all()
    assert subject.id not in wrapped_to


async def test_report_about_standards_unit_reaches_independent_queue_only(
    vault: Vault, make_officer, alice
) -> None:
    reviewer = await make_officer("ivy", queues=("independent-review",))
    psd_member = await make_officer("pat", queues=("psd-conduct", "psd-lead"), unit="professional-standards")
    result = await cases.submit(
        vault,
        report=report(subjects=(cases.Person(name="X", unit="professional-standards", role="inspector"),)),
    )
    assert result.queues == ("independent-review",)
    assert (await casework.open_case(vault, officer=reviewer, reference=result.reference)).queues == (
        "independent-review",
    )
    # alice is in every queue, but in the standards unit: left out like every PSD officer.
    for officer in (alice, psd_member):
        with pytest.raises(NotEntitledError):
            await casework.open_case(vault, officer=officer, reference=result.reference)


async def test_no_eligible_recipient_refuses_and_keeps_nothing(vault: Vault) -> None:
    # Only alice (standards unit) is in independent-review: a report about PSD has nobody to go to.
    with pytest.raises(NoRecipientError):
        await cases.submit(vault, report=report(subjects=(cases.Person(unit="professional-standards"),)))
    async with vault.db.transaction() as session:
        assert (await session.exec(select(Case))).all() == []


async def test_bad_input_changes_nothing(vault: Vault) -> None:
    for bad in (
        report(categories=()),
        report(narrative="   "),
        report(narrative="x" * 20_001),
        report(evidence=(cases.Evidence("a", "b", bytes(20 * 1024 * 1024 + 1), metadata_kept=False),)),
        report(categories=("bullying", "not-a-category")),
        report(subjects=(cases.Person(unit="atlantis"),)),
    ):
        with pytest.raises(InputError):
            await cases.submit(vault, report=bad)
    async with vault.db.transaction() as session:
        assert (await session.exec(select(Case))).all() == []
        entries = await audit.verify(session)
    assert entries.entries == 2  # officer added, policy published, and nothing since


async def test_receipt_lookup_typo_and_unknown(vault: Vault) -> None:
    result = await cases.submit(vault, report=report())
    code = result.receipt_code
    assert await cases.case_for_receipt(vault, code=code.lower().replace("-", " ")) == result.case_id
    typo = code[:3] + ("A" if code[3] != "A" else "B") + code[4:]
    with pytest.raises(ReceiptTypoError):
        await cases.case_for_receipt(vault, code=typo)
    with pytest.raises(UnknownReceiptError):
        await cases.case_for_receipt(vault, code=receipts.generate())
    async with vault.db.transaction() as session:
        stored = (await session.exec(select(Receipt))).all()
    assert len(stored) == 1 and receipts.normalise(code).encode() not in stored[0].digest


async def test_messages_both_ways(vault: Vault, alice) -> None:
    result = await cases.submit(vault, report=report(), contact="chat-77")
    await casework.message_reporter(
        vault, officer=alice, reference=result.reference, text="Can you tell us when?"
    )
    async with vault.db.transaction() as session:
        pending = await outbox.pending_for_case(session, case_id=result.case_id)
    delivery = next(e for e in pending if e.kind == outbox.REPORTER_MESSAGE)
    assert outbox.open_reporter_payload(vault, delivery) == "Can you tell us when?"
    assert await cases.open_contact(vault, case_id=result.case_id) == "chat-77"

    view = await cases.reporter_view(vault, code=result.receipt_code)
    assert [e.text for e in view.timeline if e.kind == cases.OFFICER_MESSAGE] == ["Can you tell us when?"]
    assert all(e.text is None for e in view.timeline if e.kind == cases.REPORT)

    await cases.add_from_reporter(
        vault, case_id=result.case_id, kind=cases.REPORTER_MESSAGE, text="Last Tuesday."
    )
    opened = await casework.open_case(vault, officer=alice, reference=result.reference)
    assert [i.meta["text"] for i in opened.items if i.kind == cases.REPORTER_MESSAGE] == ["Last Tuesday."]
    with pytest.raises(InputError):
        await cases.add_from_reporter(vault, case_id=result.case_id, kind=cases.NOTE, text="sneaky")


async def test_notes_are_not_shown_to_reporter(vault: Vault, alice) -> None:
    result = await cases.submit(vault, report=report())
    await casework.add_note(vault, officer=alice, reference=result.reference, text="Internal: check rota")
    view = await cases.reporter_view(vault, code=result.receipt_code)
    assert not any(e.kind == cases.NOTE for e in view.timeline)


async def test_status_workflow(vault: Vault, alice) -> None:
    result = await cases.submit(vault, report=report(checkin_consent=True), contact="c")
    ref = result.reference
    with pytest.raises(InvalidTransitionError):
        await casework.change_status(vault, officer=alice, reference=ref, status="investigating")
    await casework.change_status(vault, officer=alice, reference=ref, status="acknowledged")
    await casework.change_status(vault, officer=alice, reference=ref, status="investigating")
    with pytest.raises(InputError):
        await casework.change_status(vault, officer=alice, reference=ref, status="closed")
    await casework.change_status(
        vault, officer=alice, reference=ref, status="closed", outcome="Misconduct found."
    )
    view = await cases.reporter_view(vault, code=result.receipt_code)
    assert view.status == "closed"
    assert [e.text for e in view.timeline if e.kind == cases.OUTCOME] == ["Misconduct found."]
    async with vault.db.transaction() as session:
        pending = await outbox.pending_for_case(session, case_id=result.case_id)
    kinds = [(e.kind, e.detail.get("phase")) for e in pending]
    assert (outbox.CHECKIN, "open") not in kinds and (outbox.CHECKIN, "closed") in kinds
    assert ("purge", None) in kinds and not any(k.startswith("deadline") for k, _ in kinds)


async def test_referral_respects_conflicts(vault: Vault, make_officer, alice) -> None:
    corruption = await make_officer("dave", queues=("psd-counter-corruption",))
    other = await make_officer("fay", queues=("psd-counter-corruption",))
    result = await cases.submit(vault, report=report(subjects=(cases.Person(name="Dave"),)))
    granted = await casework.refer(
        vault, officer=alice, reference=result.reference, queue_id="psd-counter-corruption"
    )
    assert granted == ("fay",)  # dave is named as the subject; alice already held the key
    assert (
        await casework.open_case(vault, officer=other, reference=result.reference)
    ).reference == result.reference
    with pytest.raises(NotEntitledError):
        await casework.open_case(vault, officer=corruption, reference=result.reference)
    with pytest.raises(InputError):
        await casework.refer(
            vault, officer=alice, reference=result.reference, queue_id="psd-counter-corruption"
        )

    about_north = await cases.submit(vault, report=report(subjects=(cases.Person(unit="north-bcu"),)))
    await make_officer("nora", queues=("psd-lead",), unit="north-bcu")
    granted = await casework.refer(vault, officer=alice, reference=about_north.reference, queue_id="psd-lead")
    assert "nora" not in granted


async def test_referral_never_to_subject_unit_queue(vault: Vault, make_officer) -> None:
    reviewer = await make_officer("ivy", queues=("independent-review",))
    result = await cases.submit(vault, report=report(subjects=(cases.Person(unit="professional-standards"),)))
    with pytest.raises(ConflictOfInterestError):
        await casework.refer(vault, officer=reviewer, reference=result.reference, queue_id="psd-conduct")


async def test_new_queue_member_gets_open_cases(vault: Vault, make_officer, alice) -> None:
    first = await cases.submit(vault, report=report())
    named = await cases.submit(vault, report=report(subjects=(cases.Person(name="Gil Green"),)))
    gil = await make_officer("gil", display_name="Gil Green")
    result = await casework.add_queue_member(vault, granter=alice, login="gil", queue_id="psd-conduct")
    assert result.granted == (first.reference,) and result.skipped_conflicts == (named.reference,)
    assert (
        await casework.open_case(vault, officer=gil, reference=first.reference)
    ).reference == first.reference
    with pytest.raises(NotEntitledError):
        await casework.open_case(vault, officer=gil, reference=named.reference)
    with pytest.raises(ConflictOfInterestError):
        await casework.grant(vault, granter=alice, reference=named.reference, login="gil")
    async with vault.db.transaction() as session:
        actions = (await session.exec(select(col(AuditEntry.action)))).all()
    assert actions.count("case.granted") == 1 and "queue.member-added" in actions


async def test_purge_crypto_shreds(vault: Vault, alice) -> None:
    result = await cases.submit(vault, report=report(), contact="chat-9")
    await casework.purge(vault, reference=result.reference, actor="system")
    async with vault.db.transaction() as session:
        case = await session.get(Case, result.case_id)
        for model in (CaseKey, CaseItem, Receipt, ContactHandle):
            assert (await session.exec(select(model).where(model.case_id == result.case_id))).all() == []
        pending = await outbox.pending_for_case(session, case_id=result.case_id)
        chain = await audit.verify(session)
    assert case.status == "purged" and case.public_key is None and case.categories == ["bullying"]
    assert pending == [] and chain.ok
    with pytest.raises(UnknownReceiptError):
        await cases.case_for_receipt(vault, code=result.receipt_code)
    with pytest.raises(Exception, match="no longer exists"):
        await casework.open_case(vault, officer=alice, reference=result.reference)


async def test_every_write_is_audited(vault: Vault, alice) -> None:
    result = await cases.submit(vault, report=report(), contact="c")
    await casework.open_case(vault, officer=alice, reference=result.reference)
    await casework.message_reporter(vault, officer=alice, reference=result.reference, text="hello")
    await cases.add_from_reporter(vault, case_id=result.case_id, kind=cases.REPORTER_MESSAGE, text="hi")
    await casework.change_status(vault, officer=alice, reference=result.reference, status="acknowledged")
    async with vault.db.transaction() as session:
        rows = (
            await session.exec(
                select(AuditEntry).where(AuditEntry.case_id == result.case_id).order_by(col(AuditEntry.seq))
            )
        ).all()
    assert [(r.actor, r.action) for r in rows] == [
        ("reporter", "case.submitted"),
        ("officer:alice", "case.opened"),
        ("officer:alice", "case.messaged"),
        ("reporter", "case.reporter-added"),
        ("officer:alice", "case.status"),
    ]
    assert rows[0].at.minute == 0  # reporter-side times are coarse


async def test_roles_limit_who_widens_access(vault: Vault, make_officer) -> None:
    plain = await make_officer("olly", queues=("psd-conduct",))
    await make_officer("quinn")
    result = await cases.submit(vault, report=report())
    with pytest.raises(NotPermittedError):
        await casework.add_queue_member(vault, granter=plain, login="quinn", queue_id="psd-conduct")
    with pytest.raises(NotPermittedError):
        await casework.grant(vault, granter=plain, reference=result.reference, login="quinn")
    auditor = await make_officer("audrey", roles=("auditor",))
    with pytest.raises(NotPermittedError):
        await casework.message_reporter(vault, officer=auditor, reference=result.reference, text="hi")
    # Reading a case one was entitled to needs no particular role.
    assert (await casework.open_case(vault, officer=plain, reference=result.reference)).status == "received"


async def test_reopening_cancels_purge_and_after_closure_checkins(vault: Vault, alice) -> None:
    result = await cases.submit(vault, report=report(checkin_consent=True), contact="c")
    ref = result.reference
    await casework.change_status(
        vault, officer=alice, reference=ref, status="closed", outcome="No case to answer."
    )
    await casework.change_status(vault, officer=alice, reference=ref, status="investigating")
    async with vault.db.transaction() as session:
        kinds = {e.kind for e in await outbox.pending_for_case(session, case_id=result.case_id)}
    assert outbox.PURGE not in kinds and outbox.CHECKIN not in kinds


async def test_recovery_key_alone_is_not_a_recipient(settings, vault: Vault, tmp_path, clock) -> None:
    from candour.app import open_vault
    from storage import keyring
    from storage.crypto import KdfParams

    keyring.create_recovery_key(
        settings.keys_dir,
        out_file=tmp_path / "r.json",
        passphrase="two people hold it",
        params=KdfParams(64, 1, 1),
    )
    with_recovery = await open_vault(settings, clock=clock)
    try:
        # Everyone who could receive a report about PSD is in PSD (alice): refused cleanly, nothing stored.
        with pytest.raises(NoRecipientError):
            await cases.submit(
                with_recovery, report=report(subjects=(cases.Person(unit="professional-standards"),))
            )
    finally:
        await with_recovery.db.dispose()


async def test_free_text_roles_and_unstorable_text_are_refused(vault: Vault) -> None:
    with pytest.raises(InputError, match="unknown role"):
        await cases.submit(vault, report=report(subjects=(cases.Person(role="PC 4471 Jane Doe, my tutor"),)))
    with pytest.raises(InputError, match="cannot be stored"):
        await cases.submit(vault, report=report(narrative="broken \ud83d surrogate"))
    async with vault.db.transaction() as session:
        assert (await session.exec(select(Case))).all() == []


async def test_late_matched_subject_brings_their_unit_into_conflict(
    vault: Vault, make_officer, alice
) -> None:
    result = await cases.submit(vault, report=report(subjects=(cases.Person(name="Dan Smith"),)))
    await make_officer("dan", display_name="Dan Smith", unit="north-bcu")
    await make_officer("erin", unit="north-bcu")
    for login in ("dan", "erin"):
        with pytest.raises(ConflictOfInterestError):
            await casework.grant(vault, granter=alice, reference=result.reference, login=login)


async def test_concurrent_additions_are_numbered_in_turn(vault: Vault, alice) -> None:
    import asyncio

    result = await cases.submit(vault, report=report())
    await asyncio.gather(
        *(
            cases.add_from_reporter(vault, case_id=result.case_id, kind=cases.REPORTER_MESSAGE, text=f"m{i}")
            for i in range(4)
        ),
        *(
            casework.add_note(vault, officer=alice, reference=result.reference, text=f"n{i}")
            for i in range(4)
        ),
    )
    async with vault.db.transaction() as session:
        seqs = (await session.exec(select(CaseItem.seq).where(CaseItem.case_id == result.case_id))).all()
    assert sorted(seqs) == list(range(1, len(seqs) + 1)) and len(seqs) == 10


async def test_a_submission_right_after_a_new_policy_version_routes_on_it(vault: Vault, make_officer) -> None:
    """The submission reads the members of the newest policy it has seen in the same trip as the head;
    when the head names a version it has not seen, it reads the routed queues' members again."""
    conduct = await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    first = await cases.submit(vault, report=report())
    text = starter_policy_text() + "\n# a new version: only this comment differs\n"
    published = await policy_store.publish(vault, text=text, author="alice", note="comment")
    second = await cases.submit(vault, report=report())
    assert (first.policy_version, second.policy_version) == (published.version - 1, published.version)
    async with vault.db.reading() as session:
        holders = set(
            (await session.exec(select(CaseKey.officer_id).where(CaseKey.case_id == second.case_id))).all()
        )
    assert conduct.id in holders and second.queues == ("psd-conduct",)
