"""Pictures: JPEG, PNG, GIF, WebP, TIFF and HEIC, each with every identifying place its format has."""

from __future__ import annotations

import io
import struct
import zlib

import pillow_heif
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from bot.evidence import types as t
from tests.evidence_corpus import values as v
from tests.evidence_corpus.plants import BYTES, Built, Fixture, Plant, Workshop

pillow_heif.register_heif_opener()
SIZE = (64, 48)


def picture(size: tuple[int, int] = SIZE) -> Image.Image:
    """A picture whose every pixel differs, so a lost row or a rotation shows."""
    image = Image.new("RGB", size)
    image.putdata([(x * 4 % 256, y * 5 % 256, (x * y) % 256) for y in range(size[1]) for x in range(size[0])])
    return image


def icc_profile() -> bytes:
    """A small ICC v2 profile whose description and copyright are planted text."""
    description = v.ICC_DESCRIPTION.encode("ascii") + b"\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(description)) + description + bytes(4 + 4 + 2 + 1 + 67)
    cprt = b"text" + bytes(4) + v.ICC_COPYRIGHT.encode("ascii") + b"\0"
    white = b"XYZ " + bytes(4) + struct.pack(">iii", 63190, 65536, 54061)
    tags = [(b"desc", desc), (b"cprt", cprt), (b"wtpt", white)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (
        struct.pack(">I", size)
        + b"none"
        + bytes([2, 0x10, 0, 0])
        + b"mntrRGB XYZ "
        + bytes(12)
        + b"acsp"
        + bytes(24)
        + struct.pack(">I", 0)
        + struct.pack(">iii", 63190, 65536, 54061)
        + bytes(48)
    )
    return header + struct.pack(">I", len(tags)) + table + data


ICC_PLANTS = (
    Plant("ICC profile description", v.ICC_DESCRIPTION),
    Plant("ICC profile copyright", v.ICC_COPYRIGHT),
)


def exif_tags(*, owner: bool = True) -> tuple[list[str], list[Plant]]:
    """exiftool arguments for the EXIF and GPS a phone writes, and their plants."""
    tags = [
        ("Artist", v.ARTIST, "EXIF Artist"),
        ("Copyright", v.COPYRIGHT, "EXIF Copyright"),
        ("Make", v.MAKE, "EXIF Make"),
        ("Model", v.MODEL, "EXIF Model"),
        ("Software", v.SOFTWARE, "EXIF Software"),
        ("ImageDescription", v.DESCRIPTION, "EXIF ImageDescription"),
        ("ExifIFD:SerialNumber", v.SERIAL, "EXIF BodySerialNumber (0xA431)"),
        ("ExifIFD:DateTimeOriginal", v.TAKEN, "EXIF DateTimeOriginal"),
        ("ExifIFD:UserComment", v.USER_COMMENT, "EXIF UserComment"),
        ("XPAuthor", v.XP_AUTHOR, "EXIF XPAuthor (UTF-16)"),
        ("XPComment", v.XP_COMMENT, "EXIF XPComment (UTF-16)"),
        ("XPSubject", v.XP_SUBJECT, "EXIF XPSubject (UTF-16)"),
        ("XPKeywords", v.XP_KEYWORDS, "EXIF XPKeywords (UTF-16)"),
        ("HostComputer", v.HOST_COMPUTER, "EXIF HostComputer"),
        ("ExifIFD:LensSerialNumber", v.LENS_SERIAL, "EXIF LensSerialNumber"),
        ("ExifIFD:ImageUniqueID", v.IMAGE_UNIQUE_ID, "EXIF ImageUniqueID"),
    ]
    if owner:
        tags.append(("ExifIFD:OwnerName", v.OWNER, "EXIF OwnerName (CameraOwnerName)"))
    args = [f"-{tag}={value}" for tag, value, _ in tags]
    args += [
        f"-GPS:GPSLatitude={v.LATITUDE}",
        "-GPS:GPSLatitudeRef=N",
        f"-GPS:GPSLongitude={abs(v.LONGITUDE)}",
        "-GPS:GPSLongitudeRef=W",
        "-GPS:GPSAltitude=35",
        "-GPS:GPSDateStamp=2019:07:23",
    ]
    plants = [Plant(place, value) for _, value, place in tags]
    plants.append(Plant("EXIF GPS position", v.GPS, gps=True))
    return args, plants


def xmp_tags() -> tuple[list[str], list[Plant]]:
    """exiftool arguments for XMP: creator, city, and the GPS position again in XMP-exif."""
    args = [
        f"-XMP-dc:Creator={v.XMP_CREATOR}",
        f"-XMP-photoshop:City={v.XMP_CITY}",
        f"-XMP-xmpMM:OriginalDocumentID={v.XMP_DOCUMENT_ID}",
        f"-XMP-iptcCore:CreatorWorkEmail={v.XMP_WORK_EMAIL}",
        f"-XMP-exif:GPSLatitude={v.LATITUDE}",
        f"-XMP-exif:GPSLongitude={v.LONGITUDE}",
    ]
    plants = [
        Plant("XMP dc:creator", v.XMP_CREATOR),
        Plant("XMP photoshop:City", v.XMP_CITY),
        Plant("XMP xmpMM:OriginalDocumentID", v.XMP_DOCUMENT_ID),
        Plant("XMP Iptc4xmpCore:CreatorWorkEmail", v.XMP_WORK_EMAIL),
        Plant("XMP exif:GPSLatitude/Longitude", v.GPS, gps=True),
    ]
    return args, plants


def iptc_tags() -> tuple[list[str], list[Plant]]:
    """exiftool arguments for IPTC By-line, City and Caption."""
    args = [
        f"-IPTC:By-line={v.IPTC_BYLINE}",
        f"-IPTC:City={v.IPTC_CITY}",
        f"-IPTC:Caption-Abstract={v.IPTC_CAPTION}",
        f"-IPTC:Writer-Editor={v.IPTC_WRITER}",
        f"-IPTC:Sub-location={v.IPTC_SUBLOCATION}",
    ]
    plants = [
        Plant("IPTC By-line", v.IPTC_BYLINE),
        Plant("IPTC City", v.IPTC_CITY),
        Plant("IPTC Caption-Abstract", v.IPTC_CAPTION),
        Plant("IPTC Writer-Editor", v.IPTC_WRITER),
        Plant("IPTC Sub-location", v.IPTC_SUBLOCATION),
    ]
    return args, plants


def maker_note() -> tuple[list[str], list[Plant]]:
    return [f"-MakerNoteUnknownText={v.MAKER_NOTE}"], [Plant("EXIF maker note", v.MAKER_NOTE)]


def build_jpeg(shop: Workshop) -> Built:
    """A phone photo: EXIF, GPS, maker note, XMP, IPTC, an EXIF thumbnail, an ICC profile and a comment."""
    out = io.BytesIO()
    picture().save(out, "JPEG", quality=92, icc_profile=icc_profile(), comment=v.JPEG_COMMENT.encode())
    thumb = io.BytesIO()
    picture((16, 12)).save(thumb, "JPEG", comment=v.THUMBNAIL_COMMENT.encode())
    thumb_path = shop.path(".jpg")
    thumb_path.write_bytes(thumb.getvalue())
    exif, exif_plants = exif_tags()
    xmp, xmp_plants = xmp_tags()
    iptc, iptc_plants = iptc_tags()
    maker, maker_plants = maker_note()
    content = shop.plant(out.getvalue(), ".jpg", *exif, *maker, *xmp, *iptc, f"-ThumbnailImage<={thumb_path}")
    content += v.JPEG_TRAILER.encode()  # data after the end of the picture, as motion photos carry
    plants = [
        *exif_plants,
        *maker_plants,
        *xmp_plants,
        *iptc_plants,
        *ICC_PLANTS,
        Plant("JPEG COM comment", v.JPEG_COMMENT),
        Plant("EXIF thumbnail (its own JPEG comment)", v.THUMBNAIL_COMMENT),
        Plant("data after the JPEG's end marker", v.JPEG_TRAILER, witness=BYTES),
    ]
    return Built(content, tuple(plants))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def insert_before_idat(content: bytes, chunks: bytes) -> bytes:
    """The PNG with extra chunks placed before its first IDAT."""
    at = content.index(b"IDAT") - 4
    return content[:at] + chunks + content[at:]


def build_png(shop: Workshop) -> Built:
    """A screenshot: tEXt, zTXt, iTXt, EXIF with GPS and a maker note, XMP, IPTC, a named iCCP profile and
    a named sPLT palette."""
    info = PngInfo()
    info.add_text("Author", v.PNG_TEXT)
    info.add_text("Comment", v.PNG_ZTXT, zip=True)
    info.add_itxt("Description", v.PNG_ITXT, zip=True)
    out = io.BytesIO()
    picture().save(out, "PNG", pnginfo=info)
    exif, exif_plants = exif_tags()
    xmp, xmp_plants = xmp_tags()
    iptc, iptc_plants = iptc_tags()
    maker, maker_plants = maker_note()
    content = shop.plant(out.getvalue(), ".png", *exif, *maker, *xmp, *iptc)
    iccp = png_chunk(b"iCCP", v.PNG_ICCP_NAME.encode("latin-1") + b"\0\0" + zlib.compress(icc_profile()))
    splt = png_chunk(b"sPLT", v.PNG_SPLT_NAME.encode("latin-1") + b"\0\x08" + bytes([10, 20, 30, 255, 0, 1]))
    private = png_chunk(b"prVt", v.PNG_PRIVATE.encode())  # ancillary, private: readers skip it
    content = insert_before_idat(content, iccp + splt + private)
    plants = [
        Plant("PNG tEXt Author", v.PNG_TEXT),
        Plant("PNG zTXt Comment (compressed)", v.PNG_ZTXT),
        Plant("PNG iTXt Description (compressed)", v.PNG_ITXT),
        *exif_plants,
        *maker_plants,
        *xmp_plants,
        *iptc_plants,
        *ICC_PLANTS,
        Plant("PNG iCCP profile name", v.PNG_ICCP_NAME),
        Plant("PNG sPLT palette name", v.PNG_SPLT_NAME, witness=BYTES),
        Plant("PNG private ancillary chunk prVt", v.PNG_PRIVATE, witness=BYTES),
    ]
    return Built(content, tuple(plants))


def build_gif(shop: Workshop) -> Built:
    """An animated GIF: a comment extension, XMP with GPS and an ICC profile."""
    frames = [picture(), picture().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    icc_path = shop.path(".icc")
    icc_path.write_bytes(icc_profile())
    xmp, xmp_plants = xmp_tags()
    content = shop.plant(
        out.getvalue(), ".gif", f"-Comment={v.GIF_COMMENT}", *xmp, f"-ICC_Profile<={icc_path}"
    )
    return Built(content, (Plant("GIF comment extension", v.GIF_COMMENT), *xmp_plants, *ICC_PLANTS))


def build_webp(shop: Workshop) -> Built:
    """A lossless WebP: EXIF with GPS and a maker note, XMP and an ICC profile."""
    out = io.BytesIO()
    picture().save(out, "WEBP", lossless=True, icc_profile=icc_profile())
    exif, exif_plants = exif_tags()
    xmp, xmp_plants = xmp_tags()
    maker, maker_plants = maker_note()
    content = with_riff_chunk(
        shop.plant(out.getvalue(), ".webp", *exif, *maker, *xmp), b"JSMT", v.WEBP_PRIVATE
    )
    unknown = Plant("WebP unknown RIFF chunk", v.WEBP_PRIVATE, witness=BYTES)
    return Built(content, (*exif_plants, *maker_plants, *xmp_plants, *ICC_PLANTS, unknown))


def with_riff_chunk(content: bytes, kind: bytes, text: str) -> bytes:
    """The RIFF file with one more chunk at its end, its size updated (readers skip unknown chunks)."""
    data = text.encode()
    chunk = kind + struct.pack("<I", len(data)) + data + bytes(len(data) % 2)
    body = content[8:] + chunk
    return b"RIFF" + struct.pack("<I", len(body)) + body


def build_tiff(shop: Workshop) -> Built:
    """A scanner's TIFF: EXIF with GPS and a maker note, XMP, IPTC and an ICC profile."""
    out = io.BytesIO()
    picture().save(out, "TIFF", compression="tiff_deflate", icc_profile=icc_profile())
    exif, exif_plants = exif_tags()
    xmp, xmp_plants = xmp_tags()
    iptc, iptc_plants = iptc_tags()
    maker, maker_plants = maker_note()
    content = shop.plant(out.getvalue(), ".tif", *exif, *maker, *xmp, *iptc)
    return Built(content, (*exif_plants, *maker_plants, *xmp_plants, *iptc_plants, *ICC_PLANTS))


def build_heic(shop: Workshop) -> Built:
    """An iPhone photo: EXIF with GPS and a maker note, XMP and an ICC profile in a HEIC."""
    out = io.BytesIO()
    picture().save(out, "HEIF", quality=90, icc_profile=icc_profile())
    exif, exif_plants = exif_tags()
    xmp, xmp_plants = xmp_tags()
    maker, maker_plants = maker_note()
    content = shop.plant(out.getvalue(), ".heic", *exif, *maker, *xmp)
    return Built(content, (*exif_plants, *maker_plants, *xmp_plants, *ICC_PLANTS))


FIXTURES = (
    Fixture("jpeg", "JPEG", t.JPEG, "IMG_0001.jpg", build_jpeg, "image"),
    Fixture("png", "PNG", t.PNG, "Screenshot.png", build_png, "image"),
    Fixture("gif", "GIF", t.GIF, "loop.gif", build_gif, "image"),
    Fixture("webp", "WebP", t.WEBP, "photo.webp", build_webp, "image"),
    Fixture("tiff", "TIFF", t.TIFF, "scan.tif", build_tiff, "image"),
    Fixture("heic", "HEIC", t.HEIC, "IMG_0002.heic", build_heic, "image"),
)
