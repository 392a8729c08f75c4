"""The cleaning worker (bot/cleaner.py, bot/evidence/worker.py), driven as real processes: files.

Real files, made here, go through real workers: a photo and text round trip, files cleaned at once each
in its own process, the cleaner's life with the bot's, its settings, and hostile files (bombs) refused
with a plain sentence while the next file still works. What a worker can reach and how it is killed is
in test_cleaner_isolation.py; what it says back is held to the wire's rules in test_cleaner_wire.py. The
helpers here look at workers from outside, through /proc, never through an option of the worker's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import struct
import sys
import time
import tomllib
import zipfile
import zlib
from pathlib import Path

import av
import pytest
from PIL import Image

from bot import evidence
from bot.application import build_application
from bot.catalogue import Catalogue
from bot.cleaner import Cleaner, CleanerLimits
from bot.evidence import (
    DAMAGED,
    JPEG,
    PDF,
    PNG,
    TOO_COMPLEX,
    TOO_MANY_PIXELS,
    TOO_SLOW,
    EvidenceError,
    Finding,
)
from bot.evidence.types import DOCX
from candour.app import build_cleaner
from candour.settings import Settings
from tests import media_fixtures

ROOT = Path(__file__).resolve().parent.parent
REFUSALS = (TOO_COMPLEX, TOO_MANY_PIXELS, TOO_SLOW, DAMAGED)


# --- looking at workers from outside --------------------------------------------------------------


def _processes() -> dict[int, tuple[int, int, bytes]]:
    """Every process now: pid -> (parent pid, start time, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        found[int(entry.name)] = (int(stat[1]), int(stat[19]), cmdline)
    return found


def zygotes(marker: bytes = b"bot.evidence.worker") -> list[int]:
    """This test process's worker zygotes (its children that run the worker), oldest first."""
    seen = _processes()
    mine = [
        (start, pid)
        for pid, (ppid, start, cmdline) in seen.items()
        if ppid == os.getpid() and marker in cmdline
    ]
    return [pid for _, pid in sorted(mine)]


def workers(marker: bytes = b"bot.evidence.worker") -> list[int]:
    """The workers of this test process's zygotes, one per file (each the relay outside the file's
    namespaces, whose child reads the file), oldest first."""
    seen = _processes()
    ours = set(zygotes(marker))
    found = [(start, pid) for pid, (ppid, start, _) in seen.items() if ppid in ours]
    return [pid for _, pid in sorted(found)]


async def ready_worker(marker: bytes = b"bot.evidence.worker") -> int:
    """The pid of the newest worker once it is ready for its file: forked from a zygote in its own root,
    which the cleaner removes on reading the zygote's ready line (so the root shows as deleted), with
    its reader started."""
    for _ in range(600):
        for pid in reversed(workers(marker)):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/root").endswith("(deleted)") and inner_of(pid):
                    return pid
        await asyncio.sleep(0.05)
    raise AssertionError("no worker became ready in its own root")


def inner_of(pid: int) -> int | None:
    """A worker's own child, the reader of its file: the first process of the file's PID namespace where
    the kernel allows namespaces (None before the worker has forked it)."""
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, StopIteration):
            if entry.name.isdigit() and int(status_field(int(entry.name), "PPid")) == pid:
                return int(entry.name)
    return None


def status_field(pid: int, name: str) -> str:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(line.split(":", 1)[1].strip() for line in lines if line.startswith(name + ":"))


def limit_of(pid: int, name: str) -> tuple[str, str]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith(name):
            soft, hard = line[len(name) :].split()[:2]
            return soft, hard
    raise AssertionError(f"no limit {name}")


