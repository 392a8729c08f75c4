"""Promise 1, evidence half: identifying metadata is gone from evidence after `bot.evidence.clean`.

Every fixture is built here in code (Pillow, pypdf, zipfile, a hand-made Ogg), carrying the details a
real phone or office suite writes: GPS, device, owner, times, authors. Each test checks the detail is
there before (`inspect` reports it), gone after (by an independent reader: Pillow, pypdf, zipfile, and a
search of the raw bytes), and that the evidence itself (pixels, pages, document body, audio) survived.
"""

from __future__ import annotations

import io
import random
import struct
import subprocess
import sys
import zipfile
import zlib

import pypdf
import pytest
from PIL import Image, ImageChops, ImageCms, ImageStat
from PIL.PngImagePlugin import PngInfo
from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, NameObject, TextStringObject

from bot import evidence
from bot.evidence import (
    MAX_BYTES,
    MAX_SUMMARY,
    EvidenceError,
    Finding,
    can_clean,
    clean,
    inspect,
    sniff_media_type,
)
from bot.evidence.dispatch import MAX_FINDINGS, tidy
from tests.image_fixtures import gradient

NAME = b"Jane Smith"
GPS_IFD, EXIF_IFD = 0x8825, 0x8769


# ---------------------------------------------------------------------------------------------------------
# Fixtures


def phone_exif(orientation: int = 6) -> Image.Exif:
    """What a phone writes: make, model, owner, software, time taken, GPS position, orientation."""
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    exif[0x0110] = "iPhone 15"
    exif[0x013B] = "PC Jane Smith"
    exif[0x0131] = "17.1"
    exif[0x0112] = orientation
    exif[EXIF_IFD] = {0x9003: "2024:05:12 03:15:22", 0xA430: "Jane Smith"}
    exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 26.64), 3: "W", 4: (0.0, 7.0, 39.0)}
    return exif


def phone_jpeg(orientation: int = 6) -> bytes:
    out = io.BytesIO()
    gradient().save(out, "JPEG", exif=phone_exif(orientation), quality=95, comment=b"PC Jane Smith's phone")
    return out.getvalue()


def png_with_text() -> bytes:
    info = PngInfo()
    info.add_text("Author", "PC Jane Smith")
    info.add_itxt("Comment", "taken outside the station", zip=True)
    info.add(b"tIME", struct.pack(">HBBBBB", 2024, 5, 12, 3, 15, 22))
    out = io.BytesIO()
    gradient(mode="RGBA").save(out, "PNG", pnginfo=info, exif=phone_exif(orientation=1))
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_chunk_types(content: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(content):
        (length,) = struct.unpack(">I", content[pos : pos + 4])
        kinds.append(content[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def pdf_with_metadata() -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Author": "PC Jane Smith", "/Creator": "Microsoft Word", "/Title": "Rota"})
    writer.xmp_metadata = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>PC Jane Smith</dc:creator>'
        b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    note = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Text"),
            NameObject("/Rect"): ArrayObject(
                [FloatObject(0), FloatObject(0), FloatObject(20), FloatObject(20)]
            ),
            NameObject("/T"): TextStringObject("PC Jane Smith"),
            NameObject("/Contents"): TextStringObject("see the second line"),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(note)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/><Default Extension="jpeg" ContentType="image/jpeg"/>'
    b'<Override PartName="/word/document.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    b'<Override PartName="/docProps/core.xml" '
    b'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    b'<Override PartName="/docProps/app.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    b'<Override PartName="/docProps/custom.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.custom-properties+xml"/></Types>'
)
ROOT_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    b'Target="word/document.xml"/>'
    b'<Relationship Id="rId2" '
    b'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" '
    b'Target="docProps/core.xml"/>'
    b'<Relationship Id="rId3" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" '
    b'Target="docProps/app.xml"/>'
    b'<Relationship Id="rId4" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties" '
    b'Target="docProps/custom.xml"/></Relationships>'
)
DOCUMENT = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    b"<w:p><w:r><w:t>On 12 May the sergeant said what I wrote down here.</w:t></w:r></w:p></w:body></w:document>"
)
CORE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    b"<dc:title>Notes</dc:title><dc:creator>PC Jane Smith</dc:creator><cp:lastModifiedBy>Jane Smith</cp:lastModifiedBy>"
    b'<dcterms:created xsi:type="dcterms:W3CDTF">2024-05-12T03:15:00Z</dcterms:created></cp:coreProperties>'
)
APP = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    b"<Template>C:\\Users\\jane.smith\\Templates\\Normal.dotm</Template>"
    b"<Application>Microsoft Office Word</Application>"
    b"<Company>Smith &amp; Co</Company><Manager>Sgt Jones</Manager></Properties>"
)
CUSTOM = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties">'
    b'<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Owner"><vt:lpwstr '
    b'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">Jane Smith</vt:lpwstr>'
    b"</property></Properties>"
)


