"""Reading out what a picture's EXIF, XMP, IPTC and ICC profile say about who, where, when and with what.

Everything here only reads: Pillow's EXIF and IPTC readers, lxml for XMP, and the ICC tag table. The
values behind a finding go to `Found` so the byte search can look for them in the cleaned file; the only
values never recorded are the texts of the one colour profile a cleaned picture carries (Pillow's sRGB).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from typing import Any

from lxml import etree
from PIL import Image, ImageCms, IptcImagePlugin

from bot.evidence import images_read as read
from bot.evidence.model import Found, when

GPS_IFD = 0x8825
EXIF_IFD = 0x8769
IFD1 = -1  # Pillow's name for EXIF's second directory: the thumbnail
ORIENTATION = 0x0112
MAKER_NOTE = 0x927C
XMP_TAG = 700
IPTC_TAGS = (33723, 34377)  # IPTC-NAA and Photoshop resources, as TIFF tags

# Tags that describe the pixels or the file's layout, not who or where: never reported.
TECHNICAL_TAGS = frozenset({
    254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 274, 277, 278, 279, 280, 281, 282, 283, 284, 292, 293, 296,
    297, 317, 318, 319, 320, 322, 323, 324, 325, 338, 339, 340, 341, 347, 529, 530, 531, 532, 34675, 36864, 37121,
    40960, 40961, 40962, 40963, 40965, EXIF_IFD, GPS_IFD,
})  # fmt: skip
# The layout tags a TIFF's own writer may put in a cleaned file: its pixels' shape, nothing EXIF adds.
TIFF_LAYOUT = TECHNICAL_TAGS - {
    ORIENTATION,
    EXIF_IFD,
    GPS_IFD,
    36864,
    37121,
    40960,
    40961,
    40962,
    40963,
    40965,
}
PERSON_TAGS = {
    315: "the photographer's name",
    42032: "the owner's name",
    33432: "a copyright notice",
    40093: "the author's name",
}
DEVICE_TAGS = {
    42033: "the camera's serial number",
    42037: "the lens serial number",
    316: "the computer's name",
}
TIME_TAGS = {36867: "when it was taken", 36868: "when it was digitised", 306: "when it was last changed"}
OTHER_TAGS = {
    270: "a description",
    37510: "a comment",
    40092: "a comment",
    40091: "a title",
    40094: "keywords",
    40095: "a subject",
    269: "the document's name",
    285: "the page's name",
    42016: "a unique id for this photo",
}
XP_TAGS = frozenset({40091, 40092, 40093, 40094, 40095})  # Windows' own tags, in UTF-16
HANDLED_TAGS = frozenset(
    {271, 272, 305, XMP_TAG, *IPTC_TAGS, 42035, 42036, MAKER_NOTE, 37500}
    | set(PERSON_TAGS) | set(DEVICE_TAGS) | set(TIME_TAGS) | set(OTHER_TAGS)
)  # fmt: skip


def tag_text(tag: int, value: object) -> str:
    """An EXIF value as text: UTF-16 for Windows' XP tags, the charset prefix cut from UserComment."""
    if tag in XP_TAGS and isinstance(value, (bytes, tuple, list)):
        return bytes(value).decode("utf-16-le", "replace").rstrip("\x00").strip()
    if tag == 37510 and isinstance(value, bytes):
        return value[8:].decode("utf-8", "replace").strip("\x00 ")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip("\x00 ")
    return str(value).strip("\x00 ")


def gps_text(gps: Mapping[int, Any]) -> str | None:
    """Latitude and longitude in decimal degrees, or None when the GPS directory has no usable position."""

    def degrees(value: Any, ref: Any) -> float:
        d, m, s = (float(part) for part in value)
        result = d + m / 60 + s / 3600
        return -result if tag_text(0, ref).upper() in ("S", "W") else result

    try:
        return f"{degrees(gps[2], gps.get(1)):.5f}, {degrees(gps[4], gps.get(3)):.5f}"
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def exif_from_bytes(data: bytes) -> Image.Exif:
    """Pillow's EXIF reader over a raw block (with or without the 'Exif\\0\\0' prefix)."""
    exif = Image.Exif()
    exif.load(data)
    return exif


