"""The file's way into a worker and back (bot.evidence.protocol): the inbox and outbox memfds, tried from
inside the real worker's box by a reader that does what an exploit in a parser could do.

The inbox is sealed by the bot before the reader is told of the file, so a reader cannot change the
bytes it was given; the outbox is the bot's length, sealing refused, and the reader may write no file, so
it can neither grow it nor write past it. (Fake workers that lie about the outbox, unboxed, are in
tests/test_cleaner_wire.py.)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cleaner import Cleaner
from bot.cleaner_wire import read_outbox
from bot.evidence import DAMAGED, TOO_COMPLEX, EvidenceError
from tests.test_cleaner_process import ROOT, launcher

# The real worker (its zygote, isolation and limits), whose reader tries each way to change its memfds
# and names, in the cleaned file's name, the errno each attempt met ("done" if one worked).
MEMFD_WORKER = r"""
import errno, mmap, os, sys

sys.path.insert(0, sys.argv[2])
from bot.evidence import protocol, worker

mode = sys.argv[1]
GOOD = {"ok": True, "media_type": "text/plain", "filename": "a.txt", "cleaned": True, "removed": []}


def refused(attempt):
    try:
        attempt()
    except OSError as error:
        return errno.errorcode.get(error.errno, "refused")
    return "done"


def inbox_outcome(inbox):  # every way to change the file's bytes
    writable = lambda: mmap.mmap(inbox, 1, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    tries = (lambda: os.pwrite(inbox, b"X", 0), writable, lambda: os.ftruncate(inbox, 0),
             lambda: os.ftruncate(inbox, 1 << 20))
    return "-".join(refused(attempt) for attempt in tries)


def outbox_outcome(outbox):  # past the end of the outbox the bot made: grown, or written beyond
    size = os.fstat(outbox).st_size
    tries = (lambda: os.ftruncate(outbox, size + 1), lambda: os.pwrite(outbox, b"X", size))
    return "-".join(refused(attempt) for attempt in tries) + f"-{os.fstat(outbox).st_size == size}"


def reader(mailbox):
    if mode == "writes_inbox":  # the file before the reader's own check reads it
        protocol.read_head(mailbox.requests, 1 << 20)
        mailbox.reply({**GOOD, "filename": inbox_outcome(mailbox.inbox)})
        return 0
    header, body = mailbox.receive(1 << 20)
    mailbox.reply({**GOOD, "filename": outbox_outcome(mailbox.outbox)}, body)
    return 0


worker.main(["--memory-bytes", str(1 << 30), "--cpu-seconds", "30"], reader=reader)
"""


@pytest.fixture
def memfd_worker(tmp_path: Path) -> Callable[[str], str]:
    return lambda mode: launcher(tmp_path, "memfd_worker", MEMFD_WORKER, mode, ROOT)


async def test_the_file_a_reader_is_given_cannot_be_changed_by_it(memfd_worker) -> None:
    """The inbox the bot wrote the file into is sealed before the reader is told of it: a reader taken
    over before its own check reads the file can neither write it, nor map it writable, nor shrink or
    grow it, so what it reads and what the bot sent are the same bytes. Each attempt is refused by the
    kernel: a write and a growth meet the zero file-size limit or the seal, a writable map and a shrink
    the seal alone."""
    async with Cleaner(python=memfd_worker("writes_inbox")) as cleaner:
        told = await cleaner.clean(b"the file as sent", filename="a.txt", media_type="text/plain")
    write, writable_map, shrink, grow = told.filename.split("-")
    assert write in ("EPERM", "EFBIG")
    assert writable_map == "EPERM" and shrink == "EPERM"
    assert grow in ("EPERM", "EFBIG")


async def test_a_reader_cannot_write_past_the_outbox_the_bot_made(memfd_worker) -> None:
    """The outbox is as long as the most the bot reads back: a reader may write no file (its file-size
    limit is zero), so it can neither grow the outbox nor write past its end, which stays the bot's."""
    async with Cleaner(python=memfd_worker("writes_past_outbox")) as cleaner:
        told = await cleaner.clean(b"x", filename="a.txt", media_type="text/plain")
    assert told.filename == "EFBIG-EFBIG-True"
    assert told.content == b"x"  # and the answer it did put there came back


def test_the_bot_reads_an_outbox_no_longer_than_its_limit() -> None:
    """The bot's read of an answer (bot/cleaner_wire.read_outbox): a length or an outbox past the limit
    is refused before anything is read; a length the outbox no longer holds is damage, not a short file."""
    outbox = os.memfd_create("test-outbox", os.MFD_CLOEXEC)
    try:
        os.ftruncate(outbox, 16)
        os.pwrite(outbox, b"cleaned", 0)
        assert read_outbox(outbox, 7, 16) == b"cleaned"
        assert read_outbox(outbox, 0, 16) == b""
        for size, limit, sentence in ((17, 16, TOO_COMPLEX), (7, 15, TOO_COMPLEX), (7, 16, None)):
            os.ftruncate(outbox, 16)
            if sentence is None:
                os.ftruncate(outbox, 3)  # shrunk under the bot by the reader
                sentence = DAMAGED
            with pytest.raises(EvidenceError) as refused:
                read_outbox(outbox, size, limit)
            assert str(refused.value) == sentence
    finally:
        os.close(outbox)
