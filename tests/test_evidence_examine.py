"""`bot.evidence.examine`: one call that says what `inspect` says and what `clean` would remove.

The reference is what the worker's examine step did before it (inspect, then a full clean whose bytes
are discarded): the same media type, findings, removed details, cleanability and problem, for files a
reporter sends, a type Candour cannot clean, a variant it cannot rewrite, and a clean that fails its
check.
"""

from __future__ import annotations

import io
import zipfile

import pikepdf
import pytest
from PIL import Image

from bot import evidence
from bot.evidence import EvidenceError, Examination, examine, registry
from bot.evidence.model import Nested, Rewrite
from tests.pdf_fixtures import StandInJpeg, evidence_pdf
from tests.test_bot_evidence_inputs import mp4_the_muxer_refuses
from tests.test_evidence_cleaning import docx_with_metadata, pdf_with_metadata, phone_jpeg


def reference(content: bytes, filename: str, media_type: str) -> Examination:
    """Examination as the worker made it from `inspect` and `clean` (bot.evidence.worker before)."""
    actual = evidence.sniff_media_type(content, filename, media_type)
    findings = evidence.inspect(content, filename=filename, media_type=actual)
    try:
        cleaned = evidence.clean(content, filename=filename, media_type=actual)
    except EvidenceError as error:
        if str(error) != evidence.NOT_CLEANED:
            raise
        return Examination(actual, evidence.can_clean(actual), findings, (), "NOT_CLEANED")
    return Examination(actual, cleaned.cleaned, findings, cleaned.removed)


def pdf_with_a_photo() -> bytes:
    """A PDF whose author is named and whose one page shows a phone photo with its EXIF."""
    pdf = pikepdf.new()
    pdf.docinfo["/Author"] = "Jane Smith"
    photo = phone_jpeg(orientation=1)
    image = pikepdf.Stream(pdf, photo)
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    with Image.open(io.BytesIO(photo)) as opened:
        image.Width, image.Height = opened.size
    image.BitsPerComponent = 8
    image.ColorSpace, image.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
    page = pdf.add_blank_page(page_size=(200, 200))
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary({"/Im0": image}))
    page.Contents = pikepdf.Stream(pdf, b"q 100 0 0 75 10 10 cm /Im0 Do Q")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


SENT = [
    (phone_jpeg, "IMG_0001.JPG", "image/jpeg"),
    (pdf_with_metadata, "statement.pdf", "application/pdf"),
    (pdf_with_a_photo, "scans.pdf", "application/pdf"),
    (docx_with_metadata, "notes.docx", evidence.DOCX),
    (lambda: b"He said it again on Tuesday.\n", "notes.txt", "text/plain"),
]


@pytest.mark.parametrize(("make", "filename", "media_type"), SENT, ids=[row[1] for row in SENT])
def test_examine_agrees_with_inspect_and_clean(make: object, filename: str, media_type: str) -> None:
    content = make()  # type: ignore[operator]
    got = examine(content, filename=filename, media_type=media_type)
    assert got == reference(content, filename, media_type)
    assert got.problem is None and got.cleanable
    if media_type != "text/plain":
        assert got.findings and got.removed  # each carries something, so the comparison means something


def test_examine_of_a_type_candour_cannot_clean_says_so_and_finds_nothing() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photo.jpg", phone_jpeg())
    got = examine(out.getvalue(), filename="photos.zip", media_type="application/zip")
    assert got == Examination("application/zip", False, (), ())
    assert got == reference(out.getvalue(), "photos.zip", "application/zip")


def test_examine_of_a_variant_candour_cannot_rewrite_still_lists_what_it_carries() -> None:
    content = mp4_the_muxer_refuses()
    got = examine(content, filename="PXL_20240512_031522.mp4", media_type="video/mp4")
    assert got == reference(content, "PXL_20240512_031522.mp4", "video/mp4")
    assert not got.cleanable and got.findings and got.removed == () and got.problem is None


def test_examine_reports_a_clean_that_fails_its_check_as_not_cleaned(monkeypatch: pytest.MonkeyPatch) -> None:
    """A picture cleaner that leaves the EXIF in (a bug): the check catches it, and examine says so."""

    class Careless(StandInJpeg):
        def clean(self, content: bytes, nested: Nested) -> Rewrite:
            return Rewrite(content)

    monkeypatch.setitem(registry.FORMATS, "image/jpeg", Careless())
    content = evidence_pdf()
    got = examine(content, filename="a.pdf", media_type="application/pdf")
    assert got.problem == "NOT_CLEANED" and got.cleanable and got.removed == () and got.findings
    assert got == reference(content, "a.pdf", "application/pdf")


def test_examine_raises_the_refusals_inspect_and_clean_raise() -> None:
    damaged = b"%PDF-1.7\n1 0 obj <<>>\ngarbage"
    with pytest.raises(EvidenceError) as raised:
        examine(damaged, filename="a.pdf", media_type="application/pdf")
    with pytest.raises(EvidenceError) as expected:
        reference(damaged, "a.pdf", "application/pdf")
    assert str(raised.value) == str(expected.value)
    with pytest.raises(EvidenceError) as too_large:
        examine(bytes(evidence.MAX_BYTES + 1), filename="a.bin", media_type="application/octet-stream")
    assert str(too_large.value) == evidence.TOO_LARGE
