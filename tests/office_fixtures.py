"""Office and ODF documents built in code, with an identifying value planted in every place those formats
hide one. Each planted value is a distinct string, so a byte search for it in the cleaned file is exact.

The XML is hand-written and minimal, but valid enough for Word, Excel, PowerPoint and LibreOffice: each
part is listed in [Content_Types].xml (or META-INF/manifest.xml) and reached through a relationship.
"""

from __future__ import annotations

import io
import zipfile

import pikepdf
from PIL import Image

GPS_IFD, EXIF_IFD = 0x8825, 0x8769
BODY = "On 12 May the sergeant said what I wrote down here."
ABS_PATH = "C:\\Users\\jsmith\\OneDrive - Example Police\\Reports\\"
TEMPLATE_PATH = "file:///C:\\Users\\jplanted\\AppData\\Roaming\\Microsoft\\Templates\\Planted.dotm"
PEOPLE_EMAIL = "jane.planted@example-police.uk"

# Every value planted in an OOXML document, by where it sits.
OOXML_PLANTED = {
    "creator": "Planted Creator Jane",
    "lastModifiedBy": "Planted Saver Smith",
    "title": "Planted Title Lambeth",
    "subject": "Planted Subject Line",
    "description": "Planted Description Text",
    "keywords": "Planted Keywords Here",
    "category": "Planted Category Name",
    "contentStatus": "Planted Status Draft",
    "identifier": "planted-identifier-77",
    "version": "Planted Version Nine",
    "created": "2024-05-12T03:15:00Z",
    "modified": "2024-05-13T04:16:00Z",
    "lastPrinted": "2024-05-14T05:17:00Z",
    "company": "Planted Company Police",
    "manager": "Planted Manager Jones",
    "template": "Planted Template.dotm",
    "hyperlinkBase": "https://planted-base.example/",
    "application": "Planted Application Word",
    "custom": "Planted Custom Owner",
    "reviewer": "Planted Reviewer Jane",
    "email": PEOPLE_EMAIL,
    "commenter": "Planted Commenter Smith",
    "commented": "2024-05-15T06:18:00Z",
    "editor": "Planted Editor Brown",
    "edited": "2024-05-16T07:19:00Z",
    "rsid": "00A1B2C3",
    "templatePath": TEMPLATE_PATH,
    "customXml": "Planted SharePoint Owner",
    "printer": "Planted Printer Name",
    "ole": "Planted OLE Secret",
    "tiffArtist": "Planted Tiff Artist",
    "pdfAuthor": "Planted Pdf Author",
    "thumbArtist": "Planted Thumb Artist",
}

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


# ---------------------------------------------------------------------------------------------------------
# Embedded files


def picture(size: tuple[int, int] = (32, 16)) -> Image.Image:
    image = Image.new("RGB", size)
    image.putdata(
        [(x * 8 % 256, y * 16 % 256, (x + y) % 256) for y in range(size[1]) for x in range(size[0])]
    )
    return image


def gps_exif(artist: str) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    exif[0x0110] = "iPhone 15"
    exif[0x013B] = artist
    exif[EXIF_IFD] = {0x9003: "2024:05:12 03:15:22"}
    exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 26.64), 3: "W", 4: (0.0, 7.0, 39.0)}
    return exif


def tiff_with_gps(artist: str = OOXML_PLANTED["tiffArtist"]) -> bytes:
    out = io.BytesIO()
    picture().save(out, "TIFF", exif=gps_exif(artist).tobytes())
    return out.getvalue()


def jpeg_with_gps(artist: str) -> bytes:
    out = io.BytesIO()
    picture().save(out, "JPEG", exif=gps_exif(artist), quality=90)
    return out.getvalue()


def png_with_author(author: str) -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", author)
    out = io.BytesIO()
    picture().save(out, "PNG", pnginfo=info)
    return out.getvalue()


def pdf_with_author(author: str = OOXML_PLANTED["pdfAuthor"]) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(100, 100))
    pdf.docinfo["/Author"] = author
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def ole_blob(secret: str = OOXML_PLANTED["ole"]) -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 24 + secret.encode("utf-16-le")


