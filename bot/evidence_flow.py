"""The evidence step of a report (and a file added to an existing report): taking a file, asking about its
hidden details or about a file Candour cannot clean, listing the files so far and taking one out again.

Nothing reaches a case here: an accepted file is a Telegram file id in the sealed draft until submission
(bot.files fetches and cleans it then); a file for an existing report goes to status_flow.send_file.
"""

from __future__ import annotations

import hashlib

from telegram import Message

from bot import files
from bot.state import EvidenceAnswer
from bot.turn import Keyboard, Turn

STEPS = ("evidence", "evidence_metadata", "evidence_unchecked")
ACTIONS = ("meta", "unchk", "rmfile")
MAX_FILES = 30  # storage.vault.Limits.max_evidence_items
_REMOVE_PER_ROW = 3


def _done_row(turn: Turn, *, skip: bool = False) -> list[tuple[str, str]]:
    row = [(turn.t("button.done"), turn.data("done"))]
    if skip:
        row.append((turn.t("button.skip"), turn.data("skip")))
    return row


# --- prompts --------------------------------------------------------------------------------------


async def prompt(turn: Turn, *, notice: str = "") -> None:
    """Ask the question of the current evidence step (`notice`: a line to say first, in the same message)."""
    state, t = turn.state, turn.t
    if state.step in ("evidence_metadata", "evidence_unchecked") and not state.pending_evidence:
        state.step = "evidence"  # a question about a file no longer held: back to asking for files
    if state.step == "evidence_metadata" and state.pending_evidence:
        await turn.say(
            files.question(t, state.pending_evidence),
            [
                [(t("button.remove_metadata"), turn.data("meta", "strip"))],
                [(t("button.keep_metadata"), turn.data("meta", "keep"))],
            ],
        )
    elif state.step == "evidence_unchecked" and state.pending_evidence:
        # Why "don't send" first: a screenshot (or, for a recording, a description) carries nothing
        # hidden; keeping the original stays possible (its details may be the evidence), after the warning.
        await turn.say(
            files.cannot_clean(t, state.pending_evidence),
            [
                [(t("button.dont_send"), turn.data("unchk", "drop"))],
                [(t("button.send_anyway"), turn.data("unchk", "send"))],
            ],
        )
    else:
        text, rows = files_prompt(turn)
        await turn.say(f"{notice}\n\n{text}" if notice else text, rows)


def files_prompt(turn: Turn) -> tuple[str, Keyboard]:
    """The request for files; with files already in the draft, the list of them, each with Remove.

    Why a Remove per file: a file refused at submission, or sent by mistake, must be taken out without
    losing the rest of the report (Cancel would lose all of it).
    """
    t, evidence = turn.t, turn.state.evidence
    if not evidence:
        return t("report.evidence"), [_done_row(turn, skip=True)]
    lines = "\n".join(files.draft_line(t, number, answer) for number, answer in enumerate(evidence, 1))
    text = f"{t('report.evidence')}\n\n{t('report.evidence.list', files=lines)}"
    buttons = [
        (t("button.remove_file", number=number), turn.data("rmfile", file_token(number, answer)))
        for number, answer in enumerate(evidence, 1)
    ]
    rows: Keyboard = [buttons[i : i + _REMOVE_PER_ROW] for i in range(0, len(buttons), _REMOVE_PER_ROW)]
    rows.append(_done_row(turn))
    return text, rows


def file_token(number: int, answer: EvidenceAnswer) -> str:
    """A button's name for one file of the draft: its number and a short digest of its Telegram file id.

    Threat: an older Remove button pressed after the files were renumbered would take out another file.
    Why the digest: a press counts only if that number still holds that very file.
    """
    digest = hashlib.sha256(answer.file_id.encode()).hexdigest()[:8]
    return f"{number}.{digest}"


def take_out(turn: Turn, token: str) -> tuple[int, EvidenceAnswer] | None:
    """Remove from the draft the file a button names (see file_token); None if no file matches it now."""
    number_text, _dot, _digest = token.partition(".")
    if not number_text.isdigit():
        return None
    number = int(number_text)
    evidence = turn.state.evidence
    if not 1 <= number <= len(evidence) or file_token(number, evidence[number - 1]) != token:
        return None
    return number, evidence.pop(number - 1)


