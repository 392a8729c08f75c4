"""Check-ins sent once by real dispatcher processes (`python -m candour.dispatch`) on one PostgreSQL
database, through the local Bot API emulator over HTTP: two processes sharing 10,000 due check-ins, a
process killed between sending and marking, and one stopped or killed between claiming and sending.

The crashes are made deterministic by the runner's own test hooks (CANDOUR_TEST_KILL_AFTER_SEND and
CANDOUR_TEST_KILL_BEFORE_SEND: the process SIGKILLs itself at that point), not by mocks; a short lease
(`--lease`) lets the survivor take the dead process's claims over in seconds.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.emulator import TelegramEmulator
from candour.app import open_vault
from candour.settings import Settings
from storage.vault import Vault
from tests.dispatch_world import (
    TOKEN,
    Dispatchers,
    add_users,
    checkin_statuses,
    install,
    received,
    seed_checkins,
    wait_exit,
    wait_ready,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MANY = 10_000
SENT_LINE = re.compile(r"dispatched .*\bsent (\d+)")


async def until(condition: Callable[[], Awaitable[bool]], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def all_sent(vault: Vault, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await checkin_statuses(vault))["sent"] == count

    return check


@pytest.fixture
async def installed(
    postgres_database: str, settings_factory: Callable[..., Settings]
) -> AsyncIterator[Vault]:
    """A fresh installation on its own PostgreSQL database, quiet hours off (see dispatch_world)."""
    settings = settings_factory(postgres_database)
    await install(settings)
    vault = await open_vault(settings)
    yield vault
    await vault.db.dispose()


@pytest.fixture
async def world(
    installed: Vault, settings_factory: Callable[..., Settings], postgres_database: str
) -> AsyncIterator[tuple[Vault, TelegramEmulator, Dispatchers]]:
    """The installation, the emulator serving HTTP on this event loop, and a launcher of dispatchers."""
    async with TelegramEmulator() as emu:
        emu.add_bot(TOKEN)
        dispatchers = Dispatchers(settings=settings_factory(postgres_database), api_url=emu.root_url)
        try:
            yield installed, emu, dispatchers
        finally:
            dispatchers.kill_all()


async def test_two_processes_send_each_of_10000_checkins_exactly_once(
    world: tuple[Vault, TelegramEmulator, Dispatchers],
) -> None:
    vault, emu, dispatchers = world
    chats = await seed_checkins(vault, MANY)
    add_users(emu, chats)
    first, second = dispatchers.start(), dispatchers.start()
    await wait_ready(dispatchers, first)
    await wait_ready(dispatchers, second)

    await until(all_sent(vault, MANY), timeout=240, what="every check-in to be marked sent")
    assert await dispatchers.stop(first) == 0
    assert await dispatchers.stop(second) == 0

    counts = received(emu, chats)
    assert sum(counts.values()) == MANY
    assert Counter(counts.values()) == {1: MANY}, "some chat got no check-in or more than one"
    assert emu.errors == []
    # Both processes took a share: the claims really were split between them, not run by one.
    shares = [sum(int(n) for n in SENT_LINE.findall(dispatchers.output(p))) for p in (first, second)]
    assert sum(shares) == MANY and min(shares) > 0, shares


async def test_killed_between_sending_and_marking_costs_at_most_one_duplicate(
    world: tuple[Vault, TelegramEmulator, Dispatchers],
) -> None:
    vault, emu, dispatchers = world
    count = 40
    chats = await seed_checkins(vault, count)
    add_users(emu, chats)
    crashing = dispatchers.start("--batch", "10", "--lease", "2", env={"CANDOUR_TEST_KILL_AFTER_SEND": "5"})
    assert await wait_exit(crashing, 30) == -signal.SIGKILL
    assert sum(received(emu, chats).values()) == 5
    statuses = await checkin_statuses(vault)
    # The fifth was accepted by Telegram but never marked: it and the rest of the batch stay claimed.
    assert statuses == {"sent": 4, "claimed": 6, "pending": 30}

    survivor = dispatchers.start("--batch", "10")
    await until(all_sent(vault, count), timeout=30, what="the survivor to finish")
    assert await dispatchers.stop(survivor) == 0

    counts = received(emu, chats)
    assert min(counts.values()) == 1, "a check-in was lost"
    assert sum(counts.values()) - count == 1, "the crash should cost exactly the one unmarked send"


@pytest.mark.parametrize("how", ["sigkill", "sigterm"])
async def test_restarted_between_claiming_and_sending_still_sends_each_once(
    world: tuple[Vault, TelegramEmulator, Dispatchers], how: str
) -> None:
    vault, emu, dispatchers = world
    count = 200 if how == "sigterm" else 40
    chats = await seed_checkins(vault, count)
    add_users(emu, chats)
    if how == "sigkill":
        first = dispatchers.start("--batch", "10", "--lease", "2", env={"CANDOUR_TEST_KILL_BEFORE_SEND": "5"})
        assert await wait_exit(first, 30) == -signal.SIGKILL
        assert await checkin_statuses(vault) == {"sent": 4, "claimed": 6, "pending": 30}
    else:
        first = dispatchers.start("--batch", "50", "--lease", "2")

        async def some_sent() -> bool:
            return sum(received(emu, chats).values()) >= 3

        await until(some_sent, timeout=30, what="the first sends")
        # SIGTERM mid-batch: the send in flight is finished and recorded, no new one starts.
        assert await dispatchers.stop(first) == 0
        statuses = await checkin_statuses(vault)
        assert statuses["sent"] == sum(received(emu, chats).values())
        assert "claimed" not in statuses, "a clean stop hands its claims back at once"

    survivor = dispatchers.start("--batch", "50")
    await until(all_sent(vault, count), timeout=30, what="the second process to send the rest")
    assert await dispatchers.stop(survivor) == 0
    assert Counter(received(emu, chats).values()) == {1: count}
