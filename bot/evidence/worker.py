"""The cleaning worker: one process, one file, no keys, no network, no file system, bounded resources.

Run as `python -I -B -m bot.evidence.worker --memory-bytes N --cpu-seconds N` by bot/cleaner.py, which says
why it exists. Life of a worker:

1. Import everything and warm every format on tiny files made for it (bot.evidence.warmup), so that
   nothing needs loading from disk later (once isolated there is no disk to load from).
2. Isolate: new user, mount, network, IPC and PID namespaces, chroot into its empty working directory,
   no capabilities, no new privileges. Then fork: the child is the first process (PID 1) of the new PID
   namespace and does the work; this process, outside it, says ready and waits for it.
3. Limits on address space, CPU time, file size (zero: it writes no file), descriptors and core dumps.
4. The child reads one request, answers it and exits; this process then exits as it did.

The wire, shared with the bot's side (bot/cleaner_wire.py), is in bot.evidence.protocol.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import os
import resource
import signal
import sys
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

from bot.evidence import model, warmup
from bot.evidence.limits import MAX_BYTES
from bot.evidence.protocol import (
    CLEAN,
    ERRORS,
    EXAMINE,
    EXIT_CRASHED,
    EXIT_MEMORY,
    EXIT_SLOW,
    VERSION,
    frame,
    read_frame,
    send,
)

MAX_OPEN_FILES = 32

_CLONE_NEWNS = 0x00020000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_NAMESPACES = _CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWPID
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_F_SETPIPE_SZ = 1031
_PIPE_BYTES = 1 << 20
_PR_SET_NO_NEW_PRIVS = 38
_CAPABILITY_VERSION_3 = 0x20080522


# --- answering ------------------------------------------------------------------------------------


def answer(header: dict[str, Any], content: bytes) -> tuple[dict[str, Any], bytes]:
    """The reply to one request; every refusal is named by its constant, never by a message of its own."""
    try:
        op, filename, media_type = header.get("op"), header.get("filename"), header.get("media_type")
        if op not in (EXAMINE, CLEAN) or not isinstance(filename, str) or not isinstance(media_type, str):
            return {"error": "DAMAGED"}, b""
        if op == CLEAN:
            return _clean(content, filename, media_type)
        return _examine(content, filename, media_type), b""
    except model.EvidenceError as error:
        return {"error": _name(error)}, b""
    except MemoryError:
        return {"error": "TOO_MANY_PIXELS"}, b""
    except RecursionError:
        return {"error": "TOO_COMPLEX"}, b""
    except Exception:
        return {"error": "DAMAGED"}, b""


def _clean(content: bytes, filename: str, media_type: str) -> tuple[dict[str, Any], bytes]:
    from bot.evidence import dispatch

    cleaned = dispatch.clean(content, filename=filename, media_type=media_type)
    header = {
        "ok": True,
        "media_type": cleaned.media_type,
        "filename": cleaned.filename,
        "cleaned": cleaned.cleaned,
        "removed": _pairs(cleaned.removed),
    }
    # Why no body when not cleaned: the file is unchanged, and the bot already has it.
    return header, cleaned.content if cleaned.cleaned else b""


def _examine(content: bytes, filename: str, media_type: str) -> dict[str, Any]:
    """Inspect, then clean for real and discard the bytes, so the reporter is told now what will happen."""
    from bot.evidence import dispatch

    actual = dispatch.sniff_media_type(content, filename, media_type)
    findings = dispatch.inspect(content, filename=filename, media_type=actual)
    problem: str | None = None
    removed: tuple[model.Finding, ...] = ()
    cleanable = dispatch.can_clean(actual)
    try:
        cleaned = dispatch.clean(content, filename=filename, media_type=actual)
    except model.EvidenceError as error:
        if str(error) != model.NOT_CLEANED:
            raise
        problem = "NOT_CLEANED"
    else:
        cleanable = cleaned.cleaned  # a variant the format cannot write is returned unchanged
        removed = cleaned.removed
    return {
        "ok": True,
        "media_type": actual,
        "cleanable": cleanable,
        "findings": _pairs(findings),
        "removed": _pairs(removed),
        "problem": problem,
    }


def _pairs(findings: tuple[model.Finding, ...]) -> list[list[str]]:
    return [[found.kind, found.summary] for found in findings]


def _name(error: model.EvidenceError) -> str:
    """The constant an EvidenceError carries; DAMAGED for any sentence that is not one of them."""
    text = str(error)
    return next((name for name, sentence in ERRORS.items() if sentence == text), "DAMAGED")


# --- isolating ------------------------------------------------------------------------------------


@cache
def _libc() -> ctypes.CDLL:
    """The C library, loaded once before isolation (the chroot leaves nothing to load it from)."""
    return ctypes.CDLL(None, use_errno=True)


def isolate() -> bool:
    """Leave the machine's namespaces and file system; True if the kernel allowed it.

    Why / threat: a file that takes over a parser must find no network (a new, empty network namespace:
    not even loopback is up, so no database on 127.0.0.1), no files (chroot into an empty directory,
    which the bot deletes once the worker is ready, so nothing can be created in it either), no process
    to signal or trace (a new PID namespace, entered by the child `confine` forks: the bot and every
    other process of its user have no number there), no shared memory or message queue of the machine's
    (a new IPC namespace), and no way back: every capability the new user namespace gave is dropped,
    no_new_privs is set, and the worker dies with the bot (PDEATHSIG). The namespaces need no privilege
    (unprivileged user namespaces); where the kernel refuses them, the worker still runs under its limits
    and says so. Not given: a seccomp filter (every system call stays open to the worker, so a kernel
    bug reached through one is out of scope) and any limit on what it may say about the one file it has.
    """
    libc = _libc()
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    # Why all in one call: CLONE_NEWUSER must come with the others (they need its capabilities), and it
    # is refused to a process with threads, which warming up must leave none of (so fork is safe too).
    if libc.unshare(_NAMESPACES) != 0:
        return False
    try:
        os.chroot(".")
        os.chdir("/")
    except OSError:
        return False
    return _drop_capabilities(libc)


def _drop_capabilities(libc: ctypes.CDLL) -> bool:
    """No capabilities at all, so the chroot cannot be left nor anything mounted (capset, all zero)."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    header = Header(_CAPABILITY_VERSION_3, 0)
    data = (Data * 2)()
    return libc.capset(ctypes.byref(header), data) == 0


