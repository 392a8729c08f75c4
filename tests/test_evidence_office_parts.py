"""Office parts known by their role, not their path: properties and custom XML stored under another name,
PowerPoint tags, Excel data connections, parts and links nothing uses, and LibreOffice's Configurations2/.

Each test builds its file from tests/office_fixtures.py, checks the detail is there before cleaning and
gone after, by a byte search of every unpacked part (not by the cleaner's own model).
"""

from __future__ import annotations

import pytest
from lxml import etree

from bot import evidence
from bot.evidence import odf, office
from bot.evidence import types as t
from bot.evidence.model import Finding
from tests import office_fixtures as fx
from tests.test_evidence_office import assert_package_whole, parts
from tests.test_evidence_office_generic import attach, clean_and_check, edit

NAME, EMAIL = "Jezebel Smithfield", "jsmithfield@met.police.uk"
P = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
UNUSED = Finding("other", "a part of the file nothing uses (removed)")


def moved(content: bytes, old: str, new: str) -> bytes:
    """The package with one part stored under another name, its relationship and content type following."""
    got = parts(content)
    got[new] = got.pop(old)
    for name in ("_rels/.rels", "[Content_Types].xml"):
        got[name] = got[name].replace(old.encode(), new.encode())
    return fx.zipped(got)


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (
            "docProps/core.xml",
            "package/services/metadata/core-properties/4f1c9a2b.psmdcp",
            f"the author's name ({fx.OOXML_PLANTED['creator']})",
        ),
        ("docProps/app.xml", "meta/app1.xml", "the organisation's name (Planted Company Police)"),
        ("docProps/custom.xml", "meta/custom1.xml", "a custom document property (Owner)"),
    ],
    ids=["core-psmdcp", "app", "custom"],
)
def test_properties_stored_under_another_name_are_known_by_their_relationship(
    old: str, new: str, said: str
) -> None:
    """System.IO.Packaging stores the core properties as a .psmdcp; any writer may rename the others."""
    document = moved(fx.docx(), old, new)
    planted = {
        k: v for k, v in fx.OOXML_PLANTED.items() if k in ("creator", "lastModifiedBy", "company", "title")
    }
    if "custom" in old:
        planted = {"owner": "Planted Custom Owner"}
    found, _ = clean_and_check(document, t.DOCX, planted)
    assert said in found


def test_a_custom_xml_part_outside_customxml_is_removed_by_its_relationship() -> None:
    bound = f'{fx.XML}<root xmlns="urn:x"><reporter>{NAME}</reporter></root>'
    document = edit(fx.docx(), {}, {"data/bound.xml": bound})
    document = attach(document, "word/_rels/document.xml.rels", "rC1", "customXml", "../data/bound.xml")
    said, got = clean_and_check(document, t.DOCX, {"name": NAME})
    assert "custom data parts (can hold names or ids)" in said
    assert "data/bound.xml" not in got
    assert_package_whole(fx.zipped(got))


def test_powerpoint_add_in_tags_are_read_strictly() -> None:
    tags = f'{fx.XML}<p:tagLst {P}><p:tag name="AUTHOR" val="{NAME}"/><p:tag name="EMAIL" val="{EMAIL}"/></p:tagLst>'
    deck = edit(fx.pptx(), {}, {"ppt/tags/tag1.xml": tags})
    deck = attach(deck, "ppt/slides/_rels/slide1.xml.rels", "rT1", "tags", "../tags/tag1.xml")
    said, got = clean_and_check(deck, t.PPTX, {"name": NAME, "email": EMAIL})
    assert f"a detail Candour does not recognise ({NAME})" in said
    assert b"tagLst" in got["ppt/tags/tag1.xml"]


def test_excel_connection_strings_naming_a_user_and_server_go() -> None:
    connections = (
        f'{fx.XML}<connections xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<connection id="1" name="q" type="1"><dbPr connection="DSN=x;UID={EMAIL};Data Source=mps-sql07;" '
        'command="select"/></connection></connections>'
    )
    workbook = edit(fx.xlsx(), {}, {"xl/connections.xml": connections})
    workbook = attach(workbook, "xl/_rels/workbook.xml.rels", "rD1", "connections", "connections.xml")
    said, got = clean_and_check(workbook, t.XLSX, {"email": EMAIL, "server": "mps-sql07"})
    assert "a database connection naming a user or server (DSN=x;UID=" in said
    assert b'<dbPr connection=""' in got["xl/connections.xml"]


def test_parts_nothing_uses_are_removed_and_named() -> None:
    body = f"<w:body><w:p><w:r><w:t>{NAME}</w:t></w:r></w:p></w:body>"
    orphan = f'{fx.XML}<w:document xmlns:w="{fx.W}">{body}</w:document>'
    document = edit(fx.docx(), {}, {"word/orphan.xml": orphan, "[trash]/0001.dat": EMAIL})
    said, got = clean_and_check(document, t.DOCX, {"name": NAME, "email": EMAIL})
    assert "a part of the file nothing uses" in said
    assert {"word/orphan.xml", "[trash]/0001.dat"}.isdisjoint(got)
    assert fx.BODY.encode() in got["word/document.xml"]
    assert UNUSED in evidence.clean(document, filename="document", media_type=t.DOCX).removed
    assert_package_whole(fx.zipped(got))


def test_an_external_link_nothing_uses_goes_and_a_used_one_stays() -> None:
    links = (
        f'<Relationship Id="rM1" Type="{fx.REL}/hyperlink" Target="mailto:{EMAIL}" TargetMode="External"/>'
        f'<Relationship Id="rM2" Type="{fx.REL}/hyperlink" Target="https://www.example.org/used" '
        'TargetMode="External"/></Relationships>'
    )
    document = edit(
        fx.docx(),
        {
            "word/_rels/document.xml.rels": ("</Relationships>", links),
            "word/document.xml": ("<w:body>", '<w:body><w:p><w:hyperlink r:id="rM2"/></w:p>'),
        },
    )
    said, got = clean_and_check(document, t.DOCX, {"email": EMAIL})
    assert f"a link nothing in the file uses (mailto:{EMAIL})" in said
    targets = {rel.get("Target") for rel in etree.fromstring(got["word/_rels/document.xml.rels"])}
    assert "https://www.example.org/used" in targets
    assert any("links the document uses" in line for line in office.WordDocument.cannot_clean)


def test_typed_names_office_keeps_are_declared() -> None:
    """Custom show, notes page and defined names are content the author typed: kept, and said so."""
    said = "\n".join(office.PowerPointPresentation.cannot_clean)
    assert "custom slide shows, notes pages and named cells or ranges" in said


def test_libreoffice_configurations2_is_removed_whole() -> None:
    manifest_entry = (
        '<manifest:file-entry manifest:full-path="Configurations2/accelerator/current.xml" '
        'manifest:media-type=""/></manifest:manifest>'
    )
    made = edit(
        fx.odt(),
        {"META-INF/manifest.xml": ("</manifest:manifest>", manifest_entry)},
        {"Configurations2/accelerator/current.xml": f'{fx.XML}<a xmlns="urn:x">{NAME}</a>'},
    )
    said, got = clean_and_check(made, t.ODT, {"name": NAME})
    assert odf.UI_SETTINGS in said
    assert not [name for name in got if name.lower().startswith("configurations2")]
    assert b"Configurations2" not in got["META-INF/manifest.xml"]
    result = evidence.clean(made, filename="document", media_type=t.ODT)
    assert Finding("other", f"{odf.UI_SETTINGS} (removed)") in result.removed
