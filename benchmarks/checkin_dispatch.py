"""Benchmark: check-ins per second delivered by `python -m candour.dispatch` processes to the emulator.

Phases, each with a fresh emulator (served over HTTP from this process) and freshly seeded check-ins
(bulk-inserted cases with a sealed contact handle and one check-in due and already planned, as in
tests/dispatch_world.py):

- raw: one, then two dispatcher processes, no rate limiter, the emulator without flood limits: the
  dispatcher's own capacity on this machine;
- rated: the processes with python-telegram-bot's AIORateLimiter on, against an emulator that enforces
  Telegram's overall ceiling (30 messages a second, a sliding one-second window, 429 with retry_after
  above it). Each process has its own limiter and nothing is shared between them, so each is given an
  equal share of the ceiling (less a small headroom for timing jitter): the only way two independent
  limiters can promise never to exceed it together.

Per phase: check-ins per second at the emulator (from the first message accepted to the last), the most
messages the emulator accepted in any one-second window, its 429 answers, duplicates and check-ins lost,
and the dispatchers' CPU per check-in. Goals (rated, two instances on PostgreSQL): at least 95% of the
ceiling, never above it, no 429, zero duplicates, none lost; every phase: zero duplicates, none lost.
PASS/FAIL per goal; exit status 1 on any FAIL.

    python benchmarks/checkin_dispatch.py [--n 2000] [--rated-seconds 30] [--engines postgres,sqlite]

PostgreSQL: CANDOUR_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) names a
server and a database to connect to; a fresh database is created for the run and dropped after. SQLite
runs one instance only (the raw and the rated phase).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from machine import cpu_model, filesystem_of

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the project's packages are importable
    sys.path.insert(0, str(ROOT))

import telegram  # noqa: E402

from bot.emulator import TelegramEmulator  # noqa: E402
from candour.app import open_vault  # noqa: E402
from candour.settings import Settings  # noqa: E402
from storage.vault import Vault  # noqa: E402
from tests.dispatch_world import (  # noqa: E402
    FAST_KDF,
    TOKEN,
    Dispatchers,
    add_users,
    checkin_statuses,
    install,
    seed_checkins,
    wait_ready,
)

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
CEILING = 30.0  # Telegram: about 30 messages a second per bot, overall
SHARE_GOAL = 0.95
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    engine: str
    instances: int
    rated: bool
    count: int
    per_second: float = 0.0
    max_window: int = 0
    rate_limited: int = 0
    duplicates: int = 0
    lost: int = 0
    unmarked: int = 0
    cpu_ms: float = 0.0
    emulator_ms: float = 0.0
    machine_busy: float = 0.0
    outside_ms: float = 0.0
    wall: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.engine}, {self.instances} instance{'s' if self.instances > 1 else ''}, " + (
            "limiter on" if self.rated else "limiter off"
        )


def max_in_window(stamps: list[float], span: float = 1.0) -> int:
    """The most stamps in any half-open window [t, t + span), as the emulator's flood control counts."""
    ordered = sorted(stamps)
    return max((bisect.bisect_left(ordered, t + span) - i for i, t in enumerate(ordered)), default=0)


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / TICK, sum(fields) / TICK


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def run_phase(
    vault: Vault, settings: Settings, phase: Phase, *, first_chat: int, headroom: float
) -> Phase:
    sent_before = (await checkin_statuses(vault))["sent"]
    chats = await seed_checkins(vault, phase.count, first=first_chat)
    limit = CEILING if phase.rated else None
    async with TelegramEmulator(global_limit=limit) as emu:
        emu.add_bot(TOKEN)
        add_users(emu, chats)
        dispatchers = Dispatchers(settings=settings, api_url=emu.root_url)
        arguments = ["--quiet"]
        if phase.rated:
            share = CEILING * (1 - headroom) / phase.instances
            # Why a batch of a third of a second of sends: a process claims a batch ahead of sending it,
            # so with 50 at 15/s the last process busy would send its last ~3 s alone, at half the
            # ceiling (measured: 84% of the ceiling over 8 s; a batch of 15 gave 94% over 20 s).
            arguments += ["--rate-limit", f"{share:.4f}", "--batch", str(max(1, round(share / 3)))]
        processes = [dispatchers.start(*arguments) for _ in range(phase.instances)]
        try:
            for process in processes:
                await wait_ready(dispatchers, process)
            bot = emu.bot_state()
            machine_before, own_before = machine_cpu(), time.process_time()
            started = time.monotonic()
            # The first process ready may take a head start of one 0.2 s round: rates are taken from the
            # emulator's own timestamps, first message to last, so start-up is not counted.
            while sum(bot.bot_message_count(c) for c in chats.values()) < phase.count:
                if time.monotonic() - started > 30 + 3 * phase.count / (limit or 20):
                    print(f"  {phase.name}: timed out", flush=True)
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # anything sent twice arrives now
            cpu = sum(cpu_seconds(p) for p in processes)
            machine_after, own = machine_cpu(), time.process_time() - own_before
            for process in processes:
                await dispatchers.stop(process)
        finally:
            dispatchers.kill_all()
        stamps = [
            message.sent_at.timestamp()
            for chat in chats.values()
            if chat in bot.chats
            for message in bot.chats[chat].messages.values()
            if message.from_bot
        ]
        counts = Counter({chat: bot.bot_message_count(chat) for chat in chats.values()})
        phase.rate_limited = len(bot.rate_limited)
    phase.duplicates = sum(n - 1 for n in counts.values() if n > 1)
    phase.lost = sum(1 for n in counts.values() if n == 0)
    # A check-in delivered but left unmarked would be sent again by a later round: count those too.
    phase.unmarked = phase.count - ((await checkin_statuses(vault))["sent"] - sent_before)
    if len(stamps) > 1:
        phase.wall = max(stamps) - min(stamps)
        phase.per_second = (len(stamps) - 1) / phase.wall if phase.wall else 0.0
    phase.max_window = max_in_window(stamps)
    delivered = max(len(stamps), 1)
    phase.cpu_ms = 1000 * cpu / delivered
    phase.emulator_ms = 1000 * own / delivered
    busy = machine_after[0] - machine_before[0]
    phase.machine_busy = busy / max(machine_after[1] - machine_before[1], 1e-9)
    # Everything else: the database server, and anything not part of the benchmark.
    phase.outside_ms = 1000 * (busy - cpu - own) / delivered
    return phase


