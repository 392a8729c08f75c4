"""Promise 1 for documents, the places a cleaner's model is easy to miss: Excel's note prefixes, pivot
caches, permissions, parts lists, add-in settings, relative links, XML comments, ODF macros, SVG pictures,
and the generic read-out that names any unknown value in a part with no body content.

Each test builds its file from tests/office_fixtures.py, checks the detail is named before cleaning, and
that it is gone after, by a byte search of every unpacked part (not by the cleaner's own model).
"""

from __future__ import annotations

from lxml import etree

from bot import evidence
from bot.evidence import odf, office_generic, office_xml, packages
from bot.evidence import types as t
from bot.evidence.model import Finding
from tests import office_fixtures as fx
from tests.test_evidence_office import assert_package_whole, left_over, parts, summaries

WEB_EXT = "http://schemas.microsoft.com/office/webextensions/webextension/2010/11"


def edit(content: bytes, changes: dict[str, tuple[str, str]], add: dict[str, str] | None = None) -> bytes:
    """The package with a text replacement made in some parts and some parts added."""
    got = parts(content)
    for name, (old, new) in changes.items():
        text = got[name].decode()
        assert old in text, (name, old)
        got[name] = text.replace(old, new).encode()
    return fx.zipped({**got, **(add or {})})


def attach(content: bytes, rels: str, rid: str, kind: str, target: str) -> bytes:
    """The package with one more internal relationship in `rels`, so the part it names is in use."""
    line = f'<Relationship Id="{rid}" Type="{fx.REL}/{kind}" Target="{target}"/></Relationships>'
    return edit(content, {rels: ("</Relationships>", line)})


def clean_and_check(content: bytes, media_type: str, planted: dict[str, str]) -> tuple[str, dict[str, bytes]]:
    """What inspection said before, and the cleaned parts, after checking no planted value is left."""
    said = summaries(evidence.inspect(content, filename="document", media_type=media_type))
    assert left_over(content, planted) == list(planted), "the fixture should carry the planted values"
    result = evidence.clean(content, filename="document", media_type=media_type)
    assert result.cleaned
    assert evidence.inspect(result.content, filename="document", media_type=media_type) == ()
    assert not left_over(result.content, planted), left_over(result.content, planted)
    return said, parts(result.content)


def test_excel_note_prefix_with_the_author_name_is_removed() -> None:
    """Excel writes "Jane Smith:" in bold before a legacy note; that run is a second copy of the author."""
    name = "Jezebel Smithfield"
    workbook = fx.xlsx({**fx.XLSX_PLANTED, "commentAuthor": name})
    workbook = edit(
        workbook,
        {
            "xl/comments1.xml": (
                "<text><r><t>See this.</t></r></text>",
                f"<text><r><rPr><b/></rPr><t>{name}:</t></r><r><t>See this.</t></r></text>",
            )
        },
    )
    said, got = clean_and_check(workbook, t.XLSX, {"name": name})
    assert f"a name on comments or changes ({name})" in said
    assert b"See this." in got["xl/comments1.xml"]


def test_pivot_refreshed_by_and_permission_editor_go() -> None:
    pivot = (
        fx.XML + '<pivotCacheDefinition xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'refreshedBy="Jezebel Pivot Smithfield" refreshedDate="45123.5" createdVersion="8" recordCount="0">'
        '<cacheSource type="worksheet"><worksheetSource ref="A1:A2" sheet="Rota"/></cacheSource>'
        '<cacheFields count="0"/></pivotCacheDefinition>'
    )
    workbook = edit(fx.xlsx(), {}, {"xl/pivotCache/pivotCacheDefinition1.xml": pivot})
    workbook = attach(
        workbook,
        "xl/_rels/workbook.xml.rels",
        "rP1",
        "pivotCacheDefinition",
        "pivotCache/pivotCacheDefinition1.xml",
    )
    said, got = clean_and_check(workbook, t.XLSX, {"by": "Jezebel Pivot Smithfield", "date": "45123.5"})
    assert "a name on comments or changes (Jezebel Pivot Smithfield)" in said
    assert b"refreshed" not in got["xl/pivotCache/pivotCacheDefinition1.xml"]

    document = edit(
        fx.docx(),
        {
            "word/document.xml": (
                "<w:sectPr>",
                '<w:p><w:permStart w:id="9" w:ed="jsmithfield@met.police.uk"/><w:permEnd w:id="9"/></w:p>'
                "<w:sectPr>",
            )
        },
    )
    said, got = clean_and_check(document, t.DOCX, {"ed": "jsmithfield@met.police.uk"})
    assert "a name on comments or changes (jsmithfield@met.police.uk)" in said
    assert b"permStart" in got["word/document.xml"]


