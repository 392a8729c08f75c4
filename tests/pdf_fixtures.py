"""Fixtures for the PDF evidence tests: a phone photo, a PDF hiding every detail a PDF can, the witnesses
(exiftool, a byte search of every decoded stream) and hostile PDFs (many objects, cross-reference bombs).

Every fixture is built here: pikepdf writes the PDF (document information, XMP on the catalogue and on a
page and a picture, page-piece data, a comment and its pop-up with authors, scripts, attached files), and
Pillow writes the photo inside it, carrying EXIF GPS, artist, owner and serial number, XMP and IPTC.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, Stream
from PIL import Image, ImageCms

from bot.evidence.model import Format, Found, Inspection, Nested, Rewrite

PDF = "application/pdf"
AUTHOR = "PC Jane Smith"
PLANTED = {
    "author": AUTHOR,
    "creator": "Microsoft Word",
    "producer": "Quillsoft Producer",
    "custom": "Hounslow Heath Station",
    "xmp_catalog": "Catalogue Xmpwriter",
    "xmp_page": "Pagelevel Xmpperson",
    "piece": "Piecinfo Ownername",
    "annot": "Annot Authorname",
    "popup": "Popup Authorname",
    "script": "Scriptmarker Alertword",
    "artist": "Artemis Quill",
    "owner": "Quill Family Phone",
    "serial": "SN77QX4410",
    "model": "Pixelphone Zeta",
    "xmp_photo": "Photo Xmpcreator",
    "iptc": "Byline Iptcname",
    "attached_artist": "Attached Artistname",
}
TEXT = "Evidence text line"


# ---------------------------------------------------------------------------------------------------------
# Fixtures: a phone photo and a PDF holding it


def iptc_segment(byline: str) -> bytes:
    """An APP13 Photoshop segment holding one IPTC By-line (2:80), as cameras and editors write it."""
    record = b"\x1c\x02\x50" + struct.pack(">H", len(byline)) + byline.encode()
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(record)) + record
    body = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def xmp_packet(creator: str) -> bytes:
    return (
        b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:exif="http://ns.adobe.com/exif/1.0/">'
        b"<dc:creator><rdf:Seq><rdf:li>" + creator.encode() + b"</rdf:li></rdf:Seq></dc:creator>"
        b"<exif:GPSLatitude>51,30.0N</exif:GPSLatitude></rdf:Description></rdf:RDF></x:xmpmeta>"
        b'<?xpacket end="w"?>'
    )


def phone_jpeg(artist: str = PLANTED["artist"], size: tuple[int, int] = (64, 48)) -> bytes:
    """A photo as a phone saves it: EXIF with GPS, artist, owner, serial and model, then XMP and IPTC."""
    exif = Image.Exif()
    exif[0x010F] = "Pixelmaker"
    exif[0x0110] = PLANTED["model"]
    exif[0x013B] = artist
    exif[0x0132] = "2024:05:12 03:15:22"
    details = exif.get_ifd(0x8769)
    details[0xA430] = PLANTED["owner"]
    details[0xA431] = PLANTED["serial"]
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (51.0, 30.0, 0.0)
    gps[3], gps[4] = "W", (0.0, 7.0, 0.0)
    out = io.BytesIO()
    Image.effect_noise(size, 30).convert("RGB").save(
        out, "JPEG", exif=exif, xmp=xmp_packet(PLANTED["xmp_photo"])
    )
    data = out.getvalue()
    return data[:2] + iptc_segment(PLANTED["iptc"]) + data[2:]


def xmp_stream(pdf: pikepdf.Pdf, creator: str) -> Stream:
    stream = Stream(pdf, xmp_packet(creator))
    stream.Type, stream.Subtype = Name.Metadata, Name.XML
    return stream


def evidence_pdf(*, attachment: bytes | None = None, unknown_attachment: bool = False) -> bytes:
    """Two pages of text with every identifying detail a PDF can hide, and the phone photo on page one."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))
    photo = phone_jpeg()
    image = Stream(pdf, photo)
    image.Type, image.Subtype, image.Filter = Name.XObject, Name.Image, Name.DCTDecode
    image.Width, image.Height, image.ColorSpace, image.BitsPerComponent = 64, 48, Name.DeviceRGB, 8
    image.Metadata = xmp_stream(pdf, PLANTED["xmp_page"])
    for number in (1, 2):
        page = pdf.add_blank_page(page_size=(300, 300))
        text = f"BT /F1 12 Tf 20 20 Td ({TEXT} {number}) Tj ET q 64 0 0 48 50 100 cm /Im0 Do Q".encode()
        page.obj.Contents = pdf.make_stream(text)
        page.obj.Resources = Dictionary(Font=Dictionary(F1=font), XObject=Dictionary(Im0=image))
    first = pdf.pages[0].obj
    first.Metadata = xmp_stream(pdf, PLANTED["xmp_page"])
    first.PieceInfo = Dictionary(
        Illustrator=Dictionary(
            Private=Dictionary(Owner=pikepdf.String(PLANTED["piece"])), LastModified="D:2024"
        )
    )
    first.AA = Dictionary(
        O=Dictionary(S=Name.JavaScript, JS=pikepdf.String(f"app.alert('{PLANTED['script']}')"))
    )
    popup = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot, Subtype=Name.Popup, Rect=[0, 0, 50, 50], T=pikepdf.String(PLANTED["popup"])
        )
    )
    note = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Text,
            Rect=[0, 0, 20, 20],
            T=pikepdf.String(PLANTED["annot"]),
            Contents=pikepdf.String("see the second line"),
            M=pikepdf.String("D:20240512031522+01'00'"),
            Popup=popup,
        )
    )
    popup.Parent = note
    widget = Dictionary(
        Type=Name.Annot,
        Subtype=Name.Widget,
        FT=Name.Tx,
        Rect=[0, 0, 50, 20],
        T=pikepdf.String("collar_number"),
    )
    first.Annots = Array([note, popup, pdf.make_indirect(widget)])
    pdf.Root.AcroForm = Dictionary(Fields=Array([first.Annots[2]]))
    script = Dictionary(S=Name.JavaScript, JS=pikepdf.String(f"app.alert('{PLANTED['script']}')"))
    pdf.Root.OpenAction = pdf.make_indirect(script)
    pdf.Root.Names = Dictionary(JavaScript=Dictionary(Names=Array([pikepdf.String("start"), script])))
    if attachment is not None:
        pdf.attachments["evidence.jpg"] = pikepdf.AttachedFileSpec(pdf, attachment, filename="evidence.jpg")
    if unknown_attachment:
        blob = b"\x00\x01CANDOUR-UNKNOWN" + os.urandom(300_000)  # its /Params /Size is over the object limit
        pdf.attachments["tool.bin"] = pikepdf.AttachedFileSpec(pdf, blob, filename="tool.bin")
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = [PLANTED["xmp_catalog"]]
        meta["xmp:CreatorTool"] = PLANTED["xmp_catalog"]
    pdf.docinfo = pdf.make_indirect(
        Dictionary(
            Author=pikepdf.String(AUTHOR),
            Creator=pikepdf.String(PLANTED["creator"]),
            Producer=pikepdf.String(PLANTED["producer"]),
            Title=pikepdf.String("Rota"),
            CreationDate=pikepdf.String("D:20240512031522+01'00'"),
            Station=pikepdf.String(PLANTED["custom"]),
        )
    )
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------
# A stand-in JPEG format, only until bot/evidence/images.py registers the real one