def limit(memory_bytes: int, cpu_seconds: int) -> None:
    """Resource limits for the rest of the worker's life (the bot adds the wall clock and output size).

    Why CPU from now: warming up has already used some, which must not count against the file (a forked
    child starts again from zero, so the worker's own limit is set in it, after the fork). Why
    FSIZE zero: the worker writes only to its pipe, so any write to a file is an attack, and fails
    (Python ignores SIGXFSZ, so the write gets EFBIG). Why no core dumps, and not dumpable as well: a
    core would hold the file, and a core_pattern that pipes to a program (systemd-coredump) is not
    stopped by RLIMIT_CORE alone; a process that is not dumpable leaves no core anywhere.
    """
    _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = int(used.ru_utime + used.ru_stime) + 1
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (spent + cpu_seconds, spent + cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_NOFILE, (MAX_OPEN_FILES, MAX_OPEN_FILES))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def confine(requests: BinaryIO, answers: BinaryIO, memory_bytes: int, cpu_seconds: int) -> None:
    """Isolate, limit and say ready; returns only in the process that is to read the one request.

    Isolated, that is the child forked here, the first process of the new PID namespace; this process
    stays outside it, says ready with the child's number (so the bot can kill that process whatever it
    does to its process group or its PDEATHSIG), lets go of both pipes, waits for the child and ends as
    it ended. Why a namespace's first process: when it ends, the kernel kills every process left in the
    namespace, so nothing a taken-over worker starts can outlive it.
    """
    if not isolate():
        limit(memory_bytes, cpu_seconds)
        send(answers, frame({"ready": True, "version": VERSION, "isolated": False}))
        return
    inner = os.fork()
    if inner == 0:
        _become_init()
        limit(memory_bytes, cpu_seconds)
        return
    limit(memory_bytes, cpu_seconds)
    send(answers, frame({"ready": True, "version": VERSION, "isolated": True, "init": inner}))
    requests.close()
    answers.close()
    _relay(inner)