def zipped(parts: dict[str, bytes | str], *, stored: tuple[str, ...] = ()) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 5, 12, 3, 15, 22))
            info.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, data.encode() if isinstance(data, str) else data)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------
# OOXML shared parts


def core_xml(p: dict[str, str] = OOXML_PLANTED) -> str:
    simple = "".join(
        f"<{tag}>{p[key]}</{tag}>"
        for tag, key in (
            ("dc:title", "title"),
            ("dc:subject", "subject"),
            ("dc:creator", "creator"),
            ("cp:keywords", "keywords"),
            ("dc:description", "description"),
            ("cp:lastModifiedBy", "lastModifiedBy"),
            ("cp:category", "category"),
            ("cp:contentStatus", "contentStatus"),
            ("dc:identifier", "identifier"),
            ("cp:version", "version"),
            ("cp:lastPrinted", "lastPrinted"),
        )
    )
    return (
        XML + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"{simple}<cp:revision>42</cp:revision><dc:language>en-GB</dc:language>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{p["created"]}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{p["modified"]}</dcterms:modified></cp:coreProperties>'
    )


def app_xml(p: dict[str, str] = OOXML_PLANTED) -> str:
    return (
        XML + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        f"<Template>{p['template']}</Template><TotalTime>187</TotalTime><Pages>1</Pages>"
        f"<Application>{p['application']}</Application><DocSecurity>0</DocSecurity>"
        f"<Manager>{p['manager']}</Manager><Company>{p['company']}</Company>"
        f"<HyperlinkBase>{p['hyperlinkBase']}</HyperlinkBase><AppVersion>16.0000</AppVersion></Properties>"
    )


def custom_xml(p: dict[str, str] = OOXML_PLANTED) -> str:
    return (
        XML + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Owner">'
        f"<vt:lpwstr>{p['custom']}</vt:lpwstr></property></Properties>"
    )


def root_rels(main: str) -> str:
    rels = (
        ("rId1", f"{REL}/officeDocument", main),
        ("rId2", f"{PKG_REL}/metadata/core-properties", "docProps/core.xml"),
        ("rId3", f"{REL}/extended-properties", "docProps/app.xml"),
        ("rId4", f"{REL}/custom-properties", "docProps/custom.xml"),
        ("rId5", f"{PKG_REL}/metadata/thumbnail", "docProps/thumbnail.jpeg"),
    )
    return relationships(rels)


def relationships(rels: tuple[tuple[str, ...], ...]) -> str:
    body = "".join(
        f'<Relationship Id="{rid}" Type="{kind}" Target="{target}"'
        + (' TargetMode="External"' if extra else "")
        + "/>"
        for rid, kind, target, *extra in rels
    )
    return XML + f'<Relationships xmlns="{PKG_REL}">{body}</Relationships>'


def content_types(main_type: str, main: str, overrides: tuple[tuple[str, str], ...] = ()) -> str:
    base = "application/vnd.openxmlformats-officedocument"
    parts = (
        (main, main_type),
        ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
        ("/docProps/app.xml", f"{base}.extended-properties+xml"),
        ("/docProps/custom.xml", f"{base}.custom-properties+xml"),
        *overrides,
    )
    over = "".join(f'<Override PartName="{name}" ContentType="{kind}"/>' for name, kind in parts)
    return (
        XML + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="jpeg" ContentType="image/jpeg"/><Default Extension="tiff" ContentType="image/tiff"/>'
        '<Default Extension="pdf" ContentType="application/pdf"/>'
        '<Default Extension="bin" ContentType="application/vnd.openxmlformats-officedocument.oleObject"/>'
        f"{over}</Types>"
    )


def shared_parts(
    main_type: str, main: str, overrides: tuple[tuple[str, str], ...] = ()
) -> dict[str, str | bytes]:
    return {
        "[Content_Types].xml": content_types(main_type, main, overrides),
        "_rels/.rels": root_rels(main),
        "docProps/core.xml": core_xml(),
        "docProps/app.xml": app_xml(),
        "docProps/custom.xml": custom_xml(),
        "docProps/thumbnail.jpeg": jpeg_with_gps(OOXML_PLANTED["thumbArtist"]),
    }


