"""Issue 10, point 3: the fixture corpus and the external witness.

Every format the issue names is generated here (tests/evidence_corpus) with identifying values planted in
every place that format can hide them. For each file: (1) exiftool, or a byte search where exiftool does
not look, sees every plant in the original, so the plant worked; (2) `bot.evidence.clean` cleans it; (3)
nothing planted survives in the cleaned file: not in exiftool's read-out of it or of any file inside it,
not in its bytes or any decompressed piece, in UTF-8 or UTF-16, and no GPS position at all; (4) the
evidence itself survives: the picture, the pages and their text, the document's body, the sound and video.

The witness is independent of bot.evidence: its own unpacker (tests/evidence_corpus/pieces.py) and
Debian's exiftool. Without /usr/bin/exiftool the corpus cannot be built or read, so the tests skip,
saying why, unless CANDOUR_REQUIRE_EXIFTOOL is set (.ci/run sets it), when they fail.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import pikepdf
import pypdf
import pytest
from PIL import Image, ImageChops, ImageStat

from bot.evidence import Cleaned, EvidenceError, can_clean, clean, sniff_media_type
from tests.evidence_corpus import FIXTURES, ISSUE_FORMATS, NOT_CLEANABLE, Built, Fixture, Workshop
from tests.evidence_corpus import exiftool as exiftool_module
from tests.evidence_corpus import values as v
from tests.evidence_corpus.exiftool import ExifTool
from tests.evidence_corpus.pieces import kind
from tests.evidence_corpus.values import PDF_BODY
from tests.evidence_corpus.witness import View, Witness

pytestmark = pytest.mark.slow
BY_NAME = {fixture.name: fixture for fixture in FIXTURES}
# Places that hold a second picture or a maker's private block: none may be left in a cleaned file.
HIDING_PLACES = ("ThumbnailImage", "PreviewImage", "MakerNote", "JpgFromRaw", "OtherImage")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "evidence.md"


def missing_witness(reason: str) -> None:
    if os.environ.get("CANDOUR_REQUIRE_EXIFTOOL"):
        pytest.fail(f"CANDOUR_REQUIRE_EXIFTOOL is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def exiftool() -> Iterator[ExifTool]:
    if not exiftool_module.available():
        missing_witness("/usr/bin/exiftool is missing (apt-get install libimage-exiftool-perl)")
    perl = subprocess.run(["perl", "-MArchive::Zip", "-e", "1"], capture_output=True, check=False)
    if perl.returncode:
        missing_witness(
            "exiftool cannot read Office and ODF properties without Archive::Zip "
            "(apt-get install libarchive-zip-perl)"
        )
    tool = ExifTool()
    yield tool
    tool.close()


class Corpus:
    """Each fixture built once, when first asked for, and its cleaning outcome."""

    def __init__(self, tool: ExifTool, directory: Path) -> None:
        self.shop = Workshop(tool, directory / "parts")
        self.shop.directory.mkdir()
        self.witness = Witness(tool, directory / "witness")
        self.witness.directory.mkdir()
        self._built: dict[str, Built] = {}
        self._outcomes: dict[str, Outcome] = {}
        self._views: dict[str, View] = {}

    def built(self, fixture: Fixture) -> Built:
        """The fixture's file and plants."""
        if fixture.name not in self._built:
            self._built[fixture.name] = fixture.build(self.shop)
        return self._built[fixture.name]

    def original(self, fixture: Fixture) -> View:
        """What the witness sees in the original."""
        key = f"original {fixture.name}"
        if key not in self._views:
            self._views[key] = self.witness.look(self.built(fixture).content, suffix(fixture))
        return self._views[key]

    def outcome(self, fixture: Fixture) -> Outcome:
        """What `bot.evidence.clean` did with the file: cleaned, not cleaned, or refused."""
        if fixture.name not in self._outcomes:
            content = self.built(fixture).content
            try:
                result = clean(content, filename=fixture.filename, media_type=fixture.media_type)
            except EvidenceError as error:
                self._outcomes[fixture.name] = Outcome(None, f"refused with EvidenceError: {error}")
            else:
                said = "cleaned" if result.cleaned else "not cleaned (cleaned=False, the reporter is told)"
                self._outcomes[fixture.name] = Outcome(result, said)
        return self._outcomes[fixture.name]

    def result(self, fixture: Fixture) -> tuple[Cleaned, View]:
        """The cleaned file and what the witness sees in it; skips when the file was not stored as cleaned."""
        outcome = self.outcome(fixture)
        if outcome.result is None or not outcome.result.cleaned:
            pytest.skip(f"{fixture.name} was not stored as cleaned: {outcome.said}")
        key = f"result {fixture.name}"
        if key not in self._views:
            self._views[key] = self.witness.look(outcome.result.content, suffix(fixture))
        return outcome.result, self._views[key]


@dataclass(frozen=True)
class Outcome:
    """The cleaning result, if any, and what happened in words for the test's report."""

    result: Cleaned | None
    said: str