def test_parts_lists_in_app_xml_go_with_the_title_they_repeat() -> None:
    title = fx.OOXML_PLANTED["title"]
    vectors = (
        '<HeadingPairs><vt:vector size="2" baseType="variant"><vt:variant><vt:lpstr>Title</vt:lpstr>'
        "</vt:variant><vt:variant><vt:i4>1</vt:i4></vt:variant></vt:vector></HeadingPairs>"
        f'<TitlesOfParts><vt:vector size="1" baseType="lpstr"><vt:lpstr>{title}</vt:lpstr></vt:vector>'
        "</TitlesOfParts></Properties>"
    )
    document = edit(fx.docx(), {"docProps/app.xml": ("</Properties>", vectors)})
    _, got = clean_and_check(document, t.DOCX, {"title": title})
    assert b"TitlesOfParts" not in got["docProps/app.xml"] and b"HeadingPairs" not in got["docProps/app.xml"]


def test_add_in_settings_are_removed() -> None:
    extension = (
        f'{fx.XML}<we:webextension xmlns:we="{WEB_EXT}" id="{{5A1}}"><we:reference id="wa104381063" '
        'version="1.0.0.0" store="en-US" storeType="OMEX"/><we:properties><we:property name="user" '
        'value="&quot;jsmithfield@met.police.uk&quot;"/></we:properties></we:webextension>'
    )
    for part in ("word/webextensions/webextension1.xml", "xl/webextensions/webextension1.xml"):
        made = fx.docx() if part.startswith("word") else fx.xlsx()
        kind = t.DOCX if part.startswith("word") else t.XLSX
        made = attach(edit(made, {}, {part: extension}), "_rels/.rels", "rW1", "webextension", part)
        said, got = clean_and_check(made, kind, {"user": "jsmithfield@met.police.uk"})
        assert "an add-in's saved settings (can hold names or accounts)" in said
        assert b"wa104381063" in got[part]  # the add-in itself stays


def test_relative_home_and_file_links_become_blank() -> None:
    hyperlink = f"{fx.REL}/hyperlink"
    links = (
        ("rX1", hyperlink, "../../../../jsmithfieldC/Desktop/x.docx", "External"),
        ("rX2", f"{fx.REL}/oleObject", "~/Documents/jsmithfieldD/x.xlsx", "External"),
        ("rX3", hyperlink, "/Users/jsmithfieldE/x.docx", "External"),
        ("rX4", hyperlink, "/home/jsmithfieldF/x.odt", "External"),
        ("rX5", hyperlink, "file:///C:/Users/jsmithfieldG/x.docx", "External"),
        ("rX6", hyperlink, "statements\\jsmithfieldH.docx", "External"),
        ("rX7", hyperlink, "https://www.example.org/public", "External"),
    )
    extra = "".join(fx.relationships(links).split("<Relationships", 1)[1].split(">", 1)[1:])
    used = "".join(f'<w:hyperlink r:id="{rid}"/>' for rid, *_ in links)
    document = edit(
        fx.docx(),
        {
            "word/_rels/document.xml.rels": ("</Relationships>", extra),
            "word/document.xml": ("<w:body>", f"<w:body><w:p>{used}</w:p>"),
        },
    )
    planted = {target: target.split("/")[-2] for _, _, target, _ in links[:5]}
    planted["relative"] = "jsmithfieldH"
    said, got = clean_and_check(document, t.DOCX, planted)
    assert said.count("a folder path on the computer") >= 6
    targets = {rel.get("Target") for rel in etree.fromstring(got["word/_rels/document.xml.rels"])}
    assert "https://www.example.org/public" in targets and "about:blank" in targets
    assert_package_whole(fx.zipped(got))


