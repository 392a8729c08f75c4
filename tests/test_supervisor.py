"""`candour run`'s supervisor with real child processes: a service that ends starts again after its back-off,
the log says why it ended, a service that refuses its configuration stops them all, and stopping kills
whatever ignores SIGTERM once the grace period is over."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import sys
from pathlib import Path

import pytest

from candour.supervisor import Backoff, Service, Supervisor, ended_because
from tests.bot_world import wait_for

EX_CONFIG = 78


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive: its parent (the supervisor's event loop) has not reaped it yet.
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"


def test_backoff_doubles_up_to_its_ceiling() -> None:
    backoff = Backoff(first=1.0, ceiling=8.0)
    assert [backoff.after(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_how_a_service_ended_is_said_in_words() -> None:
    assert ended_because(3) == "exited with status 3"
    assert ended_because(0) == "exited with status 0"
    assert ended_because(-signal.SIGKILL) == "killed by SIGKILL"
    assert ended_because(-signal.SIGSEGV) == "killed by SIGSEGV"


async def test_a_service_that_ends_starts_again_after_a_growing_backoff(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    starts = tmp_path / "starts"
    code = f"import os, time; open({str(starts)!r}, 'a').write(f'{{time.monotonic()}}\\n'); os._exit(3)"
    backoff = Backoff(first=0.2, ceiling=0.8, forgiven_after=60.0)
    supervisor = Supervisor([Service("flaky", python(code))], backoff=backoff)
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="candour.supervisor")
    running = asyncio.create_task(supervisor.run(stop))
    try:
        await wait_for(lambda: starts.exists() and len(starts.read_text().split()) >= 4, timeout=30)
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=20)
    times = [float(t) for t in starts.read_text().split()]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Each wait is at least its back-off (0.2, 0.4, 0.8 s); a start adds its own time on top.
    for n, gap in enumerate(gaps[:3], start=1):
        assert gap >= backoff.after(n) - 0.02, (n, gaps)
    assert supervisor.restarts["flaky"] >= 3
    assert "service flaky exited with status 3; starting it again in" in caplog.text


async def test_a_killed_service_is_started_again_and_the_log_names_the_signal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pids: list[int] = []
    supervisor = Supervisor(
        [Service("sleeper", python("import time; time.sleep(120)"))],
        backoff=Backoff(first=0.1),
        on_start=lambda _service, pid: pids.append(pid),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(supervisor.run(stop))
    try:
        await wait_for(lambda: len(pids) == 1, timeout=20)
        os.kill(pids[0], signal.SIGKILL)
        await wait_for(lambda: len(pids) == 2, timeout=20)
        assert pids[1] != pids[0] and alive(pids[1])
        assert "service sleeper killed by SIGKILL; starting it again" in caplog.text
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=20)
    assert not alive(pids[1]), "a clean stop leaves no service running"


async def test_a_service_that_refuses_its_configuration_stops_every_service() -> None:
    pids: dict[str, int] = {}
    supervisor = Supervisor(
        [
            Service("steady", python("import time; time.sleep(120)")),
            Service("refuser", python(f"import time, os; time.sleep(0.5); os._exit({EX_CONFIG})")),
        ],
        backoff=Backoff(first=0.1),
        refuse_status=EX_CONFIG,
        on_start=lambda service, pid: pids.__setitem__(service.name, pid),
    )
    stop = asyncio.Event()
    # Nobody sets `stop`: the refusal must end the run by itself, and not start the refuser again.
    await asyncio.wait_for(supervisor.run(stop), timeout=30)
    assert supervisor.refused == "refuser"
    assert supervisor.restarts == {"steady": 0, "refuser": 0}
    assert not alive(pids["steady"])


async def test_a_service_that_ignores_sigterm_is_killed_after_the_grace_period(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ready = tmp_path / "ready"
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(ready)!r}, 'w').write('x'); time.sleep(120)"
    )
    pids: list[int] = []
    supervisor = Supervisor(
        [Service("stubborn", python(code))], grace=0.5, on_start=lambda _s, pid: pids.append(pid)
    )
    stop = asyncio.Event()
    running = asyncio.create_task(supervisor.run(stop))
    await wait_for(ready.exists, timeout=20)
    loop = asyncio.get_running_loop()
    started = loop.time()
    stop.set()
    await asyncio.wait_for(running, timeout=20)
    assert loop.time() - started >= 0.45, "SIGTERM was ignored, so the grace period was waited out"
    assert not alive(pids[0])
    assert "service stubborn did not stop within" in caplog.text


async def test_a_service_that_cannot_even_be_started_is_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "not-yet"
    supervisor = Supervisor([Service("absent", (str(missing),))], backoff=Backoff(first=0.05, ceiling=0.1))
    stop = asyncio.Event()
    running = asyncio.create_task(supervisor.run(stop))
    await wait_for(
        lambda: caplog.text.count("service absent could not start (FileNotFoundError)") >= 2, timeout=20
    )
    assert not running.done(), "the supervisor keeps going"
    stop.set()
    await asyncio.wait_for(running, timeout=20)
