"""Where a remux writes: a memory map FFmpeg's muxer can open twice, and the worker's outbox offered to it.

Why its own module: bot.evidence.av_remux reads and writes containers; this is only memory. Why a
map (`Store`): reserved once, as large as the original and a MiB more, where a growing bytearray is
copied anew at each of its many enlargements (for a 20 MB video, tens of milliseconds in those copies
alone); populated in one call, where the muxer's writes would take its pages one fault at a time.

Why the outbox (`offer_outbox`): the cleaned file has to reach the bot through the reader's outbox, a
memfd the bot made (bot.evidence.protocol). A remux that writes straight into it saves a copy of the
whole file into the outbox afterwards, the largest cost but one of a video's answer. The worker offers
the outbox once per file, before it answers (bot.evidence.worker); the first remux takes it, whatever
its depth. The bytes handed on are copied out of the outbox as usual (the independent check reads them,
not the map), and the worker skips its copy into the outbox only for that very object (`in_outbox`).
A nested remux that took it is overwritten by the container's answer, which is copied in as any is.
"""

from __future__ import annotations

import io
import mmap
import os

_ANONYMOUS = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)


class _Outbox:
    """The outbox on offer (its descriptor and length), and the bytes last copied out of it."""

    fd = -1
    length = 0
    given: bytes | None = None


_OUTBOX = _Outbox()


def offer_outbox(fd: int) -> None:
    """Offer the reader's outbox to the next remux (bot.evidence.worker, once per file)."""
    _OUTBOX.fd, _OUTBOX.length, _OUTBOX.given = fd, os.fstat(fd).st_size, None


def withdraw_outbox() -> None:
    """No outbox on offer any more, and none given."""
    _OUTBOX.fd, _OUTBOX.length, _OUTBOX.given = -1, 0, None


def in_outbox(content: bytes) -> bool:
    """Whether `content` is the very object copied out of the outbox, whose bytes are still there."""
    return content is _OUTBOX.given and content is not None


class Store:
    """The muxer's output: a memory map of room enough, and how much of it is written."""

    def __init__(self, memory: mmap.mmap, *, outbox: int = -1) -> None:
        self.memory = memory
        self.size = 0
        self.outbox = outbox  # the outbox's descriptor when this is the outbox

    @classmethod
    def for_output(cls, room: int) -> Store:
        """The outbox if it is on offer and large enough to begin with, else an anonymous map."""
        room = max(room, mmap.PAGESIZE)
        fd, length = _OUTBOX.fd, _OUTBOX.length
        if fd >= 0:
            _OUTBOX.fd = -1  # one remux takes it
            if length >= mmap.PAGESIZE:
                return cls(_map_outbox(fd, min(room, length)), outbox=fd)
        return cls(mmap.mmap(-1, room, flags=_ANONYMOUS | _POPULATE))

    def write(self, position: int, data: bytes | bytearray | memoryview) -> int:
        """Write `data` at `position` (past the end leaves zeros between), growing the map if need be."""
        size = len(data) if not isinstance(data, memoryview) else data.nbytes
        end = position + size
        if end > len(self.memory):
            self._grow(end)
        self.memory[position:end] = data
        self.size = max(self.size, end)
        return size

    def _grow(self, end: int) -> None:
        """More room: an anonymous map grows in place (mremap); the outbox is mapped again, longer, its
        pages kept by the memfd, up to the length the bot gave it. Past that, what is written moves to
        an anonymous map, and the file goes on as any other: the result is then larger than the bot will
        read back, and refused as such, as it would have been without the outbox."""
        wanted = max(end, 2 * len(self.memory))
        if self.outbox < 0:
            self.memory.resize(wanted)
            return
        if end <= _OUTBOX.length:
            self.memory.close()
            self.memory = _map_outbox(self.outbox, min(wanted, _OUTBOX.length))
            return
        moved = mmap.mmap(-1, wanted, flags=_ANONYMOUS | _POPULATE)
        moved[: self.size] = self.memory[: self.size]
        self.memory.close()
        self.memory, self.outbox = moved, -1

    def read(self, position: int, size: int) -> bytes:
        end = self.size if size < 0 else min(self.size, position + size)
        return self.memory[position:end] if end > position else b""

    def content(self) -> bytes:
        """What was written, as bytes; the map is released (an outbox keeps them, `in_outbox` says so)."""
        try:
            data = self.memory[: self.size]
        finally:
            self.release()
        if self.outbox >= 0:
            _OUTBOX.given = data
        return data

    def release(self) -> None:
        if not self.memory.closed:
            self.memory.close()


def _map_outbox(fd: int, length: int) -> mmap.mmap:
    """The outbox mapped shared and writable, `length` bytes of it, every page taken at once (the map
    holds a copy of the descriptor of its own, closed with it)."""
    return mmap.mmap(fd, length, flags=mmap.MAP_SHARED | _POPULATE)


class SharedFile(io.RawIOBase):
    """A file object with its own position over one shared Store, so a muxer can open its output twice.

    Why: `movflags=+faststart` moves the index (`moov`) before the media data so the video plays while
    it downloads; FFmpeg does it by opening its output again to read it back. In memory, each opening
    is a view with its own position on the same bytes.
    """

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.position = 0

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self.store.read(self.position, -1 if size is None else size)
        self.position += len(data)
        return data

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        written = self.store.write(self.position, data)
        self.position += written
        return written

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.store.size}[whence]
        self.position = max(base + offset, 0)
        return self.position

    def tell(self) -> int:
        return self.position
