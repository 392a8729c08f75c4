"""The sandbox: a newcomer types in a terminal and the real bot answers through the local emulator."""

from __future__ import annotations

import io
import time

from candour.app import run_sandbox
from storage.vault import Vault


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
