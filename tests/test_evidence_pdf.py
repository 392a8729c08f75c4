"""PDF evidence cleaning (bot.evidence.pdf), checked from outside the cleaner.

After cleaning, three witnesses must find none of what the fixtures (tests/pdf_fixtures.py) planted:
pikepdf's read-out, exiftool (`-ee`, also on every picture and attachment taken out of the result), and a
byte search of every planted value in the file and in every stream decoded. Pages, text, comments' text,
form field names and values, bookmarks and web links must survive.

Pictures inside are cleaned by the JPEG format (bot/evidence/images.py); where it is not registered, a
stand-in JPEG format is (`jpeg_format`), so the PDF side is tested either way.
"""

from __future__ import annotations

import io
import random
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, Stream
from PIL import Image, ImageCms

from bot import evidence
from bot.evidence import registry
from bot.evidence.model import EvidenceError, Finding, Inspection, Nested, Rewrite
from bot.evidence.pdf import DROPPED, Pdf
from tests.pdf_fixtures import (
    AUTHOR,
    KEPT,
    PDF,
    PLANTED,
    TEXT,
    StandInJpeg,
    assert_nothing_planted_survives,
    decoded_pieces,
    described_pdf,
    disguised_photo_pdf,
    evidence_pdf,
    exif_text,
    exiftool,
    inline_jpeg_pdf,
    linked_pdf,
    million_objects,
    page_texts,
    phone_jpeg,
    pictures_and_attachments,
    signed_pdf,
)


@pytest.fixture(autouse=True)
def jpeg_format(monkeypatch: pytest.MonkeyPatch) -> None:
    if "image/jpeg" not in registry.FORMATS:
        monkeypatch.setitem(registry.FORMATS, "image/jpeg", StandInJpeg())


# ---------------------------------------------------------------------------------------------------------
# Read-out


def test_inspect_finds_every_planted_detail_in_plain_words(tmp_path: Path) -> None:
    original = evidence_pdf(attachment=phone_jpeg(PLANTED["attached_artist"]))
    found = evidence.inspect(original, filename="rota.pdf", media_type=PDF)
    summaries = [item.summary for item in found]
    assert Finding("person", f"the author's name ({AUTHOR})") in found
    assert Finding("software", "the app that made it (Microsoft Word)") in found
    assert Finding("software", f"the app that made the PDF ({PLANTED['producer']})") in found
    assert Finding("time", "when it was made (2024-05-12 03:15)") in found
    assert Finding("other", "other document details (Station)") in found
    assert Finding("person", f"names on comments or highlights ({PLANTED['annot']})") in found
    assert Finding("person", f"names on comments or highlights ({PLANTED['popup']})") in found
    assert Finding("other", "private data saved by the app that made it") in found
    assert Finding("other", "a script inside it") in found
    assert Finding("other", "actions that run by themselves when it is opened") in found
    assert Finding("other", "a file attached to it (evidence.jpg)") in found
    assert Finding("other", "an identifier that links it to the copy it came from") in found
    assert any(s.startswith("hidden XMP details (") for s in summaries), "the catalogue's XMP"
    assert any(s.startswith("hidden XMP details in a part of it") for s in summaries), "a page's XMP"
    located = [item.summary for item in found if item.kind == "location"]
    assert any(s.startswith("in a picture inside: where the photo was taken") for s in located)
    assert any(s.startswith("in a file inside: where the photo was taken") for s in located)
    # The witness agrees the original carries them, so its silence after cleaning means something.
    assert AUTHOR in exif_text(original, tmp_path, "original.pdf")
    photo = next(part for name, part in pictures_and_attachments(original) if name.startswith("picture"))
    assert "GPSLatitude" in exif_text(photo, tmp_path, "photo.jpg")


# ---------------------------------------------------------------------------------------------------------
# Cleaning: the defects


