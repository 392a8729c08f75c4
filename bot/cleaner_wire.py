"""The bot's side of the wire to a cleaning worker: every frame and every field checked before it is used.

Threat (bot/cleaner.py says why workers exist): the worker may be the attacker's, taken over by the file
it was reading. So nothing it sends is trusted for its own sake: a frame is refused past its size limits
before anything is allocated for it; the header must be a JSON object (never pickle, which would run
code in the bot); a refusal must name one of the known sentences (bot.evidence.protocol.ERRORS), never
carry text of the worker's choosing; findings are rebuilt as Finding objects from known phrase ids, within
their kinds and lengths; a file name must be one safe path segment; the numbers a relay gives for itself
and for the reader inside the file's PID namespace are used only once /proc shows the relay is the zygote's child
and the reader the relay's. Anything else is DAMAGED. The worst a lying worker can do is lie about the
one file it was given.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.evidence import KINDS, MAX_SUMMARY, Cleaned, EvidenceError, Finding
from bot.evidence.phrases import SAYABLE
from bot.evidence.protocol import ERRORS, EXIT_MEMORY, EXIT_SLOW, MAX_HEADER, PREFIX, VERSION

MAX_FINDINGS = 500
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")  # as sniff


@dataclass(frozen=True)
class Examined:
    """What the worker found in a file before the reporter chooses: the truth about what cleaning will do.

    `cleanable` is True when cleaning this file would rewrite it (a format exists and can write this
    variant), whether or not that rewrite then passes the check: when it would not, `problem` is the
    sentence the reporter is told now (e.g. NOT_CLEANED), and `removed` is empty.
    """

    media_type: str  # real type, from the bytes
    cleanable: bool  # a format exists for it
    findings: tuple[Finding, ...]  # what inspection found (for the keep-or-remove question)
    removed: tuple[Finding, ...]  # what cleaning would remove (findings + parts dropped whole + file name)
    problem: str | None  # a sentence when cleaning would fail (e.g. NOT_CLEANED), None when it works


def refusal(name: str) -> EvidenceError:
    """The refusal named by its constant (a key of bot.evidence.protocol.ERRORS), for the reporter."""
    return EvidenceError(ERRORS[name])


async def read(reader: asyncio.StreamReader, max_body: int) -> tuple[dict[str, Any], bytes]:
    """One frame from the worker, read no further than MAX_HEADER and `max_body`."""
    header, body_size = await read_head(reader, max_body)
    return header, await reader.readexactly(body_size)


async def read_head(reader: asyncio.StreamReader, max_body: int) -> tuple[dict[str, Any], int]:
    """A frame's header and the length it gives its body, refused (TOO_COMPLEX) past MAX_HEADER or
    `max_body` before anything is read for it."""
    header_size, body_size = PREFIX.unpack(await reader.readexactly(PREFIX.size))
    if header_size > MAX_HEADER or body_size > max_body:
        raise refusal("TOO_COMPLEX")
    raw = await reader.readexactly(header_size)
    return _header(raw), body_size


def read_outbox(outbox: int, size: int, max_body: int) -> bytes:
    """An answer's body: the first `size` bytes of the outbox memfd, as hostile as a pipe's bytes.

    Threat: the reader writes the outbox and may still be running. So its size is checked against the
    limit before anything is read (the bot made it that size and sealing it was refused, so it can only
    have shrunk), the bytes are copied out once with pread (never mapped: a reader that shrinks the
    memfd would then kill the bot with SIGBUS), and a short read is DAMAGED. What the reader wrote is
    then only what a pipe could have carried: bytes it chose, never more than `max_body`.
    """
    if size > max_body or os.fstat(outbox).st_size > max_body:
        raise refusal("TOO_COMPLEX")
    body = os.pread(outbox, size, 0) if size else b""
    if len(body) != size:
        raise refusal("DAMAGED")
    return body


def _header(raw: bytes) -> dict[str, Any]:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested past the parser's depth
        raise refusal("DAMAGED") from None
    if not isinstance(header, dict):
        raise refusal("DAMAGED")
    return header


def ready(header: dict[str, Any], body: bytes) -> bool:
    """From the zygote's ready frame: whether it got its namespaces."""
    if header.get("ready") is not True or body or header.get("version") != VERSION:
        raise refusal("DAMAGED")
    return _boolean(header.get("isolated"))


def parse(data: bytes) -> tuple[dict[str, Any], bytes]:
    """One whole frame received as one message (the zygote's socket keeps message boundaries)."""
    if len(data) < PREFIX.size:
        raise refusal("DAMAGED")
    header_size, body_size = PREFIX.unpack_from(data)
    if header_size > MAX_HEADER or len(data) != PREFIX.size + header_size + body_size:
        raise refusal("DAMAGED")
    return _header(data[PREFIX.size : PREFIX.size + header_size]), data[PREFIX.size + header_size :]


def started(header: dict[str, Any], body: bytes) -> tuple[int, int]:
    """From a relay's first status frame: its own number and its reader's, both plausible numbers."""
    numbers = header.get("relay"), header.get("reader")
    if body or set(header) != {"relay", "reader"} or not all(_pid(n) for n in numbers):
        raise refusal("DAMAGED")
    return numbers  # type: ignore[return-value]


