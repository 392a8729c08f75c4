"""Checking a report with its receipt code, answering the team, adding information or files; and the
team's pushed messages, read with one tap and answered in the chat.
"""

from __future__ import annotations

from telegram import Message

from bot import evidence_flow, files, words
from bot.delivery import recall_language
from bot.state import EvidenceAnswer
from bot.turn import Turn
from storage import cases, outbox, throttle
from storage import contact as contacts
from storage import text as text_rules
from storage.errors import NotFoundError, ReceiptTypoError, ThrottledError, UnknownReceiptError


async def begin(turn: Turn) -> None:
    """Ask for the receipt code."""
    turn.state.start("status", "code")
    await turn.say(turn.t("status.ask_code"))


def _chat_ref(turn: Turn) -> str:
    return f"telegram:{turn.chat_id}"


async def on_code(turn: Turn, message: Message) -> None:
    """The reporter typed a receipt code: delete it at once, then look it up (throttled per chat)."""
    code = message.text or ""
    await turn.delete_now(message.message_id)
    t = turn.t
    try:
        case_id = await throttle.case_for_receipt(turn.vault, chat_ref=_chat_ref(turn), code=code)
        view = await cases.reporter_view(turn.vault, code=code)
    except ReceiptTypoError as exc:
        await turn.say(words.typo(t, exc))
        return
    except UnknownReceiptError:
        await turn.say(t("status.unknown"))
        return
    except ThrottledError:
        await turn.say(t("status.throttled"))
        return
    except NotFoundError:
        await turn.say(t("status.gone"))
        return
    turn.state.case_id = case_id
    turn.state.step = "view"
    await turn.say(_render(turn, view), _actions(turn))


def notice_text(turn: Turn, status: str | None) -> str | None:
    """A status notice worded from the catalogue (the vault keeps an English copy for other front doors)."""
    if not status:
        return None
    key = f"notice.{status}"
    text = turn.t(key)
    return None if text == key else text


def _render(turn: Turn, view: cases.ReporterView) -> str:
    t = turn.t
    lines = []
    # Files sent with the report belong to "Received", not to what was added since.
    with_report = sum(1 for e in view.timeline if e.with_report and e.kind == cases.EVIDENCE)
    for entry in view.timeline:
        at = f"{entry.at:%d %b %Y}"
        if entry.with_report:
            continue
        if entry.author == "officer" and entry.text:
            text = notice_text(turn, entry.notice) or entry.text
            lines.append(t("status.timeline.team", at=at, text=text))
        elif entry.author == "reporter" and entry.kind != cases.REPORT:
            what = {"evidence": "status.what.evidence", "checkin-answer": "status.what.checkin"}.get(
                entry.kind, "status.what.message"
            )
            lines.append(t("status.timeline.you", at=at, what=t(what)))
    timeline = "\n".join(lines) or t("status.timeline.empty")
    received = f"{view.received_at:%d %b %Y}"
    if with_report:
        received = t("status.received.files", date=received, count=with_report)
    text = t(
        "status.view",
        reference=view.reference,
        status=t(f"status.{view.status}"),
        received=received,
        timeline=timeline,
    )
    return text if len(text) <= 4000 else text[:3990] + " …"


def _actions(turn: Turn) -> list[list[tuple[str, str]]]:
    t = turn.t
    return [
        [(t("button.reply"), turn.data("reply")), (t("button.add_evidence"), turn.data("addfile"))],
        [(t("button.done"), turn.data("cancel"))],
    ]


async def on_button(turn: Turn, action: str) -> str | None:
    """A button of the status view."""
    if turn.state.step in ("view", "reply", "file") and turn.state.case_id:
        if action == "reply":
            turn.state.step = "reply"
            await turn.say(turn.t("status.reply.prompt"))
            return None
        if action == "addfile":
            turn.state.step = "file"
            await turn.say(turn.t("status.evidence.prompt"))
            return None
    if action == "cancel":
        return "cancel"
    return turn.t("button.stale")


async def on_text(turn: Turn, message: Message) -> None:
    """Text in the status flow: a receipt code, or a reply to the team."""
    if turn.state.step == "code":
        await on_code(turn, message)
    elif turn.state.step == "reply" and turn.state.case_id:
        if text_rules.is_blank(message.text):
            await turn.say(turn.t("input.blank"))  # still at the reply step: nothing was sent
            return
        turn.state.step = "view"  # first: the buttons sent with the confirmation belong to the view
        await send_reply(turn, turn.state.case_id, message.text or "", message_id=message.message_id)
    else:
        await turn.say(turn.t("input.use_buttons"))


