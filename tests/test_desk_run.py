"""`candour run` serves the desk beside the bot, in one process, and stops both on SIGTERM; a taken desk
port is a one-line error."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from bot.emulator import TelegramEmulator
from tests.bot_world import wait_for

TOKEN = "777001:DESK-RUN"
CANDOUR = Path(sys.executable).parent / "candour"


@pytest.fixture
def engine_name() -> str:
    return "sqlite"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _candour(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(CANDOUR), *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


@pytest.mark.slow
async def test_run_serves_bot_and_desk_until_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_")}
    env.update(
        {
            "CANDOUR_DATA_DIR": str(tmp_path / "data"),
            "CANDOUR_ARGON2_MEMORY_KIB": "64",
            "CANDOUR_ARGON2_ITERATIONS": "1",
            "CANDOUR_ARGON2_LANES": "1",
            "CANDOUR_ADMIN_PASSPHRASE": "correct horse battery staple",
            "CANDOUR_DESK_PORT": str(port),
        }
    )
    init = await _candour(env, tmp_path, "init", "--non-interactive", "--admin-login", "admin")
    assert await init.wait() == 0
    async with TelegramEmulator() as emu:
        emu.add_bot(TOKEN)
        env.update({"CANDOUR_TELEGRAM_TOKEN": TOKEN, "CANDOUR_TELEGRAM_API_URL": emu.root_url})
        process = await _candour(env, tmp_path, "run")
        try:
            await wait_for(lambda: any(m == "setMyCommands" for m, _ in emu.calls), timeout=20)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                for _ in range(100):
                    try:
                        page = await http.get("/login")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
                assert page.status_code == 200 and "Sign in" in page.text
                assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        finally:
            process.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
        assert process.returncode == 0, stderr.decode()
        assert f"http://127.0.0.1:{port}/" in stdout.decode()

        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            env["CANDOUR_DESK_PORT"] = str(taken.getsockname()[1])
            calls_before = len(emu.calls)
            clash = await _candour(env, tmp_path, "run")
            stdout, stderr = await asyncio.wait_for(clash.communicate(), timeout=30)
        # One clear line, before anything started: no banner, no bot, no raw uvicorn error.
        assert clash.returncode == 1
        assert stderr.decode().splitlines() == [
            f"candour: the desk cannot listen on 127.0.0.1:{env['CANDOUR_DESK_PORT']}: the port is already in "
            "use (is another `candour run` open?): stop that, or set CANDOUR_DESK_PORT to a free port, or "
            "CANDOUR_DESK_ENABLED=false"
        ]
        assert stdout.decode() == ""
        assert len(emu.calls) == calls_before, "the bot started although the desk could not"
