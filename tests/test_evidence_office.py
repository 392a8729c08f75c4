"""Promise 1 for documents: Office (DOCX, XLSX, PPTX) and OpenDocument (ODT, ODS) files keep their body and
lose every identifying detail, including those inside the pictures, PDFs and files embedded in them.

Every fixture is built in tests/office_fixtures.py with a distinct value planted in each place these
formats hide one (the issue's defects among them). Each test checks the detail is named before
(`inspect`), and gone after by three witnesses that are not the cleaner: lxml reading the result's XML,
a byte search of every unpacked part (and of parts inside embedded packages), and exiftool.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from bot import evidence
from bot.evidence import limits, odf, office, packages, registry, xml_safe
from bot.evidence import types as t
from bot.evidence.model import EvidenceError, Finding
from tests import office_fixtures as fx

EXIFTOOL = "/usr/bin/exiftool"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


# ---------------------------------------------------------------------------------------------------------
# Witnesses


def parts(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None
        return {info.filename: archive.read(info) for info in archive.infolist()}


def every_piece(content: bytes) -> list[bytes]:
    """The file, every unpacked part, and the parts of packages inside it."""
    pieces = [content]
    if content.startswith(b"PK\x03\x04"):
        for data in parts(content).values():
            pieces.extend(every_piece(data))
    return pieces


def forms(value: str) -> set[bytes]:
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return {value.encode(), value.encode("utf-16-le"), escaped.encode()}


def left_over(content: bytes, planted: dict[str, str]) -> list[str]:
    """Planted values still found anywhere in the file's bytes, unpacked."""
    pieces = every_piece(content)
    return [
        key
        for key, value in planted.items()
        if any(form in piece for piece in pieces for form in forms(value))
    ]


def exiftool_output(content: bytes, directory: Path) -> str:
    """exiftool's full read-out of the file and of each of its parts unpacked on disk."""
    if not Path(EXIFTOOL).exists():
        if os.environ.get("CANDOUR_REQUIRE_EXIFTOOL"):
            pytest.fail(
                "exiftool is required (CANDOUR_REQUIRE_EXIFTOOL is set) but /usr/bin/exiftool is missing"
            )
        pytest.skip("exiftool is not installed at /usr/bin/exiftool: the external witness cannot run")
    directory.mkdir()
    (directory / "document.bin").write_bytes(content)
    for index, (name, data) in enumerate(parts(content).items()):
        if data:
            (directory / f"part{index}{Path(name).suffix}").write_bytes(data)
    run = subprocess.run(
        [EXIFTOOL, "-j", "-a", "-u", "-G1", "-ee", "-r", "-ext", "*", str(directory)],
        capture_output=True,
        check=False,
    )
    assert run.stdout.strip().startswith(b"["), run.stderr[:500]
    json.loads(run.stdout)
    return run.stdout.decode("utf-8", "replace")


def assert_exiftool_sees_none(content: bytes, planted: dict[str, str], directory: Path) -> None:
    output = exiftool_output(content, directory)
    seen = [key for key, value in planted.items() if value in output or json.dumps(value)[1:-1] in output]
    assert not seen, seen
    assert '"GPS:GPSLatitude"' not in output and "GPSPosition" not in output


def assert_package_whole(content: bytes) -> None:
    """What Word and Excel check before asking to repair: every listed part exists, every relationship to a
    part lands on one, and every relationship id a part uses is defined."""
    files = {name.lower() for name in parts(content)}
    got = parts(content)
    types = etree.fromstring(got["[Content_Types].xml"])
    for override in types:
        if override.get("PartName"):
            assert override.get("PartName").lstrip("/").lower() in files, override.get("PartName")
    for name, data in got.items():
        if not name.endswith(".rels"):
            continue
        source = packages.rels_source(name.lower())
        ids = set()
        for relationship in etree.fromstring(data):
            ids.add(relationship.get("Id"))
            if relationship.get("TargetMode") != "External":
                target = packages.joined(packages.folder(source), relationship.get("Target"))
                assert target in files, (name, relationship.get("Target"))
        if source:
            used = {
                value
                for element in etree.fromstring(got[next(n for n in got if n.lower() == source)]).iter()
                if isinstance(element.tag, str)
                for attribute, value in element.attrib.items()
                if attribute.startswith(f"{{{REL_NS}}}")
            }
            assert used <= ids, (name, used - ids)


