"""Raster pictures, one small format class per family, on Pillow and pillow-heif.

Inspection reads everything the libraries expose (EXIF in every directory, XMP, IPTC, comments, PNG text,
colour-profile texts, thumbnails, appended data) plus a few structural reads Pillow reads past
(bot.evidence.images_read). It reads generically, because it is also the independent read-out of a
cleaned file: every `image.info` key, EXIF tag, PNG chunk, JPEG segment, GIF extension and WebP chunk
that is not on a short allow-list of drawing data is a finding. Cleaning decodes the pixels, turns them
upright and writes them afresh with only what drawing needs (bot.evidence.images_pixels): Pillow's sRGB
profile, animation frames and timing, transparency. Nothing descriptive is ever handed to an encoder.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from PIL import Image, JpegImagePlugin

from bot.evidence import images_read as read
from bot.evidence import types as t
from bot.evidence.images_base import (
    APPENDED,
    COLOUR_TO_SRGB,
    HIDDEN_BY_APP,
    NAMED_INFO,
    SEEN_AS_IS,
    Picture,
    unexplained_into,
)
from bot.evidence.images_exif import (
    TIFF_LAYOUT,
    exif_block_into,
    exif_into,
    icc_into,
    iptc_into,
    srgb_says,
    xmp_into,
)
from bot.evidence.images_heif import Avif, Heif, avif_available
from bot.evidence.images_pixels import (
    Frames,
    add_pixels,
    bare,
    check_pixels,
    frame_count,
    neutral_colour,
    opened,
    turn_of,
)
from bot.evidence.images_pixels import save as save_frames
from bot.evidence.model import Format, Found, Nested, Rewrite, when

# ---------------------------------------------------------------------------------------------------------
# JPEG

_XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXTENSION = b"http://ns.adobe.com/xmp/extension/\x00"
# Segments that only say how to draw: JFIF's header without a preview (14 bytes), the ICC profile's
# pieces (read as a profile), Adobe's colour-transform flag (12 bytes).
_JPEG_DRAWING = (("APP0", b"JFIF\x00", 14), ("APP2", b"ICC_PROFILE\x00", None), ("APP14", b"Adobe", 12))
_PHOTOSHOP_IPTC = 0x0404
_PHOTOSHOP_PREVIEWS = (0x0409, 0x040C)
_PREVIEW = "a small preview picture (may show the photo before editing)"


def _jpeg_drawing(marker: str, data: bytes) -> bool:
    return any(
        marker == m and data.startswith(p) and (size is None or len(data) == size)
        for m, p, size in _JPEG_DRAWING
    )


class Jpeg(Picture):
    """JPEG (and MPO, a JPEG with more pictures after it): re-encoded with the original's own tables."""

    media_types = (t.JPEG,)
    pillow_formats = ("JPEG", "MPO")
    cannot_clean = (
        *SEEN_AS_IS,
        COLOUR_TO_SRGB,
        "its compression tables, reused so the photo keeps its look, which can hint at the camera or app",
    )
    drawing_info = frozenset({
        "jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "adobe", "adobe_transform", "progressive",
        "progression",
    })  # fmt: skip
    # Read below from the segments themselves: comments, Photoshop's resources, the MPF index and its
    # offset, FlashPix (an APP2 segment that is not a profile).
    named_info = NAMED_INFO | {"comment", "photoshop", "mp", "mpoffset", "flashpix"}

    def read_more(self, found: Found, image: Image.Image, content: bytes) -> None:
        iptc_into(found, image)
        exif_blocks = 0
        for marker, data in getattr(image, "applist", []):
            if marker == "APP1" and data.startswith(b"Exif\x00"):
                exif_blocks += 1
                if exif_blocks > 1:  # Pillow reads the first; a second copy may say more
                    exif_block_into(found, data)
            elif marker == "APP1" and data.startswith(_XMP_APP1):
                xmp_into(found, data[len(_XMP_APP1) :])  # every copy, not only the one Pillow keeps
            elif marker == "COM":
                found.add("other", "a comment hidden in the file", data)
            elif marker == "APP1" and data.startswith(_XMP_EXTENSION):
                xmp_into(found, data[75:])
            elif marker == "APP2" and data.startswith(b"MPF\x00"):
                found.add("other", "a second hidden picture (such as a depth map or preview)")
            elif marker == "APP0" and data.startswith((b"JFIF\x00", b"JFXX\x00")) and len(data) != 14:
                found.add("other", _PREVIEW)  # JFIF's own thumbnail, or its extension that holds one
            elif marker == "APP13":
                continue  # Photoshop's resources: read below, from Pillow's reading of them
            elif not _jpeg_drawing(marker, data):
                unexplained_into(found, self.hidden, data)
        for resource, data in (image.info.get("photoshop") or {}).items():
            if resource in _PHOTOSHOP_PREVIEWS:
                found.add("other", _PREVIEW)
            elif resource != _PHOTOSHOP_IPTC:  # IPTC is read by name (iptc_into)
                unexplained_into(found, self.hidden, data)
        if read.trailing(content, read.jpeg_end(content)):
            found.add("other", APPENDED)

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        """The first picture only (an MPO's others are previews or depth maps), upright, same tables."""
        with opened(content, self.pillow_formats) as image:
            tables = getattr(image, "quantization", None)
            sampling = JpegImagePlugin.get_sampling(image)
            progressive = bool(image.info.get("progressive"))
            icc = image.info.get("icc_profile") or None
            image.load()
            turn = 1 if nested.keep_orientation else turn_of(image)
            picture = Frames(images=[bare(image, turn, last=True)], icc=icc)
        neutral_colour(picture, convert=not nested.keep_orientation)
        # The original's tables and subsampling are what Pillow's quality="keep" would reuse; given
        # explicitly because a turned picture is no longer the JPEG Pillow opened.
        options: dict[str, Any] = {"qtables": tables} if tables else {"quality": 95}
        if sampling in (0, 1, 2):
            options["subsampling"] = sampling
        if progressive:
            options["progressive"] = True
        return Rewrite(save_frames(picture, "JPEG", **options))


