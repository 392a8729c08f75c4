"""The case page's thumbnails: a small copy of an evidence image, decoded and drawn again, never its bytes.

Why not the file itself: the preview address is audited as a view (`case.file-viewed`), not a download
(`case.file-opened`). If it served the original, anyone could take the file away through it and be
recorded as having only looked. A 480-pixel PNG redrawn from the pixels carries no metadata and is
not the evidence, so a view stays a view.
"""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from storage.errors import NotFoundError

MAX_SIDE = 480
# Why a ceiling well under Pillow's own bomb check: the desk process holds officers' unlocked keys,
# so a huge image must not make it allocate gigabytes (the header is read first, the pixels after).
MAX_PIXELS = 40_000_000
FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


class NoThumbnailError(NotFoundError):
    """This file cannot be shown as a thumbnail (not one of the image types, or it does not decode)."""


def thumbnail(body: bytes, media_type: str) -> bytes:
    """A PNG of at most MAX_SIDE pixels a side, drawn from the image's first frame, with no metadata.

    Threat: the bytes came from a reporter, through the evidence worker, which re-encoded them (the
    vault serves a preview only of a file it cleaned: storage.case_desk.open_file). Here only the
    format the stored media type names is tried, the size is checked from the header before any pixel
    is decoded, and nothing of the original (EXIF, ICC, text chunks, further frames) is copied into
    the new image.
    """
    kind = FORMATS.get(media_type.strip().lower())
    if kind is None:
        raise NoThumbnailError("this file has no preview")
    try:
        with Image.open(io.BytesIO(body), formats=[kind]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise NoThumbnailError("this image is too large to preview")
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG decodes at a reduced scale; others ignore it
            image.seek(0)
            alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            frame = image.convert("RGBA" if alpha else "RGB")
    except (OSError, ValueError, SyntaxError, UnidentifiedImageError, Image.DecompressionBombError):
        raise NoThumbnailError("this image cannot be previewed") from None
    frame.thumbnail((MAX_SIDE, MAX_SIDE))
    # A new image from the pixels alone: convert() keeps `info` (ICC profile, EXIF), which save would write.
    clean = Image.frombytes(frame.mode, frame.size, frame.tobytes())
    out = io.BytesIO()
    clean.save(out, format="PNG")
    return out.getvalue()
