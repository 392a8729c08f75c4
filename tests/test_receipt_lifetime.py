"""A receipt that never reached Telegram outlives the chat's usual 72 hours (issue 9, point 2), on SQLite
and PostgreSQL, with the real bot on the emulator and a ManualClock moved on.

The bot stopped after the commit: the case exists, and its receipt code lives only in the chat's sealed
draft. Before, that draft expired with the chat's usual lifetime (72 hours, bot.state.TRAIL_LIFETIME), so
a reporter back after three days found no receipt anywhere, and the case could be reached by nobody
holding its code. Now the draft holding the code lives as long as the case's retention; the reporter's
next message, however late, is answered with the code first; a later Submit of the same draft still
returns the same case; and once the code has reached Telegram the draft is back to its usual lifetime.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import func, select

from bot import state
from storage import cases, drafts
from storage.models import Case, Draft
from storage.vault import Vault
from tests.bot_world import BotWorld
from tests.test_bot_inputs import T

CHAT = 6_200_000_001


async def count_cases(vault: Vault) -> int:
    async with vault.db.reading() as session:
        return int((await session.exec(select(func.count()).select_from(Case))).one())


async def at_review(vault: Vault, chat: int) -> state.ChatState:
    """The chat's draft as a reporter leaves it after answering every question."""
    chat_state = state.ChatState()
    chat_state.start("report", "review")
    chat_state.categories = ["bullying"]
    chat_state.narrative = ["My sergeant shouts at me in front of the team every shift."]
    chat_state.when = "ongoing"
    chat_state.risk_of_harm, chat_state.reported_before, chat_state.checkin_consent = False, False, False
    await state.save(vault, chat, chat_state)
    return chat_state


def finish_for(vault: Vault, chat: int, chat_state: state.ChatState, read: bytes | None) -> drafts.Finish:
    """What bot.report_flow.submit hands the vault: the draft finished in the case's transaction."""
    return drafts.Finish(
        chat_ref=state.chat_ref(chat),
        state_for=lambda code: chat_state.finished(code, vault.clock.now()),
        replacing=read,
        lifetime=state.TRAIL_LIFETIME,
    )


def submission(chat_state: state.ChatState) -> cases.ReportSubmission:
    return cases.ReportSubmission(
        categories=tuple(chat_state.categories), narrative="\n\n".join(chat_state.narrative)
    )


async def submitted_and_stopped(vault: Vault, chat: int) -> tuple[cases.SubmitResult, state.ChatState]:
    """Submit as the bot does, then stop before the receipt is sent (a SIGKILL after the commit)."""
    review = await at_review(vault, chat)
    result = await cases.submit(
        vault,
        report=submission(review),
        contact=str(chat),
        submission_key=review.submission_key,
        draft=finish_for(vault, chat, review, review.read_version),
    )
    assert (await state.load(vault, chat)).receipt == result.receipt_code
    return result, review


async def test_an_undelivered_receipt_is_shown_to_a_reporter_back_after_a_month(
    world: BotWorld, vault: Vault, clock
) -> None:
    result, _review = await submitted_and_stopped(vault, CHAT)
    # Another writer saves the draft meanwhile with the chat's usual lifetime (a check-in's message id):
    # the expiry the receipt needs is kept.
    clock.advance(timedelta(hours=2))
    held = await state.load(vault, CHAT)
    held.trail.append(4242)
    await state.save(vault, CHAT, held)

    # Three days and a month go by; the follow-up dispatcher purges expired drafts on its timer.
    clock.advance(timedelta(hours=72) + timedelta(days=30))
    await drafts.purge_expired(vault)
    assert (await state.load(vault, CHAT)).receipt == result.receipt_code

    # The reporter comes back: whatever they send, the waiting receipt is shown first, and it opens the case.
    user = world.user(CHAT)
    await world.say(user, "/start")
    shown = [text for text in world.texts(CHAT) if result.receipt_code in text]
    assert shown == [T("report.submitted.again", code=result.receipt_code)]
    assert await cases.case_for_receipt(vault, code=result.receipt_code) == result.case_id
    after = await state.load(vault, CHAT)
    assert after.receipt == "" and after.flow == "idle"

    # Shown: the draft is back to the chat's usual lifetime, and goes with it.
    clock.advance(state.TRAIL_LIFETIME + timedelta(hours=2))
    await drafts.purge_expired(vault)
    async with vault.db.reading() as session:
        assert (await session.exec(select(Draft))).all() == []
    assert await count_cases(vault) == 1


async def test_a_later_submit_of_the_same_draft_returns_the_same_case(vault: Vault, clock) -> None:
    """Past 72 hours, a second handling of the same draft (the review state as another replica read it,
    with its submission key) is the case already made: nothing new is stored, the receipt still waits."""
    result, review = await submitted_and_stopped(vault, CHAT + 1)
    clock.advance(timedelta(hours=80))
    await drafts.purge_expired(vault)
    current = await state.load(vault, CHAT + 1)
    again = await cases.submit(
        vault,
        report=submission(review),
        contact=str(CHAT + 1),
        submission_key=review.submission_key,
        draft=finish_for(vault, CHAT + 1, review, current.read_version),
    )
    assert again.repeated and again.case_id == result.case_id and again.reference == result.reference
    assert await count_cases(vault) == 1
    assert (await state.load(vault, CHAT + 1)).receipt == result.receipt_code


async def test_the_draft_holding_a_receipt_lives_as_long_as_the_case_retention(vault: Vault, clock) -> None:
    """Bounded: the expiry is the retention of the case the code opens (which is purged no sooner than
    that after its closure), never longer."""
    result, _review = await submitted_and_stopped(vault, CHAT + 2)
    async with vault.db.reading() as session:
        case = await session.get(Case, result.case_id)
        draft = (await session.exec(select(Draft))).one()
    assert case is not None
    expires = drafts._as_utc(draft.expires_at)
    received = drafts._as_utc(case.received_at)
    assert (
        timedelta(days=case.retention_days)
        <= expires - received
        <= timedelta(days=case.retention_days, hours=2)
    )
    clock.advance(timedelta(days=case.retention_days, hours=3))
    await drafts.purge_expired(vault)
    assert (await state.load(vault, CHAT + 2)).receipt == ""