def docx_with_metadata() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("word/document.xml", DOCUMENT)
        # Word links every picture it shows from the document's relationships (one nothing links is
        # dropped as unused).
        archive.writestr(
            "word/_rels/document.xml.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/image" Target="media/image1.jpeg"/></Relationships>',
        )
        archive.writestr("docProps/core.xml", CORE)
        archive.writestr("docProps/app.xml", APP)
        archive.writestr("docProps/custom.xml", CUSTOM)
        archive.writestr(zipfile.ZipInfo("word/media/image1.jpeg", (2024, 5, 12, 3, 15, 22)), phone_jpeg())
    return out.getvalue()


def ogg_crc(data: bytes) -> int:
    """Ogg's CRC-32, bit by bit: an independent check of the module's fast version."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def ogg_page(flags: int, granule: int, sequence: int, packet: bytes) -> bytes:
    lacing = bytes([255] * (len(packet) // 255) + [len(packet) % 255])
    page = (
        struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, 0x1234, sequence, 0, len(lacing))
        + lacing
        + packet
    )
    return page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]


def ogg_pages(content: bytes) -> list[tuple[int, bytes]]:
    """(sequence, body) of each page, checking each page's CRC."""
    pages, pos = [], 0
    while pos < len(content):
        assert content[pos : pos + 4] == b"OggS"
        _, _, _, _, _, sequence, crc, count = struct.unpack_from("<4sBBqIIIB", content, pos)
        lacing = content[pos + 27 : pos + 27 + count]
        end = pos + 27 + count + sum(lacing)
        page = content[pos:end]
        assert ogg_crc(page[:22] + bytes(4) + page[26:]) == crc
        pages.append((sequence, content[pos + 27 + count : end]))
        pos = end
    return pages


AUDIO = bytes(range(256)) * 3


def voice_note(comments: list[bytes]) -> bytes:
    """An Ogg Opus file as Telegram records it: ID header, comment header, then audio pages."""
    head = b"OpusHead" + bytes([1, 1]) + struct.pack("<HIhB", 312, 48000, 0, 0)
    vendor = b"libopus 1.3"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments))
    tags += b"".join(struct.pack("<I", len(comment)) + comment for comment in comments)
    return (
        ogg_page(2, 0, 0, head)
        + ogg_page(0, 0, 1, tags)
        + ogg_page(0, 960, 2, AUDIO)
        + ogg_page(4, 1920, 3, AUDIO[:100])
    )


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(first.convert("RGB"), second.convert("RGB"))).mean) / 3


def kinds(findings: tuple[Finding, ...]) -> set[str]:
    return {finding.kind for finding in findings}


# ---------------------------------------------------------------------------------------------------------
# JPEG


