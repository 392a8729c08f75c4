"""The processes behind bot/cleaner.py: the zygote the bot starts, and the worker forked from it per file.

The zygote (bot.evidence.zygote) is the bot's child, started by exec with a Unix socket as its only
descriptor. A worker is the pair the zygote forks for one file: the relay (outside the file's
namespaces, holding the status pipe) and the reader (the first process of the file's PID namespace,
holding the request and answer pipes and the two memfds the file goes in and out by, its inbox and
outbox: bot.evidence.protocol). Neither is the bot's child, so the bot holds a pidfd for each, checked
against /proc (bot/cleaner_wire.pidfd_of_child), and kills the reader by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import select
import shutil
import signal
import socket
import tempfile
from typing import Any

from bot import cleaner_wire as wire
from bot.evidence import EvidenceError, protocol

log = logging.getLogger("bot.cleaner")

STATUS_SECONDS = 5.0  # how long a worker that stopped answering has to say how it ended


UNAVAILABLE = "Candour could not check this file just now. Please send it again in a few minutes."


class CleanerUnavailableError(EvidenceError):
    """No worker could be had, or it was lost for a reason not the file's (the machine, the zygote, the
    cleaner closing): str(error) is the sentence UNAVAILABLE."""

    def __init__(self) -> None:
        super().__init__(UNAVAILABLE)


class StartError(Exception):
    """A zygote or a worker did not start as it should (the machine or the zygote, never the file)."""


def pidfds_available() -> bool:
    """Whether this kernel gives pidfds (Linux 5.3 or later), without which no worker can be held."""
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (OSError, AttributeError):
        return False
    return True


def environment() -> dict[str, str]:
    """The worker's whole environment: nothing of the bot's.

    Threat: the bot's environment may hold CANDOUR_TELEGRAM_TOKEN, a database URL with its password, or
    the paths of key files; a worker holding them could hand them to whoever exploited it. Python needs no
    variable to run `-I` (isolated mode ignores PYTHON* anyway); a fixed UTF-8 locale keeps text handling
    the same on every machine.
    """
    return {"LC_ALL": "C.UTF-8"}


class Zygote:
    """The zygote process, its control socket and its empty directory."""

    def __init__(self, process: asyncio.subprocess.Process, control: socket.socket, workdir: str) -> None:
        self.process = process
        self.control = control
        self.workdir = workdir
        self.isolated = False
        self.pidfd: int | None = None
        with contextlib.suppress(OSError):
            self.pidfd = os.pidfd_open(process.pid)  # the bot's own child, not yet reaped: its number

    @classmethod
    async def start(cls, python: str, *, memory_bytes: int, cpu_seconds: int) -> Zygote:
        """Exec the zygote in a new empty directory with one socket as its descriptor 0.

        Why exec (fork+exec in a child, then nothing of the bot survives the exec) and close_fds: the
        bot's sockets (Telegram, the database) and key files must not be inherited. Why a new session: a
        signal meant for the bot's terminal does not reach it, and the bot alone decides when it ends.
        """
        workdir = tempfile.mkdtemp(prefix="candour-clean-")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = await asyncio.create_subprocess_exec(
                python,
                "-I",  # isolated: no PYTHON* variables, no user site, no working directory on the path
                "-B",  # writes no bytecode: the worker writes nothing anywhere
                "-m",
                "bot.evidence.worker",
                "--memory-bytes",
                str(memory_bytes),
                "--cpu-seconds",
                str(cpu_seconds),
                stdin=theirs.fileno(),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                env=environment(),
                cwd=workdir,
                close_fds=True,
                start_new_session=True,
            )
        except OSError:
            ours.close()
            shutil.rmtree(workdir, ignore_errors=True)
            raise StartError("the zygote could not be executed") from None
        finally:
            theirs.close()
        ours.setblocking(False)
        return cls(process, ours, workdir)

    async def ready(self) -> None:
        """Read the ready frame (imports done, formats warmed, isolation tried), then remove its directory.

        Why remove it then: the zygote is inside it (chroot) or no longer needs it, and an empty, deleted
        root leaves nothing to read and nowhere to create a file.
        """
        data = await asyncio.get_running_loop().sock_recv(self.control, protocol.MAX_HEADER + 16)
        if not data:
            raise StartError("the zygote ended before it was ready")
        self.isolated = wire.ready(*wire.parse(data))
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def alive(self) -> bool:
        """Whether the zygote is still running (from its pidfd: at once, before asyncio has reaped it)."""
        if self.process.returncode is not None:
            return False
        return self.pidfd is None or not _ended_now(self.pidfd)

    async def fork(self, output_bytes: int) -> Worker:
        """Have the zygote fork a worker for one file, and take hold of both its processes.

        The inbox is made empty, to be written and sealed when the file comes (`Worker.ask`); the outbox
        is made `output_bytes` long (sparse: no memory until written) with sealing refused, so that the
        reader can neither grow it past the limit (it may write no file) nor seal it against the bot.
        """
        ends = [os.pipe2(os.O_CLOEXEC) for _ in range(3)]  # request, answer, status
        (request_in, request_out), (answer_in, answer_out), (status_in, status_out) = ends
        ours = [request_out, answer_in, status_in]
        theirs = [request_in, answer_out, status_out]
        try:
            inbox = os.memfd_create("candour-file", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            ours.append(inbox)
            outbox = os.memfd_create("candour-cleaned", os.MFD_CLOEXEC)
            ours.append(outbox)
            os.ftruncate(outbox, output_bytes)
            await _send_fds(self.control, protocol.FORK, [*theirs, inbox, outbox])
        except BaseException as error:
            for fd in ours:
                os.close(fd)
            if isinstance(error, OSError):
                raise StartError("no memfds for the file, or the zygote took no request") from None
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        try:
            worker = await Worker.connect(request_out, answer_in, status_in, zygote=self)
        except BaseException:
            os.close(inbox)  # the pipes' ends are closed by connect itself
            os.close(outbox)
            raise
        worker.inbox, worker.outbox = inbox, outbox
        try:
            await worker.started(self.process.pid)
        except BaseException:
            await worker.kill()
            raise
        return worker

    async def kill(self) -> None:
        """End the zygote and whatever of its group is left, close its socket, remove its directory."""
        process = self.process
        if process.returncode is None:
            # Why the group too: relays and readers that left no namespace of their own are in it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        try:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait(), 10)
        finally:
            self.control.close()
            if self.pidfd is not None:
                os.close(self.pidfd)
                self.pidfd = None
            shutil.rmtree(self.workdir, ignore_errors=True)


async def _send_fds(sock: socket.socket, message: bytes, fds: list[int]) -> None:
    """Send a message with descriptors on a non-blocking socket, waiting while it is full."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            socket.send_fds(sock, [message], fds)
            return
        except BlockingIOError:
            writable: asyncio.Future[None] = loop.create_future()
            loop.add_writer(sock, _settle_once, writable)
            try:
                await writable
            finally:
                loop.remove_writer(sock)