def cleaned(content: bytes, media_type: str) -> evidence.Cleaned:
    before = evidence.inspect(content, filename="document", media_type=media_type)
    assert before, "the fixture should carry findings"
    result = evidence.clean(content, filename="document", media_type=media_type)
    assert result.cleaned and result.media_type == media_type
    assert evidence.inspect(result.content, filename="document", media_type=media_type) == ()
    return result


def summaries(findings: tuple[Finding, ...]) -> str:
    return "\n".join(finding.summary for finding in findings)


# ---------------------------------------------------------------------------------------------------------
# Word


def test_docx_issue_defects_are_named_before_cleaning() -> None:
    """The issue's DOCX: a TIFF with GPS, a PDF with its author, people.xml with an e-mail, comment
    authors and initials, title, description and dates."""
    found = evidence.inspect(fx.docx(), filename="document", media_type=t.DOCX)
    said = summaries(found)
    p = fx.OOXML_PLANTED
    assert Finding("location", "in a picture inside: where the photo was taken (51.50740, -0.12750)") in found
    assert f"the photographer's name ({p['tiffArtist']})" in said
    if t.PDF in registry.FORMATS:
        assert f"in a file inside: the author's name ({p['pdfAuthor']})" in said
    assert f"an account on comments or changes (S::{p['email']}" in said
    assert f"a name on comments or changes ({p['reviewer']})" in said
    assert f"a name on comments or changes ({p['commenter']})" in said
    assert "initials on comments or changes (PCS)" in said
    assert f"a name on comments or changes ({p['editor']})" in said
    assert f"the title ({p['title']})" in said and f"the description ({p['description']})" in said
    assert (
        "when it was created (2024-05-12 03:15)" in said
        and "when it was last saved (2024-05-13 04:16)" in said
    )
    assert "when comments or changes were made" in said
    for what in (
        "editing-session identifiers",
        "printer settings (can name the printer)",
        "custom data parts (can hold names or ids)",
        "an embedded object Candour cannot check",
        "the template it was made from (file:///C:\\Users\\jplanted",
        f"the organisation's name ({p['company']})",
        f"the program that made it ({p['application']})",
        "a custom document property (Owner)",
    ):
        assert what in said, what


def test_docx_cleaned_leaves_no_planted_value_and_keeps_the_body(tmp_path: Path) -> None:
    original = fx.docx()
    result = cleaned(original, t.DOCX)
    got = parts(result.content)

    assert not left_over(result.content, fx.OOXML_PLANTED), left_over(result.content, fx.OOXML_PLANTED)
    assert fx.BODY.encode() in got["word/document.xml"] and b"Added later." in got["word/document.xml"]
    for gone in (
        "docProps/custom.xml",
        "word/people.xml",
        "word/embeddings/oleObject1.bin",
        "word/printerSettings/printerSettings1.bin",
        "customXml/item1.xml",
        "customXml/itemProps1.xml",
    ):
        assert gone not in got, gone
    assert Finding("other", "an embedded object Candour cannot check (removed)") in result.removed
    assert_package_whole(result.content)

    core = etree.fromstring(got["docProps/core.xml"])
    assert len(core) == 0
    app = etree.fromstring(got["docProps/app.xml"])
    assert {xml_safe.local(child.tag) for child in app} == {"Pages", "DocSecurity"}
    w = f"{{{fx.W}}}"
    comment = etree.fromstring(got["word/comments.xml"]).find(f"{w}comment")
    assert (comment.get(f"{w}author"), comment.get(f"{w}initials"), comment.get(f"{w}date")) == (
        "Author",
        "A",
        None,
    )
    for name in ("word/document.xml", "word/settings.xml"):
        for element in etree.fromstring(got[name]).iter():
            assert not [a for a in element.attrib if xml_safe.local(a).startswith("rsid") or a == f"{w}date"]
            assert xml_safe.local(element.tag) not in ("rsids", "attachedTemplate", "docId")

    # The embedded TIFF is cleaned by the image format; the PDF by the PDF format, or removed and named.
    assert fx.OOXML_PLANTED["tiffArtist"].encode() not in got["word/media/image1.tiff"]
    assert evidence.inspect(got["word/media/image1.tiff"], filename="document", media_type=t.TIFF) == ()
    if "word/embeddings/report.pdf" in got:
        assert (
            evidence.inspect(got["word/embeddings/report.pdf"], filename="document", media_type=t.PDF) == ()
        )
    else:
        assert any("(removed)" in finding.summary for finding in result.removed)

    assert all(
        info.date_time == (1980, 1, 1, 0, 0, 0)
        for info in zipfile.ZipFile(io.BytesIO(result.content)).infolist()
    )
    assert_exiftool_sees_none(result.content, fx.OOXML_PLANTED, tmp_path / "exif")


