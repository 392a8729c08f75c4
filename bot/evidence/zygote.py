"""The cleaning worker's zygote: warmed once, boxed once, never given a file; it forks one process per file.

Why a zygote (issue 10, point 5, and the reporter's wait): starting Python, importing every parser and
warming every format costs about a second of CPU. A process that has done that once, and has read no
file, is forked for each file instead: the child starts as the pristine copy, so nothing of one file can
reach the next (each file's process is new, and ends with its file), and the second costs milliseconds.

Life of one file (bot/cleaner.py is the other side):
1. The bot sends the zygote the word `fork` with five descriptors: three pipe ends (the request to
   read, the answer to write, and a status pipe) and two memfds, the inbox the file will be in and the
   outbox the cleaned file goes into (bot.evidence.protocol). The zygote reads nothing else, ever.
2. The zygote forks the *relay*, which takes namespaces and an empty root of its own for the file
   (isolation.box_one_file) and forks the *reader*, the first process of the new PID namespace. The
   reader drops every capability, takes its limits, reads the one request, answers it and exits.
   The bot writes the file into the inbox and seals it when the file comes, before it sends the
   request: until the request comes the reader is the zygote's pristine copy, and has read nothing.
3. The relay, which holds only the status pipe, says there the numbers of both (so the bot can kill the
   reader by a pidfd whatever it does to its group or PDEATHSIG), waits for the reader and says how it
   ended, as the bot reads a worker's exit status.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
from collections.abc import Callable
from typing import NoReturn

from bot.evidence import isolation
from bot.evidence.protocol import EXIT_CRASHED, EXIT_SLOW, FORK, FORK_FDS, VERSION, Mailbox, frame, send

Serve = Callable[[Mailbox], int]
_MESSAGE = 64


def run(control: socket.socket, *, memory_bytes: int, cpu_seconds: int, serve: Serve) -> NoReturn:
    """Box this process, say ready on `control`, then fork one boxed reader per request until the bot goes.

    Why SIGCHLD ignored: the kernel then reaps each relay as it ends, and each reader handed to the
    zygote when its relay was killed first (the zygote is their subreaper), so the zygote, which waits
    on nothing but its socket, leaves no zombies. Why gc.freeze: objects made before the forks are left
    alone by the children's collector, so their pages stay shared instead of being copied into each.
    """
    import gc

    isolated = isolation.leave_the_machine()
    isolation.not_dumpable()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    gc.collect()
    gc.freeze()
    control.sendall(frame({"ready": True, "version": VERSION, "isolated": isolated}))
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(control, _MESSAGE, FORK_FDS)
        except OSError:
            os._exit(0)
        if not message:
            os._exit(0)  # the bot has gone
        if message != FORK or len(fds) != FORK_FDS:
            _close(fds)
            continue
        try:
            relay = os.fork()
        except OSError:
            relay = -1  # the bot reads the status pipe's end as a worker that could not start
        if relay == 0:
            control.close()
            _relay(fds, isolated, memory_bytes, cpu_seconds, serve)
        _close(fds)


def _relay(fds: list[int], isolated: bool, memory_bytes: int, cpu_seconds: int, serve: Serve) -> NoReturn:
    """The process outside the file's namespaces: fork the reader into them, report on it, end with it."""
    requests, answers, status, inbox, outbox = fds
    isolation.die_with_parent()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if isolated and not isolation.box_one_file():
        os._exit(1)  # no namespaces for this file: refused as a worker that could not start
    reader = os.fork()
    if reader == 0:
        os.close(status)
        _reader((requests, answers, inbox, outbox), isolated, memory_bytes, cpu_seconds, serve)
    for fd in (requests, answers, inbox, outbox):
        os.close(fd)
    isolation.drop_capabilities()
    isolation.limit(memory_bytes, cpu_seconds)
    with os.fdopen(status, "wb", buffering=0) as out:
        with contextlib.suppress(OSError):
            send(out, frame({"relay": os.getpid(), "reader": reader}))
        _, ended = os.waitpid(reader, 0)
        with contextlib.suppress(OSError):
            send(out, frame({"exit": exit_status(ended)}))
    os._exit(0)


def _reader(
    fds: tuple[int, int, int, int], isolated: bool, memory_bytes: int, cpu_seconds: int, serve: Serve
) -> NoReturn:
    """The process that reads the file: no capabilities, its limits, one request, then gone.

    Without namespaces (a kernel that refuses them) it leads a process group of its own, so that the bot
    can end whatever it starts along with it.
    """
    if isolated:
        isolation.become_init()
    else:
        isolation.die_with_parent()
        os.setpgid(0, 0)
    isolation.drop_capabilities()
    isolation.limit(memory_bytes, cpu_seconds)
    requests, answers, inbox, outbox = fds
    code = 1
    try:
        with os.fdopen(requests, "rb", buffering=0) as asked, os.fdopen(answers, "wb", buffering=0) as told:
            code = serve(Mailbox(asked, told, inbox, outbox))
    except BaseException:
        code = 1
    os._exit(code)


def exit_status(ended: int) -> int:
    """A wait status as the bot reads a worker's: its exit code, or EXIT_CRASHED plus the signal that
    ended it (EXIT_SLOW for SIGXCPU, the CPU limit)."""
    if os.WIFEXITED(ended):
        return os.WEXITSTATUS(ended)
    signalled = os.WTERMSIG(ended) if os.WIFSIGNALED(ended) else 0
    return EXIT_SLOW if signalled == signal.SIGXCPU else EXIT_CRASHED + signalled


def _close(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