async def open_installation(engine: str, tmp: Path) -> tuple[Settings, Vault, str | None]:
    """A fresh installation; for PostgreSQL, in a new database (its name is returned for dropping)."""
    url, name = None, None
    if engine == "postgres":
        import asyncpg

        server = os.environ.get("CANDOUR_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
        name = f"candour_bench_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(server)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        parts = urlsplit(server)
        url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    settings = Settings(_env_file=None, data_dir=tmp / f"{engine}-data", database_url=url, **FAST_KDF)  # type: ignore[call-arg]
    await install(settings)
    return settings, await open_vault(settings), name


async def drop_database(name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(os.environ.get("CANDOUR_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def postgres_version() -> str | None:
    try:
        import asyncpg

        admin = await asyncpg.connect(
            os.environ.get("CANDOUR_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL), timeout=3
        )
    except (TimeoutError, OSError) as exc:
        print(f"PostgreSQL skipped: no server answers ({type(exc).__name__})")
        return None
    try:
        return str(await admin.fetchval("SHOW server_version"))
    finally:
        await admin.close()


def plan(engine: str, args: argparse.Namespace) -> list[Phase]:
    rated_count = int(CEILING * (1 - args.headroom) * args.rated_seconds)
    if engine == "sqlite":
        return [Phase(engine, 1, False, args.n), Phase(engine, 1, True, rated_count)]
    return [
        Phase(engine, 1, False, args.n),
        Phase(engine, 2, False, args.n),
        Phase(engine, 2, True, rated_count),
    ]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


async def main(args: argparse.Namespace) -> int:
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="candour-dispatch-", dir=args.tmpdir))
    pg = await postgres_version() if "postgres" in engines else None
    print(f"CPU: {cpu_model()} x {os.cpu_count()}; {platform.system()} {platform.release()}")
    print(
        f"Python {platform.python_version()}, python-telegram-bot {telegram.__version__}, "
        f"SQLite {sqlite3.sqlite_version}, PostgreSQL {pg or 'n/a'}; data on {filesystem_of(tmp)}"
    )
    print(
        f"ceiling {CEILING:g} messages/s; limiter share per process = ceiling x {1 - args.headroom:g} / instances",
        flush=True,
    )
    results: list[Phase] = []
    chat = 0
    for engine in engines:
        if engine == "postgres" and pg is None:
            continue
        settings, vault, database = await open_installation(engine, tmp)
        try:
            for phase in plan(engine, args):
                await run_phase(vault, settings, phase, first_chat=chat, headroom=args.headroom)
                chat += phase.count
                results.append(phase)
                print(
                    f"{phase.name:40} {phase.count:6} check-ins {phase.per_second:7.1f}/s "
                    f"max in 1 s {phase.max_window:4}  429s {phase.rate_limited}  "
                    f"duplicates {phase.duplicates}  lost {phase.lost}  unmarked {phase.unmarked}  "
                    f"\n{'':42}CPU ms per check-in: dispatchers {phase.cpu_ms:.1f}, emulator and this "
                    f"script {phase.emulator_ms:.1f}, the rest of the machine (database, other work) "
                    f"{phase.outside_ms:.1f}; machine {phase.machine_busy:.0%} busy",
                    flush=True,
                )
        finally:
            await vault.db.dispose()
            if database:
                await drop_database(database)
    if not results:
        print("FAIL: no engine ran")
        return 1
    failed = False
    print()
    for phase in results:
        ok = phase.duplicates == 0 and phase.lost == 0 and phase.unmarked == 0
        failed |= not ok
        print(f"{verdict(ok)}  {phase.name}: zero duplicates, none lost, every check-in marked sent")
        if phase.rated:
            share = phase.per_second / CEILING
            checks = [
                (share >= SHARE_GOAL, f"{share:.1%} of the ceiling (goal at least {SHARE_GOAL:.0%})"),
                (
                    phase.max_window <= CEILING,
                    f"at most {phase.max_window} in any second (ceiling {CEILING:g})",
                ),
                (phase.rate_limited == 0, f"{phase.rate_limited} answers 429 from the emulator"),
            ]
            for ok, text in checks:
                failed |= not ok
                print(f"{verdict(ok)}  {phase.name}: {text}")
    return 1 if failed else 0


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="check-ins per raw phase (default 2000)")
    parser.add_argument(
        "--rated-seconds", type=float, default=30, help="length of a rated phase at the ceiling (default 30)"
    )
    parser.add_argument(
        "--engines", default="postgres,sqlite", help="comma-separated (default postgres,sqlite)"
    )
    parser.add_argument(
        "--headroom",
        type=float,
        default=0.02,
        help="fraction of the ceiling left unused for timing jitter (default 0.02)",
    )
    parser.add_argument("--tmpdir", default=None, help="where the data directories go (default system temp)")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(arguments())))
