"""HEIC/HEIF on pillow-heif and AVIF on Pillow's own plugin: decoded and re-encoded from pixels alone."""

from __future__ import annotations

from typing import Any

import pillow_heif
from PIL import Image

from bot.evidence import types as t
from bot.evidence.images_base import COLOUR_TO_SRGB, NAMED_INFO, SEEN_AS_IS, Picture
from bot.evidence.images_pixels import Frames
from bot.evidence.images_pixels import save as save_frames
from bot.evidence.model import Found

pillow_heif.register_heif_opener(thumbnails=True, depth_images=True, aux_images=True)


class Heif(Picture):
    """HEIC/HEIF (pillow-heif): decoded and re-encoded with pillow-heif, no EXIF, XMP, thumbnails or depth.

    Why re-encode rather than drop boxes: pillow-heif can write a file only from pixels, and a rewrite
    from pixels carries nothing the encoder is not handed (Apple's maker notes, depth maps and thumbnails
    included). The cost is one more lossy generation, at high quality.
    """

    media_types = (t.HEIC, t.HEIF)
    pillow_formats = ("HEIF",)
    cannot_clean = (
        *SEEN_AS_IS,
        COLOUR_TO_SRGB,
    )

    drawing_info = frozenset({
        "primary", "bit_depth", "chroma", "original_orientation", "icc_profile_type", "nclx_profile",
        "pixel_aspect_ratio", "tiling", "content_light_level", "mastering_display_colour_volume",
        "ambient_viewing_environment", "nominal_diffuse_white_luminance",
    })  # fmt: skip
    named_info = NAMED_INFO | {"thumbnails", "depth_images", "aux", "metadata"}  # read below

    def read_more(self, found: Found, image: Image.Image, content: bytes) -> None:
        if image.info.get("thumbnails"):
            found.add("other", "a small preview picture (may show the photo before editing)")
        if image.info.get("depth_images") or image.info.get("aux"):
            found.add("other", "a second hidden picture (such as a depth map or preview)")
        if image.info.get("metadata"):
            found.add("other", "other hidden data saved by the camera or app")

    def write(self, picture: Frames, extra: dict[str, Any]) -> bytes:
        # Why x265's 'ultrafast' preset at quality 95: the default preset took about 45 s for a 12 MP photo
        # on a small server; 'ultrafast' is about six times faster and, at quality 95, as close to the
        # decoded original as the default at quality 90.
        return save_frames(
            picture, "HEIF", quality=95, exif=None, xmp=None, enc_params={"preset": "ultrafast"}
        )


class Avif(Picture):
    """AVIF (Pillow's own AVIF plugin): decoded and re-encoded at quality 90 with no EXIF or XMP."""

    media_types = (t.AVIF,)
    pillow_formats = ("AVIF",)
    cannot_clean = (*SEEN_AS_IS, COLOUR_TO_SRGB)
    drawing_info = frozenset({"duration", "timestamp", "loop"})

    def write(self, picture: Frames, extra: dict[str, Any]) -> bytes:
        options: dict[str, Any] = {"quality": 90}
        if len(picture.images) > 1:
            options.update(duration=picture.durations, loop=picture.loop or 0)
        return save_frames(picture, "AVIF", **options)


def avif_available() -> bool:
    try:
        from PIL import features

        return bool(features.check("avif"))
    except Exception:
        return False