def test_exiftool_sees_the_planted_values_in_the_original(tmp_path: Path) -> None:
    """The external witness is able to see what it is asked to miss afterwards (else its silence means nothing)."""
    output = exiftool_output(fx.docx(), tmp_path / "exif")
    assert fx.OOXML_PLANTED["creator"] in output and fx.OOXML_PLANTED["tiffArtist"] in output
    assert "GPSLatitude" in output
    output = exiftool_output(fx.odt(), tmp_path / "odf")
    assert fx.ODF_PLANTED["initialCreator"] in output and fx.ODF_PLANTED["photoArtist"] in output


def test_cleaning_is_deterministic_and_parts_not_needing_a_change_stay_byte_for_byte() -> None:
    original = fx.xlsx()
    first = evidence.clean(original, filename="document", media_type=t.XLSX).content
    second = evidence.clean(original, filename="document", media_type=t.XLSX).content
    assert first == second
    before, after = parts(original), parts(first)
    assert after["xl/worksheets/sheet1.xml"] == before["xl/worksheets/sheet1.xml"]
    assert after["xl/worksheets/_rels/sheet1.xml.rels"] == before["xl/worksheets/_rels/sheet1.xml.rels"]
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}


# ---------------------------------------------------------------------------------------------------------
# Excel and PowerPoint


def test_xlsx_absolute_onedrive_path_and_comment_people_go(tmp_path: Path) -> None:
    original = fx.xlsx()
    said = summaries(evidence.inspect(original, filename="document", media_type=t.XLSX))
    assert "a folder path on the computer (C:\\Users\\jsmith\\OneDrive - Example Police" in said
    assert f"a name on comments or changes ({fx.XLSX_PLANTED['commentAuthor']})" in said
    assert f"a name on comments or changes ({fx.XLSX_PLANTED['person']})" in said
    assert f"a user's name ({fx.XLSX_PLANTED['sharedBy']})" in said

    result = cleaned(original, t.XLSX)
    got = parts(result.content)
    planted = {**fx.OOXML_PLANTED, **fx.XLSX_PLANTED}
    planted = {key: value for key, value in planted.items() if key not in ("tiffArtist", "pdfAuthor", "ole")}
    assert not left_over(result.content, planted), left_over(result.content, planted)
    assert b"jsmith" not in b"".join(got.values())
    workbook = etree.fromstring(got["xl/workbook.xml"])
    names = {xml_safe.local(element.tag) for element in workbook.iter()}
    assert "absPath" not in names and "AlternateContent" not in names and "sheet" in names
    person = next(etree.fromstring(got["xl/persons/person.xml"]).iter("{*}person"))
    assert (person.get("displayName"), person.get("userId")) == ("Author", "Author")
    assert fx.BODY.encode() in got["xl/worksheets/sheet1.xml"]
    assert_package_whole(result.content)
    assert_exiftool_sees_none(result.content, planted, tmp_path / "exif")


