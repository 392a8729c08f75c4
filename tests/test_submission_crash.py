"""Nothing lost or doubled at submission: the real bot (`candour run` and its services) is SIGKILLed at each
point between the reporter's Submit and a chat at rest, restarted, and the reporter then does what a
person would (asks the bot again, presses Submit if offered, checks the code they hold with /status).

After each: exactly one case, every receipt the chat ever showed is the same code, it opens that case,
and no receipt code is left in the chat's sealed draft. The kill is made by the emulator (in this test
process) when the bot's request for that point arrives, so no crash hook exists in the bot at all:
- before the commit: when the bot puts up "Submitting, please wait." (nothing is sealed yet);
- after the commit: when the receipt message is requested (refused: the receipt never reaches the chat);
- after the receipt is sent: once the receipt is in the chat, before the bot hears back;
- before the chat is reset: when the bot asks to delete the report's messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select

from bot import state
from bot.catalogue import Catalogue
from bot.emulator import TelegramEmulator
from bot.emulator.state import FakeUser
from bot.emulator.validation import ApiError
from candour.app import open_vault
from candour.settings import Settings
from storage import cases
from storage.models import Case
from storage.vault import Vault
from tests.dispatch_world import install
from tests.test_run_services import children

TOKEN = "424242:SUBMIT-CRASH"
CHAT = 6_100_000_001
ROOT = Path(__file__).resolve().parent.parent
CODE = re.compile(r"\b[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}\b")
T = Catalogue().for_language("en")
SUBMITTING = T("report.submitting")


def _is_receipt(params: dict[str, Any]) -> bool:
    return bool(CODE.search(str(params.get("text", ""))))


def _is_submitting(params: dict[str, Any]) -> bool:
    return params.get("text") == SUBMITTING


# point -> (Bot API method, which request, whether the emulator carries it out before the kill)
POINTS: dict[str, tuple[str, Callable[[dict[str, Any]], bool], bool]] = {
    "before-commit": ("editMessageText", _is_submitting, True),
    "after-commit": ("sendMessage", _is_receipt, False),
    "after-receipt-sent": ("sendMessage", _is_receipt, True),
    "before-chat-reset": ("deleteMessages", lambda _params: True, False),
}


@dataclass
class BotProcess:
    """`candour run` against the emulator, started and SIGKILLed as a whole process."""

    settings: Settings
    emu: TelegramEmulator
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    killed: list[str] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_")}
        env.update(
            {
                "CANDOUR_DATA_DIR": str(self.settings.data_dir),
                "CANDOUR_TELEGRAM_TOKEN": TOKEN,
                "CANDOUR_TELEGRAM_API_URL": self.emu.root_url,
                "CANDOUR_DESK_ENABLED": "false",
                "CANDOUR_ARGON2_MEMORY_KIB": "64",
                "CANDOUR_ARGON2_ITERATIONS": "1",
                "CANDOUR_ARGON2_LANES": "1",
                "PYTHONPATH": str(ROOT),
            }
        )
        if self.settings.database_url:
            env["CANDOUR_DATABASE_URL"] = self.settings.database_url
        return env

    async def start(self) -> None:
        """Start the bot and wait until it has registered its commands (ready to poll)."""
        ready = sum(1 for method, _ in self.emu.calls if method == "setMyCommands") + 1
        self.launch()
        await until(
            lambda: sum(1 for method, _ in self.emu.calls if method == "setMyCommands") >= ready,
            what="the bot to start",
            on_fail=self.output,
        )

    def launch(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from candour.cli import main; main()", "run"],
                cwd=self.settings.data_dir.parent,
                env=self.environment(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL the services `candour run` supervises (the intake does the work), then `run` itself,
        before its back-off could start them again: the intake dies mid-step, not by a clean stop."""
        if self.process is not None and self.process.poll() is None:
            for pid in children(self.process.pid).values():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def kill_at(self, point: str) -> None:
        """SIGKILL the bot when its request for `point` reaches the emulator (once)."""
        method, wanted, carried_out = POINTS[point]
        bot_state = self.emu.bot_state()
        original = bot_state.call

        async def call(name: str, params: dict[str, Any]) -> Any:
            if name != method or not wanted(params):
                return await original(name, params)
            bot_state.call = original  # type: ignore[method-assign]
            result = await original(name, params) if carried_out else None
            self.kill()
            self.killed.append(point)
            raise ApiError(500, "Internal Server Error: the bot was killed here")
            return result  # pragma: no cover

        bot_state.call = call  # type: ignore[method-assign]

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


async def until(
    condition: Callable[[], bool],
    *,
    what: str,
    timeout: float = 20,
    on_fail: Callable[[], str] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f":\n{on_fail()}" if on_fail else ""))
        await asyncio.sleep(0.02)


