"""`candour serve intake` with CANDOUR_WEBHOOK_URL (issue 12, point 2), as a real process: it points
Telegram (the emulator) at its endpoint with the secret read from CANDOUR_WEBHOOK_SECRET_FILE, answers a
reporter by webhook, stops on SIGTERM leaving the webhook set, and writes neither the secret nor the path
into its output. A port that is taken is one line and "do not restart"."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
from pathlib import Path

import pytest

from bot.emulator import TelegramEmulator
from bot.webhook import Endpoint
from tests.bot_world import wait_for

TOKEN = "777002:WEBHOOK-SERVE-TEST"
CANDOUR = Path(sys.executable).parent / "candour"
EX_CONFIG = 78

pytestmark = pytest.mark.slow


@pytest.fixture
def engine_name() -> str:
    return "sqlite"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def initialised(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_")}
    env.update(
        {
            "CANDOUR_DATA_DIR": str(tmp_path / "data"),
            "CANDOUR_ARGON2_MEMORY_KIB": "64",
            "CANDOUR_ARGON2_ITERATIONS": "1",
            "CANDOUR_ARGON2_LANES": "1",
            "CANDOUR_ADMIN_PASSPHRASE": "correct horse battery staple",
        }
    )
    init = await asyncio.create_subprocess_exec(
        str(CANDOUR), "init", "--non-interactive", "--admin-login", "admin", env=env, cwd=tmp_path
    )
    assert await init.wait() == 0
    del env["CANDOUR_ADMIN_PASSPHRASE"]
    return env


async def test_serve_intake_by_webhook(tmp_path: Path) -> None:
    env = await initialised(tmp_path)
    secret = secrets.token_urlsafe(40)
    (tmp_path / "webhook-secret").write_text(secret + "\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with TelegramEmulator() as emu:
        emu.add_bot(TOKEN)
        env.update(
            {
                "CANDOUR_TELEGRAM_TOKEN": TOKEN,
                "CANDOUR_TELEGRAM_API_URL": emu.root_url,
                "CANDOUR_WEBHOOK_URL": base,
                "CANDOUR_WEBHOOK_PORT": str(port),
                "CANDOUR_WEBHOOK_SECRET_FILE": str(tmp_path / "webhook-secret"),
                "CANDOUR_WEBHOOK_MAX_CONNECTIONS": "5",
                "CANDOUR_CLEANER_REQUIRE_ISOLATION": "false",
            }
        )
        process = await asyncio.create_subprocess_exec(
            str(CANDOUR), "serve", "intake", env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE
        )
        try:
            bot = emu.bot_state()
            await wait_for(lambda: bot.webhook is not None or process.returncode is not None, timeout=60)
            if bot.webhook is None:
                assert process.stderr is not None
                raise AssertionError(f"the intake did not set its webhook: {await process.stderr.read()!r}")
            endpoint = Endpoint.with_secret(secret)
            assert bot.webhook.url == endpoint.url(base) and bot.webhook.secret_token == secret
            assert bot.webhook.max_connections == 5
            user = emu.add_user(user_id=91101, first_name="Hooked")
            emu.send_text(user, "/start")
            (reply,) = await emu.wait_for_bot_messages(user.user_id, 1, timeout=60)
            assert "not end-to-end encrypted" in reply["text"]
            await wait_for(lambda: bool(emu.webhook_deliveries), timeout=30)
            assert [d["delivered"] for d in emu.webhook_deliveries] == [True]
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), timeout=60) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.stderr is not None
        output = (await process.stderr.read()).decode(errors="replace")
        assert bot.webhook is not None, "stopping leaves the webhook set (another replica may serve it)"
        assert secret not in output and endpoint.path not in output, output
        assert "Traceback" not in output, output


async def test_a_taken_webhook_port_is_one_line_and_no_restart(tmp_path: Path) -> None:
    env = await initialised(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with TelegramEmulator() as emu:
            emu.add_bot(TOKEN)
            env.update(
                {
                    "CANDOUR_TELEGRAM_TOKEN": TOKEN,
                    "CANDOUR_TELEGRAM_API_URL": emu.root_url,
                    "CANDOUR_WEBHOOK_URL": f"http://127.0.0.1:{port}",
                    "CANDOUR_WEBHOOK_PORT": str(port),
                    "CANDOUR_CLEANER_REQUIRE_ISOLATION": "false",
                }
            )
            process = await asyncio.create_subprocess_exec(
                str(CANDOUR), "serve", "intake", env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE
            )
            _out, err = await asyncio.wait_for(process.communicate(), timeout=60)
            assert process.returncode == EX_CONFIG
            text = err.decode()
            assert "the webhook cannot listen" in text and "CANDOUR_WEBHOOK_PORT" in text, text
            assert "Traceback" not in text
            assert emu.bot_state().webhook is None, "Telegram is not pointed at an endpoint that is not there"
