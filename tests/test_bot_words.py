"""Words that are true (issue 11, section 1): each sentence that tells a reporter what happened is checked
against what the vault then holds, through the real bot polling the local Bot API emulator.

- Done in /status, and /cancel at the receipt prompt, say that the report is kept (it is), not that the
  answers were deleted;
- a stopped report says what was deleted (answers, how many files, how many of its messages), and the
  draft and the report's messages in the chat are indeed gone (an earlier receipt code stays);
- a mistyped receipt code is told once, in the catalogue's words, for each way a code can be wrong;
- /status counts the files sent with the report under "Received", and only later files as "you added";
- "I have saved my code" says whether the receipt is gone (a second tap finds it gone, and says so),
  gives the 48-hour reason only when Telegram gave it, and a network error does not escape;
- a file kept with its hidden details is told the name it is really sealed under;
- the English catalogue suggests /cancel nowhere but in the command list.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from telegram import Bot
from telegram.error import NetworkError

from bot import state as chat_state
from bot import words
from bot.catalogue import Catalogue
from bot.emulator.state import FakeUser
from bot.turn import FAILED, Turn
from policies.loader import starter_policy
from storage import cases, casework, receipts
from storage.clock import ManualClock
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.bot_world import BotWorld
from tests.test_bot_evidence_told import zip_of_minutes
from tests.test_bot_inputs import case_count, replies
from tests.test_bot_report import make_report, photo_with_gps

T = Catalogue().for_language("en")
PO = Path(__file__).resolve().parents[1] / "bot" / "locales" / "en" / "LC_MESSAGES" / "candour.po"


@pytest.fixture
def engine_name() -> str:
    """SQLite only: the words do not depend on the engine."""
    return "sqlite"


async def opened(vault: Vault, officer: UnlockedOfficer, code: str) -> casework.OpenedCase:
    view = await cases.reporter_view(vault, code=code)
    return await casework.open_case(vault, officer=officer, reference=view.reference)


async def status_view(world: BotWorld, user: FakeUser, code: str) -> str:
    await world.say(user, "/status")
    await world.say(user, code)
    return world.last(user.user_id)


async def to_evidence(world: BotWorld, user: FakeUser) -> None:
    """A report answered up to its files step."""
    await world.say(user, "/report")
    await world.tap(user, "Bullying")
    await world.tap(user, "Done")
    await world.say(user, "He shouts at me in front of the team.")
    await world.tap(user, "Done")
    await world.tap(user, "It is still going on")
    await world.tap(user, "North")
    await world.tap(user, "Skip")  # people
    await world.tap(user, "Skip")  # witnesses


async def finish(world: BotWorld, user: FakeUser) -> str:
    """From the files step: the last answers, Submit; the receipt message's text."""
    await world.tap(user, "Done")
    for answer in ("No", "Yes", "No"):
        await world.tap(user, answer)
    await world.tap(user, "Submit")
    return next(t for t in world.texts(user.user_id) if "Your receipt code" in t)


def code_of(receipt: str) -> str:
    return receipt.split("Your receipt code:\n")[1].split("\n")[0]


# --- stopping ---------------------------------------------------------------------------------------


async def test_done_in_status_says_the_report_and_the_reply_are_kept(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6200001)
    chat = user.user_id
    code = await make_report(world, user)
    await status_view(world, user, code)
    await world.tap(user, "Reply")
    await world.say(user, "It happened again today.")
    assert world.last(chat) == T("status.reply.sent")
    world.emu.press_button(user, *done_button(world, chat))
    await world.settle()
    said = world.last(chat)  # the confirmation turns into the closing words (one message fewer)
    assert said == T("flow.closed.case")
    assert "deleted" not in said and T("status.reply.sent") not in world.texts(chat)
    # What the words promise: the reply is in the case, and the case is there.
    case = await opened(vault, alice, code)
    assert [i.meta["text"] for i in case.items if i.kind == cases.REPORTER_MESSAGE] == [
        "It happened again today."
    ]
    assert (await chat_state.load(vault, chat)).flow == "idle"


def done_button(world: BotWorld, chat: int) -> tuple[int, str]:
    message_id, _label, data = [b for b in world.buttons(chat) if b[1] == T("button.done")][-1]
    return message_id, data


async def test_cancel_at_the_receipt_prompt_says_nothing_changed(world: BotWorld, vault: Vault) -> None:
    user = world.user(6200002)
    code = await make_report(world, user)
    before = await cases.reporter_view(vault, code=code)
    await world.say(user, "/status")
    said = await replies(world, user.user_id, lambda: world.emu.send_text(user, "/cancel"))
    assert said == [T("flow.cancelled.nothing")]
    assert await cases.reporter_view(vault, code=code) == before, "the report is as it was"


def on_screen(world: BotWorld, chat: int) -> list[dict[str, Any]]:
    """The messages of a chat still there (not deleted), the reporter's and the bot's."""
    return [m for m in world.emu.chat(chat) if not m["deleted"]]


