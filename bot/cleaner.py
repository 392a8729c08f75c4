"""The bot's side of evidence cleaning: each file is examined and cleaned in a worker process of its own.

Why / threat (issue 10, point 5): the parsers that read a reporter's file (Pillow, libheif, qpdf, FFmpeg,
lxml) are large native code fed bytes chosen by whoever made the file. A file crafted to exploit one of
them must find nothing worth taking: so cleaning never runs in the bot's process, whose memory holds the
relay key, the receipt pepper and the Telegram token, and which has the database and the network in
reach. It runs in `bot.evidence.worker`, started by exec (never a fork of the bot, whose copied memory
would hold those keys), with an empty environment, no inherited descriptor but one socket, and limits on
memory, CPU time, wall time and output.

That process is a zygote (bot.evidence.zygote): it imports every parser and warms every format once,
boxes itself away from the machine, and then never reads a file. For each file it forks a relay, which
takes namespaces of its own for the file, and the reader, which reads it: a fresh copy of the pristine
zygote, so nothing of one file can reach the next, for milliseconds rather than the second of CPU a
new interpreter and its warm-up take. One worker is forked ahead, so the file's wait starts at once.

What isolation gives, where the kernel allows unprivileged user namespaces (`Cleaner.isolated`): each
file's reader has user, mount, PID, IPC, network and UTS namespaces of its own, new for that file, no
capabilities and no_new_privs, and for its root the empty directory the zygote started in, deleted once
the zygote is ready. So it has no network (not even loopback), no file to read or create, no process to
signal or trace (the bot, the zygote and every other file's reader included: none has a number in its
PID namespace), nothing another file's reader left (keyrings, shared memory, message queues, abstract
sockets are all per file), and not the machine's name. The reader is the first process of its PID
namespace; when it ends, or is killed (the bot kills it by a pidfd at the wall time, whatever it did to
its process group or PDEATHSIG), the kernel kills every process left in the namespace, so anything it
started dies with it. The zygote has user, mount, network and IPC namespaces of its own and keeps
capabilities there, to make each file's namespaces; it never reads a file (bot.evidence.isolation says
why that is safe, and why it is not chrooted).

What isolation does not give: no seccomp filter, so every system call stays open to the worker, and a
file that reaches a kernel bug through one is out of scope (keep the kernel patched); no limit on what
the worker says about the one file it was given (it can lie about that file, never read another's); and
where the kernel refuses the namespaces, only the limits, the empty environment and the closed
descriptors remain (`require_isolation` makes that a refusal to start, naming
CANDOUR_CLEANER_REQUIRE_ISOLATION). The answers a worker sends are data, checked field by field
(bot/cleaner_wire.py), so a compromised worker cannot run code in the bot either.

One reader per file: a crash, a limit or a timeout costs that file only (it is refused with a plain
sentence), and the next file gets a fresh one; a zygote that dies or misbehaves is replaced, and a file
it took down with it is told UNAVAILABLE, never that the file was at fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from bot import cleaner_wire as wire
from bot.cleaner_processes import (
    UNAVAILABLE,
    CleanerUnavailableError,
    StartError,
    Worker,
    Zygote,
    environment,
    pidfds_available,
)
from bot.cleaner_wire import Examined
from bot.evidence import MAX_BYTES, Cleaned, EvidenceError, protocol

log = logging.getLogger(__name__)

# How long a fresh worker may take to import, warm every format and isolate itself before saying ready.
START_SECONDS = 60.0


@dataclass(frozen=True)
class CleanerLimits:
    """What one worker may use for one file; past any of these the file is refused, the bot carries on."""

    memory_bytes: int = 1536 * 1024 * 1024  # RLIMIT_AS
    cpu_seconds: int = 60  # RLIMIT_CPU
    wall_seconds: float = 90.0  # parent kills after this
    output_bytes: int = MAX_BYTES + (1 << 20)  # parent reads no more than this (the outbox's length)
    concurrency: int = 2  # files cleaned at once

    def __post_init__(self) -> None:
        if self.memory_bytes < 64 * 1024 * 1024 or self.cpu_seconds < 1 or self.wall_seconds <= 0:
            raise ValueError("cleaner limits too small to run a worker")
        if self.output_bytes < 1 or self.concurrency < 1:
            raise ValueError("cleaner output and concurrency must be positive")


# Why they name the setting and both ways out: the operator reading them must know what was refused and
# what to change (docs/operations.md quotes them); neither carries a file detail.
REFUSED_ISOLATION = (
    "the kernel refused the cleaning worker its namespaces (user, mount, network, IPC and PID), and "
    "CANDOUR_CLEANER_REQUIRE_ISOLATION is true: allow unprivileged user namespaces for Candour's user, or "
    "set CANDOUR_CLEANER_REQUIRE_ISOLATION=false to clean evidence under resource limits only"
)
NO_PIDFDS = (
    "this kernel has no pidfds (Linux 5.3 or later is needed), without which the bot cannot hold and end "
    "the processes that clean evidence, so it cleans none"
)
UNISOLATED_WARNING = (
    "the cleaning worker runs under resource limits only: this kernel refused it user, mount, network, "
    "IPC and PID namespaces (unprivileged user namespaces disabled?), and "
    "CANDOUR_CLEANER_REQUIRE_ISOLATION=false lets it run without them"
)


class IsolationError(RuntimeError):
    """The kernel refused the worker its namespaces and `require_isolation` says not to run without them
    (str(error) is REFUSED_ISOLATION), or it has no pidfds, without which no worker runs (NO_PIDFDS)."""


class Cleaner:
    """Examines and cleans evidence files in isolated worker processes, a few at once.

    Start it (`async with Cleaner() as cleaner`, or `start()`/`close()`); a call on a cleaner not yet
    started starts it, so a bot built without one still works.
    """

    def __init__(
        self,
        limits: CleanerLimits = CleanerLimits(),  # frozen, so one shared default is safe
        *,
        python: str = sys.executable,
        require_isolation: bool = False,
    ) -> None:
        self.limits = limits
        self._python = python
        self.require_isolation = require_isolation
        self._slots: asyncio.Semaphore | None = None
        self._zygote: asyncio.Future[Zygote] | None = None
        self._spare: asyncio.Future[Worker] | None = None
        self._running: set[Worker] = set()
        self._started = False
        self._warned = False
        self._last_isolated: bool | None = None

    async def __aenter__(self) -> Cleaner:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the zygote and the first worker (and with `require_isolation`, fail now if it cannot
        isolate)."""
        if self._started:
            return
        if not pidfds_available():
            raise IsolationError(NO_PIDFDS)
        self._started = True
        # Why made here, not in __init__: a semaphore belongs to the event loop that first waits on it,
        # and a cleaner closed and started again may be on another loop (tests run one per test).
        self._slots = asyncio.Semaphore(self.limits.concurrency)
        self._zygote = asyncio.ensure_future(self._start_zygote())
        if self.require_isolation:
            try:
                await asyncio.shield(self._zygote)
            except BaseException:
                await self.close()
                raise
        self._warm_next()

    async def close(self) -> None:
        """Stop every process, the zygote and the warm worker included (a file being cleaned then is
        refused as UNAVAILABLE); a later call starts the cleaner again."""
        self._started = False
        spare, self._spare = self._spare, None
        if spare is not None:
            await _settle(spare, Worker.kill)
        for worker in list(self._running):
            await worker.kill()
        zygote, self._zygote = self._zygote, None
        if zygote is not None:
            await _settle(zygote, Zygote.kill)

    async def ready(self) -> None:
        """Wait until a warm worker is ready for the next file."""
        await self.start()
        if self._spare is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._spare)

    @property
    def isolated(self) -> bool | None:
        """Whether the last zygote to start got its namespaces (None before any has)."""
        return self._last_isolated

    async def examine(self, content: bytes, *, filename: str, media_type: str) -> Examined:
        """Sniff, inspect and try a full clean (its bytes discarded); raises EvidenceError for refusals."""
        header, _ = await self._call(protocol.EXAMINE, content, filename=filename, media_type=media_type)
        return wire.examined(header)

    async def clean(self, content: bytes, *, filename: str, media_type: str) -> Cleaned:
        """The cleaned file (bot.evidence.Cleaned) from a fresh worker; raises EvidenceError for refusals."""
        header, body = await self._call(protocol.CLEAN, content, filename=filename, media_type=media_type)
        return wire.cleaned(header, body, content)

    # --- running one request ------------------------------------------------------------------------

    async def _call(
        self, op: str, content: bytes, *, filename: str, media_type: str
    ) -> tuple[dict[str, Any], bytes]:
        """Send one file to a warm worker and read its answer, within the limits; the worker then ends."""
        if len(content) > MAX_BYTES:
            raise wire.refusal("TOO_LARGE")
        if not self._started:
            await self.start()
        assert self._slots is not None
        async with self._slots:
            worker = await self._take()
            self._running.add(worker)
            self._warm_next()
            try:
                request = {"op": op, "filename": str(filename)[:1000], "media_type": str(media_type)[:200]}
                limits = self.limits
                return await worker.ask(
                    request, content, wall_seconds=limits.wall_seconds, output_bytes=limits.output_bytes
                )
            finally:
                self._running.discard(worker)
                await worker.kill()

    def _warm_next(self) -> None:
        """Have the next file's worker forked now. Why at once: a fork costs milliseconds, not the second
        of CPU a fresh interpreter and its warm-up would (that was paid once, by the zygote)."""
        if self._started and self._spare is None:
            self._spare = asyncio.ensure_future(self._fork())

    async def _take(self) -> Worker:
        """The warm worker, or a fresh one if it did not start."""
        spare, self._spare = self._spare, None
        if spare is not None:
            try:
                worker = await asyncio.shield(spare)
            except asyncio.CancelledError:
                if not spare.cancelled():  # this request was cancelled, not the warm worker
                    _discard(spare)
                    raise
            except (CleanerUnavailableError, IsolationError):
                pass  # tried once more below, from a zygote started afresh if that one has gone
            else:
                if worker.alive:
                    return worker
                await worker.kill()  # gone with its zygote while it waited: not this file's fault
        return await self._fork()

    async def _fork(self) -> Worker:
        """A worker from the zygote; a zygote that has gone or misbehaves is replaced once."""
        for _attempt in range(2):
            worker = await self._fork_once()
            if worker is not None:
                return worker
        log.error("a cleaning worker did not start")
        raise CleanerUnavailableError()

    async def _fork_once(self) -> Worker | None:
        """A worker from the running zygote, or None (and that zygote dropped) if it would not fork one."""
        zygote = await self._living_zygote()
        try:
            return await zygote.fork(self.limits.output_bytes)
        except StartError:
            await self._drop_zygote(zygote)
            return None

    async def _living_zygote(self) -> Zygote:
        """The running zygote, started (again) if need be; none once the cleaner is closed."""
        if not self._started:
            raise CleanerUnavailableError()  # closed while this request waited: nothing new is started
        if self._zygote is None or (self._zygote.done() and self._zygote.exception() is not None):
            self._zygote = asyncio.ensure_future(self._start_zygote())
        starting = self._zygote
        try:
            zygote = await asyncio.shield(starting)
        except asyncio.CancelledError:
            if starting.cancelled():  # closed while it started, not this request cancelled
                raise CleanerUnavailableError() from None
            raise
        if not zygote.alive:
            await self._drop_zygote(zygote)
            return await self._living_zygote()
        return zygote

    async def _drop_zygote(self, zygote: Zygote) -> None:
        current = self._zygote
        made = current is not None and current.done() and not current.cancelled()
        if made and current.exception() is None and current.result() is zygote:  # type: ignore[union-attr]
            self._zygote = None
        await zygote.kill()

    async def _start_zygote(self) -> Zygote:
        """Start the zygote and wait for its ready frame; CleanerUnavailableError if it cannot start,
        IsolationError if it could not isolate and `require_isolation` says not to run so."""
        try:
            zygote = await Zygote.start(
                self._python, memory_bytes=self.limits.memory_bytes, cpu_seconds=self.limits.cpu_seconds
            )
        except StartError:
            log.error("a cleaning worker could not be started")
            raise CleanerUnavailableError() from None
        try:
            await asyncio.wait_for(zygote.ready(), START_SECONDS)
        except (TimeoutError, StartError, EvidenceError, OSError, ValueError):
            await zygote.kill()
            log.error("a cleaning worker did not start")
            raise CleanerUnavailableError() from None
        except BaseException:
            await zygote.kill()
            raise
        try:
            self._check_isolation(zygote)
        except IsolationError:
            await zygote.kill()
            raise
        return zygote

    def _check_isolation(self, zygote: Zygote) -> None:
        """Why one warning, not one per file: it is a property of the machine; no file detail is in it."""
        self._last_isolated = zygote.isolated
        if zygote.isolated:
            return
        if self.require_isolation:
            raise IsolationError(REFUSED_ISOLATION)
        if not self._warned:
            self._warned = True
            log.warning(UNISOLATED_WARNING)


async def _settle(future: asyncio.Future[Any], kill: Any) -> None:
    """End what a future made (or will make), or cancel it."""
    if future.done():
        if not future.cancelled() and future.exception() is None:
            await kill(future.result())
        return
    future.cancel()
    with contextlib.suppress(BaseException):
        await kill(await future)


def _discard(spare: asyncio.Future[Worker]) -> None:
    """End a warm worker nobody will use, once it has started."""

    def done(future: asyncio.Future[Worker]) -> None:
        if not future.cancelled() and future.exception() is None:
            _background.add(task := asyncio.ensure_future(future.result().kill()))
            task.add_done_callback(_background.discard)

    spare.add_done_callback(done)


_background: set[asyncio.Future[None]] = set()


__all__ = [
    "NO_PIDFDS",
    "REFUSED_ISOLATION",
    "UNAVAILABLE",
    "UNISOLATED_WARNING",
    "Cleaner",
    "CleanerLimits",
    "CleanerUnavailableError",
    "Examined",
    "IsolationError",
    "environment",
]
