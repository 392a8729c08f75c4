"""The shortcuts that make cleaning fast find exactly what the long way found (issue 10's speed goal).

Each shortcut is held to the plain computation it replaced: the byte search that skips a picture stored
as it is inside a PDF, the search that skips a value holding one already absent, the end of a JPEG
found by a pattern instead of a loop, and for a video the one opening shared by inspection and remux
and the read-out of a result that decodes no picture.
"""

from __future__ import annotations

import io
import os
import random
from collections.abc import Iterator

import pytest
from PIL import Image

from bot import evidence
from bot.evidence import av_output, registry
from bot.evidence.dispatch import Nesting
from bot.evidence.images_read import jpeg_end
from bot.evidence.model import Inspection, Nested, Rewrite, Verbatim
from bot.evidence.survivors import forms, searchable, survivors
from tests.evidence_corpus import exiftool as exiftool_module
from tests.evidence_corpus import media
from tests.evidence_corpus.plants import Workshop
from tests.pdf_fixtures import PLANTED, StandInJpeg, evidence_pdf


def test_a_value_left_in_a_picture_stored_as_is_in_a_pdf_is_still_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A picture cleaner that hides the PDF's producer after the picture's end, where no read-out looks:
    only the byte search of the PDF's own bytes (which hold the picture as it is) can see it."""
    hidden = PLANTED["producer"].encode()

    class Smuggling(StandInJpeg):
        def clean(self, content: bytes, nested: Nested) -> Rewrite:
            return Rewrite(super().clean(content, nested).content + hidden)

    monkeypatch.setitem(registry.FORMATS, "image/jpeg", Smuggling())
    with pytest.raises(evidence.EvidenceError) as raised:
        evidence.clean(evidence_pdf(), filename="a.pdf", media_type="application/pdf")
    assert str(raised.value) == evidence.NOT_CLEANED


def naive_survivors(
    original: list[bytes], cleaned: list[bytes], values: list[str], *, body_text: bool
) -> set[str]:
    """The byte search without shortcuts: every piece read for every value."""

    def count(pieces: list[bytes], value: str) -> int:
        return sum(piece.count(form) for piece in pieces for form in forms(value))

    left = set()
    for value in {v for v in values if searchable(v)}:
        now = count(cleaned, value)
        allowed = max(count(original, value) - values.count(value), 0) if body_text else 0
        if now > allowed:
            left.add(value)
    return left


@pytest.mark.parametrize("seed", range(40))
def test_the_byte_search_finds_what_reading_every_value_everywhere_finds(seed: int) -> None:
    rng = random.Random(seed)
    words = ["Jane", "Jane Smith", "PC Jane Smith", "Smith & Co", "Zoë Quill", "Quill", "12345678"]
    values = rng.choices(words, k=rng.randint(1, 6))

    def piece() -> bytes:
        parts = [rng.randbytes(rng.randint(0, 40))]
        for word in rng.sample(words, rng.randint(0, 3)):
            form = rng.choice(sorted(forms(word)))
            parts += [form, rng.randbytes(rng.randint(0, 10))]
        return b"".join(parts)

    original = [piece() for _ in range(3)]
    cleaned = [piece() for _ in range(rng.randint(1, 3))]
    for body_text in (False, True):
        got = set(survivors(original, cleaned, values, body_text=body_text))
        assert got == naive_survivors(original, cleaned, values, body_text=body_text)


def test_a_verbatim_piece_is_counted_once_in_the_file_around_it() -> None:
    """A picture stored as it is sits in the file's own bytes: a name in it is found there, once."""
    picture = b"\xff\xd8\xff" + b"PC Jane Smith" + b"\xff\xd9"
    document = b"%PDF-1.7 stream " + picture + b" endstream"
    assert survivors([document], [document, Verbatim(picture)], ["PC Jane Smith"], body_text=False)
    # one copy in the original's body, none now found by the inspection: the one copy may stay
    assert not survivors([document, Verbatim(picture)], [document, Verbatim(picture)], [], body_text=True)


def old_jpeg_end(content: bytes) -> int:
    """jpeg_end as it was, a loop over every 0xFF in the entropy-coded data."""
    pos, size = 2, len(content)
    for _ in range(100_000):
        while pos < size and content[pos] == 0xFF:
            pos += 1
        if pos >= size:
            return size
        marker = content[pos]
        pos += 1
        if marker == 0xD9:
            return pos
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue
        if pos + 2 > size:
            return size
        pos += int.from_bytes(content[pos : pos + 2], "big")
        if marker == 0xDA:
            while True:
                pos = content.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= size:
                    return size
                if content[pos + 1] == 0x00 or 0xD0 <= content[pos + 1] <= 0xD7:
                    pos += 2
                    continue
                break
        if pos < size and content[pos] != 0xFF:
            return size
    return size


def photo(seed: int) -> bytes:
    rng = random.Random(seed)
    image = Image.effect_noise((64 + seed, 48), 60).convert("RGB")
    out = io.BytesIO()
    image.save(
        out, "JPEG", quality=rng.choice((50, 90)), progressive=bool(seed % 2), restart_marker_blocks=seed % 3
    )
    return out.getvalue()