async def gone(pids: list[int], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return True
        await asyncio.sleep(0.05)
    return False


def launcher(directory: Path, name: str, script: str, mode: str, *arguments: object) -> str:
    """A `python` for Cleaner that runs `script` (as NAME.py) in the given mode, whatever arguments it
    is given; `name` marks its processes for `workers`."""
    path = directory / f"{name}.py"
    path.write_text(script)
    shell = directory / f"python-{mode}"
    extra = " ".join(f'"{argument}"' for argument in arguments)
    shell.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{path}" {mode} {extra}\n')
    shell.chmod(0o700)
    return str(shell)


# --- files made here ------------------------------------------------------------------------------


def jpeg_with_gps() -> bytes:
    """A photo carrying where it was taken and the camera that took it."""
    picture = Image.new("RGB", (64, 48), (120, 80, 40))
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "Canon EOS 5D Mark IV"  # Model
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)})
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def noisy_png(side: int) -> bytes:
    """A valid PNG of random pixels: slow to decode and encode again (noise does not compress)."""
    picture = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    picture.save(out, "PNG", compress_level=1)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb() -> bytes:
    """A PNG declaring 100,000 x 100,000 pixels (ten gigapixels) in a few kilobytes."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 << 20), 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def pdf_with_a_million_objects() -> bytes:
    """A well-formed PDF 1.5 file of a million objects, packed in a compressed object stream (so the file
    is small) with a cross-reference stream listing every one of them."""
    count = 1_000_000
    first_packed = 5
    body = b"0 " * count
    index = " ".join(f"{first_packed + i} {2 * i}" for i in range(count)).encode() + b" "
    packed = zlib.compress(index + body, 1)
    out = io.BytesIO()
    out.write(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}

    def obj(number: int, text: bytes) -> None:
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n" % number + text + b"\nendobj\n")

    obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    obj(2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    obj(3, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>")
    obj(
        4,
        b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (count, len(index), len(packed))
        + packed
        + b"\nendstream",
    )
    xref_number = first_packed + count
    offsets[xref_number] = out.tell()
    rows = [struct.pack(">BII", 0, 0, 65535)]
    rows += [struct.pack(">BII", 1, offsets[n], 0) for n in range(1, first_packed)]
    rows += [struct.pack(">BII", 2, 4, i) for i in range(count)]
    rows += [struct.pack(">BII", 1, offsets[xref_number], 0)]
    table = zlib.compress(b"".join(rows), 1)
    out.write(
        b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 4] /Root 1 0 R /Filter /FlateDecode /Length %d >>\n"
        % (xref_number, xref_number + 1, len(table))
        + b"stream\n"
        + table
        + b"\nendstream\nendobj\n"
    )
    out.write(b"startxref\n%d\n%%%%EOF\n" % offsets[xref_number])
    return out.getvalue()


def docx(extra: dict[str, bytes] | None = None) -> bytes:
    """A small Word document with its author in the core properties, plus any extra parts given."""
    ns = "http://schemas.openxmlformats.org"
    parts = {
        "[Content_Types].xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{ns}/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="bin" ContentType="application/octet-stream"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.wordprocessingml.document.main+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>'
        ).encode(),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/officeDocument" '
            'Target="word/document.xml"/>'
            f'<Relationship Id="rId2" Type="{ns}/package/2006/relationships/metadata/core-properties" '
            'Target="docProps/core.xml"/></Relationships>'
        ).encode(),
        "word/document.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{ns}/wordprocessingml/2006/main">'
            "<w:body><w:p><w:r><w:t>He said it again at the briefing.</w:t></w:r></w:p></w:body></w:document>"
        ).encode(),
        "docProps/core.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="'
            f'{ns}/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            "<dc:creator>Jane Whistler</dc:creator></cp:coreProperties>"
        ).encode(),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in {**parts, **(extra or {})}.items():
            archive.writestr(name, data)
    return out.getvalue()


BOMB_PART = "word/embeddings/oleObject1.bin"


def docx_zip_bomb(*, declared: int | None = None) -> bytes:
    """A Word document with a part that unzips to 512 MB of zeros (half a megabyte in the file), more than
    twice what any package may unpack to; with `declared`, the zip also lies about the part's size."""
    out = io.BytesIO(docx())
    zeros = b"\x00" * (1 << 22)
    with (
        zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED, compresslevel=6) as archive,
        archive.open(BOMB_PART, "w") as part,
    ):
        for _ in range(128):
            part.write(zeros)
    data = bytearray(out.getvalue())
    if declared is not None:
        _declare_size(data, BOMB_PART, declared)
    return bytes(data)


def _declare_size(data: bytearray, name: str, size: int) -> None:
    """Write a false uncompressed size for one part into its local header and its central entry."""
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(name)
    struct.pack_into("<I", data, info.header_offset + 22, size)
    end = data.rfind(b"PK\x05\x06")
    offset = struct.unpack_from("<I", data, end + 16)[0]
    while data[offset : offset + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, offset + 28)
        if data[offset + 46 : offset + 46 + name_len] == name.encode():
            struct.pack_into("<I", data, offset + 24, size)
            return
        offset += 46 + name_len + extra_len + comment_len
    raise AssertionError("no central directory entry for the part")


# --- a clean round trip ---------------------------------------------------------------------------


