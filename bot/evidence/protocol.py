"""The wire between the bot and a cleaning worker: framing, the requests, the refusals, the exit codes.

Every message (the zygote's ready, a relay's status, a request and its answer) is framed alike: an
8-byte prefix (header length, body length, big-endian), a UTF-8 JSON object, then the raw file bytes.
The zygote reads one thing only, the word FORK with three pipe ends (bot.evidence.zygote). Why not
pickle: unpickling runs code, so a worker taken over by a crafted file could run code in the bot through
its answer; JSON is only ever data, and the bot checks every field (bot/cleaner_wire.py).

Why a module of its own: the worker (bot.evidence.worker) and the bot's side both need these, and the
bot's process must not import the worker, which imports every file parser to warm them up (the
import contract "the bot's own process loads no file parser").
"""

from __future__ import annotations

import json
import signal
import struct
from typing import Any, BinaryIO

from bot.evidence import model

VERSION = 2
PREFIX = struct.Struct(">II")
MAX_HEADER = 256 * 1024
EXAMINE = "examine"
CLEAN = "clean"
FORK = b"fork"  # the one request the zygote reads (bot.evidence.zygote), with three pipe ends
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
    header_size, body_size = PREFIX.unpack(_exactly(stream, PREFIX.size))
    if header_size > MAX_HEADER or body_size > max_body:
        raise ValueError("message too large")
    header = json.loads(_exactly(stream, header_size).decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("header is not an object")
    return header, _exactly(stream, body_size)


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
