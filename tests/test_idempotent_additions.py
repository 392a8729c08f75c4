"""A submission or a later addition handled twice is stored once, on SQLite and PostgreSQL.

- The same draft submitted twice (its submission key) returns the first case; nothing new is stored.
- A submission whose draft changed meanwhile stores nothing (the draft is finished in the case's own
  transaction, or not at all), and the finished draft holds the receipt code, sealed.
- A reporter's message or file from one source message (chat and message id, kept only as a keyed hash)
  is one item however often it comes; another message is another item.
- A check-in answered twice (a second press, a redelivered press) is one answer.
- Through the bot: the same reply or file message handled twice in the status flow (the chat's state
  put back as a crash before saving leaves it) is one item, and the reporter is told it was sent.
"""

from __future__ import annotations

import pytest
from sqlmodel import col, func, select

from bot import state
from storage import cases, crypto, drafts, followup, outbox
from storage.models import AuditEntry, Case, CaseItem, OutboxEntry, Receipt
from storage.vault import Vault
from tests.bot_world import BotWorld


def report(**changes: object) -> cases.ReportSubmission:
    values: dict[str, object] = {"categories": ("bullying",), "narrative": "Shouted at, every shift."}
    values.update(changes)
    return cases.ReportSubmission(**values)  # type: ignore[arg-type]


async def count(vault: Vault, model: type, *where: object) -> int:
    async with vault.db.reading() as session:
        query = select(func.count()).select_from(model)
        for condition in where:
            query = query.where(condition)  # type: ignore[arg-type]
        return int((await session.exec(query)).one())


async def test_the_same_draft_submitted_twice_is_one_case(vault: Vault, make_officer) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    first = await cases.submit(vault, report=report(), contact="chat-1", submission_key="draft-key-1")
    again = await cases.submit(vault, report=report(), contact="chat-1", submission_key="draft-key-1")
    assert not first.repeated and again.repeated
    assert (again.case_id, again.reference, again.queues) == (first.case_id, first.reference, first.queues)
    assert again.receipt_code == ""
    assert await count(vault, Case) == 1 and await count(vault, Receipt) == 1
    assert await count(vault, AuditEntry, col(AuditEntry.action) == "case.submitted") == 1
    # The first receipt still opens it; another draft's key makes another case.
    assert await cases.case_for_receipt(vault, code=first.receipt_code) == first.case_id
    other = await cases.submit(vault, report=report(), contact="chat-1", submission_key="draft-key-2")
    assert other.case_id != first.case_id and await count(vault, Case) == 2
    # Only a keyed hash of the key is kept.
    async with vault.db.reading() as session:
        digests = set((await session.exec(select(Receipt.submission_digest))).all())
    assert cases.submission_digest(vault, "draft-key-1") in digests
    assert not any(d and b"draft-key" in d for d in digests)


async def test_a_draft_changed_during_submission_stores_nothing(vault: Vault, make_officer) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    chat_state = state.ChatState()
    chat_state.start("report", "review")
    await state.save(vault, 77, chat_state)
    read_version = chat_state.read_version
    # Another writer (a check-in's message id) changes the draft after the submission read it.
    chat_state.trail.append(5)
    await state.save(vault, 77, chat_state)

    def finished(code: str) -> dict[str, object]:
        return chat_state.finished(code, vault.clock.now())

    finish = drafts.Finish(chat_ref=state.chat_ref(77), state_for=finished, replacing=read_version)
    with pytest.raises(drafts.DraftConflictError):
        await cases.submit(vault, report=report(), contact="77", submission_key="k", draft=finish)
    assert await count(vault, Case) == 0 and await count(vault, Receipt) == 0

    current = await state.load(vault, 77)
    finish = drafts.Finish(chat_ref=state.chat_ref(77), state_for=finished, replacing=current.read_version)
    result = await cases.submit(vault, report=report(), contact="77", submission_key="k", draft=finish)
    stored = await state.load(vault, 77)
    assert stored.flow == "idle" and stored.receipt == result.receipt_code and stored.trail == [5]
    assert stored.read_version == result.draft_version
    # The sealed draft does not show the code in clear.
    async with vault.db.reading() as session:
        sealed = (await session.exec(select(drafts.Draft.sealed))).all()  # type: ignore[attr-defined]
    assert not any(result.receipt_code.encode() in bytes(blob) for blob in sealed)


