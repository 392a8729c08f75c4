"""The cleaner's processes over their life (bot/cleaner.py, bot/cleaner_processes.py, bot/evidence/zygote.py).

Many files, cancelled files, a zygote that dies idle or mid-file, a cleaner closed while files are in
flight, a kernel without pidfds: each leaves no process, zombie or descriptor behind, and no reporter is
told their file was at fault when it was not. Seen from outside, through /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import cleaner as cleaner_module
from bot.cleaner import UNAVAILABLE, Cleaner, CleanerUnavailableError, IsolationError
from bot.evidence import JPEG, PNG, EvidenceError
from tests.test_cleaner_process import gone, jpeg_with_gps, noisy_png, ready_worker, workers, zygotes


def descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def strays() -> list[int]:
    """Readers handed to this test process (their relay went first and the zygote did not take them),
    alive or zombies: by /proc status, since a zombie has no command line left: a child of this process
    that is the first process of a PID namespace below ours. The test makes itself a subreaper (`adopting`)
    so that such a reader comes here, not to the machine's PID 1, where another test's could be too."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError, StopIteration, KeyError):
            if not entry.name.isdigit():
                continue
            status = dict(
                line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line
            )
            nspid = status["NSpid"].split()
            if int(status["PPid"]) == os.getpid() and len(nspid) > 1 and nspid[-1] == "1":
                found.append(int(entry.name))
    return found


@contextlib.contextmanager
def adopting() -> Iterator[None]:
    """This process as the subreaper of what it starts, for the test's length; strays reaped after."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        yield
    finally:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        for pid in strays():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


_PR_SET_CHILD_SUBREAPER = 36


def zombies_below(parents: list[int]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if entry.name.isdigit() and fields[0] == "Z" and int(fields[1]) in parents:
                found.append(int(entry.name))
    return found


async def test_many_files_and_cancelled_ones_leave_no_process_zombie_or_descriptor() -> None:
    photo = jpeg_with_gps()
    with adopting():
        await _many_files(photo)
    assert zygotes() == [] and workers() == []


async def _many_files(photo: bytes) -> None:
    async with Cleaner() as cleaner:
        await cleaner.clean(b"warm\n", filename="a.txt", media_type="text/plain")
        await cleaner.ready()
        before = descriptors()
        for number in range(30):
            task = asyncio.ensure_future(cleaner.clean(photo, filename="p.jpg", media_type=JPEG))
            if number % 3 == 0:
                await asyncio.sleep(0.005 * (number % 5))
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                cleaned = await task
                assert cleaned.cleaned
            assert strays() == []
        await cleaner.ready()
        await asyncio.sleep(0.2)
        (zygote,) = zygotes()
        assert zombies_below([zygote, *workers()]) == []
        assert descriptors() == before


async def test_a_zygote_killed_while_idle_costs_no_file() -> None:
    """The warm worker died with its zygote: the next file gets a fresh zygote's worker, not a refusal."""
    async with Cleaner() as cleaner:
        await cleaner.ready()
        (zygote,) = zygotes()
        os.kill(zygote, signal.SIGKILL)
        assert await gone([zygote])
        cleaned = await cleaner.clean(jpeg_with_gps(), filename="p.jpg", media_type=JPEG)
        assert cleaned.cleaned
        assert zygotes() and zygotes() != [zygote]


async def test_a_file_whose_zygote_dies_under_it_is_told_unavailable_not_at_fault() -> None:
    big = noisy_png(2400)
    async with Cleaner() as cleaner:
        await ready_worker()
        (zygote,) = zygotes()
        task = asyncio.ensure_future(cleaner.clean(big, filename="scan.png", media_type=PNG))
        await asyncio.sleep(0.3)
        os.kill(zygote, signal.SIGKILL)
        with pytest.raises(EvidenceError) as refused:
            await task
        assert str(refused.value) == UNAVAILABLE
        after = await cleaner.clean(jpeg_with_gps(), filename="p.jpg", media_type=JPEG)
    assert after.cleaned


async def test_closing_with_files_in_flight_refuses_them_as_unavailable_and_leaves_nothing_running() -> None:
    photo = jpeg_with_gps()
    for delay in (0.0, 0.01, 0.05, 0.2):
        cleaner = Cleaner()
        await cleaner.start()
        tasks = [
            asyncio.ensure_future(cleaner.clean(photo, filename="p.jpg", media_type=JPEG)) for _ in range(4)
        ]
        await asyncio.sleep(delay)
        await cleaner.close()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for outcome in outcomes:
            assert isinstance(outcome, CleanerUnavailableError) or outcome.cleaned, outcome
        await asyncio.sleep(0.1)
        assert zygotes() == [] and workers() == [], delay


async def test_a_kernel_without_pidfds_is_a_clear_refusal_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pidfds the bot could not end a worker for certain: it says so at start, naming the kernel,
    instead of refusing every file later."""

    def no_pidfds(pid: int, flags: int = 0) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfds)
    cleaner = Cleaner()
    with pytest.raises(IsolationError) as refused:
        await cleaner.start()
    assert str(refused.value) == cleaner_module.NO_PIDFDS and "Linux 5.3" in str(refused.value)
    assert zygotes() == []
