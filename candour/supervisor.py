"""`candour run`'s supervisor: the services as child processes, restarted with back-off, stopped together.

Why processes and not tasks of one process (issue 12): the reporters' door parses files that strangers
send, and the desk holds officers' unlocked private keys. In one process a parser exploit reaches every
signed-in officer's key; as separate processes they share only the database (and, later, the object
store), and each holds what its own job needs.

The supervisor itself holds nothing a service needs: it starts each one as `candour serve NAME`, hands
the desk its already bound listening socket (so a taken port stopped `candour run` before anything
started), restarts a service that exits on its own after a back-off that doubles up to a ceiling (and is
forgiven once the service has run for a while), logs why it ended (its exit status or the signal), and on
Ctrl+C or SIGTERM asks every service to stop, waiting a grace period before it kills what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("candour.supervisor")


@dataclass(frozen=True)
class Service:
    """One child: its name (for the log), its command line, the descriptors it inherits, and its whole
    environment (None: the supervisor's)."""

    name: str
    argv: tuple[str, ...]
    pass_fds: tuple[int, ...] = ()
    env: dict[str, str] | None = None


@dataclass(frozen=True)
class Backoff:
    """How long to wait before restarting a service that ended on its own."""

    first: float = 1.0
    ceiling: float = 60.0
    # A service that ran this long before it ended starts again after `first`, not after the ceiling.
    forgiven_after: float = 60.0

    def after(self, failures: int) -> float:
        """The wait before restart number `failures` (1 for the first)."""
        return min(self.ceiling, self.first * 2 ** max(failures - 1, 0))


def ended_because(returncode: int) -> str:
    """A child's end in words: its exit status, or the signal that ended it."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


@dataclass
class _Child:
    service: Service
    process: asyncio.subprocess.Process | None = None
    started: float = 0.0
    failures: int = 0
    restarts: int = 0
    ended: list[str] = field(default_factory=list)


class Supervisor:
    """Runs services until stopped; a service that ends is started again after its back-off, except one
    that ends with `refuse_status` (it refused its configuration), which stops them all (`refused`)."""

    def __init__(
        self,
        services: Sequence[Service],
        *,
        backoff: Backoff | None = None,
        grace: float = 15.0,
        on_start: Callable[[Service, int], None] | None = None,
        refuse_status: int | None = None,
    ) -> None:
        self._children = [_Child(service) for service in services]
        self._refuse_status = refuse_status
        self.refused: str | None = None
        self._backoff = backoff or Backoff()
        self._grace = grace
        self._on_start = on_start

    @property
    def restarts(self) -> dict[str, int]:
        """How many times each service was started again."""
        return {child.service.name: child.restarts for child in self._children}

    def pids(self) -> dict[str, int]:
        """The running services' process ids."""
        return {
            child.service.name: child.process.pid
            for child in self._children
            if child.process is not None and child.process.returncode is None
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Start every service, keep them running until `stop` is set, then stop them all."""
        tasks = [asyncio.create_task(self._keep(child, stop)) for child in self._children]
        try:
            await stop.wait()
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._stop_all()

    async def _keep(self, child: _Child, stop: asyncio.Event) -> None:
        """Start `child`, and start it again each time it ends while `stop` is not set."""
        while not stop.is_set():
            try:
                await self._start(child)
            except OSError as exc:
                # Not even started (a missing interpreter, no memory): wait as after a failure, and retry.
                child.failures += 1
                wait = self._backoff.after(child.failures)
                log.error(
                    "service %s could not start (%s); trying again in %.0f s",
                    child.service.name,
                    type(exc).__name__,
                    wait,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                continue
            assert child.process is not None
            ended = asyncio.create_task(child.process.wait())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({ended, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not ended.done():
                ended.cancel()
                return  # stopping: _stop_all ends it
            why = ended_because(ended.result())
            child.ended.append(why)
            if self._refuse_status is not None and ended.result() == self._refuse_status:
                # It refused its configuration: starting it again would fail the same way.
                log.error(
                    "service %s refused to start as configured; stopping every service", child.service.name
                )
                self.refused = child.service.name
                stop.set()
                return
            ran = time.monotonic() - child.started
            child.failures = 1 if ran >= self._backoff.forgiven_after else child.failures + 1
            wait = self._backoff.after(child.failures)
            log.warning("service %s %s; starting it again in %.0f s", child.service.name, why, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            if not stop.is_set():
                child.restarts += 1

    async def _start(self, child: _Child) -> None:
        service = child.service
        child.process = await asyncio.create_subprocess_exec(
            *service.argv,
            pass_fds=service.pass_fds,
            env=service.env,
            # Why a session of its own: Ctrl+C reaches only the supervisor, which stops the services in
            # order; a service whose supervisor dies is told by the kernel (PR_SET_PDEATHSIG, set by
            # `candour serve --supervised`) and stops too.
            start_new_session=True,
        )
        child.started = time.monotonic()
        log.info("service %s started", service.name)
        if self._on_start is not None:
            self._on_start(service, child.process.pid)

    async def _stop_all(self) -> None:
        """SIGTERM every running service, wait up to the grace period, then SIGKILL what is left."""
        running = [
            c.process for c in self._children if c.process is not None and c.process.returncode is None
        ]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        waits = [asyncio.create_task(p.wait()) for p in running]
        if not waits:
            return
        _, pending = await asyncio.wait(waits, timeout=self._grace)
        for child in self._children:
            process = child.process
            if process is not None and process.returncode is None:
                log.warning(
                    "service %s did not stop within %.0f s; killing it", child.service.name, self._grace
                )
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