def _source(turn: Turn, message_id: int | None) -> str | None:
    """What names the message an addition came from, the same on every delivery of it (hashed by the vault)."""
    return None if message_id is None else f"{_chat_ref(turn)}:{message_id}"


async def send_reply(turn: Turn, case_id: str, text: str, *, message_id: int | None = None) -> None:
    """Seal the reporter's message into the case (once, however often its message is handled)."""
    try:
        await cases.add_from_reporter(
            turn.vault,
            case_id=case_id,
            kind=cases.REPORTER_MESSAGE,
            text=text_rules.normalise(text),
            source=_source(turn, message_id),
        )
    except NotFoundError:
        await turn.say(turn.t("status.gone"))
        return
    # Why the actions again: the view's buttons went when Reply was pressed; more may follow.
    await turn.say(turn.t("status.reply.sent"), _actions(turn) if turn.state.flow == "status" else None)


async def on_file(turn: Turn, message: Message) -> None:
    """A file for an existing report: examined and cleaned like report evidence."""
    if turn.state.step != "file" or not turn.state.case_id:
        await turn.say(turn.t("input.file_not_expected"))
        return
    answer = files.describe(message)
    if answer is None:
        await turn.say(turn.t("report.evidence.unsupported"))
        return
    answer.message_id = message.message_id
    try:
        examined = await files.examine(turn.bot, turn.cleaner, answer)
    except files.FileRefused as refused:
        await turn.say(files.refusal(turn.t, refused))
        return
    await evidence_flow.take_file(turn, examined)


async def send_file(turn: Turn, answer: EvidenceAnswer) -> None:
    """Seal an accepted file into the reporter's case."""
    assert turn.state.case_id is not None
    try:
        prepared = await files.prepare(turn.bot, turn.cleaner, answer)
        await cases.add_from_reporter(
            turn.vault,
            case_id=turn.state.case_id,
            kind=cases.EVIDENCE,
            evidence=prepared.evidence,
            source=_source(turn, answer.message_id),
        )
    except files.FileRefused as refused:
        # Nothing was added; the reporter may send the file (or a screenshot of it) again.
        turn.state.step = "file"
        await turn.say(files.refusal(turn.t, refused))
        return
    except NotFoundError:
        await turn.say(turn.t("status.gone"))
        return
    turn.state.step = "view"
    # What was done to the file, from the cleaner's answer for the bytes just sealed; then the
    # confirmation with the view's actions, so more can follow.
    await turn.say(files.sealed_one(turn.t, prepared))
    key = "status.evidence.sent.caption" if answer.caption else "status.evidence.sent"
    await turn.say(turn.t(key), _actions(turn))


# --- pushed messages ------------------------------------------------------------------------------


async def read_pushed(turn: Turn, entry_id: int, message_id: int) -> str | None:
    """Show a pushed message in place of its discreet notice; the outbox copy is destroyed once shown.

    Threat: forged callback data naming another reporter's message. Why the contact check: the entry's
    case must be reachable at this very chat, or nothing is shown.
    """
    entry = await outbox.get(turn.vault, entry_id=entry_id)
    if (
        entry is None
        or entry.kind != outbox.REPORTER_MESSAGE
        or entry.status != "notified"
        or not entry.case_id
    ):
        return turn.t("push.gone")
    found = await contacts.read(turn.vault, case_id=entry.case_id)
    if found is None or found.chat != str(turn.chat_id):
        return turn.t("button.stale")
    if recall_language(turn.state, turn.catalogue, found.language):
        turn.t = turn.catalogue.for_language(turn.state.language)
    text = notice_text(turn, entry.detail.get("reason")) or outbox.open_reporter_payload(turn.vault, entry)
    turn.state.inbox[str(entry_id)] = entry.case_id
    await turn.edit(
        message_id, turn.t("push.message", text=text), [[(turn.t("button.reply"), f"x|reply|{entry_id}")]]
    )
    await outbox.finish(turn.vault, entry_id=entry_id, status="sent")
    return None


async def reply_pushed(turn: Turn, entry_id: str) -> str | None:
    """The reporter pressed Reply under a team message: their next text goes to that case."""
    case_id = turn.state.inbox.get(entry_id)
    if case_id is None:
        return turn.t("button.stale")
    if turn.state.flow == "report":
        # Why not start over: a half-written report must survive; the reply waits for its own prompt.
        turn.state.inbox["reply"] = case_id
    else:
        turn.state.start("status", "reply")
        turn.state.case_id = case_id
    await turn.say(turn.t("status.reply.prompt"))
    return None
