"""A world for dispatcher processes: an installation with many due check-ins, seeded in bulk, the local
Bot API emulator knowing their chats, and `python -m candour.dispatch` processes started against both.

Shared by tests/test_dispatch_processes.py and benchmarks/checkin_dispatch.py. Cases are bulk-inserted
(not submitted: sealing and wrapping 10,000 reports would take minutes and is not what is tested) with
the two things a check-in needs: a contact handle sealed under the relay keyring, and a check-in entry
already due and already planned, so every dispatcher round goes straight to sending.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.emulator import TelegramEmulator
from candour.app import AdminSpec, initialise
from candour.settings import Settings
from policies.loader import starter_policy_text
from storage import outbox, policy_store
from storage.cases import CONTACT_PURPOSE
from storage.clock import coarsen
from storage.db import write_rows_sync
from storage.models import Case, ContactHandle, OutboxEntry
from storage.vault import Vault

TOKEN = "123456:DISPATCH"
PASSPHRASE = "dispatch passphrase, not a secret"
FAST_KDF = {"argon2_memory_kib": 64, "argon2_iterations": 1, "argon2_lanes": 1}
FIRST_CHAT = 5_000_000_000  # above 2**32: chat ids need 52 bits, so the whole path must carry them
ROOT = Path(__file__).resolve().parent.parent


def policy_without_quiet_hours() -> str:
    """The starter policy with quiet hours of zero length (start == end means none).

    Why: the processes run on the system clock, so a run in the evening would have every check-in moved
    to the morning; quiet hours are tested with an injected clock in test_followup.py, not here.
    """
    text = starter_policy_text()
    marker = 'quiet_hours:\n    start: "21:00"\n    end: "08:00"'
    assert marker in text, "the starter policy's quiet hours moved: update this helper"
    return text.replace(marker, 'quiet_hours:\n    start: "08:00"\n    end: "08:00"')


async def install(settings: Settings) -> None:
    """A fresh installation with that policy."""
    await initialise(
        settings,
        admin=AdminSpec(login="admin", display_name="Admin", passphrase=PASSPHRASE),
        policy_text=policy_without_quiet_hours(),
    )


def chat_of(index: int) -> int:
    return FIRST_CHAT + index


async def seed_checkins(vault: Vault, count: int, *, first: int = 0) -> dict[str, int]:
    """`count` open cases, each with a contact chat and one check-in due an hour ago and already planned;
    returns case id -> chat id."""
    now = vault.clock.now()
    hour = coarsen(now)
    due = now - timedelta(hours=1)
    async with vault.db.reading() as session:
        version = (await policy_store.active(session)).version
    chats: dict[str, int] = {}
    cases: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for index in range(first, first + count):
        case_id = secrets.token_hex(16)
        chat = chat_of(index)
        chats[case_id] = chat
        cases.append(
            {
                "id": case_id,
                "reference": f"CN-{secrets.token_hex(5).upper()}",
                "status": "received",
                "priority": "normal",
                "categories": ["bullying"],
                "routing_facts": {"categories": ["bullying"]},
                "flags": [],
                "received_at": hour,
                "updated_at": hour,
                "acknowledged_at": None,
                "closed_at": None,
                "purged_at": None,
                "ack_due_at": hour + timedelta(days=7),
                "feedback_due_at": hour + timedelta(days=90),
                "policy_version": version,
                "matched_rules": [],
                "escalation_queue": None,
                "retention_days": 365,
                "checkins_stopped": False,
                "public_key": None,
                "reporter_public_key": None,
            }
        )
        key_id, sealed = vault.keys.relay.seal(str(chat).encode(), purpose=CONTACT_PURPOSE, context=case_id)
        contacts.append({"case_id": case_id, "key_id": key_id, "sealed": sealed})
        [row] = outbox.checkin_rows(
            case_id=case_id, start=due - timedelta(days=7), days=(7,), now=hour, phase="open"
        )
        row["detail"] = {**row["detail"], "planned": True}
        entries.append(row)

    def write(session: Session) -> None:
        write_rows_sync(session, [(Case, cases), (ContactHandle, contacts), (OutboxEntry, entries)])

    await vault.db.run(write)
    return chats


async def checkin_statuses(vault: Vault) -> Counter[str]:
    """How many check-in entries are in each status."""
    async with vault.db.reading() as session:
        rows = await session.exec(  # type: ignore[call-overload]
            select(OutboxEntry.status, func.count())
            .where(OutboxEntry.kind == outbox.CHECKIN)
            .group_by(OutboxEntry.status)
        )
        return Counter({status: int(n) for status, n in rows.all()})


def add_users(emu: TelegramEmulator, chats: dict[str, int]) -> None:
    """The emulator's users behind the chats (a bot can write only to users who exist)."""
    for chat in chats.values():
        emu.add_user(user_id=chat, first_name="Reporter", language_code="en")


def received(emu: TelegramEmulator, chats: dict[str, int]) -> Counter[int]:
    """Messages the bot sent to each of these chats."""
    bot = emu.bot_state()
    return Counter({chat: bot.bot_message_count(chat) for chat in chats.values()})


@dataclass
class Dispatchers:
    """`python -m candour.dispatch` child processes against one installation and the emulator."""

    settings: Settings
    api_url: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_")}
        env.update(
            {
                "CANDOUR_DATA_DIR": str(self.settings.data_dir),
                "CANDOUR_TELEGRAM_TOKEN": TOKEN,
                "CANDOUR_TELEGRAM_API_URL": self.api_url,
                "CANDOUR_ARGON2_MEMORY_KIB": "64",
                "CANDOUR_ARGON2_ITERATIONS": "1",
                "CANDOUR_ARGON2_LANES": "1",
            }
        )
        if self.settings.database_url:
            env["CANDOUR_DATABASE_URL"] = self.settings.database_url
        env.update(extra or {})
        return env

    def start(self, *arguments: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start one dispatcher; its output goes to a log file beside the data directory."""
        log = self.settings.data_dir.parent / f"dispatch-{len(self.processes)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "candour.dispatch", "--interval", "0.2", *arguments],
                cwd=ROOT,
                env=self.environment(env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        self.logs.append(log)
        return process

    def output(self, process: subprocess.Popen[bytes]) -> str:
        return self.logs[self.processes.index(process)].read_text(errors="replace")

    async def stop(self, process: subprocess.Popen[bytes], timeout: float = 20) -> int:
        """SIGTERM and wait, keeping this event loop (and the emulator on it) running; the exit status."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        return await wait_exit(process, timeout)

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


async def wait_exit(process: subprocess.Popen[bytes], timeout: float) -> int:
    """The exit status, polled so the event loop (and the emulator on it) keeps serving."""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise AssertionError("a dispatcher did not exit in time")
        await asyncio.sleep(0.02)
    return process.returncode


async def wait_ready(dispatchers: Dispatchers, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Until the process says it is ready (imports done, vault open, bot initialised through the emulator)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "dispatch: ready" in dispatchers.output(process):
            return
        if process.poll() is not None:
            raise AssertionError(f"dispatcher exited early:\n{dispatchers.output(process)}")
        await asyncio.sleep(0.05)
    raise AssertionError("dispatcher not ready in time")
