"""Office Open XML: DOCX (comments, people, tracked changes, a template path, an embedded TIFF and an
embedded PDF), XLSX (absPath, comments, persons) and PPTX (comment authors), all with core, app and custom
document properties."""

from __future__ import annotations

import io
import zipfile
from html import escape

from bot.evidence import types as t
from tests.evidence_corpus import values as v
from tests.evidence_corpus.images import build_jpeg, build_tiff
from tests.evidence_corpus.pdf import build_pdf
from tests.evidence_corpus.plants import BYTES, Built, Fixture, Plant, Workshop

HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
PKG = "http://schemas.openxmlformats.org/package/2006"
DOC = "http://schemas.openxmlformats.org/officeDocument/2006"
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W15 = "http://schemas.microsoft.com/office/word/2012/wordml"
R = f"{DOC}/relationships"
CORE_TYPE = "application/vnd.openxmlformats-package.core-properties+xml"
APP_TYPE = "application/vnd.openxmlformats-officedocument.extended-properties+xml"
CUSTOM_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"


def x(value: str) -> str:
    """Text escaped for XML."""
    return escape(value, quote=True)


def content_types(overrides: dict[str, str], defaults: dict[str, str] | None = None) -> str:
    """[Content_Types].xml for the parts given."""
    kinds = {
        "rels": "application/vnd.openxmlformats-package.relationships+xml",
        "xml": "application/xml",
        **(defaults or {}),
    }
    body = "".join(f'<Default Extension="{ext}" ContentType="{kind}"/>' for ext, kind in kinds.items())
    body += "".join(
        f'<Override PartName="/{part}" ContentType="{kind}"/>' for part, kind in overrides.items()
    )
    return f'{HEAD}<Types xmlns="{PKG}/content-types">{body}</Types>'


def relationships(rels: list[tuple[str, str, str]], external: tuple[str, ...] = ()) -> str:
    """A .rels part: (id, type, target); ids in `external` point outside the package."""
    body = "".join(
        f'<Relationship Id="{rid}" Type="{kind}" Target="{x(target)}"'
        + (' TargetMode="External"' if rid in external else "")
        + "/>"
        for rid, kind, target in rels
    )
    return f'{HEAD}<Relationships xmlns="{PKG}/relationships">{body}</Relationships>'


def root_rels(main: str) -> str:
    return relationships(
        [
            ("rId1", f"{R}/officeDocument", main),
            ("rId2", f"{PKG}/relationships/metadata/core-properties", "docProps/core.xml"),
            ("rId3", f"{R}/extended-properties", "docProps/app.xml"),
            ("rId4", f"{R}/custom-properties", "docProps/custom.xml"),
        ]
    )


def core() -> str:
    return (
        f'{HEAD}<cp:coreProperties xmlns:cp="{PKG}/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{x(v.OFFICE_TITLE)}</dc:title><dc:subject>{x(v.OFFICE_SUBJECT)}</dc:subject>"
        f"<dc:creator>{x(v.OFFICE_CREATOR)}</dc:creator><cp:keywords>{x(v.OFFICE_KEYWORDS)}</cp:keywords>"
        f"<dc:description>{x(v.OFFICE_DESCRIPTION)}</dc:description>"
        f"<cp:lastModifiedBy>{x(v.OFFICE_MODIFIED_BY)}</cp:lastModifiedBy>"
        f"<cp:category>{x(v.OFFICE_CATEGORY)}</cp:category>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{v.OFFICE_CREATED}</dcterms:created>'
        "</cp:coreProperties>"
    )


def app() -> str:
    return (
        f'{HEAD}<Properties xmlns="{DOC}/extended-properties">'
        f"<Template>{x(v.OFFICE_TEMPLATE)}</Template><Application>Microsoft Office Word</Application>"
        f"<Manager>{x(v.OFFICE_MANAGER)}</Manager><Company>{x(v.OFFICE_COMPANY)}</Company>"
        f"<HyperlinkBase>{x(v.OFFICE_HYPERLINK_BASE)}</HyperlinkBase></Properties>"
    )


def custom() -> str:
    return (
        f'{HEAD}<Properties xmlns="{DOC}/custom-properties" xmlns:vt="{DOC}/docPropsVTypes">'
        '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Owner">'
        f"<vt:lpwstr>{x(v.OFFICE_CUSTOM)}</vt:lpwstr></property></Properties>"
    )


