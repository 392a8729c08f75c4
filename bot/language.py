"""`/language`: the reporter picks the language the bot speaks; a report half-written is asked again in it.

Why the choice is kept in the sealed chat state only: it is the one language fact kept, never in clear
(Telegram's own language code only picks a catalogue for one reply and is never stored).
"""

from __future__ import annotations

from bot import report_flow
from bot.turn import Keyboard, Turn


def _mid_report(turn: Turn) -> bool:
    return turn.state.flow == "report" and bool(turn.state.step)


def keyboard(turn: Turn) -> Keyboard:
    """Every shipped language in its own name. Mid-report each button also names the question on screen
    (the bot's message just before the reporter's /language), so its old-language buttons can go."""
    trail = turn.state.trail
    question = f".{trail[-2]}" if _mid_report(turn) and len(trail) >= 2 else ""
    return [
        [(turn.catalogue.language_name(code), f"x|lang|{code}{question}")]
        for code in turn.catalogue.languages
    ]


async def choose(turn: Turn) -> None:
    """Offer the languages (the reporter's /language message is already in the trail)."""
    await turn.say(turn.t("language.choose"), keyboard(turn))


def remember(turn: Turn, code: str) -> None:
    """Speak `code` from now on, in this reply too."""
    turn.state.language = code
    turn.t = turn.catalogue.for_language(code)


async def chosen(turn: Turn, arg: str) -> str | None:
    """A language button: say so in it, and mid-report ask the current question again in it, taking the
    buttons off the question asked in the old language (a stale id or one not of this chat does nothing)."""
    code, _, question = arg.partition(".")
    if code not in turn.catalogue.languages:
        return turn.t("button.stale")
    remember(turn, code)
    await turn.say(turn.t("language.set"))
    if _mid_report(turn):
        if question.isdigit() and int(question) in turn.state.trail:
            await turn.drop_buttons(int(question))
        await report_flow.prompt(turn)
    return None