# ---------------------------------------------------------------------------------------------------------
# Word


def docx(p: dict[str, str] = OOXML_PLANTED) -> bytes:
    """A Word document with every planted value of OOXML_PLANTED, including the issue's defects."""
    wml = "application/vnd.openxmlformats-officedocument.wordprocessingml"
    ns = f'xmlns:w="{W}" xmlns:r="{R}" xmlns:w15="http://schemas.microsoft.com/office/word/2012/wordml"'
    document = (
        XML + f"<w:document {ns}><w:body>"
        f'<w:p w:rsidR="{p["rsid"]}" w:rsidRDefault="{p["rsid"]}"><w:r><w:t>{BODY}</w:t></w:r>'
        '<w:commentRangeStart w:id="0"/><w:r><w:t xml:space="preserve"> Noted.</w:t></w:r>'
        '<w:commentRangeEnd w:id="0"/><w:r><w:commentReference w:id="0"/></w:r></w:p>'
        f'<w:p><w:ins w:id="1" w:author="{p["editor"]}" w:date="{p["edited"]}"><w:r><w:t>Added later.</w:t></w:r>'
        '</w:ins></w:p><w:p><w:r><w:object><o:OLEObject xmlns:o="urn:schemas-microsoft-com:office:office" '
        'Type="Embed" ProgID="Package" r:id="rId7"/></w:object></w:r></w:p>'
        '<w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:body></w:document>'
    )
    comments = (
        XML + f'<w:comments {ns}><w:comment w:id="0" w:author="{p["commenter"]}" w:date="{p["commented"]}" '
        'w:initials="PCS"><w:p><w:r><w:t>Check this.</w:t></w:r></w:p></w:comment></w:comments>'
    )
    people = (
        XML + f'<w15:people {ns}><w15:person w15:author="{p["reviewer"]}">'
        f'<w15:presenceInfo w15:providerId="AD" w15:userId="S::{p["email"]}::4f1c"/></w15:person></w15:people>'
    )
    settings = (
        XML + f'<w:settings {ns} xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml">'
        '<w:attachedTemplate r:id="rId1"/><w:defaultTabStop w:val="720"/>'
        f'<w:rsids><w:rsidRoot w:val="{p["rsid"]}"/><w:rsid w:val="{p["rsid"]}"/></w:rsids>'
        '<w14:docId w14:val="5D3A1B2C"/></w:settings>'
    )
    document_rels = relationships(
        (
            ("rId1", f"{REL}/comments", "comments.xml"),
            ("rId2", "http://schemas.microsoft.com/office/2011/relationships/people", "people.xml"),
            ("rId3", f"{REL}/settings", "settings.xml"),
            ("rId4", f"{REL}/image", "media/image1.tiff"),
            ("rId5", f"{REL}/package", "embeddings/report.pdf"),
            ("rId6", f"{REL}/customXml", "../customXml/item1.xml"),
            ("rId7", f"{REL}/oleObject", "embeddings/oleObject1.bin"),
            ("rId8", f"{REL}/printerSettings", "printerSettings/printerSettings1.bin"),
        )
    )
    parts = shared_parts(
        f"{wml}.document.main+xml",
        "/word/document.xml",
        (
            ("/word/comments.xml", f"{wml}.comments+xml"),
            ("/word/people.xml", "application/vnd.ms-word.people+xml"),
            ("/word/settings.xml", f"{wml}.settings+xml"),
            (
                "/customXml/itemProps1.xml",
                "application/vnd.openxmlformats-officedocument.customXmlProperties+xml",
            ),
        ),
    )
    parts.update(
        {
            "word/document.xml": document,
            "word/_rels/document.xml.rels": document_rels,
            "word/comments.xml": comments,
            "word/people.xml": people,
            "word/settings.xml": settings,
            "word/_rels/settings.xml.rels": relationships(
                (("rId1", f"{REL}/attachedTemplate", p["templatePath"], "External"),)
            ),
            "word/media/image1.tiff": tiff_with_gps(),
            "word/embeddings/report.pdf": pdf_with_author(),
            "word/embeddings/oleObject1.bin": ole_blob(),
            "word/printerSettings/printerSettings1.bin": p["printer"].encode("utf-16-le") + b"\x00" * 64,
            "customXml/item1.xml": f"{XML}<owner>{p['customXml']}</owner>",
            "customXml/itemProps1.xml": XML + '<ds:datastoreItem ds:itemID="{6E3A}" '
            'xmlns:ds="http://schemas.openxmlformats.org/officeDocument/2006/customXml"/>',
            "customXml/_rels/item1.xml.rels": relationships(
                (("rId1", f"{REL}/customXmlProps", "itemProps1.xml"),)
            ),
        }
    )
    return zipped(parts)


