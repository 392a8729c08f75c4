"""OpenDocument: ODT and ODS with meta.xml properties, an annotation, a tracked change, the printer in
settings.xml, and a phone photo inside."""

from __future__ import annotations

import io
import zipfile

from bot.evidence import types as t
from tests.evidence_corpus import values as v
from tests.evidence_corpus.images import build_jpeg, build_png
from tests.evidence_corpus.office import x
from tests.evidence_corpus.plants import BYTES, Built, Fixture, Plant, Workshop

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0" office:version="1.3"'
)


def meta() -> str:
    return (
        f"{HEAD}<office:document-meta {NS}><office:meta>"
        f"<meta:generator>{x(v.ODF_GENERATOR)}</meta:generator><dc:title>{x(v.ODF_TITLE)}</dc:title>"
        f"<dc:description>{x(v.ODF_DESCRIPTION)}</dc:description>"
        f"<meta:initial-creator>{x(v.ODF_INITIAL_CREATOR)}</meta:initial-creator>"
        f"<dc:creator>{x(v.ODF_CREATOR)}</dc:creator><meta:creation-date>{v.ODF_DATE}</meta:creation-date>"
        f"<meta:printed-by>{x(v.ODF_PRINTED_BY)}</meta:printed-by>"
        f'<meta:user-defined meta:name="Owner">{x(v.ODF_USER_DEFINED)}</meta:user-defined>'
        f'<meta:template xlink:href="{x(v.ODF_TEMPLATE)}" xlink:type="simple" xlink:title="Kestrel"/>'
        "</office:meta></office:document-meta>"
    )


def settings() -> str:
    return (
        f"{HEAD}<office:document-settings {NS}><office:settings>"
        '<config:config-item-set config:name="ooo:configuration-settings">'
        f'<config:config-item config:name="PrinterName" config:type="string">{x(v.ODF_PRINTER)}</config:config-item>'
        "</config:config-item-set></office:settings></office:document-settings>"
    )


def annotation() -> str:
    return (
        f"<office:annotation><dc:creator>{x(v.ODF_ANNOTATION_AUTHOR)}</dc:creator><dc:date>{v.ODF_DATE}</dc:date>"
        f"<text:p>{x(v.ODF_ANNOTATION_TEXT)}</text:p></office:annotation>"
    )


def tracked_changes() -> str:
    return (
        '<text:tracked-changes><text:changed-region text:id="ct1"><text:insertion><office:change-info>'
        f"<dc:creator>{x(v.ODF_CHANGE_AUTHOR)}</dc:creator><dc:date>{v.ODF_DATE}</dc:date>"
        "</office:change-info></text:insertion></text:changed-region></text:tracked-changes>"
    )


def package(mimetype: str, content: str, photo: bytes, thumbnail: bytes) -> bytes:
    """The zip of an ODF document: mimetype first and stored, then the parts, and an archive comment."""
    manifest = (
        f'{HEAD}<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.3">'
        f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mimetype}"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="settings.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="Pictures/photo.jpg" manifest:media-type="image/jpeg"/>'
        '<manifest:file-entry manifest:full-path="Thumbnails/thumbnail.png" manifest:media-type="image/png"/>'
        "</manifest:manifest>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.comment = v.ZIP_COMMENT.encode()
        archive.writestr("mimetype", mimetype, zipfile.ZIP_STORED)
        for name, body in (
            ("META-INF/manifest.xml", manifest),
            ("content.xml", content),
            ("styles.xml", f"{HEAD}<office:document-styles {NS}/>"),
            ("meta.xml", meta()),
            ("settings.xml", settings()),
            ("Pictures/photo.jpg", photo),
            ("Thumbnails/thumbnail.png", thumbnail),
        ):
            archive.writestr(name, body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


FRAME = (
    '<draw:frame draw:name="photo" svg:width="2cm" svg:height="1.5cm">'
    '<draw:image xlink:href="Pictures/photo.jpg" xlink:type="simple"/></draw:frame>'
)


def plants(photo: Built, thumbnail: Built) -> tuple[Plant, ...]:
    return (
        Plant("meta.xml meta:generator", v.ODF_GENERATOR),
        Plant("meta.xml dc:title", v.ODF_TITLE),
        Plant("meta.xml dc:description", v.ODF_DESCRIPTION),
        Plant("meta.xml meta:initial-creator", v.ODF_INITIAL_CREATOR),
        Plant("meta.xml dc:creator", v.ODF_CREATOR),
        Plant("meta.xml meta:printed-by", v.ODF_PRINTED_BY),
        Plant("meta.xml meta:user-defined", v.ODF_USER_DEFINED),
        Plant("meta.xml meta:creation-date", v.ODF_DATE, witness=BYTES),
        Plant("settings.xml PrinterName", v.ODF_PRINTER, witness=BYTES),
        Plant("annotation dc:creator", v.ODF_ANNOTATION_AUTHOR, witness=BYTES),
        Plant("meta.xml meta:template path", v.ODF_TEMPLATE, witness=BYTES),
        Plant("zip archive comment", v.ZIP_COMMENT, witness=BYTES),
        *(plant.inside("Pictures/photo.jpg") for plant in photo.plants),
        *(plant.inside("Thumbnails/thumbnail.png") for plant in thumbnail.plants),
    )


def build_odt(shop: Workshop) -> Built:
    """A LibreOffice statement with a comment, a tracked insertion and a photo."""
    photo, thumbnail = build_jpeg(shop), build_png(shop)
    content = (
        f"{HEAD}<office:document-content {NS}><office:body><office:text>{tracked_changes()}"
        f'<text:p><text:change-start text:change-id="ct1"/>{x(v.DOCUMENT_BODY)}'
        f'<text:change-end text:change-id="ct1"/>{annotation()}</text:p><text:p>{FRAME}</text:p>'
        "</office:text></office:body></office:document-content>"
    )
    extra = (Plant("tracked change dc:creator", v.ODF_CHANGE_AUTHOR, witness=BYTES),)
    return Built(package(t.ODT, content, photo.content, thumbnail.content), plants(photo, thumbnail) + extra)


def build_ods(shop: Workshop) -> Built:
    """A LibreOffice spreadsheet with a cell comment and a photo."""
    photo, thumbnail = build_jpeg(shop), build_png(shop)
    content = (
        f'{HEAD}<office:document-content {NS}><office:body><office:spreadsheet><table:table table:name="Rota">'
        f'<table:table-row><table:table-cell office:value-type="string">{annotation()}'
        f"<text:p>{x(v.SHEET_BODY)}</text:p></table:table-cell>"
        f"<table:table-cell>{FRAME}</table:table-cell></table:table-row>"
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    return Built(package(t.ODS, content, photo.content, thumbnail.content), plants(photo, thumbnail))


FIXTURES = (
    Fixture("odt", "ODT", t.ODT, "statement.odt", build_odt, "document", body=v.DOCUMENT_BODY),
    Fixture("ods", "ODS", t.ODS, "rota.ods", build_ods, "document", body=v.SHEET_BODY),
)
