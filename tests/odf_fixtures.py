"""OpenDocument files built in code, with an identifying value planted in every place ODF hides one
(split from tests/office_fixtures.py, which re-exports these names)."""

from __future__ import annotations

from tests.office_fixtures import BODY, XML, jpeg_with_gps, png_with_author, zipped

# ---------------------------------------------------------------------------------------------------------
# OpenDocument

ODF_PLANTED = {
    "initialCreator": "Planted Initial Creator",
    "creator": "Planted Odf Saver",
    "printedBy": "Planted Odf Printer Person",
    "date": "2024-06-01T10:11:12.123000000",
    "created": "2024-06-02T11:12:13",
    "printed": "2024-06-03T12:13:14",
    "generator": "PlantedOffice/7.6.4$Linux_X86_64",
    "title": "Planted Odf Title",
    "subject": "Planted Odf Subject",
    "description": "Planted Odf Description",
    "keyword": "Planted Odf Keyword",
    "userDefined": "Planted Odf Custom Value",
    "printerName": "Planted Odf Printer",
    "printerSetup": "UGxhbnRlZCBPZGYgUHJpbnRlciBTZXR1cCBibG9i",
    "annotator": "Planted Odf Annotator",
    "annotated": "2024-06-04T13:14:15",
    "changer": "Planted Odf Changer",
    "changed": "2024-06-05T14:15:16",
    "linkPath": "file:///home/jplanted/Pictures/linked.png",
    "objectCreator": "Planted Object Creator",
    "photoArtist": "Planted Odf Photo Artist",
    "thumbAuthor": "Planted Odf Thumb Author",
}
ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0" office:version="1.3"'
)


def odf_meta(p: dict[str, str] = ODF_PLANTED, creator: str | None = None) -> str:
    return (
        f"{XML}<office:document-meta {ODF_NS}><office:meta>"
        f"<meta:initial-creator>{creator or p['initialCreator']}</meta:initial-creator>"
        f"<dc:creator>{creator or p['creator']}</dc:creator><dc:date>{p['date']}</dc:date>"
        f"<meta:creation-date>{p['created']}</meta:creation-date><meta:print-date>{p['printed']}</meta:print-date>"
        f"<meta:printed-by>{p['printedBy']}</meta:printed-by><meta:editing-cycles>17</meta:editing-cycles>"
        f"<meta:editing-duration>PT3H25M</meta:editing-duration><meta:generator>{p['generator']}</meta:generator>"
        f"<dc:title>{p['title']}</dc:title><dc:subject>{p['subject']}</dc:subject>"
        f"<dc:description>{p['description']}</dc:description><meta:keyword>{p['keyword']}</meta:keyword>"
        f'<meta:user-defined meta:name="Owner">{p["userDefined"]}</meta:user-defined>'
        '<meta:document-statistic meta:page-count="1" meta:word-count="11"/></office:meta></office:document-meta>'
    )


def odf_settings(p: dict[str, str] = ODF_PLANTED) -> str:
    return (
        f"{XML}<office:document-settings {ODF_NS}><office:settings>"
        '<config:config-item-set config:name="ooo:configuration-settings">'
        f'<config:config-item config:name="PrinterName" config:type="string">{p["printerName"]}</config:config-item>'
        f'<config:config-item config:name="PrinterSetup" config:type="base64Binary">{p["printerSetup"]}'
        '</config:config-item><config:config-item config:name="PrintReversed" config:type="boolean">false'
        "</config:config-item></config:config-item-set></office:settings></office:document-settings>"
    )