# ---------------------------------------------------------------------------------------------------------
# PNG (and APNG)

_PNG_TEXT = {
    "author": ("person", "the author's name"),
    "copyright": ("person", "a copyright notice"),
    "software": ("software", "the app that saved it"),
    "creation time": ("time", "when it was made"),
    "source": ("device", "the device that made it"),
}
# The labels apps give the iCCP chunk itself (Pillow's is "ICC Profile"): they name no one.
_GENERIC_ICCP_NAMES = frozenset({"icc profile", "icc", "photoshop icc profile", "embedded profile", ""})
_PNG_NAMED = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf"})  # read through Pillow, by name


class Png(Picture):
    """PNG and animated PNG: pixels rewritten losslessly (but 16-bit colour, which Pillow reads as 8-bit)."""

    media_types = (t.PNG,)
    pillow_formats = ("PNG",)
    hidden = HIDDEN_BY_APP
    cannot_clean = (
        *SEEN_AS_IS,
        COLOUR_TO_SRGB,
    )

    drawing_info = frozenset({
        "dpi", "aspect", "gamma", "chromaticity", "srgb", "transparency", "interlace", "loop", "duration",
        "disposal", "blend", "default_image", "bbox",
    })  # fmt: skip

    def info_into(self, found: Found, image: Image.Image, named: Iterable[str]) -> None:
        image.load()  # text after the pixels is read only then
        super().info_into(found, image, {*named, *getattr(image, "text", {})})  # text: read by name

    def read_more(self, found: Found, image: Image.Image, content: bytes) -> None:
        image.load()
        for keyword, value in getattr(image, "text", {}).items():
            _png_text(found, keyword, str(value))
        chunks = read.png_chunks(content)
        for kind, data in chunks.chunks:
            if kind == b"iCCP":
                name = read.iccp_name(data)
                if name.strip().casefold() not in _GENERIC_ICCP_NAMES:
                    if srgb_says(name):  # shown, not searched: "sRGB" is in the profile written
                        found.add("device", "the colour profile's name", name, search=False)
                    else:
                        found.add("device", "the colour profile's name", name)
                icc_into(found, read.iccp_profile(data))  # every copy, not only the one Pillow keeps
            elif kind == b"sPLT":
                found.add("other", "a colour palette's name", read.splt_name(data))
            elif kind == b"tIME" and len(data) == 7:
                year, month, day, hour, minute = int.from_bytes(data[:2], "big"), *data[2:6]
                found.add(
                    "time",
                    "when the file was last changed",
                    f"{year}-{month:02}-{day:02} {hour:02}:{minute:02}",
                )
            elif kind == b"caBX":
                found.add("person", "content credentials (can name who made or edited it)")
            elif kind == b"iDOT":
                found.add("device", "data only Apple devices write (shows it was saved on one)")
            elif kind not in _PNG_NAMED and not read.png_drawing(kind, data):
                unexplained_into(found, self.hidden, data)
        if read.trailing(content, chunks.end):
            found.add("other", APPENDED)

    def write(self, picture: Frames, extra: dict[str, Any]) -> bytes:
        options: dict[str, Any] = {}
        if picture.transparency is not None and picture.images[0].mode in ("P", "L", "RGB", "I", "I;16"):
            options["transparency"] = picture.transparency
        if len(picture.images) > 1:
            options.update(duration=picture.durations, loop=picture.loop or 0)
        return save_frames(picture, "PNG", **options)

    def streams(self, content: bytes) -> Iterator[bytes]:
        """zTXt, compressed iTXt and iCCP contents, opened."""
        return read.png_streams(content)


