"""The wire between the bot and a cleaning worker: framing, the requests, the refusals, the exit codes.

Every message (the zygote's ready, a relay's status, a request and its answer) is framed alike: an
8-byte prefix (header length, body length, big-endian), then a UTF-8 JSON object. The zygote reads one
thing only, the word FORK with five descriptors (bot.evidence.zygote): three pipe ends and two memfds.
Why not pickle: unpickling runs code, so a worker taken over by a crafted file could run code in the bot
through its answer; JSON is only ever data, and the bot checks every field (bot/cleaner_wire.py).

The file's bytes do not cross a pipe (`Mailbox` is the reader's side). The request's body is in the
*inbox*, a memfd the bot wrote the file into once and sealed (no write, no growing or shrinking, no
further seals) before it sent the header naming its length. The answer's body goes into the *outbox*,
a memfd the bot made of the output limit's size and with sealing refused, which the reader maps and
writes; the header gives its length. Why: through a pipe a 20 MB file cost each side a copy in chunks,
a join and tens of wake-ups each way (about 60 ms); a memfd is written once and read once.

Why a module of its own: the worker (bot.evidence.worker) and the bot's side both need these, and the
bot's process must not import the worker, which imports every file parser to warm them up (the
import contract "the bot's own process loads no file parser").
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import mmap
import os
import signal
import struct
from typing import Any, BinaryIO

from bot.evidence import model

VERSION = 3
PREFIX = struct.Struct(">II")
MAX_HEADER = 256 * 1024
EXAMINE = "examine"
CLEAN = "clean"
FORK = b"fork"  # the one request the zygote reads (bot.evidence.zygote), with FORK_FDS descriptors
# Requests and answers pipes, the status pipe, the inbox and the outbox (see the module's note).
FORK_FDS = 5
# What the bot seals the inbox with before the reader reads it: its bytes fixed for good.
INBOX_SEALS = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL
# The refusals a worker may name; the bot shows only these sentences, never text a worker wrote.
ERRORS: dict[str, str] = {
    name: getattr(model, name)
    for name in (
        "DAMAGED",
        "TOO_COMPLEX",
        "TOO_MANY_PIXELS",
        "NOT_CLEANED",
        "PDF_LOCKED",
        "TOO_LARGE",
        "TOO_SLOW",
    )
}
EXIT_MEMORY = 3  # the worker ran out of memory even to say so
# Past its CPU time as the first process of its namespace (bot.evidence.worker._become_init says why).
EXIT_SLOW = int(signal.SIGXCPU)
EXIT_CRASHED = 128  # plus the signal that ended the worker inside its namespace (as a shell says it)


def frame(header: dict[str, Any], body: bytes = b"") -> bytes:
    """One message on the wire: prefix, JSON header, raw body."""
    return head(header, len(body)) + body


def head(header: dict[str, Any], body_size: int) -> bytes:
    """A message's prefix and JSON header, for a body of `body_size` bytes sent after it."""
    raw = json.dumps(header, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return PREFIX.pack(len(raw), body_size) + raw


def read_frame(stream: BinaryIO, max_body: int) -> tuple[dict[str, Any], bytes]:
    """One message from `stream`, refused (ValueError) past MAX_HEADER or `max_body`."""
    header, body_size = read_head(stream, max_body)
    return header, _exactly(stream, body_size)


def read_head(stream: BinaryIO, max_body: int) -> tuple[dict[str, Any], int]:
    """A message's header and the length of its body, refused (ValueError) past MAX_HEADER or `max_body`."""
    header_size, body_size = PREFIX.unpack(_exactly(stream, PREFIX.size))
    if header_size > MAX_HEADER or body_size > max_body:
        raise ValueError("message too large")
    header = json.loads(_exactly(stream, header_size).decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("header is not an object")
    return header, body_size


class Mailbox:
    """The reader's side of one file's exchange: the request and answer pipes, the inbox and the outbox."""

    def __init__(self, requests: BinaryIO, answers: BinaryIO, inbox: int, outbox: int) -> None:
        self.requests, self.answers, self.inbox, self.outbox = requests, answers, inbox, outbox

    def receive(self, max_body: int) -> tuple[dict[str, Any], bytes]:
        """The request, and the file from the inbox, which is then closed (its memory freed with it).

        Refused (ValueError) past the limits, or when the inbox is not sealed as the bot seals it or
        does not hold exactly the length the header says: the bytes read are then fixed, whoever else
        holds the memfd.
        """
        header, size = read_head(self.requests, max_body)
        try:
            if fcntl.fcntl(self.inbox, fcntl.F_GET_SEALS) & INBOX_SEALS != INBOX_SEALS:
                raise ValueError("the inbox is not sealed")
            if os.fstat(self.inbox).st_size != size:
                raise ValueError("the inbox does not hold the file the request names")
            content = _read_all(self.inbox, size)
        finally:
            self.close_inbox()
        return header, content

    def close_inbox(self) -> None:
        if self.inbox >= 0:
            with contextlib.suppress(OSError):
                os.close(self.inbox)
            self.inbox = -1

    def reply(self, header: dict[str, Any], body: bytes = b"", *, in_outbox: bool = False) -> None:
        """The answer: its body into the outbox (unless `in_outbox`: already there, from its start), then
        its header, which gives the body's length.

        Why mapped, not written: the reader may write to no file (RLIMIT_FSIZE is zero). The bot made
        the outbox as large as the most it will read back, so a body larger than that is not put there:
        the header alone says its length, which the bot refuses as it refuses any answer past its limit.
        """
        if body and not in_outbox and len(body) <= os.fstat(self.outbox).st_size:
            with mmap.mmap(self.outbox, len(body), flags=mmap.MAP_SHARED | _POPULATE) as out:
                out[:] = body
        send(self.answers, head(header, len(body)))


_POPULATE = getattr(mmap, "MAP_POPULATE", 0)  # one call maps every page, rather than a fault per page


def _read_all(fd: int, size: int) -> bytes:
    """`size` bytes from the start of a memfd, in one piece."""
    data = os.pread(fd, size, 0)
    if len(data) != size:
        raise ValueError("the inbox ended early")
    return data


def send(stream: BinaryIO, data: bytes) -> None:
    """Write all of `data` (an unbuffered pipe may take it in parts)."""
    view = memoryview(data)
    while view:
        written = stream.write(view)
        view = view[written or 0 :]


def _exactly(stream: BinaryIO, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the stream ended early")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