class StandInJpeg(Format):
    """Reads EXIF, XMP and IPTC with Pillow; cleans by saving the pixels alone. Tests only."""

    media_types: ClassVar[tuple[str, ...]] = ("image/jpeg",)

    def inspect(self, content: bytes, nested: Nested) -> Inspection:
        found = Found()
        with Image.open(io.BytesIO(content)) as image:
            exif = image.getexif()
            for _tag, value in [*exif.items(), *exif.get_ifd(0x8769).items()]:
                found.add(
                    "other",
                    "other camera details (settings such as exposure and lens)",
                    value if isinstance(value, str) else None,
                    show=False,
                )
            if exif.get_ifd(0x8825):
                found.add("location", "where the photo was taken")
            if "xmp" in image.info or b"Photoshop 3.0" in content:
                found.add("other", "hidden XMP details (can hold names, places and edit history)")
        return found.result()

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        with Image.open(io.BytesIO(content)) as image:
            bare = Image.new(image.mode, image.size)
            bare.paste(image)
        out = io.BytesIO()
        bare.save(out, "JPEG", quality=95)
        return Rewrite(out.getvalue())


# ---------------------------------------------------------------------------------------------------------
# The witnesses


def exiftool(data: bytes, tmp_path: Path, name: str = "witness.pdf") -> list[dict[str, object]]:
    """Everything exiftool reads in the file, embedded documents included (an outside witness)."""
    if shutil.which("exiftool") is None:
        if os.environ.get("CANDOUR_REQUIRE_EXIFTOOL"):
            pytest.fail("CANDOUR_REQUIRE_EXIFTOOL is set but exiftool is not installed")
        pytest.skip("exiftool is not installed (Debian package libimage-exiftool-perl)")
    path = tmp_path / name
    path.write_bytes(data)
    done = subprocess.run(
        ["exiftool", "-j", "-a", "-u", "-G1", "-ee", str(path)], capture_output=True, check=False, timeout=60
    )
    return json.loads(done.stdout or b"[]")