def test_jpeg_exif_gps_device_owner_and_comment_are_gone_and_the_photo_is_upright() -> None:
    original = phone_jpeg(orientation=6)
    before = inspect(original, filename="IMG_20240512_031522.jpg", media_type="image/jpeg")
    assert {"location", "device", "time", "person", "software"} <= kinds(before)
    assert any("51.50740, -0.12750" in finding.summary for finding in before)
    assert all(len(finding.summary) <= MAX_SUMMARY for finding in before)

    result = clean(original, filename="IMG_20240512_031522.jpg", media_type="image/jpeg")

    assert result.cleaned and result.media_type == "image/jpeg"
    assert result.removed == before
    assert result.filename == "photo.jpg"  # the camera's name held the date
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.format == "JPEG"
        assert not image.getexif()
        assert not image.getexif().get_ifd(GPS_IFD)
        assert "exif" not in image.info and "comment" not in image.info and "xmp" not in image.info
        assert image.size == (32, 64)  # orientation 6 applied to the pixels: width and height swapped
        upright = gradient().transpose(Image.Transpose.ROTATE_270)
        assert mean_difference(image, upright) < 4
    assert NAME not in result.content and b"iPhone" not in result.content
    assert inspect(result.content, filename=result.filename, media_type=result.media_type) == ()


def test_jpeg_without_rotation_keeps_its_size_and_an_srgb_profile() -> None:
    out = io.BytesIO()
    # The source profile's bytes are never kept (its header dates it, its tags may name a screen): the
    # picture keeps sRGB colour under Candour's own fixed copy of the profile.
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    gradient((40, 30)).save(out, "JPEG", exif=phone_exif(orientation=1), icc_profile=icc)
    result = clean(out.getvalue(), filename="evidence.jpg", media_type="image/jpeg")
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.size == (40, 30)
        written = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
        assert (
            ImageCms.getProfileDescription(written).strip()
            == ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()
        )
        assert not image.getexif()
    assert result.filename == "photo.jpg"  # a picture's own name is never kept