@pytest.mark.parametrize("seed", range(12))
def test_the_end_of_a_jpeg_is_where_the_loop_found_it(seed: int) -> None:
    rng = random.Random(seed)
    content = photo(seed)
    tails = [b"", b"\xff", b"\xff\x00", b"\xff\xff\xd9", rng.randbytes(50), b"\xff\xd9" + rng.randbytes(20)]
    cuts = [len(content), len(content) - 2, len(content) // 2]
    for tail in tails:
        for cut in cuts:
            sample = content[:cut] + tail
            assert jpeg_end(sample) == old_jpeg_end(sample)
    noise = b"\xff\xd8" + bytes(rng.choice((0x00, 0xFF, 0xD0, 0xD9, 0xDA, 0x12)) for _ in range(400))
    assert jpeg_end(noise) == old_jpeg_end(noise)


# --- video: one opening for inspection and remux, a read-out that decodes no picture ----------------


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, bytes]]]:
    """The corpus's videos (tests/evidence_corpus/media.py), with every tag planted: name -> (type, bytes)."""
    if not exiftool_module.available():
        pytest.skip("/usr/bin/exiftool is missing (apt-get install libimage-exiftool-perl)")
    tool = exiftool_module.ExifTool()
    try:
        shop = Workshop(tool, tmp_path_factory.mktemp("videos"))
        made = {f.name: (f.media_type, f.build(shop).content) for f in media.FIXTURES if f.name in VIDEOS}
    finally:
        tool.close()
    yield made


VIDEOS = ("mp4", "mov", "3gp", "webm")


@pytest.mark.parametrize("name", VIDEOS)
def test_the_read_out_without_decoding_finds_what_the_full_opening_finds(videos, name: str) -> None:
    """av_remux.READ_OUT (the independent check's opening of a result) skips decoding pictures: over
    every planted tag, track, chapter and cover of the corpus's videos it must see exactly what the
    fully probed opening sees, findings and searched values alike."""
    media_type, content = videos[name]
    fmt = registry.FORMATS[media_type]
    full = fmt.inspect(content, Nesting(0))
    light, pieces = fmt.read_back(content, Nesting(0))
    assert full.findings, "the fixture carries metadata to find"
    assert (light.findings, light.values) == (full.findings, full.values)
    assert pieces == []


@pytest.mark.parametrize("name", VIDEOS)
def test_one_opening_for_inspection_and_remux_gives_what_two_gave(videos, name: str) -> None:
    """A video is opened once for its read-out and its remux: the inspection is the one `inspect`
    gives, and the cleaned bytes the ones `clean` gives, packet for packet."""
    media_type, content = videos[name]
    fmt = registry.FORMATS[media_type]
    seen: list[Inspection] = []
    rewrite = fmt.inspect_and_clean(content, Nesting(0), seen.append)
    assert seen == [fmt.inspect(content, Nesting(0))]
    alone = fmt.clean(content, Nesting(0))
    assert (rewrite.content, rewrite.dropped) == (alone.content, alone.dropped)


def test_the_muxers_store_grows_past_what_it_reserved() -> None:
    """av_output.Store reserves the original's size and a MiB; a muxer writing more gets more room, and
    a write past the end leaves zeros between, as a file would."""
    store = av_output.Store.for_output(4096)
    store.write(0, b"head")
    store.write(10_000, b"tail")
    assert store.size == 10_004
    assert store.read(0, 6) == b"head\0\0"
    assert store.content() == b"head" + bytes(9_996) + b"tail"


@pytest.fixture
def outbox() -> Iterator[int]:
    """A memfd as the bot makes a reader's outbox: the output limit's length, sealing refused."""
    fd = os.memfd_create("test-outbox", os.MFD_CLOEXEC)
    os.ftruncate(fd, evidence.MAX_BYTES + (1 << 20))
    try:
        yield fd
    finally:
        av_output.withdraw_outbox()
        os.close(fd)


def test_a_remux_into_the_offered_outbox_hands_on_what_it_wrote_there(videos, outbox: int) -> None:
    """The worker offers its outbox to the file's remux (bot.evidence.av_output): the cleaned bytes are
    those a remux into memory gives, the outbox holds them from its start (so the worker sends them
    without a copy), and only the first remux takes it."""
    media_type, content = videos["mp4"]
    alone = evidence.clean(content, filename="a.mp4", media_type=media_type)
    av_output.offer_outbox(outbox)
    offered = evidence.clean(content, filename="a.mp4", media_type=media_type)
    again = evidence.clean(content, filename="a.mp4", media_type=media_type)
    assert offered.content == alone.content == again.content
    assert av_output.in_outbox(offered.content)
    assert not av_output.in_outbox(alone.content) and not av_output.in_outbox(again.content)
    assert os.pread(outbox, len(offered.content) + 1, 0) == offered.content + b"\0"


def test_a_remux_that_outgrows_the_outbox_goes_on_in_memory_of_its_own(videos) -> None:
    """An outbox shorter than the cleaned file (only a bot with a lower limit makes one) cannot take it:
    what was written moves to memory of the reader's own, and the file is cleaned as without an
    outbox (the bot then refuses an answer past its limit, as it always did)."""
    media_type, content = videos["mp4"]
    alone = evidence.clean(content, filename="a.mp4", media_type=media_type)
    small = os.memfd_create("test-outbox", os.MFD_CLOEXEC)
    os.ftruncate(small, 8192)
    try:
        av_output.offer_outbox(small)
        moved = evidence.clean(content, filename="a.mp4", media_type=media_type)
    finally:
        av_output.withdraw_outbox()
        os.close(small)
    assert moved.content == alone.content
    assert not av_output.in_outbox(moved.content)