def test_pptx_comment_authors_initials_and_dates_go(tmp_path: Path) -> None:
    original = fx.pptx()
    said = summaries(evidence.inspect(original, filename="document", media_type=t.PPTX))
    assert f"a name on comments or changes ({fx.PPTX_PLANTED['cmAuthor']})" in said
    assert f"an account on comments or changes ({fx.PPTX_PLANTED['modernEmail']})" in said
    assert "initials on comments or changes (PSC)" in said

    result = cleaned(original, t.PPTX)
    got = parts(result.content)
    planted = {
        **fx.PPTX_PLANTED,
        "creator": fx.OOXML_PLANTED["creator"],
        "thumb": fx.OOXML_PLANTED["thumbArtist"],
    }
    assert not left_over(result.content, planted)
    author = next(etree.fromstring(got["ppt/commentAuthors.xml"]).iter("{*}cmAuthor"))
    assert (author.get("name"), author.get("initials")) == ("Author", "A")
    modern = next(etree.fromstring(got["ppt/authors.xml"]).iter("{*}author"))
    assert (modern.get("name"), modern.get("userId"), modern.get("providerId")) == (
        "Author",
        "Author",
        "None",
    )
    assert next(etree.fromstring(got["ppt/comments/comment1.xml"]).iter("{*}cm")).get("dt") is None
    assert got["ppt/slides/slide1.xml"] == parts(original)["ppt/slides/slide1.xml"]
    assert_package_whole(result.content)
    assert_exiftool_sees_none(result.content, planted, tmp_path / "exif")


def test_a_document_with_only_properties_cleans_and_a_second_clean_changes_nothing() -> None:
    """A DOCX with nothing but properties (no settings, no comments) cleans, and a second clean finds nothing."""
    document = fx.zipped(
        {
            "[Content_Types].xml": fx.content_types(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                "/word/document.xml",
            ),
            "_rels/.rels": fx.relationships((("rId1", f"{fx.REL}/officeDocument", "word/document.xml"),)),
            "word/document.xml": f'{fx.XML}<w:document xmlns:w="{fx.W}"><w:body><w:p><w:r><w:t>{fx.BODY}</w:t>'
            "</w:r></w:p></w:body></w:document>",
            "docProps/core.xml": fx.core_xml(),
        }
    )
    result = evidence.clean(document, filename="document", media_type=t.DOCX)
    assert result.cleaned and fx.BODY.encode() in parts(result.content)["word/document.xml"]
    again = evidence.clean(result.content, filename="document", media_type=t.DOCX)
    assert again.removed == () and again.content == result.content


