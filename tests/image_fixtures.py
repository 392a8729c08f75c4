"""Pictures with identifying details planted, and the witnesses that look for them after cleaning
(Pillow, exiftool, a byte search), shared by the image tests."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms, ImageStat

from bot.evidence import images_exif
from bot.evidence.model import Finding

EXIFTOOL = "/usr/bin/exiftool"
GPS_IFD, EXIF_IFD = 0x8825, 0x8769
NAME = "Jane Smith"
MACHINE = "Jane Smith's MacBook"
SERIAL = "SN42427788"
PLACE = "Lambeth Station"
XMP_PERSON = "Constable Okonkwo"
IPTC_PERSON = "Sergeant Whitlock"
PLANTED = (NAME, MACHINE, SERIAL, PLACE, XMP_PERSON, IPTC_PERSON, "iPhone 15", "2024:05:12")
# Tags exiftool names for places, people, devices and times; none may be left in a cleaned picture.
IDENTIFYING_TAGS = (
    "GPS", "Artist", "Owner", "Creator", "By-line", "Copyright", "Make", "Model", "Serial", "DateTime",
    "CreateDate", "City", "Comment", "Software", "ThumbnailImage", "Description", "Author",
)  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# Fixtures and witnesses


def gradient(size: tuple[int, int] = (64, 32), mode: str = "RGB") -> Image.Image:
    """A picture whose every pixel differs, so a rotation or a lost pixel shows."""
    image = Image.new("RGB", size)
    image.putdata(
        [
            (x * 255 // size[0], y * 255 // size[1], (x + y) % 256)
            for y in range(size[1])
            for x in range(size[0])
        ]
    )
    return image.convert(mode)


def phone_exif(orientation: int = 1) -> Image.Exif:
    """What a phone writes: make, model, owner, serial, software, times, GPS position, orientation."""
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    exif[0x0110] = "iPhone 15"
    exif[0x013B] = NAME
    exif[0x0131] = "17.1"
    exif[0x0112] = orientation
    exif[0x9C9D] = NAME.encode("utf-16-le") + b"\x00\x00"  # Windows' XPAuthor
    exif[EXIF_IFD] = {0x9003: "2024:05:12 03:15:22", 0xA430: NAME, 0xA431: SERIAL}
    exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 26.64), 3: "W", 4: (0.0, 7.0, 39.0)}
    return exif


def xmp_packet() -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:City="{PLACE}">'
        f"<dc:creator><rdf:Seq><rdf:li>{XMP_PERSON}</rdf:li></rdf:Seq></dc:creator>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


def exiftool_or_skip() -> str:
    if Path(EXIFTOOL).exists() or shutil.which("exiftool"):
        return EXIFTOOL if Path(EXIFTOOL).exists() else str(shutil.which("exiftool"))
    if os.environ.get("CANDOUR_REQUIRE_EXIFTOOL"):
        pytest.fail("exiftool is required (CANDOUR_REQUIRE_EXIFTOOL is set) but is not installed")
    pytest.skip("exiftool is not installed; it is the external witness for these tests")


def exiftool_plant(content: bytes, suffix: str, tmp_path: Path, *tags: str) -> bytes:
    """Values written by exiftool, in the places it writes them for this format."""
    path = tmp_path / f"plant{suffix}"
    path.write_bytes(content)
    subprocess.run([exiftool_or_skip(), "-q", "-overwrite_original", *tags, str(path)], check=True)
    return path.read_bytes()


def exiftool_read(content: bytes, suffix: str, tmp_path: Path) -> dict[str, object]:
    """Every tag exiftool sees, unknown and duplicate ones included, by group."""
    path = tmp_path / f"witness{suffix}"
    path.write_bytes(content)
    out = subprocess.run(
        [exiftool_or_skip(), "-j", "-a", "-u", "-G1", "-b", str(path)], check=True, capture_output=True
    )
    (tags,) = json.loads(out.stdout)
    return tags


def assert_nothing_left(
    content: bytes, suffix: str, tmp_path: Path, planted: tuple[str, ...] = PLANTED
) -> None:
    """The three witnesses on a cleaned file: bytes, exiftool's tags and values, and Pillow's read-out."""
    for value in planted:
        for form in (value.encode(), value.encode("utf-16-le"), value.encode("utf-16-be")):
            assert form not in content, value
    tags = exiftool_read(content, suffix, tmp_path)
    dumped = json.dumps(tags)
    for value in planted:
        assert value not in dumped, value
    # Colour-profile headers name their own dates and makers ("ProfileDateTime"): checked by value above.
    kept = [
        key
        for key in tags
        if key.split(":")[0] not in ("SourceFile", "System", "File", "ExifTool", "Composite")
        and not key.startswith("ICC")
    ]
    assert not [key for key in kept if any(word in key for word in IDENTIFYING_TAGS)], kept
    assert not [key for key in kept if key.split(":")[0].startswith(("XMP", "IPTC", "GPS", "ExifIFD"))], kept
    with Image.open(io.BytesIO(content)) as image:
        assert not set(image.getexif()) - images_exif.TECHNICAL_TAGS  # a TIFF's own layout tags only
        assert not [key for key in ("exif", "xmp", "comment", "photoshop") if image.info.get(key)]


def kinds(findings: tuple[Finding, ...]) -> set[str]:
    return {finding.kind for finding in findings}


def summaries(findings: tuple[Finding, ...]) -> str:
    return "\n".join(finding.summary for finding in findings)


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(first.convert("RGB"), second.convert("RGB"))).mean) / 3


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_insert(content: bytes, *chunks: bytes) -> bytes:
    """Chunks put right after IHDR (the test plants what Pillow cannot write)."""
    after_ihdr = 8 + 12 + 13
    return content[:after_ihdr] + b"".join(chunks) + content[after_ihdr:]


def png_without(content: bytes, kind: bytes) -> bytes:
    pos, out = 8, bytearray(content[:8])
    while pos < len(content):
        (length,) = struct.unpack(">I", content[pos : pos + 4])
        if content[pos + 4 : pos + 8] != kind:
            out += content[pos : pos + 12 + length]
        pos += 12 + length
    return bytes(out)


SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()  # one copy: it holds a date


def srgb_bytes() -> bytes:
    return SRGB


def profile_with(icc: bytes, tag: bytes, words: str) -> bytes:
    """A colour profile with one text tag ('desc', 'cprt') replaced, as a calibration tool writes it."""
    out = bytearray(icc)
    (count,) = struct.unpack(">I", out[128:132])
    text = words.encode("utf-16-be")
    data = (
        b"mluc" + b"\x00" * 4 + struct.pack(">II", 1, 12) + b"enUS" + struct.pack(">II", len(text), 28) + text
    )
    while len(out) % 4:
        out.append(0)
    offset = len(out)
    out += data
    for index in range(count):
        entry = 132 + 12 * index
        if out[entry : entry + 4] == tag:
            out[entry + 4 : entry + 12] = struct.pack(">II", offset, len(data))
    out[0:4] = struct.pack(">I", len(out))
    return bytes(out)


def renamed_profile(name: str) -> bytes:
    return profile_with(SRGB, b"desc", name)


def frames_of(content: bytes) -> list[tuple[bytes, int]]:
    """Each frame's RGBA pixels and duration, as Pillow composes them."""
    out = []
    with Image.open(io.BytesIO(content)) as image:
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            out.append((image.convert("RGBA").tobytes(), image.info.get("duration", 0)))
    return out


# ---------------------------------------------------------------------------------------------------------
# JPEG