def _png_text(found: Found, keyword: str, value: str) -> None:
    key = keyword.strip().lower()
    if key == "xml:com.adobe.xmp":
        return  # Pillow hands it on as XMP, read with the common metadata
    if key.startswith("raw profile type"):
        if key.endswith("exif"):
            return  # Pillow reads it as EXIF
        lines = value.split("\n")
        try:
            raw = bytes.fromhex("".join(lines[3:]))
        except ValueError:
            raw = b""
        if b"xmpmeta" in raw:
            xmp_into(found, raw)
        else:
            found.add("other", "hidden profile data saved by an app")
        return
    if key in _PNG_TEXT:
        kind, what = _PNG_TEXT[key]
        found.add(kind, what, when(value) if kind == "time" else value)
        found.value(value)
        return
    found.add("other", "a text note in the file", f"{keyword}: {value}")
    found.value(value)


# ---------------------------------------------------------------------------------------------------------
# GIF


class Gif(Picture):
    """GIF, still or animated: frames, timing and looping rewritten; comments and apps' data dropped."""

    media_types = (t.GIF,)
    pillow_formats = ("GIF",)
    hidden = HIDDEN_BY_APP
    cannot_clean = SEEN_AS_IS
    drawing_info = frozenset({
        "version", "background", "transparency", "duration", "loop", "disposal", "include_color_table",
    })  # fmt: skip
    named_info = NAMED_INFO | {"comment", "extension"}  # read from the blocks themselves, below

    def read_more(self, found: Found, image: Image.Image, content: bytes) -> None:
        blocks = read.gif_blocks(content)
        for comment in blocks.comments:
            if comment.strip(b"\x00 "):
                found.add("other", "a comment hidden in the file", comment)
        for app, data in blocks.apps:
            if app == b"XMP DataXMP":
                cut = data.find(b"\x01\xff\xfe")  # the XMP packet ends where GIF's 'magic trailer' starts
                xmp_into(found, data[:cut] if cut > 0 else data)
            elif app == b"ICCRGBG1012":
                icc_into(found, data)
            elif app not in read.GIF_DRAWING_APPS or len(data) != 3 or data[:1] != b"\x01":
                unexplained_into(found, self.hidden, data)
        for _, data in blocks.others:
            unexplained_into(found, "text hidden in the file (GIF text blocks)", data)
        if read.trailing(content, blocks.end):
            found.add("other", APPENDED)

    def write(self, picture: Frames, extra: dict[str, Any]) -> bytes:
        options: dict[str, Any] = {}
        if picture.transparency is not None and picture.images[0].mode in ("P", "L"):
            options["transparency"] = picture.transparency
        if len(picture.images) > 1:
            options["duration"] = picture.durations
            if picture.transparency is not None or any(_see_through(frame) for frame in picture.images):
                # Each frame written is the whole composed picture, so one frame must not show through
                # the next: every frame is cleared before the next is drawn.
                options["disposal"] = 2
        elif picture.durations[0]:
            options["duration"] = picture.durations[0]
        if picture.loop is not None:
            options["loop"] = picture.loop
        picture.icc = None  # GIF has no standard place for one; Pillow does not write it
        return save_frames(picture, "GIF", **options)