def test_a_pdfs_embedded_photo_and_attached_photo_lose_everything_and_pages_and_text_stay(
    tmp_path: Path,
) -> None:
    original = evidence_pdf(attachment=phone_jpeg(PLANTED["attached_artist"]))
    result = evidence.clean(original, filename="rota.pdf", media_type=PDF)
    assert result.cleaned and result.media_type == PDF and result.filename == "rota.pdf"
    assert_nothing_planted_survives(result.content, tmp_path)
    assert evidence.inspect(result.content, filename="rota.pdf", media_type=PDF) == ()
    with pikepdf.open(io.BytesIO(result.content)) as pdf:
        assert len(pdf.pages) == 2
        assert "/Info" not in pdf.trailer and "/Metadata" not in pdf.Root
        assert bytes(pdf.trailer.ID[0]) == bytes.fromhex(
            "31415926535897932384626433832795"
        )  # qpdf's fixed id
        note = pdf.pages[0].obj.Annots[0]
        assert "/T" not in note and str(note.Contents) == "see the second line"  # the note is evidence
        assert str(pdf.pages[0].obj.Annots[2].T) == "collar_number"  # a form field's name is the form's
        image = pdf.pages[0].obj.Resources.XObject.Im0
        assert (int(image.Width), int(image.Height)) == (64, 48) and "/Metadata" not in image
        with Image.open(io.BytesIO(image.read_raw_bytes())) as picture:
            assert picture.size == (64, 48) and not picture.getexif()
        attached = pdf.attachments["evidence.jpg"].get_file()
        with Image.open(io.BytesIO(attached.read_bytes())) as picture:
            assert picture.size == (64, 48) and not picture.getexif()
    assert [TEXT.encode() in text for text in page_texts(result.content)] == [True, True]
    assert any("where the photo was taken" in item.summary for item in result.removed)


def test_an_attachment_candour_cannot_check_is_removed_and_the_reporter_told(tmp_path: Path) -> None:
    result = evidence.clean(evidence_pdf(unknown_attachment=True), filename="a.pdf", media_type=PDF)
    assert result.cleaned and DROPPED in result.removed
    with pikepdf.open(io.BytesIO(result.content)) as pdf:
        assert len(pdf.attachments) == 0
    assert not any(b"CANDOUR-UNKNOWN" in piece for piece in decoded_pieces(result.content))
    assert_nothing_planted_survives(result.content, tmp_path)


def test_the_pdf_format_alone_cleans_nothing_it_cannot_prove(tmp_path: Path) -> None:
    """Without a JPEG cleaner (nested.clean gives None) a PDF holding a photo is refused, not passed on."""

    class NoCleaners:
        keep_orientation = False

        def media_type(self, content: bytes) -> str:
            return evidence.sniff_media_type(content, "", None)

        def inspect(self, content: bytes) -> Inspection:
            return Inspection()

        def clean(self, content: bytes, *, keep_orientation: bool = False) -> Rewrite | None:
            return None

    with pytest.raises(EvidenceError) as raised:
        Pdf().clean(evidence_pdf(), NoCleaners())
    assert str(raised.value) == evidence.NOT_CLEANED


def test_a_picture_whose_cleaning_changes_its_shape_is_refused() -> None:
    class Turning(StandInJpeg):
        def clean(self, content: bytes, nested: Nested) -> Rewrite:
            with Image.open(io.BytesIO(content)) as image:
                turned = image.rotate(90, expand=True)
            out = io.BytesIO()
            turned.save(out, "JPEG")
            return Rewrite(out.getvalue())

    registry.FORMATS["image/jpeg"], saved = Turning(), registry.FORMATS["image/jpeg"]
    try:
        with pytest.raises(EvidenceError) as raised:
            evidence.clean(evidence_pdf(), filename="a.pdf", media_type=PDF)
    finally:
        registry.FORMATS["image/jpeg"] = saved
    assert str(raised.value) == evidence.NOT_CLEANED


def test_a_pdf_with_only_an_owner_password_is_cleaned_and_saved_without_encryption(tmp_path: Path) -> None:
    pdf = pikepdf.open(io.BytesIO(evidence_pdf()))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user="", owner="owner-secret"))
    result = evidence.clean(out.getvalue(), filename="a.pdf", media_type=PDF)
    with pikepdf.open(io.BytesIO(result.content)) as cleaned:
        assert not cleaned.is_encrypted
    assert_nothing_planted_survives(result.content, tmp_path)