def exif_text(data: bytes, tmp_path: Path, name: str) -> str:
    return json.dumps(exiftool(data, tmp_path, name))


def decoded_pieces(data: bytes) -> Iterator[bytes]:
    """The file and every stream in it, decoded as far as pikepdf can, and attachments and pictures whole."""
    yield data
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, Stream):
                try:
                    yield obj.read_bytes()
                except pikepdf.PdfError:
                    yield obj.read_raw_bytes()


def pictures_and_attachments(data: bytes) -> Iterator[tuple[str, bytes]]:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for number, obj in enumerate(pdf.objects):
            if isinstance(obj, Stream) and obj.get("/Filter") == Name.DCTDecode:
                yield f"picture{number}.jpg", obj.read_raw_bytes()
        for name, spec in pdf.attachments.items():
            yield f"attached-{name}", spec.get_file().read_bytes()


def assert_nothing_planted_survives(data: bytes, tmp_path: Path) -> None:
    pieces = list(decoded_pieces(data))
    for label, value in PLANTED.items():
        for form in (value.encode(), value.encode("utf-16-be")):
            assert not any(form in piece for piece in pieces), f"{label} survives in the bytes"
    entries = exiftool(data, tmp_path, "cleaned.pdf")
    keys = {key for entry in entries for key in entry}
    assert not {key for key in keys if key.startswith(("XMP", "IPTC", "GPS", "ExifIFD"))}, (
        "exiftool reads XMP or EXIF"
    )
    assert not keys & {
        "PDF:Author",
        "PDF:Creator",
        "PDF:Producer",
        "PDF:Title",
        "PDF:CreateDate",
        "PDF:Station",
    }
    report = json.dumps(entries)
    for label, value in PLANTED.items():
        assert value not in report, f"exiftool still reads the {label}"
    for name, part in pictures_and_attachments(data):
        inner = exif_text(part, tmp_path, name)
        assert "GPS" not in inner and "Artist" not in inner and "SerialNumber" not in inner, name
        assert "XMP" not in inner and "IPTC" not in inner, name
        for label, value in PLANTED.items():
            assert value not in inner, f"exiftool reads the {label} in {name}"


def page_texts(data: bytes) -> list[bytes]:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return [page.obj.Contents.read_bytes() for page in pdf.pages]