@dataclass
class Reporter:
    """The person in the chat: sends and taps, and waits for the bot to answer."""

    emu: TelegramEmulator
    user: FakeUser
    bot: BotProcess

    def live(self) -> list[dict[str, Any]]:
        return self.emu.bot_messages(self.user.user_id)

    def last_text(self) -> str:
        """The newest message on screen ("" when a wipe has left none)."""
        shown = self.live()
        return (shown[-1].get("text") or "") if shown else ""

    def buttons(self) -> list[tuple[int, str, str]]:
        found = []
        for message in self.live():
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    found.append((message["message_id"], button["text"], button.get("callback_data", "")))
        return found

    def has_button(self, label: str) -> bool:
        return any(text == label for _m, text, _d in self.buttons())

    async def say(self, text: str, *, expect: Callable[[], bool]) -> None:
        self.emu.send_text(self.user, text)
        await until(expect, what=f"the bot to answer {text!r}", on_fail=self.bot.output)

    async def tap(self, label: str, *, wait: bool = True) -> None:
        message_id, _label, data = [b for b in self.buttons() if b[1] == label][-1]
        query = self.emu.press_button(self.user, message_id, data)
        if wait:
            await until(
                lambda: self.emu.bot_state().callback_queries[query].answered,
                what=f"the bot to answer the {label!r} button",
                on_fail=self.bot.output,
            )

    def codes_seen(self) -> list[str]:
        """Every receipt code the bot ever put in this chat, deleted messages included."""
        shown = self.emu.bot_messages(self.user.user_id, include_deleted=True)
        return [match for m in shown for match in CODE.findall(m.get("text") or "")]


@pytest.fixture
async def installed(settings: Settings) -> AsyncIterator[tuple[Vault, Settings]]:
    """A fresh installation on each engine (conftest's `settings`), and the vault open on it here too."""
    await install(settings)
    vault = await open_vault(settings)
    yield vault, settings
    await vault.db.dispose()


async def a_report_at_review(vault: Vault, chat: int) -> None:
    """The chat's draft as a reporter leaves it after answering every question (sealed, as the bot keeps it)."""
    chat_state = state.ChatState()
    chat_state.start("report", "review")
    chat_state.categories = ["bullying"]
    chat_state.narrative = ["My sergeant shouts at me in front of the team every shift."]
    chat_state.when = "ongoing"
    chat_state.risk_of_harm, chat_state.reported_before, chat_state.checkin_consent = False, False, False
    await state.save(vault, chat, chat_state)


async def count_cases(vault: Vault) -> int:
    async with vault.db.reading() as session:
        return int((await session.exec(select(func.count()).select_from(Case))).one())


async def crash_and_recover(vault: Vault, bot: BotProcess, reporter: Reporter, point: str, made: int) -> None:
    """With the bot running: the reporter submits, the bot is killed at `point`, restarted, and the
    reporter carries on; `made` is how many cases the earlier points made (one each)."""
    chat = reporter.user.user_id
    await a_report_at_review(vault, chat)
    await reporter.say("/report", expect=lambda: reporter.has_button(T("button.continue")))
    await reporter.tap(T("button.continue"))
    assert reporter.has_button(T("button.submit"))

    bot.kill_at(point)
    await reporter.tap(T("button.submit"), wait=False)
    await until(lambda: bot.killed[-1:] == [point], what=f"the kill at {point}", on_fail=bot.output)
    assert bot.process is not None and bot.process.returncode == -signal.SIGKILL
    await bot.start()

    # What a person does with a bot that went quiet: ask again, and submit if it offers that.
    before = len(reporter.live())
    await reporter.say("/report", expect=lambda: len(reporter.live()) > before and bool(reporter.buttons()))
    if reporter.has_button(T("button.continue")):
        await reporter.tap(T("button.continue"))
        if reporter.has_button(T("button.submit")):
            await reporter.tap(T("button.submit"))
            await until(lambda: bool(reporter.codes_seen()), what="the receipt", on_fail=bot.output)

    assert await count_cases(vault) == made + 1, f"{point}: the crash and the retry made two cases, or none"
    codes = set(reporter.codes_seen())
    assert len(codes) == 1, f"{point}: the chat showed {len(codes)} different receipt codes"
    [code] = codes
    case_id = await cases.case_for_receipt(vault, code=code)

    # The reporter uses the code they saw, as a person would: /status and the code.
    # /cancel first, to bring the chat to rest whatever step it was left at; its answer says what it did
    # (bot/words.py), so any new answer from the bot will do here.
    def said() -> int:  # deleted ones too: the answer may wipe what went before
        return len(reporter.emu.bot_messages(reporter.user.user_id, include_deleted=True))

    answered = said()
    await reporter.say("/cancel", expect=lambda: said() > answered)
    await reporter.say("/status", expect=lambda: reporter.last_text() == T("status.ask_code"))
    view = await cases.reporter_view(vault, code=code)
    assert view.case_id == case_id
    await reporter.say(code, expect=lambda: view.reference in reporter.last_text())
    # Nothing still holds the code: the draft's sealed copy was destroyed once Telegram had the receipt.
    assert getattr(await state.load(vault, chat), "receipt", "") == ""


# Why fewer on PostgreSQL: each point costs a process start; the two where the commit has happened (the
# case and the finished draft in one transaction) are the ones that depend on the engine.
ON_POSTGRES = ("after-commit", "before-chat-reset")


@pytest.mark.slow
async def test_a_kill_at_each_point_around_submit_leaves_one_case_and_its_receipt(
    installed: tuple[Vault, Settings], engine_name: str
) -> None:
    vault, settings = installed
    points = [p for p in POINTS if engine_name == "sqlite" or p in ON_POSTGRES]
    async with TelegramEmulator() as emu:
        emu.add_bot(TOKEN)
        bot = BotProcess(settings=settings, emu=emu, log=settings.data_dir.parent / "bot.log")
        await bot.start()
        try:
            # One installation and one bot, killed and restarted at each point in turn, a chat per point.
            for made, point in enumerate(points):
                user = emu.add_user(user_id=CHAT + made, first_name="Reporter")
                await crash_and_recover(vault, bot, Reporter(emu=emu, user=user, bot=bot), point, made)
        finally:
            bot.kill()