def _see_through(frame: Image.Image) -> bool:
    return frame.mode in ("RGBA", "LA", "PA") and frame.getchannel("A").getextrema()[0] < 255


# ---------------------------------------------------------------------------------------------------------
# WebP

# The chunks that draw a WebP (its profile, EXIF and XMP are read out by name).
_WEBP_DRAWING = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"})


class Webp(Picture):
    """WebP, still or animated: lossless stays lossless (exact pixels), lossy is re-encoded at quality 90."""

    media_types = (t.WEBP,)
    pillow_formats = ("WEBP",)
    hidden = HIDDEN_BY_APP
    cannot_clean = (*SEEN_AS_IS, COLOUR_TO_SRGB)

    drawing_info = frozenset({"background", "loop", "duration", "timestamp"})

    def read_more(self, found: Found, image: Image.Image, content: bytes) -> None:
        chunks = read.webp_chunks(content)
        for kind, data in zip(chunks.kinds, chunks.data, strict=True):
            if kind == b"ICCP":
                icc_into(found, data)  # every copy, not only the one Pillow keeps
            elif kind == b"EXIF":
                exif_block_into(found, data)
            elif kind == b"XMP ":
                xmp_into(found, data)
            elif kind not in _WEBP_DRAWING:
                unexplained_into(found, self.hidden, data)
        if read.trailing(content, chunks.end):
            found.add("other", APPENDED)

    def write_options(self, image: Image.Image, content: bytes) -> dict[str, Any]:
        if read.webp_lossless(content):
            return {"lossless": True, "exact": True}
        return {"quality": 90}

    def write(self, picture: Frames, extra: dict[str, Any]) -> bytes:
        options = dict(extra)
        if len(picture.images) > 1:
            options.update(duration=picture.durations, loop=picture.loop or 0)
        return save_frames(picture, "WEBP", **options)


# ---------------------------------------------------------------------------------------------------------
# TIFF


class Tiff(Picture):
    """TIFF, every page: pixels rewritten losslessly (deflate) with no tags beyond the pixels' own."""

    media_types = (t.TIFF,)
    pillow_formats = ("TIFF",)
    cannot_clean = (*SEEN_AS_IS, COLOUR_TO_SRGB)
    drawing_info = frozenset({"compression", "dpi", "resolution"})
    exif_layout = TIFF_LAYOUT

    def read_common(self, found: Found, image: Image.Image) -> None:
        iptc_into(found, image)
        for index in range(frame_count(image)):
            image.seek(index)
            check_pixels(image.size)
            exif_into(found, image.getexif(), thumbnail=False, layout=self.exif_layout)
            icc_into(found, image.info.get("icc_profile"))
            self.info_into(found, image, self.named_info)
        image.seek(0)

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        """Each page turned upright by its own orientation tag."""
        pages: list[Frames] = []
        total = 0
        with opened(content, self.pillow_formats) as image:
            for index in range(frame_count(image)):
                image.seek(index)
                total = add_pixels(total, image.size)
                image.load()
                page = bare(image, 1 if nested.keep_orientation else turn_of(image))
                pages.append(Frames(images=[page], icc=image.info.get("icc_profile") or None))
        for page_colour in pages:
            neutral_colour(page_colour, convert=not nested.keep_orientation)  # each page by its own profile
        # One profile is written for every page: sRGB when each page is now sRGB, otherwise none.
        kept = all(page_colour.icc for page_colour in pages)
        picture = Frames(
            images=[page_colour.images[0] for page_colour in pages],
            durations=[0] * len(pages),
            icc=pages[0].icc if kept else None,
        )
        return Rewrite(save_frames(picture, "TIFF", compression="tiff_adobe_deflate"))


FORMATS: tuple[Format, ...] = (
    Jpeg(),
    Png(),
    Gif(),
    Webp(),
    Tiff(),
    Heif(),
    *((Avif(),) if avif_available() else ()),
)