# --- a file refused at submission ----------------------------------------------------------------

AFTER_REFUSAL = ("rmsub", "files")


def refused_keyboard(turn: Turn, number: int, answer: EvidenceAnswer) -> Keyboard:
    """Under "file N could not be used": submit without it, or go back to the files (nothing is lost)."""
    t = turn.t
    return [
        [(t("button.remove_and_submit", number=number), turn.data("rmsub", file_token(number, answer)))],
        [(t("button.back_to_files"), turn.data("files"))],
    ]


async def after_refusal(turn: Turn, action: str, arg: str) -> str | None:
    """A button of the refusal at submission; "submit" when the rest is to be submitted now.

    Why submit at once: the reporter chose to go on without that file; the receipt then lists the files
    that were sealed, so what they are told is what was stored.
    """
    t = turn.t
    if action == "files":
        # As Edit: files from the review screen (Done goes back to review, the answers kept).
        turn.state.editing, turn.state.step = True, "evidence"
        await prompt(turn)
        return None
    removed = take_out(turn, arg)
    if removed is None:
        return t("button.stale")
    number, answer = removed
    await turn.say(t("report.evidence.file_removed", number=number, name=files.shown_name(answer)))
    return "submit"


# --- answers --------------------------------------------------------------------------------------


async def on_button(turn: Turn, action: str, arg: str) -> str | None:
    """A button of the evidence steps; returns a short notice for the button's spinner, if any."""
    state, step, t = turn.state, turn.state.step, turn.t
    if (
        step == "evidence_metadata"
        and action == "meta"
        and arg in ("strip", "keep")
        and state.pending_evidence
    ):
        state.pending_evidence.keep_metadata = arg == "keep"
        await _accept_pending(turn)
    elif (
        step == "evidence_unchecked"
        and action == "unchk"
        and arg in ("send", "drop")
        and state.pending_evidence
    ):
        if arg == "send":
            await _accept_pending(turn)
        elif state.flow == "status":
            state.pending_evidence = None
            state.step = "file"
            await turn.say(t("status.evidence.prompt"))
        else:
            state.pending_evidence = None
            state.step = "evidence"
            await prompt(turn)
    elif step == "evidence" and action == "rmfile" and state.flow == "report":
        removed = take_out(turn, arg)
        if removed is None:
            return t("button.stale")
        number, answer = removed
        notice = t("report.evidence.file_removed", number=number, name=files.shown_name(answer))
        await prompt(turn, notice=notice)
    else:
        return t("button.stale")
    return None


async def on_file(turn: Turn, message: Message) -> None:
    """A file at the evidence step."""
    answer = files.describe(message)
    t = turn.t
    if answer is None:
        await turn.say(t("report.evidence.unsupported"))
        return
    if len(turn.state.evidence) >= MAX_FILES:
        await turn.say(t("report.evidence.too_many", limit=MAX_FILES))
        return
    try:
        examined = await files.examine(turn.bot, turn.cleaner, answer)
    except files.FileRefused as refused:
        await turn.say(files.refusal(t, refused))
        return
    await take_file(turn, examined)


async def take_file(turn: Turn, answer: EvidenceAnswer) -> None:
    """Ask about a file's hidden details if it has any, or about a file we cannot clean; else accept it.

    Threat: a "voice message" whose bytes are a video with GPS. Why no exception for voice notes: the
    cleaner read the real type from the bytes, and that type alone decides what is asked.
    """
    turn.state.pending_evidence = answer
    if not answer.cleanable:
        turn.state.step = "evidence_unchecked"
        await prompt(turn)
    elif answer.findings or answer.findings_more or answer.parts or answer.parts_more:
        turn.state.step = "evidence_metadata"
        await prompt(turn)
    else:
        await _accept_pending(turn)


async def _accept_pending(turn: Turn) -> None:
    state = turn.state
    assert state.pending_evidence is not None
    if state.flow == "status":
        from bot import status_flow

        await status_flow.send_file(turn, state.pending_evidence)
        state.pending_evidence = None
        return
    state.evidence.append(state.pending_evidence)
    text = files.accepted(turn.t, state.pending_evidence, len(state.evidence))
    state.pending_evidence = None
    state.step = "evidence"
    await turn.say(text, [_done_row(turn)])