async def test_a_stopped_report_says_what_was_deleted_and_it_is(world: BotWorld, vault: Vault) -> None:
    """/cancel with a file: the answers and the file are gone from Candour and from the chat, and the
    reporter is told how many messages went; what stays on screen is the stop message alone."""
    user = world.user(6200003)
    chat = user.user_id
    await world.say(user, "/start")
    before = [m["message_id"] for m in on_screen(world, chat)]
    await to_evidence(world, user)
    await world.send_document(user, b"Rota, 3 Nov.\n", "rota.txt", "text/plain")
    report_messages = [m for m in on_screen(world, chat) if m["message_id"] not in before]
    said = await replies(world, chat, lambda: world.emu.send_text(user, "/cancel"))
    left = on_screen(world, chat)
    # What the words promise, against the chat: none of the report's messages is still there (the file
    # and the typed answers included), the messages from before it are, and the count is exact.
    assert not any((m.get("document") or {}).get("file_name") == "rota.txt" for m in left)
    assert not any("He shouts at me" in (m.get("text") or "") for m in left)
    assert [m["message_id"] for m in left][: len(before)] == before, "earlier messages are not touched"
    deleted = len(report_messages) + 1  # and the /cancel message itself
    assert said == [
        T("flow.cancelled.report.files", count=1) + "\n\n" + T("report.submitted.wiped", count=deleted)
    ]
    assert [m.get("text") for m in left[len(before) :]] == said
    state = await chat_state.load(vault, chat)
    assert state.flow == "idle" and state.evidence == [] and state.narrative == []
    assert await case_count(vault) == 0

    await world.say(user, "/report")
    said = await replies(world, chat, lambda: world.emu.send_text(user, "/cancel"))
    assert said == [T("flow.cancelled.report.empty") + "\n\n" + T("report.submitted.wiped", count=3)]


async def test_a_stopped_report_keeps_an_earlier_receipt(world: BotWorld) -> None:
    """Stopping a second report deletes its own messages only: the first report's receipt code, not yet
    saved, stays on screen."""
    user = world.user(6200013)
    chat = user.user_id
    await make_report(world, user)
    receipt = next(m for m in on_screen(world, chat) if "Your receipt code" in (m.get("text") or ""))
    await world.say(user, "/report")
    await world.tap(user, "Bullying")
    await world.tap(user, "Cancel")
    left = on_screen(world, chat)
    assert receipt["message_id"] in [m["message_id"] for m in left]
    assert world.last(chat).startswith(T("flow.cancelled"))
    assert not any(m.get("text") == "/report" for m in left)


# --- receipt codes ----------------------------------------------------------------------------------


async def test_each_kind_of_mistyped_code_is_told_once(world: BotWorld) -> None:
    user = world.user(6200004)
    code = receipts.generate()
    last = code[-1]
    wrong_check = code[:-1] + next(c for c in receipts.ALPHABET if c != last)
    cases_told = {
        wrong_check: T("status.typo"),
        code[:-3]: T("status.typo.length", count=receipts.CODE_CHARS - 3, expected=receipts.CODE_CHARS),
        "U" + code[1:]: T("status.typo.characters"),
    }
    for typed, expected in cases_told.items():
        await world.say(user, "/status")
        assert await replies(world, user.user_id, lambda t=typed: world.emu.send_text(user, t)) == [expected]
        assert expected.count("typo") <= 1 and "character by character. Please" not in expected
    assert T("status.typo.length", count=18, expected=20).startswith("A receipt code has 20 letters")


async def test_saved_code_is_confirmed_only_when_it_was_deleted(world: BotWorld, clock: ManualClock) -> None:
    user = world.user(6200005)
    chat = user.user_id
    await make_report(world, user)
    await world.tap(user, "I have saved my code")
    assert not any("Your receipt code" in t for t in world.texts(chat))
    assert world.last(chat) == T("receipt.deleted")

    later = world.user(6200006)
    await make_report(world, later)
    clock.advance(timedelta(hours=49))  # Telegram no longer lets the bot delete it
    await world.tap(later, "I have saved my code")
    assert any("Your receipt code" in t for t in world.texts(later.user_id)), "it is still there"
    assert world.last(later.user_id) == T("receipt.not_deleted")


async def test_saved_code_pressed_twice_is_confirmed_twice(world: BotWorld) -> None:
    """The second tap finds the receipt already gone: that is said, not "could not delete (48 hours)"."""
    user = world.user(6200007)
    await make_report(world, user)
    message_id, _label, data = [b for b in world.buttons(user.user_id) if b[1] == T("button.saved_code")][-1]
    world.emu.press_button(user, message_id, data)
    world.emu.press_button(user, message_id, data)
    await world.settle()
    assert not any("Your receipt code" in t for t in world.texts(user.user_id))
    said = world.emu.bot_messages(user.user_id, include_deleted=True)[-2:]
    assert [m["text"] for m in said] == [T("receipt.deleted")] * 2
    assert T("receipt.not_deleted") not in world.texts(user.user_id)


