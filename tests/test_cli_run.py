"""`candour run` with a token serves the real bot (here against the local Bot API emulator) until stopped."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from bot.emulator import TelegramEmulator
from tests.bot_world import wait_for

TOKEN = "777000:RUN-TEST"
CANDOUR = Path(sys.executable).parent / "candour"


@pytest.fixture
def engine_name() -> str:
    return "sqlite"


@pytest.mark.slow
async def test_run_serves_the_bot_until_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_")}
    env.update(
        {
            "CANDOUR_DATA_DIR": str(tmp_path / "data"),
            "CANDOUR_ARGON2_MEMORY_KIB": "64",
            "CANDOUR_ARGON2_ITERATIONS": "1",
            "CANDOUR_ARGON2_LANES": "1",
            "CANDOUR_ADMIN_PASSPHRASE": "correct horse battery staple",
            # Port 0: the system picks a free one, so this test never clashes with a `candour run` (or
            # another test) on the same machine; the banner says which.
            "CANDOUR_DESK_PORT": "0",
        }
    )
    init = await asyncio.create_subprocess_exec(
        str(CANDOUR),
        "init",
        "--non-interactive",
        "--admin-login",
        "admin",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert await init.wait() == 0
    async with TelegramEmulator() as emu:
        emu.add_bot(TOKEN)
        user = emu.add_user(user_id=91001, first_name="Runner")
        env.update({"CANDOUR_TELEGRAM_TOKEN": TOKEN, "CANDOUR_TELEGRAM_API_URL": emu.root_url})
        process = await asyncio.create_subprocess_exec(
            str(CANDOUR),
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            try:
                await wait_for(lambda: any(m == "setMyCommands" for m, _ in emu.calls), timeout=20)
            except TimeoutError:
                process.kill()
                out, err = await process.communicate()
                raise AssertionError(f"bot did not start: {out.decode()} {err.decode()}") from None
            commands = next(p for m, p in emu.calls if m == "setMyCommands")["commands"]
            assert [c["command"] for c in commands] == [
                "start",
                "report",
                "status",
                "help",
                "privacy",
                "cancel",
                "language",
                "wipe",
            ]
            emu.send_text(user, "/start")
            (reply,) = await emu.wait_for_bot_messages(user.user_id, 1, timeout=20)
            assert "not end-to-end encrypted" in reply["text"]
        finally:
            process.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
        assert process.returncode == 0, stderr.decode()
        output = (stdout + stderr).decode()
        assert TOKEN not in output and "RUN-TEST" not in output, "the token never reaches the logs"
        assert "Traceback" not in output
        banner = re.search(r"The standards desk is at http://127\.0\.0\.1:(\d+)/", stdout.decode())
        assert banner is not None and int(banner[1]) not in (0, 8470), stdout.decode()
