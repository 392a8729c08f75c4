"""Opening a picture within Candour's limits, and taking from it only what drawing needs.

Why decode and re-encode rather than cut metadata out: a rewrite from pixels carries nothing the encoder
is not handed, so whatever the cleaner does not model (a private chunk, an appended video, a second copy
of a tag) cannot ride along. Each frame is copied into a fresh image with no info, EXIF or tags, because
Pillow's writers fall back to what the source image carries.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from PIL import Image, ImageCms

from bot.evidence import limits
from bot.evidence.images_exif import SRGB_PROFILE, is_srgb_profile, orientation
from bot.evidence.model import TOO_COMPLEX, TOO_MANY_PIXELS, EvidenceError

# Pillow's own guard against decompression bombs, set to Candour's limit (it refuses at twice this; the
# explicit checks below refuse at the limit itself, before any pixel is decoded).
Image.MAX_IMAGE_PIXELS = limits.MAX_PIXELS

# EXIF orientation -> the turn that makes the picture upright (the table ImageOps.exif_transpose uses).
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def check_pixels(size: tuple[int, int]) -> None:
    """Refuse a canvas over the pixel limit (or with no pixels at all)."""
    width, height = size
    if width <= 0 or height <= 0:
        raise ValueError("a picture with no pixels")
    if width * height > limits.MAX_PIXELS:
        raise EvidenceError(TOO_MANY_PIXELS)


def add_pixels(total: int, size: tuple[int, int]) -> int:
    """A running count of decoded pixels, refused past MAX_TOTAL_PIXELS (pages may differ in size)."""
    check_pixels(size)
    total += size[0] * size[1]
    if total > limits.MAX_TOTAL_PIXELS:
        raise EvidenceError(TOO_MANY_PIXELS)
    return total


def frame_count(image: Image.Image) -> int:
    """How many frames or pages the picture has, refusing too many of them or of their pixels together."""
    frames = int(getattr(image, "n_frames", 1))
    if frames > limits.MAX_FRAMES:
        raise EvidenceError(TOO_COMPLEX)
    if frames * image.size[0] * image.size[1] > limits.MAX_TOTAL_PIXELS:
        raise EvidenceError(TOO_MANY_PIXELS)
    return frames


@contextmanager
def opened(content: bytes, formats: tuple[str, ...]) -> Iterator[Image.Image]:
    """The picture opened by Pillow, restricted to the sniffed format, with its size checked before decoding.

    Why / threat: a small file can declare a huge canvas or thousands of frames (a decompression bomb);
    the header is checked before any pixel is decoded. Restricting formats keeps Pillow from guessing
    another decoder for bytes that claim to be one type and are another.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(content), formats=formats)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
            raise EvidenceError(TOO_MANY_PIXELS) from error
    with image:
        check_pixels(image.size)
        frame_count(image)
        yield image


def turn_of(image: Image.Image) -> int:
    """The current frame's EXIF orientation; 1 when its EXIF cannot be read (inspection reports that)."""
    try:
        return orientation(image.getexif())
    except Exception:
        return 1


def bare(image: Image.Image, turn: int, *, last: bool = False) -> Image.Image:
    """A fresh image holding only the current frame's pixels (and palette), turned upright.

    `last`: nothing more will be decoded into `image`, so an upright frame can share its pixels
    instead of copying them (what `Image.copy` does, less the copy: a 12-megapixel photo's 36 MB and
    some 30 ms). Why only then: Pillow decodes a next frame into the same pixel store, which would
    change a frame already taken. The fresh image is Pillow's own new image around the pixels (which,
    like a copy, keeps the source's `info`: the line below empties it, so no EXIF or tag goes along).
    """
    method = TRANSPOSE.get(turn)
    if method is not None:
        out = image.transpose(method)
    elif last:
        image.load()
        out = image._new(image.im)
    else:
        out = image.copy()
    out.info = {}
    return out


@dataclass
class Frames:
    """Everything a rewrite keeps: upright frames, their durations, the loop count, colour, transparency."""

    images: list[Image.Image] = field(default_factory=list)
    durations: list[int] = field(default_factory=list)
    loop: int | None = None
    icc: bytes | None = None
    transparency: int | bytes | tuple[int, ...] | None = None


def frames(image: Image.Image, *, turn: int | None = None) -> Frames:
    """Decode every frame, upright per the EXIF orientation of the first, with nothing but drawing data."""
    turn = turn_of(image) if turn is None else turn
    out = Frames(loop=image.info.get("loop"), transparency=image.info.get("transparency"))
    out.icc = image.info.get("icc_profile") or None
    count = frame_count(image)
    for index in range(count):
        image.seek(index)
        check_pixels(image.size)  # a GIF frame may grow the canvas past the size its header gave
        image.load()
        out.images.append(bare(image, turn))
        out.durations.append(int(image.info.get("duration", 0) or 0))
    return out


def neutral_colour(picture: Frames, *, convert: bool = True) -> None:
    """Never keep the source's colour profile: write Pillow's own sRGB, converting the pixels to it first.

    Why / threat: a profile made by calibrating a screen, or shipped for one, can name the screen, its
    owner or its serial number (in its description, copyright, maker and model tags, Apple's 'mmod', or
    a private tag), and its description is free text, so "sRGB IEC61966-2.1" proves nothing. Only a
    profile that is Pillow's own sRGB (bar its creation date) is taken as it is, written with the fixed
    date of `SRGB_PROFILE`. Any other is used by LittleCMS to turn RGB pixels into sRGB (CMYK into RGB),
    and Pillow's sRGB profile is written instead. Cost: colours outside sRGB (a wide-gamut Display P3
    photo's deepest reds and greens) are clipped to sRGB, and lossless pixels may change by a unit or
    two. Modes LittleCMS is not given here (grey, palette, 16-bit) keep their pixels and lose the profile,
    so their colours may shift slightly.

    With `convert` off (a picture inside a PDF, which the page colours by its own colour space and never
    by the picture's profile), the profile is dropped and the pixels are kept exactly as stored.
    """
    icc, picture.icc = picture.icc, None
    if not icc or not convert:
        return
    if is_srgb_profile(icc):
        picture.icc = SRGB_PROFILE
        return
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.ImageCmsProfile(io.BytesIO(SRGB_PROFILE))
        converted = []
        for frame in picture.images:
            if frame.mode not in _CONVERTED:
                return  # a mode LittleCMS is not given: the profile is dropped
            result = ImageCms.profileToProfile(frame, source, srgb, outputMode=_CONVERTED[frame.mode])
            assert result is not None
            converted.append(result)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return  # bytes LittleCMS cannot use draw nothing, and may carry anything: dropped
    picture.images = converted
    picture.icc = SRGB_PROFILE


_CONVERTED = {"RGB": "RGB", "RGBA": "RGBA", "CMYK": "RGB"}


def save(picture: Frames, fmt: str, **options: object) -> bytes:
    """Write the frames in the given format with only the options given (colour profile if kept)."""
    if picture.icc:
        options["icc_profile"] = picture.icc
    first, rest = picture.images[0], picture.images[1:]
    if rest:
        options.update(save_all=True, append_images=rest)
    out = io.BytesIO()
    first.save(out, fmt, **options)
    return out.getvalue()