def million_objects(*, declared: int | None = None) -> bytes:
    """A 6 MB PDF with a million tiny objects in one object stream, and a compressed xref stream."""
    count, first = 1_000_000, 5
    parts, offsets = [b"%PDF-1.7\n"], {}

    def add(number: int, body: bytes) -> None:
        offsets[number] = sum(map(len, parts))
        parts.append(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    add(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    add(2, b"<< /Type /Pages /Kids [] /Count 0 >>")
    header = b" ".join(b"%d %d" % (first + i, 2 * i) for i in range(count)) + b" "
    packed = zlib.compress(header + b"0 " * count, 1)
    add(
        3,
        b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream"
        % (count, len(header), len(packed), packed),
    )
    xref_at, size = sum(map(len, parts)), first + count
    rows = bytearray(struct.pack(">BII", 0, 0, 65535))
    for number in range(1, size):
        at = offsets.get(number, xref_at if number == 4 else None)
        rows += struct.pack(">BII", 1, at, 0) if at is not None else struct.pack(">BII", 2, 3, number - first)
    table = zlib.compress(bytes(rows), 1)
    said = size if declared is None else declared
    parts.append(
        b"4 0 obj\n<< /Type /XRef /S#69ze %d /W [1 4 4] /Root 1 0 R /Filter /FlateDecode /Length %d >>\nstream\n"
        % (said, len(table))
        + table
        + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    )
    return b"".join(parts)


def xref_bomb(declared: int, entries: int) -> bytes:
    """Under 1 MB of PDF whose compressed cross-reference stream lists `entries` objects and says `declared`."""
    parts = [b"%PDF-1.7\n"]
    catalog = len(parts[0])
    parts.append(b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n")
    pages = sum(map(len, parts))
    parts.append(b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n")
    xref_at = sum(map(len, parts))
    squeeze = zlib.compressobj(6)
    head = struct.pack(">BI", 0, 0) + struct.pack(">BI", 1, catalog) + struct.pack(">BI", 1, pages)
    table = squeeze.compress(head + struct.pack(">BI", 1, xref_at))
    row = struct.pack(">BI", 1, 9) * 100_000
    table += b"".join(squeeze.compress(row) for _ in range(entries // 100_000)) + squeeze.flush()
    parts.append(
        b"3 0 obj<</Type/XRef/Size %d/W[1 4 0]/Root 1 0 R/Filter/FlateDecode/Length %d>>stream\n"
        % (declared, len(table))
        + table
        + b"\nendstream endobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    )
    return b"".join(parts)


# ---------------------------------------------------------------------------------------------------------
# Places no reader models: each builder returns the PDF, the values planted, and the values that must stay

SIGNER = (
    "Jezebel Smithfield",
    "jsmithfield@met.police.uk",
    "Lewisham Custody Suite",
    "Witnessing a statement",
)
KEPT = (
    "collar_number",
    "PC 4471",
    "Signature1",
    "see the second line",
    "Chapter One",
    "https://example.org/a",
)


def _blank() -> pikepdf.Pdf:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    return pdf


def _saved(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _field(pdf: pikepdf.Pdf, **entries: object) -> Dictionary:
    widget = pdf.make_indirect(
        Dictionary(Type=Name.Annot, Subtype=Name.Widget, Rect=[0, 0, 50, 20], P=pdf.pages[0].obj, **entries)
    )
    pdf.pages[0].obj.Annots = Array([*pdf.pages[0].obj.get("/Annots", Array()), widget])
    pdf.Root.AcroForm = Dictionary(Fields=Array([*pdf.Root.get("/AcroForm", {}).get("/Fields", []), widget]))
    return widget


def signed_pdf() -> tuple[bytes, tuple[str, ...]]:
    """A signed form: the signature holds the signer's name, e-mail, place, reason, time and certificate."""
    pdf = _blank()
    name, mail, place, reason = SIGNER
    certificate = b"0\x82\x01\x00" + mail.encode() + b"\x00" * 40
    signature = pdf.make_indirect(
        Dictionary(
            Type=Name.Sig,
            Filter=Name("/Adobe.PPKLite"),
            SubFilter=Name("/adbe.pkcs7.detached"),
            Name=pikepdf.String(name),
            ContactInfo=pikepdf.String(mail),
            Location=pikepdf.String(place),
            Reason=pikepdf.String(reason),
            M=pikepdf.String("D:20261101120000Z"),
            Contents=pikepdf.String(certificate),
            ByteRange=Array([0, 0, 0, 0]),
        )
    )
    _field(pdf, FT=Name.Sig, T=pikepdf.String("Signature1"), V=signature)
    _field(pdf, FT=Name.Tx, T=pikepdf.String("collar_number"), V=pikepdf.String("PC 4471"))
    pdf.Root.Perms = Dictionary(DocMDP=signature)
    return _saved(pdf), SIGNER


def profile_with_text(text: str) -> bytes:
    """Pillow's sRGB profile with a copyright line and an application's own tag holding `text`."""
    base = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    count = struct.unpack(">I", base[128:132])[0]
    table = [struct.unpack(">4sII", base[132 + 12 * i : 144 + 12 * i]) for i in range(count)]
    tags = [(sig, base[at : at + size]) for sig, at, size in table if sig != b"cprt"]
    tags += [
        (b"cprt", b"text\0\0\0\0Copyright " + text.encode() + b"\0"),
        (b"zzzz", b"zzzz\0\0\0\0" + text.encode()),
    ]
    start = 132 + 12 * len(tags)
    entries, body = b"", b""
    for sig, data in tags:
        body += b"\0" * (-(start + len(body)) % 4)
        entries += struct.pack(">4sII", sig, start + len(body), len(data))
        body += data
    out = base[:128] + struct.pack(">I", len(tags)) + entries + body
    return struct.pack(">I", len(out)) + out[4:]


def described_pdf() -> tuple[bytes, tuple[str, ...]]:
    """An article thread's details, an attachment's description and collection item, comment extras, and
    a picture drawn with a colour profile holding an e-mail address."""
    pdf = _blank()
    name, mail, place, reason = SIGNER
    profile = pdf.make_stream(profile_with_text(mail))
    profile.N = 3
    picture = Stream(pdf, zlib.compress(b"\x80" * 12))
    picture.Type, picture.Subtype, picture.Filter = Name.XObject, Name.Image, Name.FlateDecode
    picture.Width, picture.Height, picture.BitsPerComponent = 2, 2, 8
    picture.ColorSpace = Array([Name.ICCBased, profile])
    pdf.pages[0].obj.Resources = Dictionary(XObject=Dictionary(Im0=picture))
    info = Dictionary(
        Title=pikepdf.String("notes"), Author=pikepdf.String(name), Subject=pikepdf.String(place)
    )
    pdf.Root.Threads = Array([pdf.make_indirect(Dictionary(Type=Name("/Thread"), I=info))])
    spec = pikepdf.AttachedFileSpec(pdf, phone_jpeg(), filename="evidence.jpg", description=f"from {reason}")
    pdf.attachments["evidence.jpg"] = spec
    pdf.attachments["evidence.jpg"].obj.CI = Dictionary(Owner=pikepdf.String(mail))
    schema = Dictionary(Owner=Dictionary(Subtype=Name.S, N=pikepdf.String("Owner")))
    pdf.Root.Collection = Dictionary(Type=Name("/Collection"), Schema=schema)
    note = Dictionary(
        Type=Name.Annot,
        Subtype=Name.Text,
        Rect=[0, 0, 10, 10],
        Contents=pikepdf.String("see the second line"),
        RC=pikepdf.String(f"<body><p>{name}</p></body>"),
        NM=pikepdf.String(mail),
        Subj=pikepdf.String(place),
    )
    pdf.pages[0].obj.Annots = Array([pdf.make_indirect(note)])
    return _saved(pdf), (name, mail, place, reason)


def linked_pdf() -> tuple[bytes, tuple[str, ...]]:
    """Links to files on the writer's computer, print settings with notes, custom keys everywhere; and
    a web link and a bookmark, which are content."""
    pdf = _blank()
    name, mail, place, reason = SIGNER
    launch = Dictionary(
        S=Name.Launch, F=Dictionary(Type=Name.Filespec, F=pikepdf.String(r"C:\Users\jsmith_x\a.docx"))
    )
    links = [
        Dictionary(S=Name.URI, URI=pikepdf.String("file:///home/jsmith_y/statement.pdf")),
        Dictionary(S=Name.URI, URI=pikepdf.String("https://example.org/a")),
        launch,
    ]
    page = pdf.pages[0].obj
    page.Annots = Array(
        [
            pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=[0, 0, 9, 9], A=a))
            for a in links
        ]
    )
    profile = pdf.make_stream(b"acsp" + f"Copyright {name}".encode())
    profile.N = 3
    pdf.Root.OutputIntents = Array(
        [
            Dictionary(
                Type=Name.OutputIntent,
                S=Name("/GTS_PDFA1"),
                Info=pikepdf.String(place),
                DestOutputProfile=profile,
            )
        ]
    )
    outline = pdf.make_indirect(Dictionary(Type=Name.Outlines, Count=1))
    item = pdf.make_indirect(
        Dictionary(Title=pikepdf.String("Chapter One"), Parent=outline, Dest=Array([page, Name.Fit]))
    )
    outline.First = outline.Last = item
    pdf.Root.Outlines = outline
    pdf.Root["/ApplicationUser"] = pikepdf.String(mail)
    page["/CreatorUser"] = Name("/" + reason.replace(" ", "_"))
    pdf.trailer["/Typist"] = pikepdf.String(name)
    return _saved(pdf), ("jsmith_x", "jsmith_y", name, mail, place, reason.replace(" ", "_"))


def inline_jpeg_pdf(jpeg: bytes) -> bytes:
    """A page that draws a photo inline, inside its own instructions (BI ... ID ... EI)."""
    pdf = _blank()
    width, height = Image.open(io.BytesIO(jpeg)).size
    head = b"BT /F1 12 Tf 20 20 Td (%s) Tj ET q 64 0 0 48 0 0 cm " % TEXT.encode()
    image = b"BI /W %d /H %d /CS /RGB /BPC 8 /F /DCT ID " % (width, height)
    pdf.pages[0].obj.Contents = pdf.make_stream(head + image + jpeg + b" EI Q")
    return _saved(pdf)


def disguised_photo_pdf(jpeg: bytes) -> bytes:
    """Photos whose dictionaries lie: one with a damaged /Subtype, one in a plain Flate stream."""
    pdf = _blank()
    damaged = Stream(pdf, jpeg)
    damaged.Type, damaged.Subtype, damaged.Filter = Name.XObject, Name("/Imaeg"), Name.DCTDecode
    damaged.Width, damaged.Height, damaged.ColorSpace, damaged.BitsPerComponent = 64, 48, Name.DeviceRGB, 8
    plain = Stream(pdf, zlib.compress(jpeg))
    plain.Filter = Name.FlateDecode
    pdf.pages[0].obj.Resources = Dictionary(XObject=Dictionary(Im0=damaged), Extra=plain)
    return _saved(pdf)