# ---------------------------------------------------------------------------------------------------------
# Excel

XLSX_PLANTED = {
    "absPath": ABS_PATH,
    "commentAuthor": "Planted Sheet Commenter",
    "person": "Planted Person Display",
    "personEmail": "person.planted@example-police.uk",
    "threaded": "2024-05-17T08:20:00.00",
    "sharedBy": "Planted Sharing User",
}


def xlsx(p: dict[str, str] = XLSX_PLANTED) -> bytes:
    """An Excel workbook with an absolute OneDrive path, comment authors, a person list and shared-by name."""
    sml = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    workbook = (
        XML + f'<workbook xmlns="{main}" xmlns:r="{R}" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x15">'
        f'<fileSharing userName="{p["sharedBy"]}"/>'
        '<workbookPr defaultThemeVersion="166925"/><mc:AlternateContent><mc:Choice Requires="x15">'
        '<x15ac:absPath xmlns:x15ac="http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac" '
        f'url="{p["absPath"]}"/></mc:Choice></mc:AlternateContent>'
        '<sheets><sheet name="Rota" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    sheet = (
        XML
        + f'<worksheet xmlns="{main}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>{BODY}</t></is>'
        "</c></row></sheetData></worksheet>"
    )
    comments = (
        XML
        + f'<comments xmlns="{main}"><authors><author>{p["commentAuthor"]}</author></authors><commentList>'
        '<comment ref="A1" authorId="0"><text><r><t>See this.</t></r></text></comment></commentList></comments>'
    )
    persons = (
        XML + '<personList xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments">'
        f'<person displayName="{p["person"]}" id="{{A1}}" userId="{p["personEmail"]}" providerId="AD"/>'
        "</personList>"
    )
    threaded = (
        XML
        + '<ThreadedComments xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments">'
        f'<threadedComment ref="A1" dT="{p["threaded"]}" personId="{{A1}}" id="{{B2}}"><text>Seen.</text>'
        "</threadedComment></ThreadedComments>"
    )
    parts = shared_parts(
        f"{sml}.sheet.main+xml",
        "/xl/workbook.xml",
        (
            ("/xl/worksheets/sheet1.xml", f"{sml}.worksheet+xml"),
            ("/xl/comments1.xml", f"{sml}.comments+xml"),
            ("/xl/persons/person.xml", "application/vnd.ms-excel.person+xml"),
            ("/xl/threadedComments/threadedComment1.xml", "application/vnd.ms-excel.threadedcomments+xml"),
        ),
    )
    parts["_rels/.rels"] = root_rels("xl/workbook.xml")
    parts.update(
        {
            "xl/workbook.xml": workbook,
            "xl/_rels/workbook.xml.rels": relationships(
                (
                    ("rId1", f"{REL}/worksheet", "worksheets/sheet1.xml"),
                    (
                        "rId2",
                        "http://schemas.microsoft.com/office/2017/10/relationships/person",
                        "persons/person.xml",
                    ),
                )
            ),
            "xl/worksheets/sheet1.xml": sheet,
            "xl/worksheets/_rels/sheet1.xml.rels": relationships(
                (
                    ("rId1", f"{REL}/comments", "../comments1.xml"),
                    (
                        "rId2",
                        "http://schemas.microsoft.com/office/2017/10/relationships/threadedComment",
                        "../threadedComments/threadedComment1.xml",
                    ),
                )
            ),
            "xl/comments1.xml": comments,
            "xl/persons/person.xml": persons,
            "xl/threadedComments/threadedComment1.xml": threaded,
        }
    )
    return zipped(parts)