async def test_an_addition_from_one_message_is_stored_once(vault: Vault, make_officer) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    case = await cases.submit(vault, report=report())
    other = await cases.submit(vault, report=report())
    source = "telegram:6100000001:42"
    first = await cases.add_from_reporter(
        vault, case_id=case.case_id, kind=cases.REPORTER_MESSAGE, text="More detail.", source=source
    )
    again = await cases.add_from_reporter(
        vault, case_id=case.case_id, kind=cases.REPORTER_MESSAGE, text="More detail.", source=source
    )
    assert again == first
    evidence = cases.Evidence(
        filename="note.txt", media_type="text/plain", content=b"a note", metadata_kept=False
    )
    file_first = await cases.add_from_reporter(
        vault, case_id=case.case_id, kind=cases.EVIDENCE, evidence=evidence, source=source + "-file"
    )
    file_again = await cases.add_from_reporter(
        vault, case_id=case.case_id, kind=cases.EVIDENCE, evidence=evidence, source=source + "-file"
    )
    assert file_again == file_first
    # Another message (the reporter really wrote twice) is another item; so is one without a source.
    await cases.add_from_reporter(
        vault, case_id=case.case_id, kind=cases.REPORTER_MESSAGE, text="More detail.", source=source + "x"
    )
    await cases.add_from_reporter(vault, case_id=case.case_id, kind=cases.REPORTER_MESSAGE, text="Once more.")
    # The same source on another case is that case's own.
    await cases.add_from_reporter(
        vault, case_id=other.case_id, kind=cases.REPORTER_MESSAGE, text="More detail.", source=source
    )
    mine = col(CaseItem.case_id) == case.case_id
    assert await count(vault, CaseItem, mine, col(CaseItem.kind) == cases.REPORTER_MESSAGE) == 3
    assert await count(vault, CaseItem, mine, col(CaseItem.kind) == cases.EVIDENCE) == 1
    assert await count(vault, AuditEntry, col(AuditEntry.action) == "case.reporter-added") == 5
    async with vault.db.reading() as session:
        digests = [d for d in (await session.exec(select(CaseItem.source_digest))).all() if d]
    assert len(digests) == 4 and len(set(digests)) == 4
    assert all(b"6100000001" not in d for d in digests)
    assert cases.source_digest(vault, case_id=case.case_id, source=source) == crypto.keyed_hash(
        vault.keys.lookup_key, f"addition:{case.case_id}:{source}".encode()
    )


async def test_a_checkin_answered_twice_is_one_answer(vault: Vault, make_officer) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    case = await cases.submit(vault, report=report(checkin_consent=True), contact="chat-5")
    async with vault.db.transaction() as session:
        entry = (
            await session.exec(
                select(OutboxEntry)
                .where(OutboxEntry.case_id == case.case_id, OutboxEntry.kind == outbox.CHECKIN)
                .order_by(col(OutboxEntry.due_at))
            )
        ).first()
        assert entry is not None
        entry.status = "sent"
        session.add(entry)
        entry_id = entry.id
    assert entry_id is not None
    await followup.answer_checkin(vault, entry_id=entry_id, chat="chat-5", answer="better")
    with pytest.raises(followup.CheckinClosedError):
        await followup.answer_checkin(vault, entry_id=entry_id, chat="chat-5", answer="better")
    answers = col(CaseItem.kind) == cases.CHECKIN_ANSWER
    assert await count(vault, CaseItem, col(CaseItem.case_id) == case.case_id, answers) == 1


async def test_a_reply_update_delivered_twice_is_one_message(world: BotWorld, make_officer) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    vault = world.vault
    submitted = await cases.submit(vault, report=report(), contact="6100000002")
    user = world.user(6100000002)
    await world.say(user, "/status")
    await world.say(user, submitted.receipt_code)
    t = world.catalogue.for_language("en")
    await world.tap(user, t("button.reply"))
    # The reporter's reply is handled; then the bot "crashes" before saving the chat's state (the state
    # is put back as it was), and the same message comes again (a redelivery that no update-id record
    # caught: a new update carrying the same message).
    before = await state.load(vault, user.user_id)
    reply = world.emu.send_text(user, "He did it again today.")
    await world.settle()
    sent = world.texts(user.user_id).count(t("status.reply.sent"))
    assert sent == 1
    after = await state.load(vault, user.user_id)
    after.step, after.case_id = before.step, before.case_id
    await state.save(vault, user.user_id, after)
    world.emu.bot_state()._queue("message", reply, user.user_id)
    await world.settle()
    # Told again that it was sent (true: it is in the case), and stored once.
    assert world.texts(user.user_id).count(t("status.reply.sent")) == 2
    messages = col(CaseItem.kind) == cases.REPORTER_MESSAGE
    assert await count(vault, CaseItem, col(CaseItem.case_id) == submitted.case_id, messages) == 1


async def test_a_file_update_delivered_twice_is_one_evidence_item(world: BotWorld, make_officer) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    vault = world.vault
    submitted = await cases.submit(vault, report=report(), contact="6100000003")
    user = world.user(6100000003)
    t = world.catalogue.for_language("en")
    await world.say(user, "/status")
    await world.say(user, submitted.receipt_code)
    await world.tap(user, t("button.add_evidence"))
    before = await state.load(vault, user.user_id)
    sent = world.emu.send_document(user, b"rota for the week\n", filename="rota.txt", mime_type="text/plain")
    await world.settle()
    assert world.texts(user.user_id).count(t("status.evidence.sent")) == 1
    # As if the bot had stopped before saving the chat's state, and the same message came again.
    after = await state.load(vault, user.user_id)
    after.step, after.case_id = before.step, before.case_id
    await state.save(vault, user.user_id, after)
    world.emu.bot_state()._queue("message", sent, user.user_id)
    await world.settle()
    assert world.texts(user.user_id).count(t("status.evidence.sent")) == 2
    evidence = col(CaseItem.kind) == cases.EVIDENCE
    assert await count(vault, CaseItem, col(CaseItem.case_id) == submitted.case_id, evidence) == 1