PROPERTY_PLANTS = (
    Plant("core dc:title", v.OFFICE_TITLE),
    Plant("core dc:subject", v.OFFICE_SUBJECT),
    Plant("core dc:creator", v.OFFICE_CREATOR),
    Plant("core cp:keywords", v.OFFICE_KEYWORDS),
    Plant("core dc:description", v.OFFICE_DESCRIPTION),
    Plant("core cp:lastModifiedBy", v.OFFICE_MODIFIED_BY),
    Plant("core cp:category", v.OFFICE_CATEGORY),
    Plant("core dcterms:created", v.OFFICE_CREATED, witness=BYTES),
    Plant("app Template (a Windows user path)", v.OFFICE_TEMPLATE),
    Plant("app Manager", v.OFFICE_MANAGER),
    Plant("app Company", v.OFFICE_COMPANY),
    Plant("app HyperlinkBase", v.OFFICE_HYPERLINK_BASE),
    Plant("custom property Owner", v.OFFICE_CUSTOM),
)
PROPERTY_TYPES = {
    "docProps/core.xml": CORE_TYPE,
    "docProps/app.xml": APP_TYPE,
    "docProps/custom.xml": CUSTOM_TYPE,
}


def printer_settings() -> bytes:
    """A printer-settings part: a Windows DEVMODE, whose first field is the printer's name in UTF-16."""
    name = v.PRINTER.encode("utf-16-le")[:64]
    return name + bytes(64 - len(name)) + bytes.fromhex("0104000001dc00") + bytes(150)


def ole_package() -> bytes:
    """An embedded OLE object Candour cannot open: a compound file naming the file it was made from."""
    return bytes.fromhex("d0cf11e0a1b11ae1") + bytes(24) + v.OLE_PATH.encode("utf-16-le") + bytes(400)


