"""Office documents built in code for the harder cases: a macro-enabled document with extras, and zip
bombs (split from tests/office_fixtures.py, which re-exports these names)."""

from __future__ import annotations

import io
import zipfile

from tests.office_fixtures import (
    ABS_PATH,
    BODY,
    OOXML_PLANTED,
    REL,
    XML,
    R,
    W,
    content_types,
    ole_blob,
    relationships,
    root_rels,
    shared_parts,
    xlsx,
    zipped,
)

EXTRAS_PLANTED = {
    "macro": "Planted Macro Project",
    "emf": "Planted Emf Picture",
    "hyperlink": "file:///C:/Users/jlinked/Documents/statement.docx",
    "embeddedSheetCreator": OOXML_PLANTED["creator"],
    "embeddedSheetPath": ABS_PATH,
}


def docm_with_extras(p: dict[str, str] = EXTRAS_PLANTED) -> bytes:
    """A macro-enabled Word document with macros, an EMF picture Candour cannot check, a hyperlink to a
    file on the author's computer, and an Excel workbook embedded in it (itself carrying metadata)."""
    wml = "application/vnd.ms-word.document.macroEnabled.main+xml"
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    document = (
        f'{XML}<w:document xmlns:w="{W}" xmlns:r="{R}" xmlns:a="{a}"><w:body><w:p><w:r><w:t>{BODY}</w:t></w:r>'
        '<w:hyperlink r:id="rId3"><w:r><w:t>my statement</w:t></w:r></w:hyperlink></w:p>'
        '<w:p><w:r><w:drawing><a:blip r:embed="rId2"/></w:drawing></w:r></w:p>'
        '<w:p><w:r><w:object><o:OLEObject xmlns:o="urn:schemas-microsoft-com:office:office" Type="Embed" '
        'ProgID="Excel.Sheet.12" r:id="rId4"/></w:object></w:r></w:p></w:body></w:document>'
    )
    parts = shared_parts(
        wml, "/word/document.xml", (("/word/vbaData.xml", "application/vnd.ms-word.vbaData+xml"),)
    )
    parts["_rels/.rels"] = root_rels("word/document.xml")
    parts.update(
        {
            "word/document.xml": document,
            "word/_rels/document.xml.rels": relationships(
                (
                    (
                        "rId1",
                        "http://schemas.microsoft.com/office/2006/relationships/vbaProject",
                        "vbaProject.bin",
                    ),
                    ("rId2", f"{REL}/image", "media/image1.emf"),
                    ("rId3", f"{REL}/hyperlink", p["hyperlink"], "External"),
                    ("rId4", f"{REL}/package", "embeddings/Microsoft_Excel_Worksheet.xlsx"),
                )
            ),
            "word/vbaProject.bin": ole_blob(p["macro"]),
            "word/_rels/vbaProject.bin.rels": relationships(
                (
                    (
                        "rId1",
                        "http://schemas.microsoft.com/office/2006/relationships/wordVbaData",
                        "vbaData.xml",
                    ),
                )
            ),
            "word/vbaData.xml": f'{XML}<wne:vbaSuppData xmlns:wne="http://schemas.microsoft.com/office/word/2006/wordml"/>',
            "word/media/image1.emf": b"\x01\x00\x00\x00"
            + b"\x00" * 36
            + b" EMF"
            + p["emf"].encode("utf-16-le"),
            "word/embeddings/Microsoft_Excel_Worksheet.xlsx": xlsx(),
        }
    )
    return zipped(parts)


def zip_bomb_docx(declared_small: bool) -> bytes:
    """A Word document with one part that inflates past MAX_UNZIPPED (declared honestly, or declared small)."""
    from bot.evidence import limits

    size = limits.MAX_UNZIPPED + (1 << 20)
    main_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    parts = {"[Content_Types].xml": content_types(main_type, "/word/document.xml")}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
        with archive.open("word/media/padding.bin", "w", force_zip64=True) as stream:
            chunk = b"\x00" * (1 << 20)
            for _ in range(size // len(chunk)):
                stream.write(chunk)
    content = out.getvalue()
    if declared_small:
        content = _declare_small(content, "word/media/padding.bin")
    return content


def _declare_small(content: bytes, name: str) -> bytes:
    """The same zip with the entry's uncompressed size in the central directory rewritten to 10 bytes."""
    import struct

    encoded = name.encode()
    at = content.rfind(b"PK\x01\x02")
    while at != -1:
        name_length = struct.unpack_from("<H", content, at + 28)[0]
        if content[at + 46 : at + 46 + name_length] == encoded:
            break
        at = content.rfind(b"PK\x01\x02", 0, at)
    extra_at = at + 46 + len(encoded)
    extra_length = struct.unpack_from("<H", content, at + 30)[0]
    patched = bytearray(content)
    extra = bytes(patched[extra_at : extra_at + extra_length])
    zip64 = extra.find(b"\x01\x00")
    if zip64 != -1:  # the real sizes live in the zip64 extra field: declare 10 bytes there
        struct.pack_into("<Q", patched, extra_at + zip64 + 4, 10)
    else:
        struct.pack_into("<I", patched, at + 24, 10)
    return bytes(patched)