# ---------------------------------------------------------------------------------------------------------
# Refusals


def test_a_pdf_that_needs_a_password_is_refused() -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    for call in (evidence.clean, evidence.inspect):
        with pytest.raises(EvidenceError) as raised:
            call(out.getvalue(), filename="locked.pdf", media_type=PDF)
        assert str(raised.value) == evidence.PDF_LOCKED


@pytest.mark.parametrize("declared", [None, 10])
def test_a_pdf_with_a_million_objects_is_refused_quickly(declared: int | None) -> None:
    content = million_objects(declared=declared)
    assert len(content) < evidence.MAX_BYTES
    started = time.monotonic()
    with pytest.raises(EvidenceError) as raised:
        evidence.clean(content, filename="many.pdf", media_type=PDF)
    assert str(raised.value) == evidence.TOO_COMPLEX
    assert time.monotonic() - started < 2


def test_a_pdf_of_many_plain_objects_without_a_cross_reference_table_is_refused_quickly() -> None:
    body = b"".join(b"%d 0 obj 0 endobj\n" % number for number in range(4, 200_004))
    content = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>>endobj\n"
        + body
        + b"trailer<</Root 1 0 R/Size 4>>\n%%EOF\n"
    )
    started = time.monotonic()
    with pytest.raises(EvidenceError) as raised:
        evidence.inspect(content, filename="many.pdf", media_type=PDF)
    assert str(raised.value) == evidence.TOO_COMPLEX
    assert time.monotonic() - started < 2


def test_an_attached_decompression_bomb_is_refused_without_decoding_it() -> None:
    squeeze = zlib.compressobj(6)
    chunk = b"\0" * (1 << 20)
    bomb = b"".join(squeeze.compress(chunk) for _ in range(300)) + squeeze.flush()
    pdf = pikepdf.new()
    pdf.add_blank_page()
    spec = pikepdf.AttachedFileSpec(pdf, b"placeholder", filename="zeros.bin")
    pdf.attachments["zeros.bin"] = spec
    stream = pdf.attachments["zeros.bin"].obj.EF.F
    stream.write(bomb, filter=Name.FlateDecode)
    out = io.BytesIO()
    pdf.save(out)
    started = time.monotonic()
    with pytest.raises(EvidenceError):
        evidence.clean(out.getvalue(), filename="bomb.pdf", media_type=PDF)
    assert time.monotonic() - started < 10


# ---------------------------------------------------------------------------------------------------------
# Files inside files, and what the byte search sees


def test_an_attached_pdf_is_cleaned_by_the_pdf_format_and_a_camera_named_photo_renamed(
    tmp_path: Path,
) -> None:
    inner = pikepdf.new()
    inner.add_blank_page()
    inner.docinfo = inner.make_indirect(Dictionary(Author=pikepdf.String("Inner Pdfauthor")))
    inner_bytes = io.BytesIO()
    inner.save(inner_bytes)
    outer = pikepdf.new()
    outer.add_blank_page()
    outer.attachments["statement.pdf"] = pikepdf.AttachedFileSpec(
        outer, inner_bytes.getvalue(), filename="statement.pdf"
    )
    camera_name = "IMG_20240512_031522.jpg"
    outer.attachments[camera_name] = pikepdf.AttachedFileSpec(outer, phone_jpeg(), filename=camera_name)
    out = io.BytesIO()
    outer.save(out)
    found = evidence.inspect(out.getvalue(), filename="a.pdf", media_type=PDF)
    assert Finding("person", "in a file inside: the author's name (Inner Pdfauthor)") in found
    assert any("the file name, which shows the date" in item.summary for item in found)
    result = evidence.clean(out.getvalue(), filename="a.pdf", media_type=PDF)
    with pikepdf.open(io.BytesIO(result.content)) as pdf:
        kept = {str(spec.obj.UF): spec.get_file().read_bytes() for spec in pdf.attachments.values()}
    assert set(kept) == {"statement.pdf", "photo.jpg"}
    with pikepdf.open(io.BytesIO(kept["statement.pdf"])) as statement:
        assert "/Info" not in statement.trailer and len(statement.pages) == 1
    assert not any(b"Inner Pdfauthor" in piece for piece in decoded_pieces(result.content))
    assert not any(b"20240512" in piece for piece in decoded_pieces(result.content))