def _become_init() -> None:
    """Ready the namespace's first process for the file: it dies with the worker outside, and its CPU
    limit ends it as it would end any other process.

    Why PDEATHSIG again: fork does not pass it on. Why SIGXCPU gets a handler, and that handler is the C
    library's `_exit`: the kernel does not deliver to a namespace's first process any signal left at
    its default action, the CPU limit's SIGXCPU included, so the worker would run on to the hard limit's
    SIGKILL and be told as a crash; `_exit` is safe in a signal handler, takes the signal number as its
    exit status (EXIT_SLOW) and ends the process at once, even deep in a native parser.
    """
    libc = _libc()
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    libc.signal.restype = ctypes.c_void_p
    libc.signal.argtypes = (ctypes.c_int, ctypes.c_void_p)
    libc.signal(signal.SIGXCPU, ctypes.cast(libc._exit, ctypes.c_void_p))


def _relay(inner: int) -> NoReturn:
    """Wait for the worker inside the namespace and exit with its status, as the bot reads a worker's:
    a signal that ended it becomes EXIT_CRASHED plus its number (EXIT_SLOW for SIGXCPU)."""
    _, status = os.waitpid(inner, 0)
    if os.WIFEXITED(status):
        os._exit(os.WEXITSTATUS(status))
    ended = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    os._exit(EXIT_SLOW if ended == signal.SIGXCPU else EXIT_CRASHED + ended)


# --- the process ----------------------------------------------------------------------------------


def private_pipes() -> tuple[BinaryIO, BinaryIO]:
    """The request and answer pipes, moved away from descriptors 0 and 1, which then lead nowhere.

    Why: a library that prints (to stdout, from C or Python) would otherwise corrupt the answer.
    """
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    answers = os.fdopen(os.dup(1), "wb", buffering=0)
    for pipe in (requests, answers):
        # Why larger pipes: 1 MiB moves a 20 MB file in twenty wake-ups each way instead of 320; where
        # the system will not grant it the default stays.
        with contextlib.suppress(OSError):
            fcntl.fcntl(pipe.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)
    nowhere = os.open(os.devnull, os.O_RDWR)
    os.dup2(nowhere, 0)
    os.dup2(nowhere, 1)
    os.close(nowhere)
    sys.stdin = Path(os.devnull).open()  # noqa: SIM115 - for the process's life
    sys.stdout = Path(os.devnull).open("w")  # noqa: SIM115
    return requests, answers


def main(argv: list[str] | None = None) -> int:
    """Warm up, isolate, limit, say ready, answer one request, end."""
    parser = argparse.ArgumentParser(prog="python -I -m bot.evidence.worker")
    parser.add_argument("--memory-bytes", type=int, required=True)
    parser.add_argument("--cpu-seconds", type=int, required=True)
    args = parser.parse_args(argv)
    requests, answers = private_pipes()
    warmup.warm()
    confine(requests, answers, args.memory_bytes, args.cpu_seconds)
    return serve(requests, answers)


def serve(requests: BinaryIO, answers: BinaryIO) -> int:
    """Read one request, send its answer; the exit status for main."""
    try:
        header, content = read_frame(requests, MAX_BYTES)
    except (ValueError, EOFError, UnicodeDecodeError):
        return 2
    try:
        reply, body = answer(header, content)
        del content
        send(answers, frame(reply, body))
    except MemoryError:
        try:
            send(answers, frame({"error": "TOO_MANY_PIXELS"}))
        except MemoryError:
            os._exit(EXIT_MEMORY)
    return 0


if __name__ == "__main__":
    sys.exit(main())
