"""The reporter's one-tap answers to check-ins, and officers linking their chat for notices (/link)."""

from __future__ import annotations

from bot import support
from bot.catalogue import Translator
from bot.delivery import recall_language
from bot.turn import Turn
from storage import followup, links
from storage.errors import InputError, NotFoundError


async def on_answer(turn: Turn, arg: str, message_id: int) -> str | None:
    """A check-in button (`<entry id>.<answer>`): seal the answer into the case and thank the reporter in
    place of the question; a closed, answered or forged check-in gets a short notice and changes nothing."""
    entry_text, _, answer = arg.partition(".")
    if not entry_text.isdigit() or answer not in followup.ANSWERS:
        return turn.t("button.stale")
    try:
        done = await followup.answer_checkin(
            turn.vault, entry_id=int(entry_text), chat=str(turn.chat_id), answer=answer
        )
    except (followup.CheckinClosedError, NotFoundError):
        return turn.t("checkin.closed")
    except InputError:
        return turn.t("button.stale")
    if recall_language(turn.state, turn.catalogue, done.language):
        turn.t = turn.catalogue.for_language(turn.state.language)
    if answer == "retaliation":
        said = retaliation_told(turn.t, done)
    elif answer == "worse":
        said = worse_told(turn.t, done)
    elif answer == "stop":
        said = turn.t("checkin.thanks.stop")
    else:
        said = thanks_told(turn.t, done)
    if answer in ("retaliation", "worse") and (offered := support.text(turn)):
        said = f"{said}\n\n{offered}"
    await turn.edit(message_id, said)
    return None


def retaliation_told(t: Translator, done: followup.AnswerResult) -> str:
    """What answering "retaliation" did, sentence by sentence from the vault's account of it.

    Why built, not fixed: a reporter who says they are being punished for reporting must not be told
    more than happened (that senior officers have it, when the queue it went to cannot read it yet).
    """
    parts = [t("checkin.retaliation.thanks")]
    if done.reopened:
        parts.append(t("checkin.retaliation.reopened"))
    if done.became_urgent:
        parts.append(t("checkin.retaliation.urgent"))
    elif done.priority_after == followup.URGENT:
        parts.append(t("checkin.retaliation.already_urgent"))
    if done.escalated_to is not None:
        parts.append(t(_escalation_key(done)))
    parts.append(who_is_told(t, done))
    parts.append(t("checkin.retaliation.danger"))
    return " ".join(parts)


def _escalation_key(done: followup.AnswerResult) -> str:
    """The sentence for the second team: it can read the case, it will once given access, or (when no
    officer can read the case at all) only that it was sent on, the next sentence saying nobody can yet."""
    if done.escalation_can_read:
        return "checkin.retaliation.escalated"
    return "checkin.retaliation.escalated_pending" if done.readers else "checkin.retaliation.escalated_sent"


def who_is_told(t: Translator, done: followup.AnswerResult) -> str:
    """Who learns of the answer: officers told now, the team next time it looks, or nobody can read it yet."""
    if done.notified:
        return t("checkin.retaliation.told_now", count=done.notified)
    if done.readers:
        return t("checkin.retaliation.seen_in_desk")
    return t("checkin.retaliation.no_reader")


def thanks_told(t: Translator, done: followup.AnswerResult) -> str:
    """The thanks for "better" or "no change", from the vault's account: "gone to the team" only when an
    officer can read the case now; else that it is kept with the report until someone is given access."""
    return t("checkin.thanks" if done.readers else "checkin.thanks.kept")


def worse_told(t: Translator, done: followup.AnswerResult) -> str:
    """What answering "worse" did, from the vault's account: never "the team has been told" when the
    vault queued no notice (no officer linked, or none can read the case yet)."""
    return " ".join((t("checkin.thanks.worse"), who_is_told(t, done), t("checkin.worse.details")))


async def on_link(turn: Turn, code: str) -> None:
    """`/link CODE`: link this chat to the code's desk account."""
    if not code.strip():
        await turn.say(turn.t("link.usage"))
        return
    try:
        login = await links.redeem(turn.vault, code=code, chat=str(turn.chat_id))
    except InputError:
        await turn.say(turn.t("link.invalid"))
        return
    await turn.say(turn.t("link.done", login=login))


async def on_unlink(turn: Turn) -> None:
    """`/unlink`: stop notices to this chat."""
    removed = await links.unlink(turn.vault, chat=str(turn.chat_id))
    await turn.say(turn.t("unlink.done" if removed else "unlink.none"))