async def test_a_photo_with_gps_is_examined_and_cleaned_in_a_worker() -> None:
    photo = jpeg_with_gps()
    async with Cleaner() as cleaner:
        examined = await cleaner.examine(photo, filename="IMG_20240611_081512.jpg", media_type="image/png")
        cleaned = await cleaner.clean(photo, filename="IMG_20240611_081512.jpg", media_type="image/png")
    assert examined.media_type == JPEG  # from the bytes, not the declared type
    assert examined.cleanable and examined.problem is None
    assert any(f.kind == "location" for f in examined.findings)
    assert any(f.kind == "location" for f in examined.removed)
    assert all(isinstance(f, Finding) for f in examined.findings + examined.removed)
    assert cleaned.cleaned and cleaned.media_type == JPEG
    assert set(cleaned.removed) == set(examined.removed)
    with Image.open(io.BytesIO(cleaned.content)) as result:
        exif = result.getexif()
        assert not exif.get_ifd(0x8825) and 0x0110 not in exif
        assert result.size == (64, 48)
    assert b"Canon" not in cleaned.content


async def test_a_video_comes_back_from_the_worker_as_a_remux_in_process_gives_it() -> None:
    """A video's remux writes straight into the reader's outbox (bot.evidence.av_output): what the bot
    reads back is byte for byte what cleaning in this process gives, and a second file, in a fresh
    reader with an outbox of its own, gets the same."""
    video = media_fixtures.make(
        "mp4",
        "libx264" if "libx264" in av.codecs_available else "mpeg4",
        "aac",
        {"location": "+51.5072-000.1276/", "artist": "Jane Whistler"},
    )
    here = evidence.clean(video, filename="VID_0001.mp4", media_type="video/mp4")
    async with Cleaner() as cleaner:
        there = [await cleaner.clean(video, filename="VID_0001.mp4", media_type="video/mp4") for _ in "ab"]
    assert here.cleaned and b"Jane Whistler" not in here.content
    assert [one.content for one in there] == [here.content] * 2
    assert [set(one.removed) for one in there] == [set(here.removed)] * 2


async def test_text_round_trip_and_a_type_nobody_cleans() -> None:
    """Text passes through cleaned; bytes of no known type come back unchanged and not cleaned."""
    async with Cleaner() as cleaner:
        text = await cleaner.clean(b"He blocked the door.\n", filename="notes.txt", media_type="text/plain")
        unknown = b"\x00\x01\x02 not any format \xff"
        other = await cleaner.clean(unknown, filename="thing.bin", media_type="application/octet-stream")
        examined = await cleaner.examine(unknown, filename="thing.bin", media_type="application/octet-stream")
    assert text.cleaned and text.content == b"He blocked the door.\n"
    assert not other.cleaned and other.content == unknown
    assert not examined.cleanable and examined.findings == () and examined.problem is None


# The real worker, whose reader, forked for each file, answers with how many files it has read and a mark
# of its own (a reader shared by two files would say 2, or give a mark twice).
COUNTING_WORKER = r"""
import os, sys, time

sys.path.insert(0, sys.argv[2])
from bot.evidence import protocol, worker

read = []


def count(mailbox):
    header, body = mailbox.receive(1 << 20)
    read.append(body)
    time.sleep(0.2)  # long enough that two files are in hand at once
    told = {"ok": True, "media_type": "text/plain", "cleaned": True, "removed": [],
            "filename": f"{os.urandom(6).hex()}-{len(read)}"}
    mailbox.reply(told, body)
    return 0


worker.main(["--memory-bytes", str(1 << 30), "--cpu-seconds", "30"], reader=count)
"""


async def test_files_are_cleaned_concurrently_each_in_its_own_process(tmp_path: Path) -> None:
    python = launcher(tmp_path, "counting_worker", COUNTING_WORKER, "count", ROOT)
    started = time.monotonic()
    async with Cleaner(CleanerLimits(concurrency=2), python=python) as cleaner:
        await cleaner.ready()
        started = time.monotonic()
        results = await asyncio.gather(
            *(
                cleaner.clean(f"note {i}\n".encode(), filename="n.txt", media_type="text/plain")
                for i in range(6)
            )
        )
        took = time.monotonic() - started
    assert [r.content for r in results] == [f"note {i}\n".encode() for i in range(6)]
    told = [r.filename.split("-") for r in results]
    assert len({mark for mark, _ in told}) == 6  # one process per file
    assert all(count == "1" for _, count in told)  # and each read one file only
    assert 0.55 < took < 3  # two at a time: three rounds of 0.2 s, not six, not one
    assert zygotes(b"counting_worker") == []


