"""`candour run` with a token starts the intake, the desk and the dispatcher as processes of their own
(issue 12): a killed intake is started again and the bot answers, no service has an officer's passphrase in
its environment, the desk answers on the port `run` bound, SIGTERM stops them all, and a killed
supervisor takes its services with it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.emulator import TelegramEmulator
from tests.bot_world import wait_for

TOKEN = "777001:SERVICES-TEST"
CANDOUR = Path(sys.executable).parent / "candour"
PASSPHRASE = "correct horse battery staple"
SERVICES = ("intake", "desk", "dispatch")

pytestmark = pytest.mark.slow


@pytest.fixture
def engine_name() -> str:
    return "sqlite"


def children(pid: int) -> dict[str, int]:
    """The services `candour run` (pid) has running: name -> pid, read from /proc."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) != pid or fields[0] == "Z":
            continue
        words = [a.decode() for a in argv]
        if "serve" in words:
            found[words[words.index("serve") + 1]] = int(entry.name)
    return found


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode().split("=", 1) for item in raw.split(b"\0") if b"=" in item)


def gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@dataclass
class Running:
    process: asyncio.subprocess.Process
    emu: TelegramEmulator
    env: dict[str, str]
    stdout: list[bytes]
    stderr: list[bytes]

    def output(self) -> str:
        return (b"".join(self.stdout) + b"".join(self.stderr)).decode(errors="replace")


async def _collect(stream: asyncio.StreamReader | None, into: list[bytes]) -> None:
    assert stream is not None
    while chunk := await stream.read(4096):
        into.append(chunk)


async def installed(tmp_path: Path) -> dict[str, str]:
    """An installation made by `candour init` in tmp_path, and the environment that reaches it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_")}
    env.update(
        {
            "CANDOUR_DATA_DIR": str(tmp_path / "data"),
            "CANDOUR_ARGON2_MEMORY_KIB": "64",
            "CANDOUR_ARGON2_ITERATIONS": "1",
            "CANDOUR_ARGON2_LANES": "1",
            # Set for `init`, which `run` invokes on a machine not yet set up; no service may inherit it.
            "CANDOUR_ADMIN_PASSPHRASE": PASSPHRASE,
            "CANDOUR_DESK_PORT": "0",
        }
    )
    init = await asyncio.create_subprocess_exec(
        str(CANDOUR), "init", "--non-interactive", "--admin-login", "admin", env=env, cwd=tmp_path
    )
    assert await init.wait() == 0
    return env


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    env = await installed(tmp_path)
    async with TelegramEmulator() as emu:
        emu.add_bot(TOKEN)
        env.update({"CANDOUR_TELEGRAM_TOKEN": TOKEN, "CANDOUR_TELEGRAM_API_URL": emu.root_url})
        process = await asyncio.create_subprocess_exec(
            str(CANDOUR),
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out: list[bytes] = []
        err: list[bytes] = []
        readers = [
            asyncio.create_task(_collect(process.stdout, out)),
            asyncio.create_task(_collect(process.stderr, err)),
        ]
        world = Running(process, emu, env, out, err)
        try:
            try:
                await wait_for(lambda: set(children(process.pid)) == set(SERVICES), timeout=60)
                await wait_for(lambda: any(m == "setMyCommands" for m, _ in emu.calls), timeout=60)
            except TimeoutError:
                raise AssertionError(f"services did not start: {world.output()}") from None
            yield world
        finally:
            left = children(process.pid)
            if process.returncode is None:
                process.kill()
                await process.wait()
            for pid in left.values():
                if not gone(pid):
                    os.kill(pid, signal.SIGKILL)
            await asyncio.gather(*readers, return_exceptions=True)


async def test_each_service_runs_apart_a_killed_intake_comes_back_and_sigterm_stops_all(
    running: Running,
) -> None:
    pids = children(running.process.pid)
    assert set(pids) == set(SERVICES)
    assert len(set(pids.values())) == 3, "three processes, not one"
    for name, pid in pids.items():
        env = environment_of(pid)
        assert "CANDOUR_ADMIN_PASSPHRASE" not in env, f"{name} inherited the first officer's passphrase"
        assert PASSPHRASE not in "\0".join(env.values())

    banner = re.search(r"The standards desk is at http://127\.0\.0\.1:(\d+)/", running.output())
    assert banner is not None, running.output()
    async with httpx.AsyncClient(base_url=f"http://localhost:{banner[1]}") as client:
        answer = await client.get("/login")
    assert answer.status_code == 200, "the desk process answers on the port `candour run` bound"

    os.kill(pids["intake"], signal.SIGKILL)
    await wait_for(
        lambda: children(running.process.pid).get("intake") not in (None, pids["intake"]), timeout=60
    )
    assert children(running.process.pid)["desk"] == pids["desk"], "only the killed service restarts"
    user = running.emu.add_user(user_id=91002, first_name="Returner")
    running.emu.send_text(user, "/start")
    (reply,) = await running.emu.wait_for_bot_messages(user.user_id, 1, timeout=60)
    assert "not end-to-end encrypted" in reply["text"]
    assert "service intake killed by SIGKILL; starting it again" in running.output()

    now = children(running.process.pid)
    running.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(running.process.wait(), timeout=60) == 0
    await wait_for(lambda: all(gone(pid) for pid in now.values()), timeout=30)
    output = running.output()
    assert TOKEN not in output and "SERVICES-TEST" not in output, "the token never reaches the logs"
    assert "Traceback" not in output


async def test_a_killed_supervisor_takes_its_services_with_it(running: Running) -> None:
    pids = children(running.process.pid)
    running.process.kill()
    await running.process.wait()
    # PR_SET_PDEATHSIG: each service is sent SIGTERM by the kernel when `candour run` dies.
    await wait_for(lambda: all(gone(pid) for pid in pids.values()), timeout=60)


async def test_a_refused_token_stops_every_service_with_one_line(tmp_path: Path) -> None:
    env = await installed(tmp_path)
    async with TelegramEmulator() as emu:
        # The emulator knows no such bot: getMe answers 401, as Telegram does for a revoked token.
        env.update({"CANDOUR_TELEGRAM_TOKEN": "777002:UNKNOWN", "CANDOUR_TELEGRAM_API_URL": emu.root_url})
        process = await asyncio.create_subprocess_exec(
            str(CANDOUR),
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    output = (stdout + stderr).decode()
    assert process.returncode == 1, output
    assert "Telegram refused the token in CANDOUR_TELEGRAM_TOKEN" in output
    assert "service refused to start (see the line above); stopped" in output
    assert "starting it again" not in output, "a refused configuration is not retried"
    assert "Traceback" not in output and "UNKNOWN" not in output