def suffix(fixture: Fixture) -> str:
    return Path(fixture.filename).suffix.lower()


@pytest.fixture(scope="session")
def corpus(exiftool: ExifTool, tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return Corpus(exiftool, tmp_path_factory.mktemp("evidence-corpus"))


fixtures = pytest.mark.parametrize("fixture", FIXTURES, ids=[fixture.name for fixture in FIXTURES])


# ---------------------------------------------------------------------------------------------------------
# The corpus itself


def test_every_format_the_issue_names_is_in_the_corpus() -> None:
    formats = [fixture.format for fixture in FIXTURES]
    assert sorted(set(ISSUE_FORMATS) - set(formats)) == []
    assert len({fixture.name for fixture in FIXTURES}) == len(FIXTURES)


def test_not_cleaned_is_expected_only_where_the_docs_say_a_type_cannot_be_cleaned() -> None:
    """Every type in the corpus is one Candour cleans, except those docs/evidence.md names (none yet)."""
    for name, reason in NOT_CLEANABLE.items():
        fixture = BY_NAME[name]
        assert reason
        assert not can_clean(fixture.media_type), f"{name} is listed as not cleanable but Candour cleans it"
        assert DOCS.is_file() and fixture.format in DOCS.read_text(), f"docs/evidence.md does not name {name}"
    cannot = [f.name for f in FIXTURES if f.name not in NOT_CLEANABLE and not can_clean(f.media_type)]
    assert cannot == [], f"types in the issue's list that Candour does not clean yet: {cannot}"


@fixtures
def test_exiftool_or_the_bytes_see_every_plant_in_the_original(fixture: Fixture, corpus: Corpus) -> None:
    built = corpus.built(fixture)
    assert sniff_media_type(built.content, fixture.filename, None) == fixture.media_type
    values = {plant.value for plant in built.plants if not plant.gps}
    overlapping = sorted((a, b) for a in values for b in values if a != b and a.lower() in b.lower())
    assert overlapping == [], "a planted value inside another would blur which place survived"
    view = corpus.original(fixture)
    unseen = [f"{plant.place} [{plant.witness}]" for plant in built.plants if not view.sees(plant)]
    assert unseen == [], f"{fixture.name}: plants the witness cannot see in the original: {unseen}"
    # The survivor search below is the same search, so here it is shown to find every plant.
    assert all(view.locations(plant) for plant in built.plants)


def test_the_byte_search_opens_compressed_pieces_and_reads_utf16(corpus: Corpus) -> None:
    """The witness finds values that only show once a piece is inflated, and values stored as UTF-16."""
    png = corpus.original(BY_NAME["png"])
    assert png.byte_locations(v.PNG_ZTXT) == ["the file > PNG zTXt b'Comment' inflated"]
    docx = corpus.original(BY_NAME["docx"])
    assert docx.byte_locations(v.COMMENT_AUTHOR) == ["the file > zip entry word/comments.xml"]
    assert docx.byte_locations(v.PRINTER) == [
        "the file > zip entry word/printerSettings/printerSettings1.bin"
    ]
    pdf = corpus.original(BY_NAME["pdf"])
    assert any(" > PDF stream " in where for where in pdf.byte_locations(v.PDF_IMAGE_XMP))
    assert pdf.exiftool_locations(v.XP_AUTHOR), "exiftool reads the UTF-16 XP tags of the PDF's picture"


# ---------------------------------------------------------------------------------------------------------
# Cleaning


@fixtures
def test_the_file_is_cleaned(
    fixture: Fixture, corpus: Corpus, record_property: pytest.RecordProperty
) -> None:
    outcome = corpus.outcome(fixture)
    record_property("outcome", outcome.said)
    expected = "not cleaned" if fixture.name in NOT_CLEANABLE else "cleaned"
    assert outcome.said.startswith(expected), f"{fixture.name} ({fixture.format}): {outcome.said}"
    if outcome.result is not None and outcome.result.cleaned:
        assert outcome.result.media_type == fixture.media_type
        assert outcome.result.removed, (
            "a file full of identifying details was cleaned, so something was removed"
        )


@fixtures
def test_no_planted_value_survives_in_a_file_stored_as_cleaned(fixture: Fixture, corpus: Corpus) -> None:
    built = corpus.built(fixture)
    _, view = corpus.result(fixture)
    top = view.tags[0][1]
    assert "File:FileType" in top and "ExifTool:Error" not in top, "exiftool could not read the cleaned file"
    survivors = []
    for plant in built.plants:
        where = view.locations(plant)
        if where:
            survivors.append(f"{plant.place} = {plant.value!r}, found in: {'; '.join(sorted(set(where)))}")
    for where, tags in view.tags:
        for key in tags:
            parts = [part for part in key.partition("#")[0].split(":") if not part.startswith("Copy")]
            group, name = ":".join(parts[:-1]), parts[-1]
            # An Office package's own thumbnail (File:PreviewImage) is a preview of the pages, not a photo's.
            if name.startswith(HIDING_PLACES) and not group.endswith("File"):
                survivors.append(f"a {name} is still there, in exiftool of {where}: {key}")
    listed = "\n".join(survivors)
    assert survivors == [], f"{fixture.name}: {len(survivors)} planted values survive:\n{listed}"


# ---------------------------------------------------------------------------------------------------------
# The evidence survives


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    difference = ImageChops.difference(first.convert("RGB"), second.convert("RGB"))
    return sum(ImageStat.Stat(difference).mean) / 3


def same_picture(original: bytes, cleaned: bytes) -> None:
    with Image.open(io.BytesIO(original)) as before, Image.open(io.BytesIO(cleaned)) as after:
        assert after.size == before.size
        assert getattr(after, "n_frames", 1) == getattr(before, "n_frames", 1)
        after.load()
        assert mean_difference(before, after) < 16, "the cleaned picture does not look like the original"


def same_pdf(original: bytes, cleaned: bytes, body: str) -> None:
    with pikepdf.open(io.BytesIO(original)) as before, pikepdf.open(io.BytesIO(cleaned)) as after:
        assert len(after.pages) == len(before.pages)
        images = [
            pikepdf.PdfImage(image).as_pil_image().size
            for page in after.pages
            for image in page.images.values()
        ]
        assert len(images) == sum(len(page.images) for page in before.pages)
        assert all(size == (64, 48) for size in images)
    text = pypdf.PdfReader(io.BytesIO(cleaned)).pages[0].extract_text()
    assert body in text


# A package thumbnail is a preview the application made; cleaning may drop it, as it is not the evidence.
THUMBNAILS = ("docProps/", "Thumbnails/")


def embedded_files(content: bytes) -> dict[str, list[bytes]]:
    """The pictures and PDFs a document holds (zip entries, package thumbnails left out), by kind."""
    found: dict[str, list[bytes]] = {}
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for info in archive.infolist():
            data = archive.read(info)
            if kind(data) not in ("", ".zip") and not info.filename.startswith(THUMBNAILS):
                found.setdefault(kind(data), []).append(data)
    return found


def same_document(original: bytes, cleaned: bytes, body: str) -> None:
    with zipfile.ZipFile(io.BytesIO(cleaned)) as archive:
        xml = b"".join(archive.read(name) for name in archive.namelist() if name.endswith(".xml"))
    assert body.encode() in xml, "the document's own text is gone"
    before, after = embedded_files(original), embedded_files(cleaned)
    assert {k: len(v) for k, v in after.items()} == {k: len(v) for k, v in before.items()}, (
        "an embedded picture or PDF is gone"
    )
    for suffix, parts in after.items():
        for data in parts:
            if suffix == ".pdf":
                same_pdf(before[suffix][0], data, PDF_BODY)
            else:
                with Image.open(io.BytesIO(data)) as picture:
                    picture.load()
                    assert picture.size == (64, 48)


def evidence_streams(container: av.container.InputContainer) -> list[av.stream.Stream]:
    """The sound and video a file records; cover art (an attached picture) is metadata, not evidence."""
    return [
        stream
        for stream in container.streams
        if stream.type in ("audio", "video") and not stream.disposition & av.stream.Disposition.attached_pic
    ]


def streams(content: bytes) -> dict[str, tuple[int, str]]:
    """Per stream type: how many packets, and a digest of their payloads (no re-encode keeps both)."""
    found: dict[str, tuple[int, str]] = {}
    with av.open(io.BytesIO(content)) as container:
        for stream in evidence_streams(container):
            digest, count = hashlib.sha256(), 0
            for packet in container.demux(stream):
                if packet.size:
                    digest.update(bytes(packet))
                    count += 1
            found[f"{stream.type} {stream.index}"] = (count, digest.hexdigest())
    return found


def decodes(content: bytes) -> dict[str, int]:
    frames: dict[str, int] = {}
    with av.open(io.BytesIO(content)) as container:
        for frame in container.decode(*evidence_streams(container)):
            name = "video" if isinstance(frame, av.VideoFrame) else "audio"
            frames[name] = frames.get(name, 0) + 1
    return frames


def same_media(original: bytes, cleaned: bytes) -> None:
    before, after = streams(original), streams(cleaned)
    assert sorted(key.split()[0] for key in after) == sorted(key.split()[0] for key in before)
    assert sorted(after.values()) == sorted(before.values()), "the sound or video was re-encoded or cut"
    assert decodes(cleaned) == decodes(original)


@fixtures
def test_the_evidence_survives_cleaning(fixture: Fixture, corpus: Corpus) -> None:
    original = corpus.built(fixture).content
    result, _ = corpus.result(fixture)
    if fixture.evidence == "image":
        same_picture(original, result.content)
    elif fixture.evidence == "pdf":
        same_pdf(original, result.content, fixture.body)
    elif fixture.evidence == "document":
        same_document(original, result.content, fixture.body)
    else:
        assert fixture.evidence == "media"
        same_media(original, result.content)