def test_a_photo_behind_two_filters_is_cleaned_too(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(100, 100))
    image = Stream(pdf, zlib.compress(phone_jpeg()))
    image.Type, image.Subtype = Name.XObject, Name.Image
    image.Filter = Array([Name.FlateDecode, Name.DCTDecode])
    image.Width, image.Height, image.ColorSpace, image.BitsPerComponent = 64, 48, Name.DeviceRGB, 8
    page.obj.Resources = Dictionary(XObject=Dictionary(Im0=image))
    page.obj.Contents = pdf.make_stream(b"q 64 0 0 48 0 0 cm /Im0 Do Q")
    out = io.BytesIO()
    pdf.save(out)
    found = evidence.inspect(out.getvalue(), filename="a.pdf", media_type=PDF)
    assert any(item.summary.startswith("in a picture inside: where the photo was taken") for item in found)
    result = evidence.clean(out.getvalue(), filename="a.pdf", media_type=PDF)
    assert_nothing_planted_survives(result.content, tmp_path)


def test_the_byte_search_sees_inside_compressed_streams() -> None:
    pdf = pikepdf.new()
    page = pdf.add_blank_page()
    page.obj.Contents = pdf.make_stream(b"BT /F1 12 Tf (Flatehidden Marker) Tj ET")
    out = io.BytesIO()
    pdf.save(out, compress_streams=True)
    assert b"Flatehidden Marker" not in out.getvalue()
    assert any(b"Flatehidden Marker" in piece for piece in Pdf().streams(out.getvalue()))


def test_no_script_or_self_running_action_is_left_for_pikepdf_to_read() -> None:
    result = evidence.clean(evidence_pdf(), filename="a.pdf", media_type=PDF)
    with pikepdf.open(io.BytesIO(result.content)) as pdf:
        assert "/OpenAction" not in pdf.Root and "/JavaScript" not in pdf.Root.Names
        for obj in pdf.objects:
            if isinstance(obj, (Dictionary, Stream)):
                assert "/JS" not in obj and "/AA" not in obj and "/PieceInfo" not in obj
                assert "/Metadata" not in obj and obj.get("/S") != Name.JavaScript


# The child's own peak (VmHWM), not ru_maxrss, which a process inherits at exec from the one that started
# it (here a pytest worker that may already be larger than the bound).
REFUSE_IN_A_CHILD = """
import pathlib, sys, time
from bot import evidence
from tests.pdf_fixtures import xref_bomb
content = xref_bomb(int(sys.argv[1]), int(sys.argv[2]))
assert len(content) < 2_000_000
started = time.monotonic()
try:
    evidence.clean(content, filename="bomb.pdf", media_type="application/pdf")
except evidence.EvidenceError as error:
    status = pathlib.Path("/proc/self/status").read_text().splitlines()
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print(str(error), time.monotonic() - started, peak, sep="|")
"""


@pytest.mark.parametrize(("declared", "entries"), [(100_000_000, 1_000_000), (10, 60_000_000)])
def test_a_small_pdf_declaring_a_hundred_million_objects_is_refused_before_it_costs_memory(
    declared: int, entries: int
) -> None:
    """Read whole, sixty million entries would cost qpdf over half a gigabyte; refused, a few hundred MB at
    most (one stream's decoding limit), measured in a process of its own. A declared count is refused unread."""
    done = subprocess.run(
        [sys.executable, "-c", REFUSE_IN_A_CHILD, str(declared), str(entries)],
        capture_output=True,
        check=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )
    message, seconds, peak_kb = done.stdout.decode().strip().split("|")
    assert message in (evidence.TOO_COMPLEX, evidence.DAMAGED)
    if declared > evidence.MAX_BYTES:
        assert message == evidence.TOO_COMPLEX and float(seconds) < 1
    assert int(peak_kb) < 600_000