def package(parts: dict[str, str | bytes], comment: str = "") -> bytes:
    """The zip of an Office document, parts in order, deflated, with an archive comment if given."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.comment = comment.encode()
        for name, body in parts.items():
            archive.writestr(zipfile.ZipInfo(name, (2019, 7, 23, 4, 56, 16)), body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def build_docx(shop: Workshop) -> Built:
    """A Word statement that was commented on, tracked, and had a scan and a PDF put into it."""
    tiff, pdf = build_tiff(shop), build_pdf(shop)
    ns = f'xmlns:w="{W}" xmlns:r="{R}" xmlns:w15="{W15}" xmlns:o="urn:schemas-microsoft-com:office:office"'
    document = (
        f"{HEAD}<w:document {ns}><w:body>"
        '<w:p><w:commentRangeStart w:id="0"/>'
        f"<w:r><w:t>{x(v.DOCUMENT_BODY)}</w:t></w:r>"
        '<w:commentRangeEnd w:id="0"/><w:r><w:commentReference w:id="0"/></w:r></w:p>'
        f'<w:p><w:ins w:id="1" w:author="{x(v.TRACKED_INSERT_AUTHOR)}" w:date="{v.TRACKED_DATE}">'
        "<w:r><w:t>He did it again on Tuesday.</w:t></w:r></w:ins>"
        f'<w:del w:id="2" w:author="{x(v.TRACKED_DELETE_AUTHOR)}" w:date="{v.TRACKED_DATE}">'
        "<w:r><w:delText>I am not sure.</w:delText></w:r></w:del></w:p>"
        '<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" style="width:64pt;height:48pt">'
        '<v:imagedata r:id="rId10"/></v:shape></w:pict></w:r></w:p>'
        '<w:p><w:r><w:object><o:OLEObject Type="Embed" ProgID="AcroExch.Document.DC" ShapeID="_x0000_i1025" '
        'DrawAspect="Icon" ObjectID="_1" r:id="rId11"/></w:object></w:r></w:p>'
        "</w:body></w:document>"
    )
    comments = (
        f'{HEAD}<w:comments {ns}><w:comment w:id="0" w:author="{x(v.COMMENT_AUTHOR)}" '
        f'w:initials="{v.COMMENT_INITIALS}" w:date="{v.TRACKED_DATE}">'
        f"<w:p><w:r><w:t>{x(v.COMMENT_TEXT)}</w:t></w:r></w:p></w:comment></w:comments>"
    )
    people = (
        f'{HEAD}<w15:people {ns}><w15:person w15:author="{x(v.PEOPLE_AUTHOR)}">'
        f'<w15:presenceInfo w15:providerId="AD" w15:userId="{x(v.PEOPLE_USER_ID)}"/></w15:person></w15:people>'
    )
    settings = (
        f'{HEAD}<w:settings {ns}><w:attachedTemplate r:id="rId1"/>'
        f'<w:docVars><w:docVar w:name="LastUser" w:val="{x(v.DOC_VARIABLE)}"/></w:docVars></w:settings>'
    )
    word_rels = relationships(
        [
            ("rId1", f"{R}/comments", "comments.xml"),
            ("rId2", "http://schemas.microsoft.com/office/2011/relationships/people", "people.xml"),
            ("rId3", f"{R}/settings", "settings.xml"),
            ("rId10", f"{R}/image", "media/image1.tiff"),
            ("rId11", f"{R}/package", "embeddings/statement.pdf"),
        ]
    )
    settings_rels = relationships(
        [("rId1", f"{R}/attachedTemplate", v.ATTACHED_TEMPLATE)], external=("rId1",)
    )
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml"
    parts: dict[str, str | bytes] = {
        "[Content_Types].xml": content_types(
            {
                "word/document.xml": f"{main}.document.main+xml",
                "word/comments.xml": f"{main}.comments+xml",
                "word/people.xml": f"{main}.people+xml",
                "word/settings.xml": f"{main}.settings+xml",
                **PROPERTY_TYPES,
            },
            {
                "tiff": "image/tiff",
                "pdf": "application/pdf",
                "bin": "application/vnd.openxmlformats-officedocument.wordprocessingml.printerSettings",
            },
        ),
        "_rels/.rels": root_rels("word/document.xml"),
        "word/document.xml": document,
        "word/_rels/document.xml.rels": word_rels,
        "word/comments.xml": comments,
        "word/people.xml": people,
        "word/settings.xml": settings,
        "word/_rels/settings.xml.rels": settings_rels,
        "word/media/image1.tiff": tiff.content,
        "word/embeddings/statement.pdf": pdf.content,
        "word/printerSettings/printerSettings1.bin": printer_settings(),
        "word/embeddings/oleObject1.bin": ole_package(),
        "customXml/item1.xml": f"{HEAD}<Payroll><Owner>{x(v.CUSTOM_XML)}</Owner></Payroll>",
        "docProps/core.xml": core(),
        "docProps/app.xml": app(),
        "docProps/custom.xml": custom(),
    }
    plants = (
        *PROPERTY_PLANTS,
        Plant("comment author", v.COMMENT_AUTHOR, witness=BYTES),
        Plant("comment initials", v.COMMENT_INITIALS, witness=BYTES),
        Plant("people.xml author", v.PEOPLE_AUTHOR, witness=BYTES),
        Plant("people.xml user id (e-mail)", v.PEOPLE_USER_ID, witness=BYTES),
        Plant("tracked insertion author", v.TRACKED_INSERT_AUTHOR, witness=BYTES),
        Plant("tracked deletion author", v.TRACKED_DELETE_AUTHOR, witness=BYTES),
        Plant("tracked change date", v.TRACKED_DATE, witness=BYTES),
        Plant("attached template path (settings rels)", v.ATTACHED_TEMPLATE, witness=BYTES),
        Plant("printer settings (DEVMODE printer name, UTF-16)", v.PRINTER, witness=BYTES),
        Plant("custom XML part", v.CUSTOM_XML, witness=BYTES),
        Plant("document variable (settings w:docVar)", v.DOC_VARIABLE, witness=BYTES),
        Plant(
            "embedded OLE object of a type Candour cannot open (source path, UTF-16)",
            v.OLE_PATH,
            witness=BYTES,
        ),
        Plant("zip archive comment", v.ZIP_COMMENT, witness=BYTES),
        *(plant.inside("embedded TIFF") for plant in tiff.plants),
        *(plant.inside("embedded PDF") for plant in pdf.plants),
    )
    return Built(package(parts, v.ZIP_COMMENT), plants)


def build_xlsx(shop: Workshop) -> Built:
    """A spreadsheet saved from a OneDrive folder, with a comment and a threaded-comment person."""
    sheet_main = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    ns = (
        f'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="{R}" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        'xmlns:x15ac="http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac"'
    )
    workbook = (
        f'{HEAD}<workbook {ns} mc:Ignorable="x15ac"><fileVersion appName="xl" lastEdited="7"/>'
        f'<fileSharing userName="{x(v.FILE_SHARING_USER)}" readOnlyRecommended="1"/>'
        '<mc:AlternateContent><mc:Choice Requires="x15">'
        f'<x15ac:absPath url="{x(v.ABS_PATH)}"/></mc:Choice></mc:AlternateContent>'
        '<sheets><sheet name="Rota" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    sheet = (
        f"{HEAD}<worksheet {ns}><sheetData>"
        f'<row r="1"><c r="A1" t="inlineStr"><is><t>{x(v.SHEET_BODY)}</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    comments = (
        f'{HEAD}<comments xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<authors><author>{x(v.COMMENT_AUTHOR)}</author></authors><commentList>"
        f'<comment ref="A1" authorId="0"><text><r><t>{x(v.COMMENT_TEXT)}</t></r></text></comment>'
        "</commentList></comments>"
    )
    persons = (
        f'{HEAD}<personList xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments">'
        f'<person displayName="{x(v.PEOPLE_AUTHOR)}" id="{{6D3AA9E2-0C1F-4A55-9E0E-1E0A7C4D2B11}}" '
        f'userId="{x(v.PEOPLE_USER_ID)}" providerId="AD"/></personList>'
    )
    parts: dict[str, str | bytes] = {
        "[Content_Types].xml": content_types(
            {
                "xl/workbook.xml": f"{sheet_main}.sheet.main+xml",
                "xl/worksheets/sheet1.xml": f"{sheet_main}.worksheet+xml",
                "xl/comments1.xml": f"{sheet_main}.comments+xml",
                "xl/persons/person.xml": "application/vnd.ms-excel.person+xml",
                "xl/externalLinks/externalLink1.xml": f"{sheet_main}.externalLink+xml",
                "xl/revisions/userNames.xml": f"{sheet_main}.userNames+xml",
                **PROPERTY_TYPES,
            }
        ),
        "_rels/.rels": root_rels("xl/workbook.xml"),
        "xl/workbook.xml": workbook,
        "xl/_rels/workbook.xml.rels": relationships(
            [
                ("rId1", f"{R}/worksheet", "worksheets/sheet1.xml"),
                (
                    "rId2",
                    "http://schemas.microsoft.com/office/2017/10/relationships/person",
                    "persons/person.xml",
                ),
            ]
        ),
        "xl/worksheets/sheet1.xml": sheet,
        "xl/worksheets/_rels/sheet1.xml.rels": relationships(
            [
                ("rId1", f"{R}/comments", "../comments1.xml"),
                ("rId2", f"{R}/printerSettings", "../printerSettings/printerSettings1.bin"),
            ]
        ),
        "xl/revisions/userNames.xml": (
            f'{HEAD}<users xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1">'
            f'<userInfo guid="{{0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9}}" name="{x(v.SHARED_USER)}" id="1" '
            'dateTime="2019-07-23T04:56:17"/></users>'
        ),
        "xl/externalLinks/externalLink1.xml": (
            f'{HEAD}<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'xmlns:r="{R}"><externalBook r:id="rId1"/></externalLink>'
        ),
        "xl/externalLinks/_rels/externalLink1.xml.rels": relationships(
            [("rId1", f"{R}/externalLinkPath", v.EXTERNAL_LINK)], external=("rId1",)
        ),
        "xl/printerSettings/printerSettings1.bin": printer_settings(),
        "xl/comments1.xml": comments,
        "xl/persons/person.xml": persons,
        "docProps/core.xml": core(),
        "docProps/app.xml": app(),
        "docProps/custom.xml": custom(),
    }
    plants = (
        *PROPERTY_PLANTS,
        Plant("workbook x15ac:absPath", v.ABS_PATH, witness=BYTES),
        Plant("workbook fileSharing userName", v.FILE_SHARING_USER, witness=BYTES),
        Plant("external link path (externalLink rels)", v.EXTERNAL_LINK, witness=BYTES),
        Plant("shared-workbook user name (revisions/userNames.xml)", v.SHARED_USER, witness=BYTES),
        Plant("printer settings (DEVMODE printer name, UTF-16)", v.PRINTER, witness=BYTES),
        Plant("comment author", v.COMMENT_AUTHOR, witness=BYTES),
        Plant("threaded-comment person name", v.PEOPLE_AUTHOR, witness=BYTES),
        Plant("threaded-comment person user id (e-mail)", v.PEOPLE_USER_ID, witness=BYTES),
    )
    return Built(package(parts), plants)


def build_pptx(shop: Workshop) -> Built:
    """A slide deck with a comment, its author's name and initials, a modern-comments author list and the
    package thumbnail (a JPEG with its own metadata)."""
    thumbnail = build_jpeg(shop)
    pml = "application/vnd.openxmlformats-officedocument.presentationml"
    ns = (
        'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
        f'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:r="{R}"'
    )
    presentation = (
        f'{HEAD}<p:presentation {ns}><p:sldIdLst><p:sldId id="256" r:id="rId1"/></p:sldIdLst>'
        '<p:sldSz cx="9144000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>'
    )
    slide = (
        f'{HEAD}<p:sld {ns}><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/>'
        '</p:nvGrpSpPr><p:grpSpPr/><p:sp><p:nvSpPr><p:cNvPr id="2" name="Title 1"/><p:cNvSpPr/><p:nvPr/>'
        f"</p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/><a:p><a:r><a:t>{x(v.SLIDE_BODY)}</a:t></a:r></a:p>"
        "</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
    )
    authors = (
        f'{HEAD}<p:cmAuthorLst {ns}><p:cmAuthor id="0" name="{x(v.SLIDE_COMMENT_AUTHOR)}" '
        f'initials="{v.SLIDE_COMMENT_INITIALS}" lastIdx="1" clrIdx="0"/></p:cmAuthorLst>'
    )
    comments = (
        f'{HEAD}<p:cmLst {ns}><p:cm authorId="0" dt="{v.TRACKED_DATE}" idx="1"><p:pos x="10" y="10"/>'
        f"<p:text>{x(v.COMMENT_TEXT)}</p:text></p:cm></p:cmLst>"
    )
    modern_authors = (
        f'{HEAD}<p188:authorLst xmlns:p188="http://schemas.microsoft.com/office/powerpoint/2018/8/main">'
        f'<p188:author id="{{1C5A3B0E-7D61-4B84-9F7A-2C1D9E0F3A55}}" name="{x(v.SLIDE_COMMENT_AUTHOR)}" '
        f'initials="{v.SLIDE_COMMENT_INITIALS}" userId="{x(v.MODERN_COMMENT_USER)}" providerId="AD"/>'
        "</p188:authorLst>"
    )
    parts: dict[str, str | bytes] = {
        "[Content_Types].xml": content_types(
            {
                "ppt/presentation.xml": f"{pml}.presentation.main+xml",
                "ppt/authors.xml": "application/vnd.ms-powerpoint.authors+xml",
                "ppt/slides/slide1.xml": f"{pml}.slide+xml",
                "ppt/commentAuthors.xml": f"{pml}.commentAuthors+xml",
                "ppt/comments/comment1.xml": f"{pml}.comments+xml",
                **PROPERTY_TYPES,
            }
        ),
        "_rels/.rels": relationships(
            [
                ("rId1", f"{R}/officeDocument", "ppt/presentation.xml"),
                ("rId2", f"{PKG}/relationships/metadata/core-properties", "docProps/core.xml"),
                ("rId3", f"{R}/extended-properties", "docProps/app.xml"),
                ("rId4", f"{R}/custom-properties", "docProps/custom.xml"),
                ("rId5", f"{PKG}/relationships/metadata/thumbnail", "docProps/thumbnail.jpeg"),
            ]
        ),
        "ppt/presentation.xml": presentation,
        "ppt/_rels/presentation.xml.rels": relationships(
            [
                ("rId1", f"{R}/slide", "slides/slide1.xml"),
                ("rId2", f"{R}/commentAuthors", "commentAuthors.xml"),
                ("rId3", "http://schemas.microsoft.com/office/2018/10/relationships/authors", "authors.xml"),
            ]
        ),
        "ppt/slides/slide1.xml": slide,
        "ppt/slides/_rels/slide1.xml.rels": relationships(
            [("rId1", f"{R}/comments", "../comments/comment1.xml")]
        ),
        "ppt/commentAuthors.xml": authors,
        "ppt/authors.xml": modern_authors,
        "docProps/thumbnail.jpeg": thumbnail.content,
        "ppt/comments/comment1.xml": comments,
        "docProps/core.xml": core(),
        "docProps/app.xml": app(),
        "docProps/custom.xml": custom(),
    }
    plants = (
        *PROPERTY_PLANTS,
        Plant("comment author name", v.SLIDE_COMMENT_AUTHOR, witness=BYTES),
        Plant("comment author initials", v.SLIDE_COMMENT_INITIALS, witness=BYTES),
        Plant("comment date", v.TRACKED_DATE, witness=BYTES),
        Plant("modern comments author user id (e-mail)", v.MODERN_COMMENT_USER, witness=BYTES),
        *(plant.inside("package thumbnail docProps/thumbnail.jpeg") for plant in thumbnail.plants),
    )
    return Built(package(parts), plants)


FIXTURES = (
    Fixture("docx", "DOCX", t.DOCX, "statement.docx", build_docx, "document", body=v.DOCUMENT_BODY),
    Fixture("xlsx", "XLSX", t.XLSX, "rota.xlsx", build_xlsx, "document", body=v.SHEET_BODY),
    Fixture("pptx", "PPTX", t.PPTX, "timeline.pptx", build_pptx, "document", body=v.SLIDE_BODY),
)
