"""The sandbox: a newcomer types in a terminal and the real bot answers through the local emulator."""

from __future__ import annotations

import io
import time

from bot.catalogue import Catalogue
from bot.sandbox import SANDBOX_USER
from candour.app import desk_config, run_sandbox
from candour.settings import Settings
from desk.app import build_app
from storage import cases, casework
from storage.vault import Vault
from tests.conftest import PASSPHRASE
from tests.desk_world import client_for, enrol, give_password

T = Catalogue().for_language("en")


async def test_terminal_chat_drives_the_real_bot(vault: Vault) -> None:
    script = iter(["/start", "#1", "#2", "#16", "It keeps happening at briefings.", "!quit"])

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


async def test_a_desk_message_reaches_the_sandbox_chat_and_the_answer_reaches_the_desk(
    vault: Vault, settings: Settings, clock
) -> None:
    """The newcomer's round trip: a report made in the sandbox (here through the vault, as the sandbox's bot
    submits it, with the sandbox chat as its contact) is in the officer's desk queue; the officer's message
    arrives in the sandbox chat, and the reporter's answer there appears on the desk's case."""
    filed = await cases.submit(
        vault,
        report=cases.ReportSubmission(categories=("bullying",), narrative="Jokes at every briefing."),
        contact=str(SANDBOX_USER),
    )
    app = build_app(vault, desk_config(settings))
    officer = client_for(app)
    await give_password(vault, "alice")
    assert (await officer.sign_in("alice")).status_code == 200
    await enrol(vault, officer, clock)
    assert (await officer.unlock(PASSPHRASE)).status_code == 200
    queue = (await officer.get("/api/cases")).json()
    assert filed.reference in str(queue)
    sent = await officer.post(
        f"/api/cases/{filed.reference}/messages", {"text": "Which briefings? Dates help."}
    )
    assert sent.status_code == 200, sent.text

    # The reporter: waits for the notice, presses Read (#1), then Reply (#1), then types the answer.
    script = iter(["/help", "#1", "#1", "The 3rd and the 9th of November.", "!quit"])

    def read_line() -> str:
        time.sleep(1.5)  # delivery runs every second in the sandbox
        return next(script, "") + "\n"

    out = io.StringIO()
    await run_sandbox(vault, read_line=read_line, out=out)
    shown = out.getvalue()
    assert "Which briefings? Dates help." in shown
    case = (await officer.get(f"/api/cases/{filed.reference}")).json()
    answers = [e["text"] for e in case["timeline"] if e["author"] == "reporter" and e["text"]]
    assert "The 3rd and the 9th of November." in answers
    await officer.http.aclose()
