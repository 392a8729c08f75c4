"""The bot's side of evidence cleaning: each file is examined and cleaned in a worker process of its own.

Why / threat (issue 10, point 5): the parsers that read a reporter's file (Pillow, libheif, qpdf, FFmpeg,
lxml) are large native code fed bytes chosen by whoever made the file. A file crafted to exploit one of
them must find nothing worth taking: so cleaning never runs in the bot's process, whose memory holds the
relay key, the receipt pepper and the Telegram token, and which has the database and the network in
reach. It runs in `bot.evidence.worker`, started by exec (never a fork of the bot, whose copied memory
would hold those keys), with an empty environment, no inherited descriptors but two pipes, and limits on
memory, CPU time, wall time and output.

What isolation gives, where the kernel allows unprivileged user namespaces (`Cleaner.isolated`): the
worker has new user, mount, network, IPC and PID namespaces, no capabilities and no_new_privs, and is
chrooted into an empty directory that is deleted once it is ready. So it has no network (not even
loopback), no file to read or create, no process of the machine to signal or trace (the bot included:
none has a number in its PID namespace), and no shared memory or message queue of the machine's. The
file is read by the first process of that PID namespace; when it ends, or is killed (the bot kills it
by a pidfd at the wall time, whatever it did to its process group or PDEATHSIG), the kernel kills every
process left in the namespace, so anything it started dies with it.

What isolation does not give: no seccomp filter, so every system call stays open to the worker, and a
file that reaches a kernel bug through one is out of scope (keep the kernel patched); no limit on what
the worker says about the one file it was given (it can lie about that file, never read another's); and
where the kernel refuses the namespaces, only the limits, the empty environment and the closed
descriptors remain (`require_isolation` makes that a refusal to start, naming
CANDOUR_CLEANER_REQUIRE_ISOLATION). The answers a worker sends are data, checked field by field
(bot/cleaner_wire.py), so a compromised worker cannot run code in the bot either.

One process per file: a crash, a limit or a timeout costs that file only (it is refused with a plain
sentence), and the next file gets a fresh process. One warm process is kept ready, so start-up (imports
and the warm-up of every format) is off the reporter's wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from bot import cleaner_wire as wire
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
    output_bytes: int = MAX_BYTES + (1 << 20)  # parent reads no more than this
    concurrency: int = 2  # files cleaned at once

    def __post_init__(self) -> None:
        if self.memory_bytes < 64 * 1024 * 1024 or self.cpu_seconds < 1 or self.wall_seconds <= 0:
            raise ValueError("cleaner limits too small to run a worker")
        if self.output_bytes < 1 or self.concurrency < 1:
            raise ValueError("cleaner output and concurrency must be positive")


UNAVAILABLE = "Candour could not check this file just now. Please send it again in a few minutes."
# Why they name the setting and both ways out: the operator reading them must know what was refused and
# what to change (docs/operations.md quotes them); neither carries a file detail.
REFUSED_ISOLATION = (
    "the kernel refused the cleaning worker its namespaces (user, mount, network, IPC and PID), and "
    "CANDOUR_CLEANER_REQUIRE_ISOLATION is true: allow unprivileged user namespaces for Candour's user, or "
    "set CANDOUR_CLEANER_REQUIRE_ISOLATION=false to clean evidence under resource limits only"
)
UNISOLATED_WARNING = (
    "the cleaning worker runs under resource limits only: this kernel refused it user, mount, network, "
    "IPC and PID namespaces (unprivileged user namespaces disabled?), and "
    "CANDOUR_CLEANER_REQUIRE_ISOLATION=false lets it run without them"
)


class CleanerUnavailableError(EvidenceError):
    """No worker could be started (the machine, not the file): str(error) is the sentence UNAVAILABLE."""

    def __init__(self) -> None:
        super().__init__(UNAVAILABLE)


class IsolationError(RuntimeError):
    """The kernel refused the worker its namespaces and `require_isolation` says not to run without them;
    str(error) is REFUSED_ISOLATION."""


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
        self._spare: asyncio.Future[_Worker] | None = None
        self._running: set[_Worker] = set()
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
        """Start the first warm worker (and with `require_isolation`, fail now if it cannot isolate)."""
        if self._started:
            return
        self._started = True
        # Why made here, not in __init__: a semaphore belongs to the event loop that first waits on it,
        # and a cleaner closed and started again may be on another loop (tests run one per test).
        self._slots = asyncio.Semaphore(self.limits.concurrency)
        self._spare = asyncio.ensure_future(self._spawn())
        if self.require_isolation:
            try:
                self._check_isolation(await asyncio.shield(self._spare))
            except BaseException:
                await self.close()
                raise

    async def close(self) -> None:
        """Stop every worker, the warm one included (a file being cleaned is refused); a later call
        starts the cleaner again."""
        self._started = False
        spare, self._spare = self._spare, None
        if spare is not None:
            if spare.done() and not spare.cancelled() and spare.exception() is None:
                await _kill(spare.result())
            else:
                spare.cancel()
                with contextlib.suppress(BaseException):
                    await _kill(await spare)
        for worker in list(self._running):
            await _kill(worker)

    async def ready(self) -> None:
        """Wait until a warm worker is ready for the next file (start-up and warm-up done)."""
        await self.start()
        if self._spare is not None:
            with contextlib.suppress(Exception):
                self._last_isolated = (await asyncio.shield(self._spare)).isolated

    @property
    def isolated(self) -> bool | None:
        """Whether the last worker to start got its namespaces (None before any has)."""
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
            try:
                request = {"op": op, "filename": str(filename)[:1000], "media_type": str(media_type)[:200]}
                return await worker.ask(request, content, self.limits)
            finally:
                self._running.discard(worker)
                await _kill(worker)
                self._warm_next()

    def _warm_next(self) -> None:
        """Start warming the worker for the next file, once this one is done.

        Why after, not as a file begins: warming runs every format over samples, a second of CPU that on a
        small machine would be taken from the file the reporter is waiting for.
        """
        if self._started and self._spare is None:
            self._spare = asyncio.ensure_future(self._spawn())

    async def _take(self) -> _Worker:
        """The warm worker (the next starts warming when this file is done), or a fresh one."""
        spare, self._spare = self._spare, None
        worker: _Worker | None = None
        if spare is not None:
            try:
                worker = await asyncio.shield(spare)
            except asyncio.CancelledError:
                if not spare.cancelled():  # this request was cancelled, not the warm worker
                    _discard(spare)
                    raise
            except Exception:  # noqa: S110 - it did not start: a fresh one is tried below
                pass
        if worker is None or worker.process.returncode is not None:
            if worker is not None:
                await _kill(worker)
            worker = await self._spawn()  # CleanerUnavailableError if no worker can start at all
        try:
            self._check_isolation(worker)
        except IsolationError:
            await _kill(worker)
            raise
        return worker

    def _check_isolation(self, worker: _Worker) -> None:
        """Why one warning, not one per file: it is a property of the machine; no file detail is in it."""
        self._last_isolated = worker.isolated
        if worker.isolated:
            return
        if self.require_isolation:
            raise IsolationError(REFUSED_ISOLATION)
        if not self._warned:
            self._warned = True
            log.warning(UNISOLATED_WARNING)

    async def _spawn(self) -> _Worker:
        """Start a worker and wait for its ready line; CleanerUnavailableError if it cannot start."""
        worker = await _Worker.start(self._python, self.limits)
        try:
            await asyncio.wait_for(worker.ready(), START_SECONDS)
        except (TimeoutError, EvidenceError, OSError, ValueError):
            await _kill(worker)
            log.error("a cleaning worker did not start")
            raise CleanerUnavailableError() from None
        except BaseException:
            await _kill(worker)
            raise
        return worker


def environment() -> dict[str, str]:
    """The worker's whole environment: nothing of the bot's.

    Threat: the bot's environment may hold CANDOUR_TELEGRAM_TOKEN, a database URL with its password, or
    the paths of key files; a worker holding them could hand them to whoever exploited it. Python needs no
    variable to run `-I` (isolated mode ignores PYTHON* anyway); a fixed UTF-8 locale keeps text handling
    the same on every machine.
    """
    return {"LC_ALL": "C.UTF-8"}


class _Worker:
    """One worker process, its empty directory, the pipes to it, and its namespace's first process."""

    def __init__(self, process: asyncio.subprocess.Process, workdir: str) -> None:
        self.process = process
        self.workdir = workdir
        self.isolated = False
        self.init: int | None = None  # a pidfd for the first process of the worker's PID namespace

    @classmethod
    async def start(cls, python: str, limits: CleanerLimits) -> _Worker:
        """Exec the worker in a new empty directory with only two pipes.

        Why exec through asyncio (fork+exec in a child, then nothing of the bot survives the exec) and
        close_fds: the bot's sockets (Telegram, the database) and key files must not be inherited. Why
        a new session: a signal meant for the bot's terminal does not reach the worker, and the bot
        alone decides when it ends.
        """
        workdir = tempfile.mkdtemp(prefix="candour-clean-")
        try:
            process = await asyncio.create_subprocess_exec(
                python,
                "-I",  # isolated: no PYTHON* variables, no user site, no working directory on the path
                "-B",  # writes no bytecode: the worker writes nothing anywhere
                "-m",
                "bot.evidence.worker",
                "--memory-bytes",
                str(limits.memory_bytes),
                "--cpu-seconds",
                str(limits.cpu_seconds),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env=environment(),
                cwd=workdir,
                close_fds=True,
                start_new_session=True,
                limit=protocol.MAX_HEADER + 16,
            )
        except OSError:
            shutil.rmtree(workdir, ignore_errors=True)
            log.error("a cleaning worker could not be started")
            raise CleanerUnavailableError() from None
        return cls(process, workdir)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def ready(self) -> None:
        """Read the ready handshake: imports done, formats warmed, isolation tried, limits set."""
        assert self.process.stdout is not None
        header, body = await wire.read(self.process.stdout, 0)
        self.isolated, init = wire.ready(header, body)
        if init is not None:
            self.init = wire.pidfd_of_child(init, self.pid)
        self.remove_directory()

    def remove_directory(self) -> None:
        """Why remove it as soon as the worker is ready: the worker is inside it (chroot) or no longer
        needs it, and an empty, deleted root leaves nothing to read and nowhere to create a file."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    async def ask(
        self, request: dict[str, Any], content: bytes, limits: CleanerLimits
    ) -> tuple[dict[str, Any], bytes]:
        """One request and its answer within the wall time; a refusal becomes EvidenceError."""
        try:
            async with asyncio.timeout(limits.wall_seconds):
                assert self.process.stdin is not None and self.process.stdout is not None
                self.process.stdin.write(protocol.frame(request, content))
                await self.process.stdin.drain()
                self.process.stdin.close()
                header, body = await wire.read(self.process.stdout, limits.output_bytes)
        except TimeoutError:
            await _kill(self)
            raise wire.refusal("TOO_SLOW") from None
        except (ConnectionError, asyncio.IncompleteReadError, BrokenPipeError):
            raise EvidenceError(await self._death()) from None
        return wire.answer(header), body

    async def _death(self) -> str:
        """Why the worker stopped answering, as the sentence for the reporter (cleaner_wire.death)."""
        try:
            code = await asyncio.wait_for(self.process.wait(), 5)
        except TimeoutError:
            await _kill(self)
            return wire.death(-signal.SIGKILL)
        return wire.death(code)


def _discard(spare: asyncio.Future[_Worker]) -> None:
    """End a warm worker nobody will use, once it has started."""

    def done(future: asyncio.Future[_Worker]) -> None:
        if not future.cancelled() and future.exception() is None:
            _background.add(task := asyncio.ensure_future(_kill(future.result())))
            task.add_done_callback(_background.discard)

    spare.add_done_callback(done)


_background: set[asyncio.Future[None]] = set()


async def _kill(worker: _Worker) -> None:
    """End a worker for certain, its whole PID namespace with it, and remove its directory; harmless if
    it has already gone."""
    init, worker.init = worker.init, None
    if init is not None:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(init, signal.SIGKILL)
    process = worker.process
    if process.returncode is None:
        # Why the whole group too: the worker leads its own session, so this reaches what a worker
        # without a PID namespace started. Only while it is unreaped: its number cannot be another's yet.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(process.wait(), 10)
    if init is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(_ended(init), 10)
        os.close(init)
    worker.remove_directory()


async def _ended(pidfd: int) -> None:
    """Wait until the process behind `pidfd` has ended (it reads as ready then); the kernel ends the
    namespace's other processes before its first one is done ending."""
    loop = asyncio.get_running_loop()
    ended = loop.create_future()
    loop.add_reader(pidfd, lambda: ended.done() or ended.set_result(None))
    try:
        await ended
    finally:
        loop.remove_reader(pidfd)


__all__ = [
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
