"""The sandbox: a newcomer types in a terminal and the real bot answers through the local emulator."""

from __future__ import annotations

import io
import time

from bot.catalogue import Catalogue
from bot.sandbox import SANDBOX_USER
from candour.app import run_sandbox
from storage import cases, casework
from storage.vault import Vault

T = Catalogue().for_language("en")


async def test_terminal_chat_drives_the_real_bot(vault: Vault) -> None:
    script = iter(["/start", "#1", "#2", "#15", "It keeps happening at briefings.", "!quit"])

    def read_line() -> str:
        time.sleep(0.6)  # a person reads before typing; the bot answers meanwhile
        return next(script, "") + "\n"

    out = io.StringIO()
    await run_sandbox(vault, read_line=read_line, out=out)
    shown = out.getvalue()
    assert "Candour sandbox" in shown and "not end-to-end encrypted" in shown
    assert "✓ Harassment" in shown, "pressing #2 chose the second category"
    assert "What happened?" in shown and "Added. Send more, or press Done." in shown


async def test_fast_clock_shows_a_checkin_arrive_and_takes_the_answer(vault: Vault, alice) -> None:
    """`candour sandbox --fast-clock`: with a report that agreed to check-ins, `!next` brings the check-in
    (given its jittered time, then sent) and pressing an answer is thanked and sealed into the case."""
    result = await cases.submit(
        vault,
        report=cases.ReportSubmission(
            categories=("bullying",), narrative="Jokes at briefings.", checkin_consent=True
        ),
        contact=str(SANDBOX_USER),
    )
    script = iter(["/help", "!next", "#1", "!later 2d", "!quit"])

    def read_line() -> str:
        time.sleep(0.8)
        return next(script, "") + "\n"

    out = io.StringIO()
    await run_sandbox(vault, read_line=read_line, out=out)
    shown = out.getvalue()
    assert "!later 7d" in shown, "the fast-clock help is shown"
    assert T("checkin.notice") in shown and f"[#1] {T('checkin.answer.better')}" in shown
    assert T("checkin.thanks") in shown
    assert "(it is now " in shown
    opened = await casework.open_case(vault, officer=alice, reference=result.reference)
    assert [i.meta["answer"] for i in opened.items if i.kind == cases.CHECKIN_ANSWER] == ["better"]