def test_a_truncated_jpeg_is_refused_with_a_plain_sentence() -> None:
    original = phone_jpeg()
    with pytest.raises(EvidenceError) as raised:
        clean(original[: len(original) // 2], filename="a.jpg", media_type="image/jpeg")
    assert str(raised.value) == evidence.DAMAGED


def test_data_appended_after_a_jpeg_such_as_a_motion_photo_is_reported_and_dropped() -> None:
    original = phone_jpeg(orientation=1) + b"\x00\x00\x00\x18ftypmp42 pretend video of the scene"
    assert any(
        "after the picture" in finding.summary for finding in inspect(original, filename="", media_type="")
    )
    result = clean(original, filename="", media_type="image/jpeg")
    assert b"pretend video" not in result.content


# ---------------------------------------------------------------------------------------------------------
# PNG, GIF, WebP, TIFF


def test_png_text_exif_and_time_chunks_are_dropped_and_pixels_are_identical() -> None:
    original = png_with_text()
    assert {b"tEXt", b"iTXt", b"tIME", b"eXIf"} <= set(png_chunk_types(original))
    before = inspect(original, filename="screenshot.png", media_type="image/png")
    assert Finding("person", "the author's name (PC Jane Smith)") in before
    assert {"location", "device", "time", "person"} <= kinds(before)

    result = clean(original, filename="screenshot.png", media_type="image/png")

    assert result.cleaned and result.media_type == "image/png"
    assert set(png_chunk_types(result.content)) <= {b"IHDR", b"IDAT", b"IEND"}
    with Image.open(io.BytesIO(original)) as first, Image.open(io.BytesIO(result.content)) as second:
        assert "Author" not in second.info and not second.getexif()
        assert first.mode == second.mode and first.tobytes() == second.tobytes()
    assert NAME not in result.content
    assert inspect(result.content, filename=result.filename, media_type="image/png") == ()


def test_png_rotated_by_its_exif_is_saved_upright_without_metadata() -> None:
    out = io.BytesIO()
    gradient().save(out, "PNG", exif=phone_exif(orientation=6))
    result = clean(out.getvalue(), filename="x.png", media_type="image/png")
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.size == (32, 64) and not image.getexif()
        assert image.convert("RGB").tobytes() == gradient().transpose(Image.Transpose.ROTATE_270).tobytes()


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + png_chunk(b"IEND", b"")
    )
    for action in (clean, inspect):
        with pytest.raises(EvidenceError) as raised:
            action(bomb, filename="bomb.png", media_type="image/png")
        assert str(raised.value) == evidence.TOO_MANY_PIXELS


def test_gif_comment_and_xmp_go_and_the_animation_stays() -> None:
    frames = [gradient((20, 10), "P"), gradient((20, 10), "P").transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    out = io.BytesIO()
    frames[0].save(
        out,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=[100, 250],
        loop=0,
        comment=b"Jane Smith",
    )
    original = out.getvalue()
    assert NAME in original
    assert any(
        finding.kind == "other" for finding in inspect(original, filename="a.gif", media_type="image/gif")
    )

    result = clean(original, filename="a.gif", media_type="image/gif")

    assert NAME not in result.content
    with Image.open(io.BytesIO(original)) as first, Image.open(io.BytesIO(result.content)) as second:
        assert second.n_frames == first.n_frames == 2
        assert "comment" not in second.info
        for index in range(2):
            first.seek(index)
            second.seek(index)
            assert second.info["duration"] == first.info["duration"]
            assert first.convert("RGB").tobytes() == second.convert("RGB").tobytes()
    assert inspect(result.content, filename=result.filename, media_type="image/gif") == ()


def test_webp_exif_and_xmp_chunks_go_and_lossless_pixels_are_identical() -> None:
    out = io.BytesIO()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>Jane Smith</dc:creator></x:xmpmeta>'
    gradient().save(out, "WEBP", lossless=True, exif=phone_exif(orientation=1), xmp=xmp)
    original = out.getvalue()
    assert {"location", "person", "device"} <= kinds(
        inspect(original, filename="a.webp", media_type="image/webp")
    )

    result = clean(original, filename="a.webp", media_type="image/webp")

    assert NAME not in result.content and b"EXIF" not in result.content and b"XMP " not in result.content
    with Image.open(io.BytesIO(original)) as first, Image.open(io.BytesIO(result.content)) as second:
        assert "exif" not in second.info and "xmp" not in second.info
        assert first.tobytes() == second.tobytes()
    assert inspect(result.content, filename=result.filename, media_type="image/webp") == ()


def test_tiff_tags_naming_the_device_and_owner_go_and_pixels_are_identical() -> None:
    out = io.BytesIO()
    tags = {
        271: "Canon",
        272: "CanoScan LiDE 300",
        315: "PC Jane Smith",
        305: "Scan app",
        306: "2024:05:12 03:15:22",
    }
    gradient().save(out, "TIFF", tiffinfo=tags)
    original = out.getvalue()
    assert {"device", "person", "time", "software"} <= kinds(
        inspect(original, filename="s.tif", media_type="image/tiff")
    )

    result = clean(original, filename="s.tif", media_type="image/tiff")

    assert NAME not in result.content and b"Canon" not in result.content
    with Image.open(io.BytesIO(original)) as first, Image.open(io.BytesIO(result.content)) as second:
        assert not {271, 272, 305, 306, 315} & set(second.tag_v2)
        assert first.tobytes() == second.tobytes()
    assert inspect(result.content, filename=result.filename, media_type="image/tiff") == ()


# ---------------------------------------------------------------------------------------------------------
# PDF


def test_pdf_document_information_xmp_and_annotation_author_are_removed_and_pages_kept() -> None:
    original = pdf_with_metadata()
    before = inspect(original, filename="rota.pdf", media_type="application/pdf")
    assert Finding("person", "the author's name (PC Jane Smith)") in before
    assert Finding("software", "the app that made it (Microsoft Word)") in before
    assert Finding("person", "names on comments or highlights (PC Jane Smith)") in before

    result = clean(original, filename="rota.pdf", media_type="application/pdf")

    assert result.cleaned and result.filename == "rota.pdf"
    reader = pypdf.PdfReader(io.BytesIO(result.content))
    assert not reader.metadata
    assert reader.xmp_metadata is None
    assert len(reader.pages) == len(pypdf.PdfReader(io.BytesIO(original)).pages) == 2
    note = reader.pages[0]["/Annots"][0].get_object()
    assert "/T" not in note and note["/Contents"] == "see the second line"  # the note itself is evidence
    assert NAME not in result.content and b"Microsoft Word" not in result.content
    assert inspect(result.content, filename="rota.pdf", media_type="application/pdf") == ()


def test_a_pdf_that_needs_a_password_is_refused() -> None:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt("secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(EvidenceError) as raised:
        clean(out.getvalue(), filename="locked.pdf", media_type="application/pdf")
    assert str(raised.value) == evidence.PDF_LOCKED


def test_a_damaged_pdf_is_refused() -> None:
    with pytest.raises(EvidenceError):
        clean(b"%PDF-1.7\n1 0 obj <<>>\ngarbage", filename="a.pdf", media_type="application/pdf")


# ---------------------------------------------------------------------------------------------------------
# Office documents


def test_docx_author_editor_company_template_and_custom_properties_go_and_the_body_stays() -> None:
    original = docx_with_metadata()
    assert sniff_media_type(original, "notes.docx", "application/octet-stream") == evidence.DOCX
    before = inspect(original, filename="notes.docx", media_type=evidence.DOCX)
    assert Finding("person", "the author's name (PC Jane Smith)") in before
    assert Finding("person", "who last saved it (Jane Smith)") in before
    assert Finding("other", "the organisation's name (Smith & Co)") in before
    assert any(f.kind == "location" and f.summary.startswith("in a picture inside") for f in before)

    result = clean(original, filename="notes.docx", media_type=evidence.DOCX)

    assert result.cleaned and result.media_type == evidence.DOCX
    with zipfile.ZipFile(io.BytesIO(result.content)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert "docProps/custom.xml" not in names
        assert archive.read("word/document.xml") == DOCUMENT
        core = archive.read("docProps/core.xml")
        # Removed, not blanked: an empty date is an invalid one. A title or the app's name can point at
        # the writer too, so they go as well.
        for element in (b"dc:creator", b"cp:lastModifiedBy", b"dc:title"):
            assert b"<" + element not in core
        assert b"Microsoft Office Word" not in archive.read("docProps/app.xml")
        assert b"custom.xml" not in archive.read("[Content_Types].xml") + archive.read("_rels/.rels")
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
        with Image.open(io.BytesIO(archive.read("word/media/image1.jpeg"))) as picture:
            assert set(picture.getexif()) <= {0x0112} and not picture.getexif().get_ifd(GPS_IFD)
        everything = b"".join(archive.read(name) for name in names)
    assert NAME not in everything and b"jane.smith" not in everything
    assert inspect(result.content, filename="notes.docx", media_type=evidence.DOCX) == ()


def test_a_zip_that_is_not_an_office_document_is_not_cleaned() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photo.jpg", phone_jpeg())
    result = clean(out.getvalue(), filename="photos.zip", media_type="application/zip")
    assert not result.cleaned and result.content == out.getvalue() and result.media_type == "application/zip"


# ---------------------------------------------------------------------------------------------------------
# Voice notes, text, unsupported types


def test_voice_note_tags_are_removed_and_the_audio_is_untouched() -> None:
    original = voice_note([b"ARTIST=PC Jane Smith", b"DATE=2024-05-12", b"LOCATION=Lambeth"])
    assert sniff_media_type(original, "", "audio/ogg") == "audio/ogg"
    assert {"person", "time", "location"} <= kinds(inspect(original, filename="", media_type="audio/ogg"))

    result = clean(original, filename="", media_type="audio/ogg")

    assert result.cleaned and NAME not in result.content and b"Lambeth" not in result.content
    pages = ogg_pages(result.content)
    assert [sequence for sequence, _ in pages] == [0, 1, 2, 3]
    assert pages[1][1].startswith(b"OpusTags") and b"libopus" in pages[1][1]
    assert pages[2][1] == AUDIO and pages[3][1] == AUDIO[:100]
    assert inspect(result.content, filename="", media_type="audio/ogg") == ()


def test_a_telegram_voice_note_has_nothing_to_clean() -> None:
    original = voice_note([])
    result = clean(original, filename="", media_type="audio/ogg")
    assert result.cleaned and result.removed == () and result.content == original


def test_plain_text_has_nothing_to_clean() -> None:
    text = b"He said it again on Tuesday.\n"
    result = clean(text, filename="notes.txt", media_type="text/plain")
    assert (
        result.cleaned
        and result.removed == ()
        and result.content == text
        and result.media_type == "text/plain"
    )


@pytest.mark.parametrize(
    ("content", "declared", "expected"),
    [
        (b"BM" + bytes(200), "image/bmp", "image/bmp"),
        (b"{\\rtf1\\ansi Jane Smith}" + bytes(20), "application/rtf", "application/rtf"),
        (bytes(range(256)) * 4, "application/x-unknown", "application/x-unknown"),
    ],
)
def test_types_we_cannot_clean_come_back_unchanged_and_marked_not_cleaned(
    content: bytes, declared: str, expected: str
) -> None:
    result = clean(content, filename="IMG_0001.heic", media_type=declared)
    assert not result.cleaned and result.content == content and result.removed == ()
    assert result.media_type == expected and not can_clean(expected)
    assert inspect(content, filename="IMG_0001.heic", media_type=declared) == ()


# ---------------------------------------------------------------------------------------------------------
# Sniffing, limits, names


def test_magic_bytes_decide_the_type_not_the_sender() -> None:
    png = png_with_text()
    assert sniff_media_type(png, "photo.jpg", "image/jpeg") == "image/png"
    # A JPEG claimed to be text would otherwise pass through as "nothing to clean".
    assert sniff_media_type(phone_jpeg(), "notes.txt", "text/plain") == "image/jpeg"
    result = clean(phone_jpeg(), filename="notes.txt", media_type="text/plain")
    assert result.media_type == "image/jpeg" and result.filename == "photo.jpg" and result.removed
    # A cleanable type claimed for bytes that are not that type is not believed.
    assert sniff_media_type(bytes(range(256)), "x.pdf", "application/pdf") == "application/octet-stream"
    assert sniff_media_type(b"\xff\xfe\x00binary", "x.txt", "text/plain") != "text/plain"
    assert sniff_media_type(png, "x", "image/jpeg; charset=binary") == "image/png"
    # A cleaned PNG named .jpg is renamed so officers' computers open it as what it is.
    assert clean(png, filename="photo.jpg", media_type="image/jpeg").filename == "photo.png"


def test_can_clean_names_the_supported_types() -> None:
    for media_type in ("image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff", "application/pdf"):
        assert can_clean(media_type)
    assert (
        can_clean("audio/ogg")
        and can_clean("text/plain")
        and can_clean(evidence.XLSX)
        and can_clean(evidence.PPTX)
    )
    assert can_clean("IMAGE/JPEG; q=1")
    for media_type in (
        "image/heic",
        "image/avif",
        "video/mp4",
        "video/quicktime",
        "video/webm",
        "audio/mpeg",
    ):
        assert can_clean(media_type)
    for media_type in ("application/vnd.oasis.opendocument.text", "audio/flac"):
        assert can_clean(media_type)
    assert (
        not can_clean("application/zip") and not can_clean("image/bmp") and not can_clean("application/rtf")
    )


def test_files_over_the_limit_are_refused() -> None:
    with pytest.raises(EvidenceError) as raised:
        clean(b"x" * (MAX_BYTES + 1), filename="a.txt", media_type="text/plain")
    assert str(raised.value) == evidence.TOO_LARGE


def test_file_names_are_made_safe_and_camera_names_neutral() -> None:
    text = b"plain words"
    assert clean(text, filename="C:\\Users\\jane\\report\u202egpj.txt", media_type="text/plain").filename == (
        "report gpj.txt"
    )
    assert clean(text, filename="", media_type="text/plain").filename == "evidence.txt"
    found = inspect(png_with_text(), filename="PXL_1234.png", media_type="image/png")
    assert Finding("device", "the file name the camera gave it (PXL_1234)") in found


def test_findings_show_hostile_values_safely_and_briefly() -> None:
    exif = Image.Exif()
    exif[0x013B] = "Jane\u202e" + "x" * 300 + "\x07"
    out = io.BytesIO()
    gradient().save(out, "JPEG", exif=exif)
    (finding,) = inspect(out.getvalue(), filename="", media_type="image/jpeg")
    assert finding.kind == "person" and len(finding.summary) <= MAX_SUMMARY
    assert (
        "\u202e" not in finding.summary and "\x07" not in finding.summary and finding.summary.endswith("…)")
    )


def test_a_re_encoded_jpeg_keeps_its_look_and_roughly_its_file_size() -> None:
    # Why: a 20 MB photo must still fit the 20 MB limit once cleaned; the original's tables are reused.
    out = io.BytesIO()
    photo = Image.effect_noise((400, 300), 40).convert("RGB")
    photo.save(out, "JPEG", quality=80, exif=phone_exif(orientation=1))
    result = clean(out.getvalue(), filename="a.jpg", media_type="image/jpeg")
    assert len(result.content) < 1.1 * len(out.getvalue())
    with Image.open(io.BytesIO(result.content)) as image, Image.open(out) as original:
        assert mean_difference(image, original) < 2


def test_a_form_field_name_is_kept_while_comment_authors_go() -> None:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(100, 100)
    widget = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Widget"),
            NameObject("/FT"): NameObject("/Tx"),
            NameObject("/Rect"): ArrayObject(
                [FloatObject(0), FloatObject(0), FloatObject(50), FloatObject(20)]
            ),
            NameObject("/T"): TextStringObject("collar_number"),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(widget)])
    out = io.BytesIO()
    writer.write(out)
    result = clean(out.getvalue(), filename="form.pdf", media_type="application/pdf")
    field = pypdf.PdfReader(io.BytesIO(result.content)).pages[0]["/Annots"][0].get_object()
    assert field["/T"] == "collar_number"


@pytest.mark.filterwarnings("ignore")  # Pillow warns about the damage it skips; that is expected here
def test_damaged_files_of_every_type_give_a_plain_error_or_a_clean_result() -> None:
    """Promise 5 for evidence: a cut-short or corrupted file never crashes and is never passed on half-clean."""
    rng = random.Random(20240512)
    seeds = [
        phone_jpeg(),
        png_with_text(),
        pdf_with_metadata(),
        docx_with_metadata(),
        voice_note([b"ARTIST=J"]),
    ]
    for seed in seeds:
        for _ in range(25):
            damaged = bytearray(seed)
            if rng.random() < 0.3:
                damaged = damaged[: rng.randrange(len(damaged))]
            else:
                for _ in range(rng.randint(1, 8)):
                    damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            try:
                result = clean(bytes(damaged), filename="x", media_type="")
            except EvidenceError as error:
                assert str(error) in (
                    evidence.DAMAGED,
                    evidence.TOO_MANY_PIXELS,
                    evidence.NOT_CLEANED,
                    evidence.TOO_COMPLEX,
                )
                continue
            if result.cleaned:
                assert inspect(result.content, filename=result.filename, media_type=result.media_type) == ()


def test_a_file_with_more_findings_than_the_cap_says_how_many_more() -> None:
    """Hundreds of comment authors cross the process boundary as at most MAX_FINDINGS, the last a count."""
    many = [Finding("person", f"a name on comments or changes (Person {n})") for n in range(420)]
    listed = tidy(many + many[:10])  # repeats count once
    assert len(listed) == MAX_FINDINGS
    assert listed[:-1] == tuple(many[: MAX_FINDINGS - 1])
    assert listed[-1] == Finding("other", f"and {420 - MAX_FINDINGS + 1} more hidden details")


def test_the_bot_process_loads_no_file_parser() -> None:
    """Threat: a parser of hostile formats in the process that holds the relay key. The bot's modules
    import the evidence package for its findings and refusals only; the parsers load in the worker.
    (`candour run` still serves the desk, whose case-file PDFs load Pillow, in the same process until
    issue 12 gives each door a process of its own.)"""
    modules = ("PIL", "pikepdf", "av", "lxml", "mutagen", "pillow_heif", "bot.evidence.dispatch")
    script = (
        "import sys, bot.application, bot.files, bot.cleaner, bot.evidence_flow\n"
        f"print([m for m in {modules!r} if m in sys.modules])\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