async def test_workers_end_with_the_cleaner_and_the_bot_closes_the_one_it_made() -> None:
    application = build_application(token="123456:CANDOUR-TEST", vault=None, catalogue=Catalogue())  # type: ignore[arg-type]
    cleaner = application.bot_data["services"].cleaner
    assert isinstance(cleaner, Cleaner)
    assert zygotes() == [] and workers() == []  # nothing starts before the first file
    cleaned = await cleaner.clean(b"first file\n", filename="a.txt", media_type="text/plain")
    assert cleaned.content == b"first file\n"
    await cleaner.ready()
    running = workers()
    assert running  # the warm one for the next file
    running += [inner for inner in map(inner_of, running) if inner]  # and the reader it forked
    running += zygotes()
    await application.shutdown()
    assert await gone(running)
    # A later file starts it again (a test or a sandbox reusing the application).
    again = await cleaner.clean(b"second\n", filename="b.txt", media_type="text/plain")
    assert again.content == b"second\n"
    await cleaner.close()
    assert zygotes() == [] and workers() == []


def test_settings_give_the_cleaner_its_limits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CANDOUR_CLEANER_MEMORY_MB", "512")
    monkeypatch.setenv("CANDOUR_CLEANER_WALL_SECONDS", "12.5")
    (tmp_path / "cpu").write_text("9\n")
    monkeypatch.setenv("CANDOUR_CLEANER_CPU_SECONDS_FILE", str(tmp_path / "cpu"))
    monkeypatch.setenv("CANDOUR_CLEANER_CONCURRENCY", "3")
    monkeypatch.setenv("CANDOUR_CLEANER_REQUIRE_ISOLATION", "true")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    cleaner = build_cleaner(settings)
    assert cleaner.limits == CleanerLimits(
        memory_bytes=512 * 1024 * 1024, cpu_seconds=9, wall_seconds=12.5, concurrency=3
    )
    assert cleaner.require_isolation
    defaults = build_cleaner(Settings(_env_file=None, cleaner_memory_mb=1536))  # type: ignore[call-arg]
    assert defaults.limits.memory_bytes == CleanerLimits().memory_bytes


def test_the_import_contract_names_every_other_bot_module() -> None:
    """bot.evidence may import no other bot module; a new bot module must join the forbidden list."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    pure = next(c for c in contracts if c.get("source_modules") == ["bot.evidence"])
    modules = {f"bot.{p.stem}" for p in (ROOT / "bot").glob("*.py") if p.stem != "__init__"}
    modules |= {f"bot.{p.name}" for p in (ROOT / "bot").iterdir() if (p / "__init__.py").exists()}
    modules.discard("bot.evidence")
    assert modules <= set(pure["forbidden_modules"]), modules - set(pure["forbidden_modules"])
    assert {"storage", "candour", "desk", "policies", "telegram"} <= set(pure["forbidden_modules"])


# --- hostile files --------------------------------------------------------------------------------


async def _refused_then_good(content: bytes, media_type: str, seconds: float) -> str:
    """The hostile file's refusal sentence; it must come within `seconds`, and a good file after it."""
    async with Cleaner() as cleaner:
        started = time.monotonic()
        with pytest.raises(EvidenceError) as refused:
            await cleaner.clean(content, filename="evidence", media_type=media_type)
        took = time.monotonic() - started
        with pytest.raises(EvidenceError) as told:  # as the bot first asks, before the reporter chooses
            await cleaner.examine(content, filename="evidence", media_type=media_type)
        assert str(told.value) == str(refused.value)
        good = await cleaner.clean(jpeg_with_gps(), filename="photo.jpg", media_type=JPEG)
    assert took < seconds, took
    assert good.cleaned
    return str(refused.value)


@pytest.mark.slow
async def test_a_decompression_bomb_is_refused_and_the_next_file_is_cleaned() -> None:
    reason = await _refused_then_good(png_bomb(), PNG, seconds=5)
    assert reason in (TOO_MANY_PIXELS, TOO_COMPLEX)


@pytest.mark.slow
async def test_a_pdf_with_a_million_objects_is_refused_and_the_next_file_is_cleaned() -> None:
    pdf = pdf_with_a_million_objects()
    assert len(pdf) < 20 * 1024 * 1024
    reason = await _refused_then_good(pdf, PDF, seconds=10)
    assert reason in (TOO_COMPLEX, TOO_SLOW)


@pytest.mark.slow
@pytest.mark.parametrize("declared", [None, 1000], ids=["honest-size", "lying-size"])
async def test_a_zip_bomb_inside_a_word_document_is_refused_and_the_next_file_is_cleaned(
    declared: int | None,
) -> None:
    bomb = docx_zip_bomb(declared=declared)
    assert len(bomb) < 20 * 1024 * 1024
    reason = await _refused_then_good(bomb, DOCX, seconds=10)
    # Lying about the size makes the package inconsistent, so it may be refused as damaged.
    assert reason in ((TOO_COMPLEX, TOO_MANY_PIXELS) if declared is None else REFUSALS)