def test_attached_template_on_a_share_and_excel_external_link_paths_go() -> None:
    share = "file:///\\\\MPS-FS01\\home$\\jsmithfieldT\\Normal.dotm"
    document = fx.docx({**fx.OOXML_PLANTED, "templatePath": share})
    said, got = clean_and_check(document, t.DOCX, {"template": "jsmithfieldT"})
    assert "the template it was made from (file:///" in said
    assert (
        "word/_rels/settings.xml.rels" not in got
        or b"attachedTemplate" not in got["word/_rels/settings.xml.rels"]
    )

    link = (
        f'{fx.XML}<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        f'xmlns:r="{fx.R}"><externalBook r:id="rId1"><sheetNames><sheetName val="Rota"/></sheetNames>'
        "</externalBook></externalLink>"
    )
    rels = fx.relationships(
        (("rId1", f"{fx.REL}/externalLinkPath", "../../jsmithfieldX/Shared/rota.xlsx", "External"),)
    )
    workbook = edit(
        fx.xlsx(),
        {},
        {"xl/externalLinks/externalLink1.xml": link, "xl/externalLinks/_rels/externalLink1.xml.rels": rels},
    )
    workbook = attach(
        workbook, "xl/_rels/workbook.xml.rels", "rE1", "externalLink", "externalLinks/externalLink1.xml"
    )
    said, _ = clean_and_check(workbook, t.XLSX, {"path": "jsmithfieldX"})
    assert "a folder path on the computer (../../jsmithfieldX" in said


def test_xml_comments_and_processing_instructions_go_from_every_part() -> None:
    document = edit(
        fx.docx(),
        {
            "word/document.xml": (
                "<w:body>",
                "<w:body><!-- jsmithfieldK was here --><?jsmith jsmithfieldP?>",
            ),
            "docProps/core.xml": ("<cp:coreProperties", "<!-- saved by jsmithfieldQ --><cp:coreProperties"),
        },
    )
    said, got = clean_and_check(
        document, t.DOCX, {"k": "jsmithfieldK", "p": "jsmithfieldP", "q": "jsmithfieldQ"}
    )
    assert f"{office_generic.NOTE} (" in said
    assert got["word/document.xml"].startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>')
    assert b"<!--" not in b"".join(got.values())


def test_generic_read_out_names_and_removes_an_unknown_attribute_and_element() -> None:
    """A value the model knows nothing of, in a part with no body content, is still named and removed."""
    document = edit(
        fx.docx(),
        {
            "docProps/app.xml": (
                "<Pages>1</Pages>",
                '<Pages plantedOwner="Jezebel App Smithfield">1</Pages>',
            ),
            "word/settings.xml": (
                '<w:defaultTabStop w:val="720"/>',
                '<w:defaultTabStop w:val="720"/><w:futureSetting>Jezebel Settings Smithfield</w:futureSetting>',
            ),
        },
    )
    planted = {"app": "Jezebel App Smithfield", "settings": "Jezebel Settings Smithfield"}
    said, got = clean_and_check(document, t.DOCX, planted)
    assert f"{office_generic.UNKNOWN} (Jezebel App Smithfield)" in said
    assert f"{office_generic.UNKNOWN} (Jezebel Settings Smithfield)" in said
    assert b"defaultTabStop" in got["word/settings.xml"] and b"<Pages>1</Pages>" in got["docProps/app.xml"]
    assert fx.OOXML_PLANTED["customXml"] not in said  # a part removed whole is named once, not per value


def test_word_s_usual_settings_are_not_reported() -> None:
    """The generic read-out is quiet on what Word writes in every document (else every file would alarm)."""
    usual = (
        '<w:zoom w:percent="100"/><w:proofState w:spelling="clean" w:grammar="clean"/>'
        '<w:characterSpacingControl w:val="doNotCompress"/><w:compat><w:compatSetting w:name="compatibilityMode" '
        'w:uri="http://schemas.microsoft.com/office/word" w:val="15"/></w:compat><m:mathPr xmlns:m='
        '"http://schemas.openxmlformats.org/officeDocument/2006/math"><m:mathFont m:val="Cambria Math"/>'
        '<m:brkBinSub m:val="--"/><m:defJc m:val="centerGroup"/></m:mathPr><w:themeFontLang w:val="en-GB"/>'
        '<w:clrSchemeMapping w:bg1="light1" w:t1="dark1" w:followedHyperlink="followedHyperlink"/>'
        '<w:decimalSymbol w:val="."/><w:listSeparator w:val=","/>'
        '<w15:docId w15:val="{8F1B7A2C-4E5D-4C3B-9A1F-2E3D4C5B6A7F}"/>'
    )
    document = edit(fx.docx(), {"word/settings.xml": ('<w:defaultTabStop w:val="720"/>', usual)})
    said = summaries(evidence.inspect(document, filename="document", media_type=t.DOCX))
    assert office_generic.UNKNOWN not in said, said
    got = parts(evidence.clean(document, filename="document", media_type=t.DOCX).content)
    assert b"Cambria Math" in got["word/settings.xml"] and b"compatibilityMode" in got["word/settings.xml"]