# ---------------------------------------------------------------------------------------------------------
# PowerPoint

PPTX_PLANTED = {
    "cmAuthor": "Planted Slide Commenter",
    "modernAuthor": "Planted Modern Author",
    "modernEmail": "modern.planted@example-police.uk",
    "providerEmail": "provider.planted@example-police.uk",
    "commented": "2024-05-18T09:21:00.000",
}


def pptx(p: dict[str, str] = PPTX_PLANTED) -> bytes:
    """A PowerPoint deck with legacy and modern comment authors and a comment date."""
    pml = "application/vnd.openxmlformats-officedocument.presentationml"
    pns = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" '
    ans = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    presentation = (
        XML
        + f'<p:presentation {pns}{ans}xmlns:r="{R}"><p:sldIdLst><p:sldId id="256" r:id="rId1"/></p:sldIdLst>'
        '<p:sldSz cx="9144000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>'
    )
    slide = (
        XML + f'<p:sld {pns}{ans}><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/>'
        '<p:nvPr/></p:nvGrpSpPr><p:grpSpPr/><p:sp><p:nvSpPr><p:cNvPr id="2" name="Text"/><p:cNvSpPr/><p:nvPr/>'
        f"</p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/><a:p><a:r><a:t>{BODY}</a:t></a:r></a:p></p:txBody></p:sp>"
        "</p:spTree></p:cSld></p:sld>"
    )
    authors = (
        XML + f'<p:cmAuthorLst {pns}><p:cmAuthor id="0" name="{p["cmAuthor"]}" initials="PSC" lastIdx="1" '
        'clrIdx="0"/></p:cmAuthorLst>'
    )
    comment = (
        XML + f'<p:cmLst {pns}><p:cm authorId="0" dt="{p["commented"]}" idx="1"><p:pos x="10" y="10"/>'
        "<p:text>Look.</p:text></p:cm></p:cmLst>"
    )
    modern = (
        XML + '<p188:authorLst xmlns:p188="http://schemas.microsoft.com/office/powerpoint/2018/8/main">'
        f'<p188:author id="{{C3}}" name="{p["modernAuthor"]}" initials="PMA" userId="{p["modernEmail"]}" '
        f'providerId="{p["providerEmail"]}"/></p188:authorLst>'
    )
    parts = shared_parts(
        f"{pml}.presentation.main+xml",
        "/ppt/presentation.xml",
        (
            ("/ppt/slides/slide1.xml", f"{pml}.slide+xml"),
            ("/ppt/commentAuthors.xml", f"{pml}.commentAuthors+xml"),
            ("/ppt/comments/comment1.xml", f"{pml}.comments+xml"),
            ("/ppt/authors.xml", "application/vnd.ms-powerpoint.authors+xml"),
        ),
    )
    parts["_rels/.rels"] = root_rels("ppt/presentation.xml")
    parts.update(
        {
            "ppt/presentation.xml": presentation,
            "ppt/_rels/presentation.xml.rels": relationships(
                (
                    ("rId1", f"{REL}/slide", "slides/slide1.xml"),
                    ("rId2", f"{REL}/commentAuthors", "commentAuthors.xml"),
                    (
                        "rId3",
                        "http://schemas.microsoft.com/office/2018/10/relationships/authors",
                        "authors.xml",
                    ),
                )
            ),
            "ppt/slides/slide1.xml": slide,
            "ppt/slides/_rels/slide1.xml.rels": relationships(
                (("rId1", f"{REL}/comments", "../comments/comment1.xml"),)
            ),
            "ppt/commentAuthors.xml": authors,
            "ppt/comments/comment1.xml": comment,
            "ppt/authors.xml": modern,
        }
    )
    return zipped(parts)


# Fixtures in their own modules; these names keep `office_fixtures.odt` and the others working.
from tests.odf_fixtures import ODF_NS, ODF_PLANTED, odf_meta, odf_settings, ods, odt  # noqa: E402, F401
from tests.office_extras_fixtures import (  # noqa: E402, F401
    EXTRAS_PLANTED,
    docm_with_extras,
    zip_bomb_docx,
)