@pytest.mark.filterwarnings("ignore")
def test_a_damaged_pdf_gives_a_plain_refusal_or_a_clean_result() -> None:
    """Promise 5: cut-short or corrupted copies of the full fixture never crash and never pass half-clean."""
    rng = random.Random(20261203)
    seed = evidence_pdf(attachment=phone_jpeg(PLANTED["attached_artist"]))
    allowed = (evidence.DAMAGED, evidence.NOT_CLEANED, evidence.TOO_COMPLEX, evidence.TOO_MANY_PIXELS)
    for _ in range(20):
        damaged = bytearray(seed)
        if rng.random() < 0.3:
            damaged = damaged[: rng.randrange(len(damaged))]
        else:
            for _ in range(rng.randint(1, 8)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            result = evidence.clean(bytes(damaged), filename="x.pdf", media_type=PDF)
        except EvidenceError as error:
            assert str(error) in allowed
            continue
        if result.cleaned and result.media_type == PDF:
            assert evidence.inspect(result.content, filename="x.pdf", media_type=PDF) == ()
            for value in (AUTHOR, PLANTED["artist"], PLANTED["annot"]):
                assert not any(value.encode() in piece for piece in decoded_pieces(result.content))


def test_a_document_of_large_scanned_pages_is_not_refused_for_its_pixels() -> None:
    """Eight A4 scans at 300 dpi decode to over 200 MB of pixels, which hold no text to search."""
    width, height = 2480, 3508
    samples = zlib.compress(b"\xff" * (width * height * 3), 6)
    pdf = pikepdf.new()
    for _ in range(8):
        page = pdf.add_blank_page(page_size=(595, 842))
        scan = Stream(pdf, samples)
        scan.Type, scan.Subtype, scan.Filter = Name.XObject, Name.Image, Name.FlateDecode
        scan.Width, scan.Height, scan.ColorSpace, scan.BitsPerComponent = width, height, Name.DeviceRGB, 8
        page.obj.Resources = Dictionary(XObject=Dictionary(Im0=scan))
        page.obj.Contents = pdf.make_stream(b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    pdf.docinfo = pdf.make_indirect(Dictionary(Author=pikepdf.String(AUTHOR)))
    out = io.BytesIO()
    pdf.save(out)
    result = evidence.clean(out.getvalue(), filename="scans.pdf", media_type=PDF)
    with pikepdf.open(io.BytesIO(result.content)) as cleaned:
        assert len(cleaned.pages) == 8 and "/Info" not in cleaned.trailer


# ---------------------------------------------------------------------------------------------------------
# Places no reader models: the generic read-out and the allow-list (bot/evidence/pdf_strings.py)

LEAKS = {
    "signature": (
        signed_pdf,
        [
            "a digital signature (removed)",
            "the signer's name (Jezebel Smithfield)",
            "the signer's contact details (jsmithfield@met.police.uk)",
            "where it was signed (Lewisham Custody Suite)",
        ],
    ),
    "thread, attachment and comment details": (
        described_pdf,
        [
            "an author's name (Jezebel Smithfield)",
            "the description of a file attached to it (from Witnessing a statement)",
            "the details listed beside attached files (removed)",
            "the subject line of comments (Lewisham Custody Suite)",
            "an identifier on comments",
            "text inside a colour profile",
        ],
    ),
    "links, print settings and custom keys": (
        linked_pdf,
        [
            "a link to a file on the writer's computer (removed)",
            "printing colour settings and the notes kept with them (removed)",
            "other hidden details (ApplicationUser)",
            "other hidden details (CreatorUser)",
            "other hidden details (Typist)",
        ],
    ),
}


@pytest.mark.parametrize("case", list(LEAKS))
def test_details_in_places_no_reader_models_are_named_and_removed_and_content_stays(
    case: str, tmp_path: Path
) -> None:
    build, said = LEAKS[case]
    original, planted = build()
    assert all(any(value.encode() in piece for piece in decoded_pieces(original)) for value in planted)
    summaries = [item.summary for item in evidence.inspect(original, filename="a.pdf", media_type=PDF)]
    assert set(said) <= set(summaries), summaries
    result = evidence.clean(original, filename="a.pdf", media_type=PDF)
    assert result.cleaned and set(said) <= {item.summary for item in result.removed}
    for value in planted:
        for form in (value.encode(), value.encode("utf-16-be")):
            assert not any(form in piece for piece in decoded_pieces(result.content)), value
    assert not any(value in text for text in [str(exiftool(result.content, tmp_path))] for value in planted)
    assert evidence.inspect(result.content, filename="a.pdf", media_type=PDF) == ()
    kept = [value for value in KEPT if any(value.encode() in p for p in decoded_pieces(original))]
    assert kept, "each case keeps some content"
    for value in kept:
        assert any(value.encode() in piece for piece in decoded_pieces(result.content)), value


def test_a_signed_form_keeps_its_fields_and_loses_only_the_signature() -> None:
    result = evidence.clean(signed_pdf()[0], filename="a.pdf", media_type=PDF)
    with pikepdf.open(io.BytesIO(result.content)) as pdf:
        fields = {str(field.T): field for field in pdf.Root.AcroForm.Fields}
        assert set(fields) == {"Signature1", "collar_number"}
        assert "/V" not in fields["Signature1"] and str(fields["collar_number"].V) == "PC 4471"
        assert "/DocMDP" not in pdf.Root.get("/Perms", {})
        assert not any(isinstance(obj, Dictionary) and obj.get("/Type") == Name.Sig for obj in pdf.objects)


def test_a_colour_profile_keeps_its_colours_and_loses_its_text() -> None:
    result = evidence.clean(described_pdf()[0], filename="a.pdf", media_type=PDF)
    with pikepdf.open(io.BytesIO(result.content)) as pdf:
        space = pdf.pages[0].obj.Resources.XObject.Im0.ColorSpace
        profile = ImageCms.ImageCmsProfile(io.BytesIO(space[1].read_bytes()))
    srgb = ImageCms.createProfile("sRGB")
    red = Image.new("RGB", (1, 1), (200, 10, 10))
    assert ImageCms.profileToProfile(red, profile, srgb).getpixel((0, 0)) == (200, 10, 10)


def inline_jpegs(data: bytes) -> list[bytes]:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        found = pikepdf.parse_content_stream(pdf.pages[0].obj.Contents)
        return [
            item.iimage.read_raw_bytes()
            for item in found
            if isinstance(item, pikepdf.ContentStreamInlineImage)
        ]


def test_a_photo_drawn_inline_in_the_page_is_cleaned_in_place(tmp_path: Path) -> None:
    original = inline_jpeg_pdf(phone_jpeg())
    found = evidence.inspect(original, filename="a.pdf", media_type=PDF)
    assert any(item.summary.startswith("in a picture inside: where the photo was taken") for item in found)
    result = evidence.clean(original, filename="a.pdf", media_type=PDF)
    assert result.cleaned
    (picture,) = inline_jpegs(result.content)
    with Image.open(io.BytesIO(picture)) as image:
        assert image.size == (64, 48) and not image.getexif()
    assert TEXT.encode() in page_texts(result.content)[0]
    assert_nothing_planted_survives(result.content, tmp_path)


def test_photos_whose_dictionaries_lie_are_cleaned_as_the_files_they_are(tmp_path: Path) -> None:
    """A damaged /Subtype or a missing /Filter hides a photo from the picture model, not from extraction."""
    original = disguised_photo_pdf(phone_jpeg())
    found = [item.summary for item in evidence.inspect(original, filename="a.pdf", media_type=PDF)]
    assert sum(summary.startswith("in a file inside: where the photo was taken") for summary in found) >= 1
    result = evidence.clean(original, filename="a.pdf", media_type=PDF)
    assert result.cleaned
    with pikepdf.open(io.BytesIO(result.content)) as pdf:
        resources = pdf.pages[0].obj.Resources
        pictures = [resources.XObject.Im0.read_raw_bytes(), resources.Extra.read_bytes()]
    for picture in pictures:
        with Image.open(io.BytesIO(picture)) as image:
            assert image.size == (64, 48) and not image.getexif()
    assert_nothing_planted_survives(result.content, tmp_path)