def _settle_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Worker:
    """One file's relay and reader, as pipes, memfds and pidfds."""

    def __init__(
        self,
        requests: asyncio.StreamWriter,
        answers: asyncio.StreamReader,
        status: asyncio.StreamReader,
        transports: list[asyncio.BaseTransport],
        zygote: Zygote,
    ) -> None:
        self.requests, self.answers, self.status = requests, answers, status
        self._transports = transports
        self.zygote = zygote
        self.relay: int | None = None  # pidfds
        self.reader: int | None = None
        self.reader_pid = 0
        self.isolated = zygote.isolated
        self.ended_by_bot = False
        self.inbox = -1  # memfds (bot.evidence.protocol), closed by the time the worker is killed
        self.outbox = -1

    @classmethod
    async def connect(cls, request_out: int, answer_in: int, status_in: int, *, zygote: Zygote) -> Worker:
        """Wrap the bot's ends of the three pipes as asyncio streams (on failure, every transport made so
        far is closed, and with it its descriptor)."""
        loop = asyncio.get_running_loop()
        answers = asyncio.StreamReader(limit=protocol.MAX_HEADER + 16)
        status = asyncio.StreamReader(limit=protocol.MAX_HEADER + 16)
        # Why file objects first: from here each descriptor has one owner that closes it once, whether a
        # transport takes it or this fails (a cancellation included) before one does.
        files = [
            os.fdopen(answer_in, "rb", buffering=0),
            os.fdopen(status_in, "rb", buffering=0),
            os.fdopen(request_out, "wb", buffering=0),
        ]
        transports: list[asyncio.BaseTransport] = []
        try:
            for reader, pipe in ((answers, files[0]), (status, files[1])):
                transport, _ = await loop.connect_read_pipe(
                    lambda reader=reader: asyncio.StreamReaderProtocol(reader),  # type: ignore[misc]
                    pipe,
                )
                transports.append(transport)
            write, flow = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, files[2])
        except BaseException:
            for transport in transports:
                transport.close()
            for pipe in files:
                pipe.close()
            raise
        transports.append(write)
        requests = asyncio.StreamWriter(write, flow, None, loop)  # type: ignore[arg-type]
        return cls(requests, answers, status, transports, zygote)

    @property
    def alive(self) -> bool:
        """Whether this worker can still take its file: its zygote, relay and reader all running."""
        held = [fd for fd in (self.relay, self.reader) if fd is not None]
        return self.zygote.alive and len(held) == 2 and not any(_ended_now(fd) for fd in held)

    async def started(self, zygote: int) -> None:
        """Read the relay's first status frame and take a pidfd for it and for its reader."""
        try:
            relay, reader = wire.started(*await wire.read(self.status, 0))
        except (EvidenceError, asyncio.IncompleteReadError, OSError):
            raise StartError("the worker did not start") from None
        self.relay = wire.pidfd_of_child(relay, zygote)
        self.reader = wire.pidfd_of_child(reader, relay) if self.relay is not None else None
        self.reader_pid = reader
        if self.relay is None or self.reader is None:
            # Why refuse rather than clean unguarded: without both the bot could not end this file's
            # processes for certain; a zygote that names processes not its own is replaced.
            raise StartError("the worker's processes could not be held")

    async def ask(
        self, request: dict[str, Any], content: bytes, *, wall_seconds: float, output_bytes: int
    ) -> tuple[dict[str, Any], bytes]:
        """One request and its answer within the wall time; a refusal becomes EvidenceError."""
        try:
            async with asyncio.timeout(wall_seconds):
                try:
                    self._post(content)
                except OSError:
                    raise CleanerUnavailableError() from None  # the machine's memory, not the file
                self.requests.write(protocol.head(request, len(content)))
                await self.requests.drain()
                self.requests.close()
                header, size = await wire.read_head(self.answers, output_bytes)
                body = wire.read_outbox(self.outbox, size, output_bytes)
        except TimeoutError:
            await self.kill()
            raise wire.refusal("TOO_SLOW") from None
        except (ConnectionError, asyncio.IncompleteReadError, BrokenPipeError):
            by_bot = self.ended_by_bot  # before _death, which ends what is left itself
            sentence = await self._death()
            if by_bot or not self.zygote.alive:
                # Why not the file's fault: the cleaner was closing, or the zygote died (and this worker
                # with it, by PDEATHSIG); no reader can reach the zygote, so the file did not do it.
                raise CleanerUnavailableError() from None
            raise EvidenceError(sentence) from None
        finally:
            self._close_boxes()
        return wire.answer(header), body

    def _post(self, content: bytes) -> None:
        """The file into the inbox, once, then sealed for good, and the bot's descriptor closed.

        Why sealed: from here the bytes the reader reads are the bytes the bot sent, whoever holds the
        memfd (the reader's copy can write nothing, nor grow or shrink it). Why now, and safe: the
        reader has not yet been told there is a file, so it is still the zygote's pristine copy, and has
        no writable mapping that sealing would have to wait for. Why in one write, in the event loop:
        a memfd takes the whole file in one call (milliseconds), with no chunks to copy or wake-ups.
        """
        view = memoryview(content)
        while view:
            view = view[os.write(self.inbox, view) :]
        fcntl.fcntl(self.inbox, fcntl.F_ADD_SEALS, protocol.INBOX_SEALS)
        os.close(self.inbox)
        self.inbox = -1

    def _close_boxes(self) -> None:
        for fd in (self.inbox, self.outbox):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.inbox = self.outbox = -1

    async def _death(self) -> str:
        """Why the reader stopped answering, as the sentence for the reporter (cleaner_wire.death)."""
        try:
            async with asyncio.timeout(STATUS_SECONDS):
                code = wire.exit_status(*await wire.read(self.status, 0))
        except (TimeoutError, EvidenceError, asyncio.IncompleteReadError, OSError):
            await self.kill()
            code = -signal.SIGKILL  # the relay went without saying: killed, as the reader with it
        return wire.death(code)

    async def kill(self) -> None:
        """End the reader for certain, its whole PID namespace with it, and the relay; harmless if they have
        gone already. The pidfds are closed whatever happens, a cancellation included."""
        self.ended_by_bot = True
        self._close_boxes()
        reader, self.reader = self.reader, None
        relay, self.relay = self.relay, None
        try:
            if reader is not None:
                if not self.isolated and not _ended_now(reader):
                    # Why the group too, and only without namespaces: there the reader leads a group of
                    # its own, and while its pidfd shows it has not ended its number is still its own.
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(self.reader_pid, signal.SIGKILL)
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(reader, signal.SIGKILL)
            if relay is not None:
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(relay, signal.SIGKILL)
            for transport in self._transports:
                transport.close()
            for pidfd in (reader, relay):
                if pidfd is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(_ended(pidfd), 10)
        finally:
            for pidfd in (reader, relay):
                if pidfd is not None:
                    os.close(pidfd)


def _ended_now(pidfd: int) -> bool:
    """Whether the process behind `pidfd` has ended (a pidfd reads as ready then)."""
    return bool(select.select([pidfd], [], [], 0)[0])


async def _ended(pidfd: int) -> None:
    """Wait until the process behind `pidfd` has ended; the kernel ends a PID namespace's other processes
    before its first one is done ending."""
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()
    loop.add_reader(pidfd, _settle_once, ended)
    try:
        await ended
    finally:
        loop.remove_reader(pidfd)