def test_structural_values_pass_and_personal_ones_do_not() -> None:
    for value in ("720", "16.0000", "1.0.0.0", "en-GB", "x-none", "{6E3A-11}", ".", "true", "w14:val", ""):
        assert office_generic.structural(value), value
    assert office_generic.structural("http://schemas.microsoft.com/office/word", "compatSetting", "uri")
    assert office_generic.structural("w14 w15 wp14", "document", "Ignorable")
    assert office_generic.structural("Cambria Math", "mathFont", "val")
    for value in (
        "Jane Smith",
        "jane@example.org",
        "C:\\Users\\jane",
        "2024-05-12T03:15:00Z",
        "Cambria Math",
    ):
        assert not office_generic.structural(value), value


def test_odf_basic_and_scripts_are_removed_with_their_manifest_entries_and_events() -> None:
    got = parts(fx.odt())
    manifest = (
        got["META-INF/manifest.xml"]
        .decode()
        .replace(
            "</manifest:manifest>",
            '<manifest:file-entry manifest:full-path="Basic/" manifest:media-type=""/>'
            '<manifest:file-entry manifest:full-path="Basic/Standard/Module1.xml" manifest:media-type="text/xml"/>'
            '<manifest:file-entry manifest:full-path="Scripts/python/tool.py" manifest:media-type=""/>'
            "</manifest:manifest>",
        )
    )
    content = (
        got["content.xml"]
        .decode()
        .replace(
            "<office:body>",
            f'<office:scripts><office:event-listeners><script:event-listener xmlns:script="{odf.SCRIPT}" '
            'script:language="ooo:script" script:event-name="dom:load" xlink:href="vnd.sun.star.script:'
            'Standard.Module1.Main?language=Basic&amp;location=document"/></office:event-listeners>'
            "</office:scripts><office:body>",
        )
    )
    module = (
        f'{fx.XML}<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1" '
        'script:language="StarBasic">Sub Main\n MsgBox "Planted Basic Macro"\nEnd Sub</script:module>'
    )
    made = fx.zipped(
        {
            **got,
            "META-INF/manifest.xml": manifest,
            "content.xml": content,
            "Basic/Standard/Module1.xml": module,
            "Scripts/python/tool.py": "print('Planted Python Script')\n",
        },
        stored=("mimetype",),
    )
    planted = {"basic": "Planted Basic Macro", "python": "Planted Python Script"}
    said, cleaned_parts = clean_and_check(made, t.ODT, planted)
    assert odf.MACROS in said
    assert not [name for name in cleaned_parts if name.lower().startswith(("basic/", "scripts/"))]
    assert b"Basic/" not in cleaned_parts["META-INF/manifest.xml"]
    assert b"vnd.sun.star.script" not in cleaned_parts["content.xml"]
    result = evidence.clean(made, filename="document", media_type=t.ODT)
    assert Finding("other", "macros or scripts (removed)") in result.removed
    assert any("macros and scripts" in line and "removed" in line for line in odf.FORMATS[0].cannot_clean)


def test_an_svg_in_word_media_is_removed_and_named_not_kept_as_text() -> None:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" '
        'inkscape:export-filename="C:\\Users\\jsmithfieldS\\Pictures\\map.png"><metadata><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<dc:creator>Jezebel Svg Smithfield</dc:creator></rdf:RDF></metadata><rect width='4' height='4'/></svg>"
    )
    document = edit(fx.docx(), {}, {"word/media/image9.svg": svg})
    document = attach(document, "word/_rels/document.xml.rels", "rS1", "image", "media/image9.svg")
    result = evidence.clean(document, filename="document", media_type=t.DOCX)
    assert result.cleaned and "word/media/image9.svg" not in parts(result.content)
    assert Finding("other", "a picture Candour cannot check (removed)") in result.removed
    assert not left_over(result.content, {"creator": "Jezebel Svg Smithfield", "path": "jsmithfieldS"})


def test_the_neutral_name_is_defined_once() -> None:
    assert odf.NAME is packages.NAME and office_xml.NAME is packages.NAME
    assert odf.INITIALS is packages.INITIALS and office_xml.INITIALS is packages.INITIALS


def test_a_letter_signed_with_its_author_s_name_keeps_the_signature() -> None:
    """The generic read-out does not count a place twice, so a body copy of the author's name is allowed."""
    name = fx.OOXML_PLANTED["creator"]
    document = edit(fx.docx(), {"word/document.xml": ("Added later.", f"Added later. {name}")})
    result = evidence.clean(document, filename="document", media_type=t.DOCX)
    assert result.cleaned
    got = parts(result.content)
    assert name.encode() in got["word/document.xml"] and name.encode() not in got["docProps/core.xml"]
