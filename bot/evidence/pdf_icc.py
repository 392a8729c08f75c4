"""Colour profiles (ICC) a PDF's pictures and pages are drawn with: kept for their colours, without their text.

Why / threat: an ICC profile is a small file of its own. Besides the curves and matrices that define its
colours it holds free text: a description (a calibrated screen named after its owner), a copyright line,
the maker and model of a device, and tags any application may add (an e-mail, a serial number). The page
needs only the colour tags, so every profile is written again with those alone (and its name, when it is a
standard colour space's), the header's device, creator and identifier fields cleared. The colours stay.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator

import pikepdf
from pikepdf import Array, Name, Stream
from PIL import ImageCms

from bot.evidence import pdf_parts
from bot.evidence.model import Found

# The tags that define how colours are drawn (ICC.1:2010 and v2): kept. Every other tag is text or
# description and goes.
_COLOUR_TAGS = frozenset(
    tag.encode()
    for tag in (
        "wtpt", "bkpt", "rXYZ", "gXYZ", "bXYZ", "rTRC", "gTRC", "bTRC", "kTRC", "chad", "chrm", "lumi",
        "A2B0", "A2B1", "A2B2", "B2A0", "B2A1", "B2A2", "D2B0", "D2B1", "D2B2", "D2B3", "B2D0", "B2D1",
        "B2D2", "B2D3", "gamt", "pre0", "pre1", "pre2", "clro", "clrt", "clot", "meas", "rig0", "rig2",
        "ciis", "cicp",
    )
)  # fmt: skip
_NAMES = frozenset({b"desc", b"cprt"})
# Names of the colour spaces documents are commonly drawn in: they describe a colour space, not a person.
_STANDARD = frozenset(
    name.casefold()
    for name in (
        "sRGB IEC61966-2.1", "sRGB IEC61966-2-1", "sRGB", "sRGB built-in", "sRGB2014", "Display P3",
        "Adobe RGB (1998)", "Generic RGB Profile", "Generic Gray Profile", "Generic Gray Gamma 2.2 Profile",
        "Generic CMYK Profile", "Gray Gamma 2.2", "Dot Gain 20%", "sGray", "U.S. Web Coated (SWOP) v2",
        "Coated FOGRA39 (ISO 12647-2:2002)", "Coated FOGRA27 (ISO 12647-2:2004)", "Japan Color 2001 Coated",
        "Uncoated FOGRA29 (ISO 12647-2:2004)", "ISO Coated v2 (ECI)", "PSO Coated v3",
    )
)  # fmt: skip
# Header fields that name a device or an application, or fingerprint the profile: bytes 4-8 (the colour
# engine), 40-56 (platform, flags, device maker and model), 56-64 (device attributes), 80-100 (creator
# and profile identifier).
_HEADER_FIELDS = ((4, 8), (40, 64), (80, 100))
_MAX_TAGS = 100


def profiles(pdf: pikepdf.Pdf) -> Iterator[Stream]:
    """Every ICC profile stream a colour space of the document names ([/ICCBased stream]), once each."""
    seen: set[tuple[int, int]] = set()
    holders: list[object] = list(pdf_parts.dictionaries(pdf))
    holders.extend(obj for obj in pdf.objects if isinstance(obj, Array))
    for holder in holders:
        values = holder.values() if not isinstance(holder, Array) else [holder]
        for value in values:
            for stream in _in(value, 0):
                if stream.objgen not in seen:
                    seen.add(stream.objgen)
                    yield stream


def _in(value: object, depth: int) -> Iterator[Stream]:
    if not isinstance(value, Array) or depth > 6:
        return
    items = list(value)
    if len(items) >= 2 and items[0] == Name.ICCBased and isinstance(items[1], Stream):
        yield items[1]
    for item in items:
        yield from _in(item, depth + 1)


def _tags(icc: bytes) -> list[tuple[bytes, int, int]] | None:
    """The profile's tag table (signature, offset, size), or None when it is not a readable profile."""
    if len(icc) < 132 or icc[36:40] != b"acsp":
        return None
    count = struct.unpack(">I", icc[128:132])[0]
    if count > _MAX_TAGS or 132 + 12 * count > len(icc):
        return None
    table = [struct.unpack(">4sII", icc[132 + 12 * i : 144 + 12 * i]) for i in range(count)]
    if any(offset + size > len(icc) for _, offset, size in table):
        return None
    return table


def icc_name(icc: bytes) -> str:
    """The profile's description as LittleCMS reads it ("" when there is none or it cannot be read)."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return (ImageCms.getProfileDescription(profile) or "").strip("\x00 \r\n")
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError):
        return ""


def carries(icc: bytes) -> bool:
    """Whether the profile holds tags beyond its colours, its name and copyright, or a free-text name."""
    table = _tags(icc)
    if table is None:
        return False
    extra = {sig for sig, _, _ in table} - _COLOUR_TAGS - _NAMES
    name = icc_name(icc)
    return bool(extra) or bool(name and name.casefold() not in _STANDARD)


def read(pdf: pikepdf.Pdf, found: Found) -> None:
    """Report the profiles that carry text beyond their colours and a standard name."""
    for stream in profiles(pdf):
        icc = stream.read_bytes()
        if carries(icc):
            name = icc_name(icc)
            standard = name.casefold() in _STANDARD
            found.add("device", "text inside a colour profile", None if standard else name, show=False)


def stripped(icc: bytes) -> bytes | None:
    """The profile with its colour tags alone (and a standard name), its naming header fields cleared."""
    table = _tags(icc)
    if table is None:
        return None
    wanted = _COLOUR_TAGS | ({b"desc"} if icc_name(icc).casefold() in _STANDARD else set())
    kept = [(sig, icc[offset : offset + size]) for sig, offset, size in table if sig in wanted]
    header = bytearray(icc[:128])
    for start, end in _HEADER_FIELDS:
        header[start:end] = bytes(end - start)
    body, entries, shared = bytearray(), bytearray(), {}
    start = 128 + 4 + 12 * len(kept)
    for sig, data in kept:
        if data not in shared:  # tags that shared their data in the original share it again
            while (start + len(body)) % 4:
                body.append(0)
            shared[data] = start + len(body)
            body += data
        entries += struct.pack(">4sII", sig, shared[data], len(data))
    out = header + struct.pack(">I", len(kept)) + entries + body
    out[0:4] = struct.pack(">I", len(out))
    return bytes(out)


def clean(pdf: pikepdf.Pdf) -> None:
    """Every readable profile written again with its colour tags (and a standard name) alone.

    Why every one, not only those `carries` names: a copyright line is free text too (an owner's name in
    a standard-named profile), and the colours do not change. One Candour cannot read is left: it is
    unusable for drawing, and the byte search still looks inside it.
    """
    for stream in list(profiles(pdf)):
        icc = stream.read_bytes()
        new = stripped(icc)
        if new is not None and new != icc:
            stream.write(new)
