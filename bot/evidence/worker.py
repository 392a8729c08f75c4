"""The cleaning worker: one process per file, no keys, no network, no file system, bounded resources.

Run as `python -I -B -m bot.evidence.worker --memory-bytes N --cpu-seconds N` by bot/cleaner.py, which says
why it exists, with a Unix socket as its descriptor 0. Life of the worker:

1. Import everything and warm every format on tiny files made for it (bot.evidence.warmup), so that
   nothing needs loading from disk later (once isolated there is no disk to load from).
2. Become the zygote (bot.evidence.zygote): boxed away from the machine (bot.evidence.isolation), it says
   ready and, for each file the bot sends, forks a reader in namespaces of its own, without
   capabilities and under limits on address space, CPU time, file size (zero), descriptors and cores.
3. The reader runs `serve` here: it reads one request, answers it (`answer`) and exits.

The wire, shared with the bot's side (bot/cleaner_wire.py), is in bot.evidence.protocol.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path
from typing import Any, NoReturn

from bot.evidence import av_output, model, warmup, zygote
from bot.evidence.limits import MAX_BYTES
from bot.evidence.protocol import CLEAN, ERRORS, EXAMINE, EXIT_MEMORY, Mailbox

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

    examined = dispatch.examine(content, filename=filename, media_type=media_type)
    return {
        "ok": True,
        "media_type": examined.media_type,
        "cleanable": examined.cleanable,
        "findings": _pairs(examined.findings),
        "removed": _pairs(examined.removed),
        "problem": examined.problem,
    }


def _pairs(findings: tuple[model.Finding, ...]) -> list[list[object]]:
    """Each finding as [kind, phrase id, shown value, inside, removed, count]: ids, never sentences, so the
    bot says them in the reporter's language (bot/cleaner_wire.py checks every field)."""
    return [
        [found.kind, found.phrase, found.value, found.inside, found.removed, found.count]
        for found in findings
    ]


def _name(error: model.EvidenceError) -> str:
    """The constant an EvidenceError carries; DAMAGED for any sentence that is not one of them."""
    text = str(error)
    return next((name for name, sentence in ERRORS.items() if sentence == text), "DAMAGED")


# --- the process ----------------------------------------------------------------------------------


def private_control() -> socket.socket:
    """The control socket the bot gave as descriptor 0, moved away; descriptors 0 and 1 then lead nowhere.

    Why: a library that prints (to stdout, from C or Python) would otherwise write into a pipe or socket
    that means something; every process forked from here inherits the same nowhere.
    """
    control = socket.socket(fileno=os.dup(0))
    nowhere = os.open(os.devnull, os.O_RDWR)
    os.dup2(nowhere, 0)
    os.dup2(nowhere, 1)
    os.close(nowhere)
    sys.stdin = Path(os.devnull).open()  # noqa: SIM115 - for the process's life
    sys.stdout = Path(os.devnull).open("w")  # noqa: SIM115
    return control


def main(argv: list[str] | None = None, *, reader: zygote.Serve | None = None) -> NoReturn:
    """Warm up, then become the zygote (bot.evidence.zygote): it boxes itself, says ready and forks a
    reader per file, which runs `reader` (`serve` unless a test gives another) on that file's mailbox."""
    parser = argparse.ArgumentParser(prog="python -I -m bot.evidence.worker")
    parser.add_argument("--memory-bytes", type=int, required=True)
    parser.add_argument("--cpu-seconds", type=int, required=True)
    args = parser.parse_args(argv)
    control = private_control()
    warmup.warm()
    zygote.run(control, memory_bytes=args.memory_bytes, cpu_seconds=args.cpu_seconds, serve=reader or serve)


def serve(mailbox: Mailbox) -> int:
    """Read one request, send its answer; the reader's exit status."""
    try:
        header, content = mailbox.receive(MAX_BYTES)
    except (ValueError, EOFError, UnicodeDecodeError, OSError):
        return 2
    try:
        av_output.offer_outbox(mailbox.outbox)
        reply, body = answer(header, content)
        del content
        mailbox.reply(reply, body, in_outbox=av_output.in_outbox(body))
    except MemoryError:
        try:
            mailbox.reply({"error": "TOO_MANY_PIXELS"})
        except MemoryError:
            os._exit(EXIT_MEMORY)
    return 0


if __name__ == "__main__":
    main()