def exif_block_into(found: Found, data: bytes) -> None:
    """Findings from a raw EXIF block found beside the one Pillow reads (a second APP1, say)."""
    try:
        exif = exif_from_bytes(data)
    except Exception:
        found.add("other", "camera details Candour could not read in full")
        return
    exif_into(found, exif, thumbnail=True)


def _sub_ifd(exif: Image.Exif, tag: int, found: Found) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:
        found.add("other", "camera details Candour could not read in full")
        return {}


def exif_into(
    found: Found, exif: Image.Exif, *, thumbnail: bool = True, layout: frozenset[int] = frozenset()
) -> None:
    """Findings from an EXIF block: its main, Exif, GPS and interoperability directories, and thumbnail.

    In a TIFF the second directory is the next page, read on its own, so `thumbnail` is False there.
    `layout` holds the tags the cleaned file's own writer puts there (a TIFF's); any other tag, even a
    purely technical one such as the orientation, is a finding, so a result carrying any is refused.
    """
    tags: dict[int, Any] = dict(exif)
    before = len(found.result().findings)
    if EXIF_IFD in tags:
        tags.update(_sub_ifd(exif, EXIF_IFD, found))
    gps = _sub_ifd(exif, GPS_IFD, found) if GPS_IFD in tags else {}
    if set(gps) - {0}:
        found.add("location", "where the photo was taken", gps_text(gps) or "GPS position")
        for key in (0x1B, 0x1C, 0x1D):  # processing method, area name, date stamp: text
            if key in gps:
                found.value(tag_text(key, gps[key]))
    _device_into(found, tags)
    for tag, what in PERSON_TAGS.items():
        if tag in tags and tag_text(tag, tags[tag]):
            found.add("person", what, tag_text(tag, tags[tag]))
    for tag, what in TIME_TAGS.items():
        if tag in tags and tag_text(tag, tags[tag]):
            found.add("time", what, when(tag_text(tag, tags[tag])))
            found.value(tag_text(tag, tags[tag]))
    if 305 in tags and tag_text(305, tags[305]):
        found.add("software", "the app that saved or edited it", tag_text(305, tags[305]))
    for tag, what in OTHER_TAGS.items():
        if tag in tags and tag_text(tag, tags[tag]):
            found.add("other", what, tag_text(tag, tags[tag]), show=tag != 42016)
    if XMP_TAG in tags:
        xmp_into(found, tags[XMP_TAG])
    if any(tag in tags for tag in IPTC_TAGS):
        found.add("other", "IPTC details (can hold names, places and captions)")
    if thumbnail and _has_thumbnail(exif):
        found.add("other", "a small preview picture (may show the photo before editing)")
    if set(tags) - HANDLED_TAGS - TECHNICAL_TAGS:
        found.add("other", "other camera details (settings such as exposure and lens)")
        for tag in set(tags) - HANDLED_TAGS - TECHNICAL_TAGS:
            for run in searchable_runs(tags[tag]):
                found.value(run)  # a tag no one here names may still spell a name
    elif set(tags) - layout and len(found.result().findings) == before:
        found.add("other", "camera details on how the picture is stored (such as which way up)")


def _device_into(found: Found, tags: Mapping[int, Any]) -> None:
    make, model = tag_text(271, tags.get(271, "")), tag_text(272, tags.get(272, ""))
    if make or model:
        shown = model if model.lower().startswith(make.lower()) else f"{make} {model}".strip()
        if model:
            found.add("device", "the phone or camera", shown)
            found.value(model)
        else:
            found.add("device", "the phone or camera maker", make)
        found.value(make)
    if 42035 in tags or 42036 in tags:
        lens = tag_text(42036, tags.get(42036, "")) or tag_text(42035, tags.get(42035, ""))
        found.add("device", "the lens", lens or None)
    for tag, what in DEVICE_TAGS.items():
        if tag in tags and tag_text(tag, tags[tag]):
            found.add("device", what, tag_text(tag, tags[tag]))
    if MAKER_NOTE in tags or 37500 in tags:
        found.add("device", "the camera maker's private notes (can hold serial numbers)")


def _has_thumbnail(exif: Image.Exif) -> bool:
    try:
        return bool(exif.get_ifd(IFD1))
    except Exception:
        return True


