"""Sentences that tell the reporter what just happened, each chosen from what was done, never fixed.

Why a module of its own: a frightened reporter acts on these words ("your answers have been deleted",
"the code has a typo"). A fixed sentence said after several different actions was untrue after some of
them (Done in /status once read as if the report itself had gone). Each function here takes what the
system did, or what a stop throws away, and picks the sentence for exactly that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.catalogue import Translator
from bot.evidence import names
from bot.state import ChatState
from bot.turn import ALREADY_GONE, DELETED, TOO_OLD, Turn
from storage import receipts
from storage.errors import ReceiptTypoError


@dataclass(frozen=True)
class Dropped:
    """What stopping the current flow throws away (read from the state before it is reset)."""

    flow: str
    answered: bool  # a report's answers (anything beyond an empty draft)
    files: int  # files of a report not yet sent
    pending_file: bool  # a file being asked about, not yet added or sealed
    case_open: bool  # a report was open in /status (nothing of it is touched by stopping)


def dropped(state: ChatState) -> Dropped:
    """What a stop of this state loses; call it before `state.reset()`."""
    answered = bool(
        state.categories
        or state.narrative
        or state.when
        or state.where
        or state.location_unit
        or state.people
        or state.person
        or state.witnesses
        or state.evidence
        or state.risk_of_harm is not None
        or state.reported_before is not None
        or state.checkin_consent is not None
    )
    return Dropped(
        flow=state.flow,
        answered=answered,
        files=len(state.evidence),
        pending_file=state.pending_evidence is not None,
        case_open=state.flow == "status" and bool(state.case_id),
    )


def stopped(t: Translator, what: Dropped, *, deleted: int = 0, left: int = 0) -> str:
    """The sentence after Cancel, Done in /status, or /cancel: what was deleted, and what was not.

    `deleted` and `left`: the report's messages the bot deleted from the chat, and those Telegram kept.
    """
    if what.flow == "report":
        if what.files:
            said = t("flow.cancelled.report.files", count=what.files)
        elif what.answered or what.pending_file:
            said = t("flow.cancelled")
        else:
            said = t("flow.cancelled.report.empty")
        lines = [said]
        if deleted:
            lines.append(t("report.submitted.wiped", count=deleted))
        if left:
            lines.append(t("wipe.partial", count=left))
        return "\n\n".join(lines)
    if what.case_open:
        # Why say what is kept: the reporter must not read that their report or reply is gone.
        return t("flow.closed.case.pending_file" if what.pending_file else "flow.closed.case")
    return t("flow.cancelled.nothing")


async def stop(turn: Turn) -> None:
    """Stop the current flow and say what that did; a stopped report's messages are deleted from the chat.

    Why delete them: "your answers and the file have been deleted" was said while the typed answers and
    the file were still on screen. Only the report's own messages go (from `flow_from` on), so a receipt
    code of an earlier report that the reporter has not saved yet stays; the reporter is told how many
    went, and how many Telegram would not let the bot delete.
    """
    what = dropped(turn.state)
    since = turn.state.flow_from
    turn.state.reset()
    deleted = left = 0
    if what.flow == "report" and since:
        deleted, left = await turn.wipe(since=since)
    await turn.say(stopped(turn.t, what, deleted=deleted, left=left))


def receipt_deleted(t: Translator, outcome: str) -> str:
    """After "I have saved my code": whether the receipt message is gone, and why not only when known.

    Why: a second tap found it already deleted, and was told it could not be (48 hours), untrue twice.
    """
    if outcome in (DELETED, ALREADY_GONE):
        return t("receipt.deleted")
    return t("receipt.not_deleted" if outcome == TOO_OLD else "receipt.not_deleted.unknown")


def typo(t: Translator, error: ReceiptTypoError) -> str:
    """What is wrong with a mistyped receipt code, in the reader's language (the vault's English is not)."""
    if error.problem == "length":
        return t("status.typo.length", count=error.length, expected=receipts.CODE_CHARS)
    if error.problem == "characters":
        return t("status.typo.characters")
    return t("status.typo")


def name_change(t: Translator, filename: str, media_type: str) -> str:
    """' Its name will be changed to photo.jpg.' when a file kept as sent is stored under another name.

    Why: "sealed as you sent it" was untrue for a photo, video or recording whose details the reporter
    kept: its name is always replaced (bot/evidence/names.py: a device's name says when it was made), and
    any name is made safe to store. The reporter is told the name it will really carry.
    """
    sealed = names.safe(filename, media_type)
    sent = re.split(r"[\\/]", filename or "")[-1]
    if sealed == sent:
        return ""
    key = "report.evidence.renamed.device" if names.device_named(media_type) else "report.evidence.renamed"
    return t(key, name=sealed)