def exit_status(header: dict[str, Any], body: bytes) -> int:
    """From a relay's last status frame: how its reader ended (bot.evidence.zygote.exit_status)."""
    code = header.get("exit")
    if body or set(header) != {"exit"} or not isinstance(code, int) or isinstance(code, bool):
        raise refusal("DAMAGED")
    return code


def _pid(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 < value < 1 << 22


def answer(header: dict[str, Any]) -> dict[str, Any]:
    """The header of a successful answer; a refusal the worker named is raised as its sentence."""
    error = header.get("error")
    if error is not None:
        if not isinstance(error, str) or error not in ERRORS:
            raise refusal("DAMAGED")
        raise refusal(error)
    if header.get("ok") is not True:
        raise refusal("DAMAGED")
    return header


def examined(header: dict[str, Any]) -> Examined:
    """An examine answer, field by field."""
    return Examined(
        media_type=_media_type(header.get("media_type")),
        cleanable=_boolean(header.get("cleanable")),
        findings=_findings(header.get("findings")),
        removed=_findings(header.get("removed")),
        problem=_problem(header.get("problem")),
    )


def cleaned(header: dict[str, Any], body: bytes, original: bytes) -> Cleaned:
    """A clean answer, field by field; "not cleaned" means unchanged, so such an answer has no bytes."""
    was_cleaned = _boolean(header.get("cleaned"))
    if not was_cleaned and body:
        raise refusal("DAMAGED")
    return Cleaned(
        content=body if was_cleaned else original,
        media_type=_media_type(header.get("media_type")),
        filename=_filename(header.get("filename")),
        removed=_findings(header.get("removed")),
        cleaned=was_cleaned,
    )


def pidfd_of_child(pid: int, parent: int) -> int | None:
    """A pidfd for a process a relay named (itself, or its reader), once /proc shows that process is
    `parent`'s child; None where the kernel has no pidfds or /proc does not show it.

    Why a pidfd: neither the relay nor the reader is the bot's child, so neither can be waited for or
    killed by its number without the risk that the number is already another process's; and a reader
    taken over by its file may leave its process group and clear its PDEATHSIG. A pidfd names that one
    process for good, so the bot can kill it (the reader, and with it its whole PID namespace) and see
    it end. Why ask /proc: the number came over a pipe (from the relay before any file was read, but a
    number alone may already be another process's if that one ended).
    """
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        status = ""
    if f"\nPPid:\t{parent}\n" in status:
        return pidfd
    os.close(pidfd)
    return None


def death(code: int) -> str:
    """Why a worker that stopped answering stopped, from its exit status, as the sentence for the reporter.

    Past its CPU time (SIGXCPU at the soft limit, or EXIT_SLOW from inside a PID namespace): too slow.
    Out of memory even to say so: the sentence the cleaner gives for memory (dispatch turns MemoryError
    into it too). Killed outright (SIGKILL: the kernel's out-of-memory killer, the hard CPU limit, an
    operator) or a crash (a native parser dying, often of the memory limit): too complex. Never the
    file's details, which the bot has not got and must not log.
    """
    if code in (-signal.SIGXCPU, EXIT_SLOW):
        return ERRORS["TOO_SLOW"]
    if code == EXIT_MEMORY:
        return ERRORS["TOO_MANY_PIXELS"]
    return ERRORS["TOO_COMPLEX"]


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise refusal("DAMAGED")
    return value


def _media_type(value: object) -> str:
    if not isinstance(value, str) or not _MEDIA_TYPE.fullmatch(value):
        raise refusal("DAMAGED")
    return value


def _filename(value: object) -> str:
    """A safe name as bot.evidence.names writes it: short, one path segment, no control characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= 255 or value in (".", ".."):
        raise refusal("DAMAGED")
    if any(ch in "/\\" or unicodedata.category(ch)[0] == "C" for ch in value):
        raise refusal("DAMAGED")
    return value


def _findings(value: object) -> tuple[Finding, ...]:
    """Finding objects rebuilt from [kind, phrase, value, inside, removed, count] lists.

    Why each field: the phrase must be a known message id (never words of the worker's choosing), the
    value short and already safe to show, the rest of their types; Finding itself refuses a value with
    control or bidirectional characters, and checks kind, inside and count.
    """
    if not isinstance(value, list) or len(value) > MAX_FINDINGS:
        raise refusal("DAMAGED")
    return tuple(_finding(item) for item in value)


_FIELD_TYPES = (str, str, str, str, bool, int)


def _finding(item: object) -> Finding:
    if not isinstance(item, list) or len(item) != len(_FIELD_TYPES):
        raise refusal("DAMAGED")
    if not all(type(field) is wanted for field, wanted in zip(item, _FIELD_TYPES, strict=True)):
        raise refusal("DAMAGED")
    kind, phrase, shown, inside, removed, count = item
    if kind not in KINDS or phrase not in SAYABLE or len(shown) > MAX_SUMMARY:
        raise refusal("DAMAGED")
    try:
        return Finding(kind, phrase, shown, inside, removed, count)
    except ValueError:
        raise refusal("DAMAGED") from None


def _problem(value: object) -> str | None:
    """A problem is one of the known sentences, named by the worker; never text of its own choosing."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in ERRORS:
        raise refusal("DAMAGED")
    return ERRORS[value]


__all__ = [
    "MAX_FINDINGS",
    "Examined",
    "answer",
    "cleaned",
    "death",
    "examined",
    "pidfd_of_child",
    "read",
    "read_head",
    "read_outbox",
    "ready",
    "refusal",
]