def orientation(exif: Image.Exif) -> int:
    """The EXIF orientation (1 to 8), 1 when absent or nonsense."""
    try:
        value = int(exif.get(ORIENTATION, 1))
    except (TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


# ---------------------------------------------------------------------------------------------------------
# XMP

_XMP_KINDS: dict[str, tuple[str, str]] = {
    "GPSLatitude": ("location", "where the photo was taken (in XMP)"),
    "GPSLongitude": ("location", "where the photo was taken (in XMP)"),
    "City": ("location", "a place name (in XMP)"),
    "State": ("location", "a place name (in XMP)"),
    "Country": ("location", "a place name (in XMP)"),
    "Location": ("location", "a place name (in XMP)"),
    "Sublocation": ("location", "a place name (in XMP)"),
    "CiAdrCity": ("location", "a place name (in XMP)"),
    "CiAdrExtadr": ("location", "an address (in XMP)"),
    "creator": ("person", "the author's name (in XMP)"),
    "Owner": ("person", "the owner's name (in XMP)"),
    "OwnerName": ("person", "the owner's name (in XMP)"),
    "CameraOwnerName": ("person", "the owner's name (in XMP)"),
    "Artist": ("person", "the photographer's name (in XMP)"),
    "rights": ("person", "a copyright notice (in XMP)"),
    "Copyright": ("person", "a copyright notice (in XMP)"),
    "AuthorsPosition": ("person", "the author's job (in XMP)"),
    "CaptionWriter": ("person", "who wrote the caption (in XMP)"),
    "Credit": ("person", "a credit line (in XMP)"),
    "CiEmailWork": ("person", "an e-mail address (in XMP)"),
    "CiTelWork": ("person", "a phone number (in XMP)"),
    "Make": ("device", "the phone or camera (in XMP)"),
    "Model": ("device", "the phone or camera (in XMP)"),
    "SerialNumber": ("device", "a serial number (in XMP)"),
    "CameraSerialNumber": ("device", "a serial number (in XMP)"),
    "BodySerialNumber": ("device", "a serial number (in XMP)"),
    "LensSerialNumber": ("device", "a serial number (in XMP)"),
    "Lens": ("device", "the lens (in XMP)"),
    "LensModel": ("device", "the lens (in XMP)"),
    "CreateDate": ("time", "when it was made (in XMP)"),
    "DateTimeOriginal": ("time", "when it was taken (in XMP)"),
    "DateCreated": ("time", "when it was made (in XMP)"),
    "ModifyDate": ("time", "when it was changed (in XMP)"),
    "MetadataDate": ("time", "when it was changed (in XMP)"),
    "when": ("time", "when it was edited (in XMP)"),
    "CreatorTool": ("software", "the app used (in XMP)"),
    "softwareAgent": ("software", "the app used (in XMP)"),
    "description": ("other", "a description (in XMP)"),
    "title": ("other", "a title (in XMP)"),
    "subject": ("other", "keywords (in XMP)"),
    "Headline": ("other", "a headline (in XMP)"),
    "Instructions": ("other", "instructions (in XMP)"),
    "UserComment": ("other", "a comment (in XMP)"),
    "Label": ("other", "a label (in XMP)"),
    "DocumentID": ("other", "a unique id for this photo (in XMP)"),
    "InstanceID": ("other", "a unique id for this photo (in XMP)"),
    "OriginalDocumentID": ("other", "a unique id for this photo (in XMP)"),
    "ImageUniqueID": ("other", "a unique id for this photo (in XMP)"),
}
_HIDDEN = {"DocumentID", "InstanceID", "OriginalDocumentID", "ImageUniqueID", "GPSLatitude", "GPSLongitude"}
_XMP_MAX = 4 << 20


def _xmp_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def xmp_into(found: Found, xmp: object) -> None:
    """XMP is free-form XML: said as a whole, and each property Candour knows by name, with its value.

    Why / threat: the XML comes from the file, so it is parsed without entities, DTDs or network, and a
    document type declaration is refused outright (the billion-laughs family of attacks).
    """
    data = xmp if isinstance(xmp, bytes) else str(xmp).encode("utf-8", "replace")
    data = data.strip(b"\x00 \r\n\t")
    if not data:
        return
    found.add("other", "hidden XMP details (can hold names, places and edit history)")
    start = data.find(b"<")
    if start < 0 or b"<!DOCTYPE" in data[:_XMP_MAX].upper() or len(data) > _XMP_MAX:
        return
    try:
        root = etree.fromstring(data[start:], _xmp_parser())
    except etree.XMLSyntaxError:
        return
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            _xmp_property(found, etree.QName(name).localname, value)
        if element.text and element.text.strip() and not len(element):
            # A value inside rdf:li belongs to the property that holds the list.
            holder = element
            while holder is not None and etree.QName(holder).localname in ("li", "Seq", "Bag", "Alt"):
                holder = holder.getparent()
            if holder is not None:
                _xmp_property(found, etree.QName(holder).localname, element.text)


def _xmp_property(found: Found, name: str, value: str) -> None:
    entry = _XMP_KINDS.get(name)
    value = value.strip()
    if entry is None or not value:
        return
    kind, what = entry
    if name == "Make":
        found.add(kind, "the phone or camera maker (in XMP)", value)
        return
    shown = when(value) if kind == "time" else value
    found.add(kind, what, shown, show=name not in _HIDDEN)
    if kind == "time" or name in ("GPSLatitude", "GPSLongitude"):
        found.value(value)


# ---------------------------------------------------------------------------------------------------------
# IPTC

_IPTC = {
    (2, 80): ("person", "the photographer's name (IPTC)"),
    (2, 85): ("person", "the photographer's job (IPTC)"),
    (2, 116): ("person", "a copyright notice (IPTC)"),
    (2, 122): ("person", "who wrote the caption (IPTC)"),
    (2, 110): ("person", "a credit line (IPTC)"),
    (2, 115): ("other", "the source (IPTC)"),
    (2, 90): ("location", "a place name (IPTC)"),
    (2, 92): ("location", "a place name (IPTC)"),
    (2, 95): ("location", "a place name (IPTC)"),
    (2, 101): ("location", "a place name (IPTC)"),
    (2, 55): ("time", "when it was made (IPTC)"),
    (2, 62): ("time", "when it was digitised (IPTC)"),
    (2, 65): ("software", "the app used (IPTC)"),
    (2, 5): ("other", "a title (IPTC)"),
    (2, 105): ("other", "a headline (IPTC)"),
    (2, 120): ("other", "a caption (IPTC)"),
    (2, 25): ("other", "keywords (IPTC)"),
    (2, 40): ("other", "instructions (IPTC)"),
}


def iptc_into(found: Found, image: Image.Image) -> None:
    """IPTC records (JPEG APP13, TIFF tag) through Pillow's IPTC reader: names, places, captions, dates."""
    try:
        records = IptcImagePlugin.getiptcinfo(image)  # type: ignore[arg-type]
    except Exception:
        records = None
        if "photoshop" in image.info:
            found.add("other", "IPTC details (can hold names, places and captions)")
    if not records:
        return
    found.add("other", "IPTC details (can hold names, places and captions)")
    for key, raw in records.items():
        entry = _IPTC.get(key)
        if entry is None:
            continue
        for item in raw if isinstance(raw, list) else [raw]:
            text = item.decode("utf-8", "replace").strip("\x00 ") if isinstance(item, bytes) else str(item)
            if text:
                kind, what = entry
                found.add(kind, what, when(text) if kind == "time" and len(text) >= 8 else text)
                found.value(text)


# ---------------------------------------------------------------------------------------------------------
# ICC colour profiles

_DATE = slice(24, 36)  # the header's creation date and time: six big-endian 16-bit numbers


def _known_srgb() -> bytes:
    """Pillow's own sRGB profile (LittleCMS's built-in one), its creation date set to a fixed one."""
    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    icc[_DATE] = struct.pack(">6H", 2000, 1, 1, 0, 0, 0)
    return bytes(icc)


SRGB_PROFILE = _known_srgb()
"""The only colour profile a cleaned picture carries. Why a fixed date: LittleCMS stamps the moment the
profile is made, which would tell when the cleaner ran, and would make no two cleaned files alike."""
_ICC_TEXT_TAGS = {
    "desc": ("device", "the colour profile's name"),
    "cprt": ("person", "the colour profile's copyright"),
    "dmnd": ("device", "the screen or camera maker (in the colour profile)"),
    "dmdd": ("device", "the screen or camera model (in the colour profile)"),
    "vued": ("other", "the viewing conditions (in the colour profile)"),
    "targ": ("other", "the calibration target (in the colour profile)"),
}


# Tag types that hold numbers for drawing (colours, curves, tables); any other type, unless a text type
# read above, may hold anything (Apple's 'mmod', ICC 5's 'dict' of names and values): a finding.
_ICC_DRAWING_TYPES = frozenset({
    b"XYZ ", b"curv", b"para", b"sf32", b"uf32", b"ui08", b"ui16", b"ui32", b"ui64", b"chrm", b"mft1", b"mft2",
    b"mAB ", b"mBA ", b"mpet", b"sig ", b"clro", b"clrt", b"meas", b"view", b"dtim", b"cicp", b"rcs2",
})  # fmt: skip


def srgb_says(text: str) -> bool:
    """Whether the text appears in the sRGB profile every cleaned picture carries ("sRGB", "built-in").

    Why: such a value is shown but never searched for, or every cleaned picture would be refused.
    """
    return any(form in SRGB_PROFILE for form in (text.encode(), text.encode("utf-16-be")))


def searchable_runs(data: object) -> list[str]:
    """The readable words of uninterpreted data (images_read.text_runs) worth the byte search."""
    return [run for run in read.text_runs(data) if not srgb_says(run)]


def is_srgb_profile(icc: bytes) -> bool:
    """Whether the profile is Pillow's own sRGB in every byte but the header's creation date."""
    return (
        len(icc) == len(SRGB_PROFILE)
        and icc[: _DATE.start] == SRGB_PROFILE[: _DATE.start]
        and icc[_DATE.stop :] == SRGB_PROFILE[_DATE.stop :]
    )


def icc_name(icc: bytes) -> str:
    """The profile's description as LittleCMS reads it ('' when there is none or it cannot be read)."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return (ImageCms.getProfileDescription(profile) or "").strip("\x00 \r\n")
    except Exception:
        return ""


def _icc_date(icc: bytes) -> str:
    year, month, day, hour, minute, _ = struct.unpack(">6H", icc[_DATE].ljust(12, b"\x00"))
    return f"{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}"


def icc_into(found: Found, icc: bytes | None) -> None:
    """Every text a colour profile holds, its date, and Apple's screen serial tag: all are findings.

    Why / threat: a profile made by calibrating a screen, or shipped by a vendor for one screen, can
    name it, its owner or its serial number: in its description ("Jane Smith's MacBook"), copyright,
    maker and model tags, in Apple's 'mmod' tag, or in any private text tag, whatever its description
    says ("sRGB IEC61966-2.1" and "Color LCD" are names any profile can give itself). So no profile's
    text is trusted; only Pillow's own sRGB (bot.evidence.images_pixels writes no other) reads as
    nothing, and the texts it shares with that one are shown but not searched for.
    """
    if not icc:
        return
    if is_srgb_profile(icc):
        if icc[_DATE] != SRGB_PROFILE[_DATE]:
            found.add("time", "when the colour profile was made", _icc_date(icc))
        return
    try:
        tags = read.icc_tags(icc)
    except ValueError:
        found.add("other", "a colour profile Candour could not read")
        for text in searchable_runs(icc):
            found.value(text)
        return
    found.add("time", "when the colour profile was made", _icc_date(icc))
    for tag in tags:
        if tag.signature == "mmod":
            found.add("device", "the screen's model and serial number (in the colour profile)")
        elif tag.text is None and tag.kind not in _ICC_DRAWING_TYPES:
            found.add("other", "other data in the colour profile")
            for text in searchable_runs(tag.data):
                found.value(text)
        elif tag.text is not None and tag.text.strip():
            kind, what = _ICC_TEXT_TAGS.get(tag.signature, ("other", "a text in the colour profile"))
            if srgb_says(tag.text):
                found.add(kind, what, tag.text, search=False)
            else:
                found.add(kind, what, tag.text)