class UnreachableTelegram(Bot):
    """Telegram's own client, with the network down for deleting (not one of our parts)."""

    async def delete_message(self, *args: Any, **kwargs: Any) -> bool:
        raise NetworkError("connection reset")


async def test_a_network_error_while_deleting_the_receipt_is_said_without_a_reason(vault: Vault) -> None:
    """No reason the bot does not know (48 hours) is given, and the error does not escape the handler."""
    turn = Turn(
        bot=UnreachableTelegram("123456:CANDOUR-TEST"),
        vault=vault,
        chat_id=6200008,
        state=chat_state.ChatState(),
        t=T,
        policy=starter_policy(),
        catalogue=Catalogue(),
        cleaner=None,  # type: ignore[arg-type]  # deleting a message examines no file
    )
    outcome = await turn.delete_outcome(1)
    assert outcome == FAILED and not await turn.delete_now(1)
    said = words.receipt_deleted(T, outcome)
    assert said == T("receipt.not_deleted.unknown") and "48" not in said


# --- /status: what was sent with the report, and what was added --------------------------------------


async def test_status_counts_the_reports_files_as_received_not_added(world: BotWorld, vault: Vault) -> None:
    user = world.user(6200007)
    code = await make_report(world, user)  # two files
    view = await cases.reporter_view(vault, code=code)
    assert sum(1 for e in view.timeline if e.with_report and e.kind == cases.EVIDENCE) == 2
    received = f"{view.received_at:%d %b %Y}"
    text = await status_view(world, user, code)
    assert T("status.received.files", date=received, count=2) in text
    assert T("status.what.evidence") not in text and T("status.timeline.empty") in text

    await world.tap(user, "Add a file")
    await world.send_document(user, b"Second rota.\n", "rota2.txt", "text/plain")
    text = await status_view(world, user, code)
    added = T("status.timeline.you", at=received, what=T("status.what.evidence"))
    assert text.count(added) == 1, "only the later file is 'added'"
    after = await cases.reporter_view(vault, code=code)
    assert [e.with_report for e in after.timeline if e.kind == cases.EVIDENCE] == [True, True, False]


# --- files kept with their hidden details -------------------------------------------------------------


async def test_a_kept_photo_is_told_the_name_it_is_sealed_under(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6200008)
    chat = user.user_id
    await to_evidence(world, user)
    await world.send_document(user, photo_with_gps(), "IMG_20261101_221405.jpg", "image/jpeg")
    await world.tap(user, "Keep them as evidence")
    told = world.last(chat)
    renamed = T("report.evidence.renamed.device", name="photo.jpg")
    assert told == T("report.evidence.added.kept", count=1, renamed=renamed)
    assert "as you sent it" not in told and "photo.jpg" in told
    receipt = await finish(world, user)
    assert T("report.sealed.kept", number=1, name="photo.jpg") in receipt
    photo = next(i for i in (await opened(vault, alice, code_of(receipt))).items if i.kind == cases.EVIDENCE)
    assert photo.meta["filename"] == "photo.jpg" and photo.meta["metadata_kept"] is True
    assert photo.body == photo_with_gps(), "its details are kept, as told"


async def test_a_kept_document_keeps_its_name_and_is_told_so(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6200009)
    chat = user.user_id
    await to_evidence(world, user)
    await world.send_document(user, zip_of_minutes(), "minutes.zip", "application/zip")
    await world.tap(user, "Keep the original anyway")
    assert world.last(chat) == T("report.evidence.added.unchecked", count=1, renamed="")
    receipt = await finish(world, user)
    item = next(i for i in (await opened(vault, alice, code_of(receipt))).items if i.kind == cases.EVIDENCE)
    assert item.meta["filename"] == "minutes.zip" and item.meta["metadata_kept"] is True


# --- the catalogue ------------------------------------------------------------------------------------


def test_no_message_offers_a_destructive_command_as_the_way_out() -> None:
    with PO.open("rb") as handle:
        catalogue = read_po(handle, locale="en")
    offering = sorted(
        str(m.id)
        for m in catalogue
        if m.id and any("/cancel" in s for s in (m.string if isinstance(m.string, tuple) else (m.string,)))
    )
    assert offering == ["help.text"], "only the command list names /cancel (and says what it deletes)"
    assert "a report you have not sent is deleted" in T("help.text")


def test_counted_messages_have_a_form_for_one_and_for_many() -> None:
    with PO.open("rb") as handle:
        catalogue = read_po(handle, locale="en")
    counted = [m for m in catalogue if m.id and not isinstance(m.id, tuple) and "{count}" in m.string]
    assert not [m.id for m in counted if re.search(r"\(s\)", m.string)], "no 'file(s)': a plural form"
    assert T("review.files", count=1) == "1 file" and T("review.files", count=2) == "2 files"