def odt(p: dict[str, str] = ODF_PLANTED) -> bytes:
    """A text document with every ODF_PLANTED value, a photo with GPS, a thumbnail and an embedded object."""
    content = (
        f"{XML}<office:document-content {ODF_NS}><office:body><office:text>"
        '<text:tracked-changes><text:changed-region text:id="ct1"><text:insertion><office:change-info>'
        f"<dc:creator>{p['changer']}</dc:creator><dc:date>{p['changed']}</dc:date></office:change-info>"
        "</text:insertion></text:changed-region></text:tracked-changes>"
        f"<text:p>{BODY}<office:annotation><dc:creator>{p['annotator']}</dc:creator>"
        f"<dc:date>{p['annotated']}</dc:date><meta:creator-initials>POA</meta:creator-initials>"
        "<text:p>Check.</text:p></office:annotation></text:p>"
        '<text:p><text:change-start text:change-id="ct1"/>Added later.<text:change-end text:change-id="ct1"/></text:p>'
        '<text:p><draw:frame draw:name="photo" svg:width="1cm" svg:height="1cm"><draw:image '
        'xlink:href="Pictures/photo.jpg" xlink:type="simple"/></draw:frame>'
        '<draw:frame draw:name="linked"><draw:image xlink:href="' + p["linkPath"] + '" xlink:type="simple"/>'
        '</draw:frame><draw:frame draw:name="chart"><draw:object xlink:href="./Object 1" xlink:type="simple"/>'
        '<draw:image xlink:href="./ObjectReplacements/Object 1"/></draw:frame></text:p>'
        "</office:text></office:body></office:document-content>"
    )
    object_content = (
        f"{XML}<office:document-content {ODF_NS}><office:body><office:chart><text:p>Chart"
        f"<office:annotation><dc:creator>{p['objectCreator']}</dc:creator></office:annotation></text:p>"
        "</office:chart></office:body></office:document-content>"
    )
    manifest = (
        f'{XML}<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.3">'
        + "".join(
            f'<manifest:file-entry manifest:full-path="{path}" manifest:media-type="{kind}"/>'
            for path, kind in (
                ("/", "application/vnd.oasis.opendocument.text"),
                ("content.xml", "text/xml"),
                ("meta.xml", "text/xml"),
                ("settings.xml", "text/xml"),
                ("Pictures/photo.jpg", "image/jpeg"),
                ("Thumbnails/thumbnail.png", "image/png"),
                ("Object 1/", "application/vnd.oasis.opendocument.chart"),
                ("Object 1/content.xml", "text/xml"),
                ("Object 1/meta.xml", "text/xml"),
                (
                    "ObjectReplacements/Object 1",
                    "application/x-openoffice-gdimetafile;windows_formatname=&quot;GDIMetaFile&quot;",
                ),
                ("layout-cache", "application/binary"),
            )
        )
        + "</manifest:manifest>"
    )
    return zipped(
        {
            "mimetype": "application/vnd.oasis.opendocument.text",
            "content.xml": content,
            "meta.xml": odf_meta(p),
            "settings.xml": odf_settings(p),
            "Pictures/photo.jpg": jpeg_with_gps(p["photoArtist"]),
            "Thumbnails/thumbnail.png": png_with_author(p["thumbAuthor"]),
            "Object 1/content.xml": object_content,
            "Object 1/meta.xml": odf_meta(p, creator=p["objectCreator"]),
            "ObjectReplacements/Object 1": b"VCLMTF\x01\x00" + b"\x00" * 32,
            "layout-cache": b"\x00\x01\x02\x03" * 8,
            "META-INF/manifest.xml": manifest,
        },
        stored=("mimetype",),
    )


def ods(p: dict[str, str] = ODF_PLANTED) -> bytes:
    """A spreadsheet with its meta, printer settings and a tracked cell change."""
    content = (
        f"{XML}<office:document-content {ODF_NS}><office:body><office:spreadsheet>"
        '<table:tracked-changes><table:cell-content-change table:id="ct1"><table:cell-address table:column="0" '
        'table:row="0" table:table="0"/><office:change-info>'
        f"<dc:creator>{p['changer']}</dc:creator><dc:date>{p['changed']}</dc:date></office:change-info>"
        "</table:cell-content-change></table:tracked-changes>"
        f'<table:table table:name="Rota"><table:table-row><table:table-cell office:value-type="string"><text:p>{BODY}'
        "</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    manifest = (
        f'{XML}<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.3"><manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="settings.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    return zipped(
        {
            "mimetype": "application/vnd.oasis.opendocument.spreadsheet",
            "content.xml": content,
            "meta.xml": odf_meta(p),
            "settings.xml": odf_settings(p),
            "META-INF/manifest.xml": manifest,
        },
        stored=("mimetype",),
    )