def test_macros_unknown_pictures_and_local_links_go_and_an_embedded_workbook_is_cleaned(
    tmp_path: Path,
) -> None:
    original = fx.docm_with_extras()
    said = summaries(evidence.inspect(original, filename="document", media_type=t.DOCM))
    assert "macros Candour cannot check" in said and "a picture Candour cannot check" in said
    assert "a folder path on the computer (file:///C:/Users/jlinked" in said
    assert f"in a file inside: the author's name ({fx.OOXML_PLANTED['creator']})" in said
    assert "in a file inside: a folder path on the computer (C:\\Users\\jsmith" in said

    result = cleaned(original, t.DOCM)
    got = parts(result.content)
    assert {"word/vbaProject.bin", "word/_rels/vbaProject.bin.rels", "word/media/image1.emf"}.isdisjoint(got)
    assert Finding("other", "macros Candour cannot check (removed)") in result.removed
    assert Finding("other", "a picture Candour cannot check (removed)") in result.removed
    relationships = etree.fromstring(got["word/_rels/document.xml.rels"])
    assert {rel.get("Target") for rel in relationships} == {
        "about:blank",
        "embeddings/Microsoft_Excel_Worksheet.xlsx",
    }
    embedded = got["word/embeddings/Microsoft_Excel_Worksheet.xlsx"]
    assert evidence.inspect(embedded, filename="document", media_type=t.XLSX) == ()
    assert fx.BODY.encode() in got["word/document.xml"] and b"my statement" in got["word/document.xml"]
    planted = {**fx.EXTRAS_PLANTED, **fx.XLSX_PLANTED, "company": fx.OOXML_PLANTED["company"]}
    assert not left_over(result.content, planted), left_over(result.content, planted)
    assert_package_whole(result.content)
    assert_exiftool_sees_none(result.content, planted, tmp_path / "exif")


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("make", [fx.docx, fx.odt], ids=["docx", "odt"])
def test_damaged_documents_give_a_plain_error_or_a_clean_result(make) -> None:
    """Promise 5: a cut-short or corrupted document never crashes and is never passed on half-clean."""
    import random

    rng = random.Random(20240512)
    seed = make()
    media_type = evidence.sniff_media_type(seed, "", None)
    for _ in range(20):
        damaged = bytearray(seed)
        if rng.random() < 0.3:
            damaged = damaged[: rng.randrange(len(damaged))]
        else:
            for _ in range(rng.randint(1, 8)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            result = evidence.clean(bytes(damaged), filename="document", media_type=media_type)
        except EvidenceError as error:
            assert str(error) in (evidence.DAMAGED, evidence.NOT_CLEANED, evidence.TOO_COMPLEX)
            continue
        if result.cleaned:
            assert evidence.inspect(result.content, filename="document", media_type=result.media_type) == ()


# ---------------------------------------------------------------------------------------------------------
# OpenDocument


def test_odt_meta_printer_annotations_changes_pictures_and_embedded_object_go(tmp_path: Path) -> None:
    original = fx.odt()
    said = summaries(evidence.inspect(original, filename="document", media_type=t.ODT))
    p = fx.ODF_PLANTED
    for what in (
        f"the author's name ({p['initialCreator']})",
        f"who last saved it ({p['creator']})",
        f"who printed it ({p['printedBy']})",
        f"the printer's name ({p['printerName']})",
        f"a name on comments or changes ({p['annotator']})",
        f"a name on comments or changes ({p['changer']})",
        "initials on comments or changes (POA)",
        f"a folder path on the computer ({p['linkPath']})",
        f"the program that made it ({p['generator']})",
        f"who last saved it ({p['objectCreator']})",  # the embedded chart's own meta.xml
        "in a picture inside: where the photo was taken",
    ):
        assert what in said, what

    result = cleaned(original, t.ODT)
    got = parts(result.content)
    assert not left_over(result.content, p), left_over(result.content, p)
    assert fx.BODY.encode() in got["content.xml"] and b"Added later." in got["content.xml"]
    assert next(iter(got)) == "mimetype"
    with zipfile.ZipFile(io.BytesIO(result.content)) as archive:
        assert archive.infolist()[0].compress_type == zipfile.ZIP_STORED
    assert result.content[30:38] == b"mimetype"  # readers find the type at a fixed offset
    assert "layout-cache" not in got and "ObjectReplacements/Object 1" not in got
    manifest = etree.fromstring(got["META-INF/manifest.xml"])
    listed = {entry.get(f"{{{odf.MANIFEST}}}full-path") for entry in manifest}
    assert listed - {"/", "Object 1/"} <= set(got), listed - set(got)
    meta = etree.fromstring(got["meta.xml"])
    assert [xml_safe.local(element.tag) for element in meta.iter()][-1] == "document-statistic"
    change = next(etree.fromstring(got["content.xml"]).iter(f"{{{odf.DC}}}date"))
    assert change.text == odf.NEUTRAL_DATE  # a tracked change must keep a date: a neutral one
    assert "Thumbnails/thumbnail.png" not in got or (
        evidence.inspect(got["Thumbnails/thumbnail.png"], filename="document", media_type=t.PNG) == ()
    )
    assert_exiftool_sees_none(result.content, p, tmp_path / "exif")


def test_ods_meta_printer_and_tracked_cell_change_go(tmp_path: Path) -> None:
    original = fx.ods()
    result = cleaned(original, t.ODS)
    planted = {key: value for key, value in fx.ODF_PLANTED.items() if key not in ("annotator", "annotated")}
    assert not left_over(result.content, planted)
    assert fx.BODY.encode() in parts(result.content)["content.xml"]
    assert_exiftool_sees_none(result.content, planted, tmp_path / "exif")


def test_password_protected_odf_is_returned_as_not_cleaned() -> None:
    manifest = (
        f'{fx.XML}<manifest:manifest xmlns:manifest="{odf.MANIFEST}"><manifest:file-entry manifest:full-path='
        '"content.xml" manifest:media-type="text/xml"><manifest:encryption-data manifest:checksum="x"/>'
        "</manifest:file-entry></manifest:manifest>"
    )
    locked = fx.zipped(
        {"mimetype": t.ODT, "content.xml": b"\x93\x11encrypted", "META-INF/manifest.xml": manifest},
        stored=("mimetype",),
    )
    result = evidence.clean(locked, filename="document", media_type=t.ODT)
    assert not result.cleaned and result.content == locked


# ---------------------------------------------------------------------------------------------------------
# Hostile packages


@pytest.mark.parametrize("declared_small", [False, True], ids=["declared", "lying-about-its-size"])
def test_a_zip_bomb_inside_an_office_file_is_refused_quickly(declared_small: bool) -> None:
    bomb = fx.zip_bomb_docx(declared_small)
    assert len(bomb) < limits.MAX_BYTES and evidence.sniff_media_type(bomb, "", None) == t.DOCX
    started = time.monotonic()
    for step in (evidence.inspect, evidence.clean):
        with pytest.raises(EvidenceError) as refused:
            step(bomb, filename="document", media_type=t.DOCX)
        assert str(refused.value) == evidence.TOO_COMPLEX
    assert time.monotonic() - started < 10


def test_too_many_entries_are_refused() -> None:
    many = {f"word/media/p{index}.bin": b"" for index in range(limits.MAX_ZIP_ENTRIES + 1)}
    with pytest.raises(EvidenceError) as refused:
        packages.read(fx.zipped(many))
    assert str(refused.value) == evidence.TOO_COMPLEX


def test_a_part_with_a_doctype_is_refused_as_unreadable() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b'<cp:coreProperties xmlns:cp="x"><title>&lol2;</title></cp:coreProperties>'
    )
    document = fx.docx()
    swapped = fx.zipped({**parts(document), "docProps/core.xml": laughs})
    for step in (evidence.inspect, evidence.clean):
        with pytest.raises(EvidenceError) as refused:
            step(swapped, filename="document", media_type=t.DOCX)
        assert str(refused.value) == evidence.DAMAGED
    with pytest.raises(EvidenceError):
        xml_safe.parse(b"<a>" + b"x" * (limits.MAX_XML_BYTES + 1) + b"</a>")


def test_duplicate_part_names_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("docProps/core.xml", fx.core_xml())
        archive.writestr("docProps/Core.xml", "<x/>")
    with pytest.raises(EvidenceError):
        packages.read(out.getvalue())


def test_streams_give_every_part_unpacked() -> None:
    document = fx.docx()
    pieces = list(office.FORMATS[0].streams(document))
    assert len(pieces) == len(parts(document)) and fx.BODY.encode() in b"".join(pieces)


def test_formats_cover_every_office_and_odf_type() -> None:
    covered = {media_type for fmt in (*office.FORMATS, *odf.FORMATS) for media_type in fmt.media_types}
    assert covered == set(t.OOXML_TYPES) | set(t.ODF_TYPES)
    assert all(fmt.body_text and fmt.cannot_clean for fmt in (*office.FORMATS, *odf.FORMATS))
