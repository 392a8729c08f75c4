"""The kernel's side of the cleaning worker's box: namespaces, an empty root, capabilities, limits.

Two steps, because the worker is a zygote (bot.evidence.zygote): a pristine process that never reads a
file, and the processes forked from it for each file.
- `leave_the_machine`, once, in the zygote: new user, mount, network and IPC namespaces (its own user
  and group mapped, so that it may make user namespaces below its own), no_new_privs, death with the
  bot. It is not chrooted: the kernel lets no process in a chroot make a user namespace.
- `box_one_file`, per file, in the relay forked for it: user, mount, PID, IPC, network and UTS
  namespaces of its own, a host name that names nothing, and a root that is the zygote's empty working
  directory, deleted by then. The reader, forked next into them, drops every capability and takes its
  limits.

Why / threat: a file that takes over a parser must find no network (an empty network namespace: not even
loopback is up, so no database on 127.0.0.1), no files (its root is an empty directory the bot has
deleted, so nothing can be created in it either), no process to signal or trace (a PID namespace of its
own, whose first process it is: the bot, the zygote and every other file's processes have no number
there), nothing another file's reader left behind (each file has its own user namespace, so its own
keyrings; its own IPC namespace, so its own shared memory and message queues; its own network
namespace, so its own abstract sockets), not the machine's name (its own UTS namespace, named
"candour"), and no way back: every capability is dropped, no_new_privs is set, and it dies with its
parent (PDEATHSIG). The namespaces need no privilege (unprivileged user namespaces); where the kernel
refuses them, the worker still runs under its limits and says so. Not given: a seccomp filter (every
system call stays open to the worker, so a kernel bug reached through one is out of scope) and any
limit on what it may say about the one file it has.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
from functools import cache

MAX_OPEN_FILES = 32

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_MACHINE = _CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC
_PER_FILE = _CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWIPC | _CLONE_NEWNET | _CLONE_NEWUTS
_PR_SET_CHILD_SUBREAPER = 36
HOST_NAME = b"candour"
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38
_CAPABILITY_VERSION_3 = 0x20080522


@cache
def libc() -> ctypes.CDLL:
    """The C library, loaded once before isolation (the chroot leaves nothing to load it from)."""
    return ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """SIGKILL when the parent ends (fork does not pass this on, so each process sets it)."""
    libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def leave_the_machine() -> bool:
    """The zygote's box (see the module's docstring); True if the kernel allowed it.

    Why the zygote may keep capabilities: they hold only in its own user namespace (over its own mount,
    network and IPC namespaces, never the machine's), it needs to map its own user there so that each
    file can have a user namespace below it, and it reads no file: its only input is the bot's one-word
    request to fork, with three pipe ends and two memfds. Every process that reads a file has none.
    """
    lib = libc()
    die_with_parent()
    if lib.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    uid, gid = os.geteuid(), os.getegid()
    # Why all in one call: CLONE_NEWUSER must come with the others (they need its capabilities), and it
    # is refused to a process with threads, which warming up must leave none of (so fork is safe too).
    if lib.unshare(_MACHINE) != 0:
        return False
    try:
        _write("/proc/self/setgroups", "deny")  # which an unprivileged gid_map requires
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError:
        return False
    # Why a subreaper: a reader whose relay is killed first is handed to the zygote, whose ignored
    # SIGCHLD has the kernel reap it, instead of to the machine's (or a container's) PID 1 as a zombie.
    return lib.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _write(path: str, text: str) -> None:
    with open(path, "w") as out:  # noqa: PTH123 - a /proc control file, written once
        out.write(text)


def box_one_file() -> bool:
    """In the relay forked for one file: namespaces of its own for the reader it forks next, a host name
    that names nothing, and the zygote's empty, deleted working directory as its root."""
    lib = libc()
    if lib.unshare(_PER_FILE) != 0:
        return False
    if lib.sethostname(HOST_NAME, len(HOST_NAME)) != 0 or lib.setdomainname(HOST_NAME, len(HOST_NAME)) != 0:
        return False
    try:
        os.chroot(".")
        os.chdir("/")
    except OSError:
        return False
    return True


def drop_capabilities() -> bool:
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
    return libc().capset(ctypes.byref(header), data) == 0


def not_dumpable() -> None:
    """Why: a core would hold the file, and a core_pattern that pipes to a program (systemd-coredump) is
    not stopped by RLIMIT_CORE alone; a process that is not dumpable leaves no core anywhere."""
    libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def limit(memory_bytes: int, cpu_seconds: int) -> None:
    """Resource limits for the rest of a process's life (the bot adds the wall clock and output size).

    Why CPU from now: a forked process starts again from zero, and what it used before the file came
    must not count against the file. Why FSIZE zero: the worker writes only to its pipes, and the
    cleaned file into its outbox through a shared mapping (bot.evidence.protocol), which the bot made
    as long as the most it reads back; so any write to a file is an attack, and fails (Python ignores
    SIGXFSZ, so the write gets EFBIG), and the outbox can be neither grown nor written past its end.
    Why no core dumps, and not dumpable as well: see `not_dumpable`.
    """
    not_dumpable()
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = int(used.ru_utime + used.ru_stime) + 1
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (spent + cpu_seconds, spent + cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_NOFILE, (MAX_OPEN_FILES, MAX_OPEN_FILES))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def become_init() -> None:
    """Ready a PID namespace's first process for the file: it dies with its parent, and its CPU limit
    ends it as it would end any other process.

    Why SIGXCPU gets a handler, and that handler is the C library's `_exit`: the kernel does not deliver
    to a namespace's first process any signal left at its default action, the CPU limit's SIGXCPU
    included, so the worker would run on to the hard limit's SIGKILL and be told as a crash; `_exit` is
    safe in a signal handler, takes the signal number as its exit status (EXIT_SLOW) and ends the
    process at once, even deep in a native parser.
    """
    lib = libc()
    die_with_parent()
    lib.signal.restype = ctypes.c_void_p
    lib.signal.argtypes = (ctypes.c_int, ctypes.c_void_p)
    lib.signal(signal.SIGXCPU, ctypes.cast(lib._exit, ctypes.c_void_p))
