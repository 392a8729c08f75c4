"""The reporter's one-tap answers to check-ins, and officers linking their chat for notices (/link)."""

from __future__ import annotations

from bot.turn import Turn
from storage import followup, links
from storage.errors import InputError, NotFoundError

_THANKS = {
    "retaliation": "checkin.thanks.retaliation",
    "worse": "checkin.thanks.worse",
    "stop": "checkin.thanks.stop",
}


async def on_answer(turn: Turn, arg: str, message_id: int) -> str | None:
    """A check-in button (`<entry id>.<answer>`): seal the answer into the case and thank the reporter in
    place of the question; a closed, answered or forged check-in gets a short notice and changes nothing."""
    entry_text, _, answer = arg.partition(".")
    if not entry_text.isdigit() or answer not in followup.ANSWERS:
        return turn.t("button.stale")
    try:
        await followup.answer_checkin(
            turn.vault, entry_id=int(entry_text), chat=str(turn.chat_id), answer=answer
        )
    except (followup.CheckinClosedError, NotFoundError):
        return turn.t("checkin.closed")
    except InputError:
        return turn.t("button.stale")
    await turn.edit(message_id, turn.t(_THANKS.get(answer, "checkin.thanks")))
    return None


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
