"""PDF: document information, XMP, an annotation's author, application data, an image stream that is a
phone photo with its own metadata, and a file attachment that is another such photo."""

from __future__ import annotations

import io

import pikepdf
from pikepdf import Dictionary, Name

from bot.evidence import types as t
from tests.evidence_corpus import values as v
from tests.evidence_corpus.images import SIZE, build_jpeg
from tests.evidence_corpus.plants import BYTES, Built, Fixture, Plant, Workshop

XMP_PACKET = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    "<dc:creator><rdf:Seq><rdf:li>{}</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>"
)


def page(pdf: pikepdf.Pdf, image: pikepdf.Stream | None, line: str) -> pikepdf.Page:
    """A page with a line of text and, when given, the picture drawn under it."""
    font = pdf.make_indirect(
        Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica, Encoding=Name.WinAnsiEncoding)
    )
    draw = f"BT /F1 11 Tf 20 160 Td ({line}) Tj ET".encode("latin-1")
    resources = Dictionary(Font=Dictionary(F1=font))
    if image is not None:
        draw += b" q 128 0 0 96 20 40 cm /Im0 Do Q"
        resources.XObject = Dictionary(Im0=image)
    return pikepdf.Page(
        pdf.make_indirect(
            Dictionary(
                Type=Name.Page,
                MediaBox=[0, 0, 400, 200],
                Resources=resources,
                Contents=pdf.make_stream(draw),
            )
        )
    )


def pdf_string(value: str) -> str:
    """A PDF literal string (the values planted hold no brackets or backslashes)."""
    assert not set(value) & set("()\\")
    return f"({value})"


def incremental_update(base: bytes, info: dict[str, str]) -> bytes:
    """The PDF with an incremental update appended that replaces its document information.

    Why: the earlier revision's information stays in the file's bytes, unseen by a reader that shows the
    latest revision; a cleaner must write the file afresh, not keep old revisions.
    """
    with pikepdf.open(io.BytesIO(base)) as pdf:
        number = pdf.trailer.Info.objgen[0]
        root = pdf.Root.objgen[0]
        size = int(pdf.trailer.Size)
        ident = pdf.trailer.ID.unparse().decode("ascii") if "/ID" in pdf.trailer else ""
    previous = int(base[base.rindex(b"startxref") + 9 :].split()[0])
    base = base if base.endswith(b"\n") else base + b"\n"
    entries = " ".join(f"/{key} {pdf_string(value)}" for key, value in info.items())
    body = f"{number} 0 obj\n<< {entries} >>\nendobj\n".encode("latin-1")
    xref_at = len(base) + len(body)
    table = f"xref\n0 1\n0000000000 65535 f \n{number} 1\n{len(base):010d} 00000 n \n"
    trailer = (
        f"trailer\n<< /Size {size} /Root {root} 0 R /Info {number} 0 R /Prev {previous} /ID {ident} >>\n"
    )
    return base + body + (table + trailer + f"startxref\n{xref_at}\n%%EOF\n").encode("latin-1")


def build_pdf(shop: Workshop) -> Built:
    """A two-page PDF carrying its author everywhere a PDF can."""
    photo = build_jpeg(shop)
    attached = build_jpeg(shop)
    pdf = pikepdf.new()
    image = pdf.make_stream(
        photo.content,
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=SIZE[0],
        Height=SIZE[1],
        ColorSpace=Name.DeviceRGB,
        BitsPerComponent=8,
        Filter=Name.DCTDecode,
    )
    image.Metadata = pdf.make_stream(
        XMP_PACKET.format(v.PDF_IMAGE_XMP).encode(), Type=Name.Metadata, Subtype=Name.XML
    )
    pdf.pages.append(page(pdf, image, v.PDF_BODY))
    pdf.pages.append(page(pdf, None, "Page two of my account."))
    first = pdf.pages[0].obj
    first.Metadata = pdf.make_stream(
        XMP_PACKET.format(v.PDF_PAGE_XMP).encode(), Type=Name.Metadata, Subtype=Name.XML
    )
    first.PieceInfo = Dictionary(
        JSmithApp=Dictionary(LastModified="D:20190723045617", Private=v.PDF_PIECE_INFO)
    )
    note = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Text,
            Rect=[300, 150, 320, 170],
            T=v.PDF_ANNOT_AUTHOR,
            Contents=v.PDF_ANNOT_TEXT,
            M="D:20190723045617",
        )
    )
    first.Annots = pdf.make_indirect([note])
    pdf.docinfo = pdf.make_indirect(Dictionary(Author=v.PDF_OLD_AUTHOR, Title="Draft"))
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["dc:creator"] = [v.PDF_XMP_CREATOR]
        meta["xmp:CreatorTool"] = v.PDF_XMP_TOOL
        meta["xmpMM:DocumentID"] = v.PDF_XMP_DOCUMENT_ID
    spec = pikepdf.AttachedFileSpec(
        pdf,
        attached.content,
        description=v.PDF_ATTACHMENT_DESC,
        filename=v.PDF_ATTACHMENT_NAME,
        mime_type="image/jpeg",
    )
    pdf.attachments[v.PDF_ATTACHMENT_NAME] = spec
    script = pdf.make_indirect(Dictionary(S=Name.JavaScript, JS=f"// {v.PDF_JAVASCRIPT}\napp.beep(0);"))
    pdf.Root.Names.JavaScript = Dictionary(Names=["greeting", script])
    pdf.Root.OpenAction = script
    out = io.BytesIO()
    pdf.save(out, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    info = {
        "Author": v.PDF_AUTHOR,
        "Creator": v.PDF_CREATOR,
        "Producer": v.PDF_PRODUCER,
        "Title": v.PDF_TITLE,
        "Subject": v.PDF_SUBJECT,
        "Keywords": v.PDF_KEYWORDS,
        "CreationDate": "D:20180611093012+01'00'",
    }
    content = incremental_update(out.getvalue(), info)
    plants = [
        Plant("docinfo Author", v.PDF_AUTHOR),
        Plant("docinfo Creator", v.PDF_CREATOR),
        Plant("docinfo Producer", v.PDF_PRODUCER),
        Plant("docinfo Title", v.PDF_TITLE),
        Plant("docinfo Subject", v.PDF_SUBJECT),
        Plant("docinfo Keywords", v.PDF_KEYWORDS),
        Plant("docinfo CreationDate", v.PDF_CREATED),
        Plant(
            "document information of an earlier revision (before an incremental update)",
            v.PDF_OLD_AUTHOR,
            witness=BYTES,
        ),
        Plant("document JavaScript (names tree and OpenAction)", v.PDF_JAVASCRIPT, witness=BYTES),
        Plant("XMP dc:creator", v.PDF_XMP_CREATOR),
        Plant("XMP xmp:CreatorTool", v.PDF_XMP_TOOL),
        Plant("XMP xmpMM:DocumentID", v.PDF_XMP_DOCUMENT_ID),
        Plant("page /Metadata (XMP on a page)", v.PDF_PAGE_XMP, witness=BYTES),
        Plant("annotation /T (author)", v.PDF_ANNOT_AUTHOR, witness=BYTES),
        Plant("page /PieceInfo application data", v.PDF_PIECE_INFO, witness=BYTES),
        Plant("image XObject /Metadata (XMP)", v.PDF_IMAGE_XMP, witness=BYTES),
        Plant("attachment file name", v.PDF_ATTACHMENT_NAME, witness=BYTES),
        Plant("attachment description", v.PDF_ATTACHMENT_DESC, witness=BYTES),
        *(plant.inside("image stream (JPEG)") for plant in photo.plants),
        *(plant.inside("attached photo (JPEG)") for plant in attached.plants),
    ]
    return Built(content, tuple(plants))


FIXTURES = (Fixture("pdf", "PDF", t.PDF, "statement.pdf", build_pdf, "pdf", body=v.PDF_BODY),)
