"""What every raster family shares: open within limits, read the common metadata, rewrite from pixels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from PIL import Image

from bot.evidence.images_exif import exif_into, icc_into, searchable_runs, xmp_into
from bot.evidence.images_pixels import Frames, frames, neutral_colour, opened
from bot.evidence.model import Format, Found, Inspection, Nested, Rewrite

SEEN_AS_IS = (
    "what the picture itself shows (faces, name badges, screens, street signs): only hidden details go",
    "its size in pixels, which can hint at the phone or screen that made it",
)
COLOUR_TO_SRGB = (
    "plain sRGB colour (any other colour profile is replaced, so colours beyond sRGB are clipped)"
)
APPENDED = "extra data hidden after the picture (such as a motion-photo video)"
HIDDEN = "other hidden data saved by the camera or app"
HIDDEN_BY_APP = "other hidden data saved by the app that made it"
# What Pillow's readers put in `image.info` that every family reads out by name (EXIF, XMP, the profile).
NAMED_INFO = frozenset({"exif", "xmp", "icc_profile"})


def unexplained_into(found: Found, what: str, data: object) -> None:
    """Data no reader here interprets: one finding, and its readable words for the byte search."""
    found.add("other", what)
    for run in searchable_runs(data):
        found.value(run)


class Picture(Format):
    """What every raster family shares: open within limits, read the common metadata, rewrite from pixels."""

    pillow_formats: ClassVar[tuple[str, ...]] = ()
    drawing_info: ClassVar[frozenset[str]] = frozenset()
    """`image.info` keys that only say how to draw the picture: a superset of what the family's writer
    leaves for Pillow to read back, and nothing that can hold text."""
    named_info: ClassVar[frozenset[str]] = NAMED_INFO
    """`image.info` keys this family reads out by name elsewhere (EXIF, XMP, comments...)."""
    hidden: ClassVar[str] = HIDDEN
    """How this family names data no reader here interprets."""
    exif_layout: ClassVar[frozenset[int]] = frozenset()
    """EXIF tags the family's writer itself writes (a TIFF's layout tags); any other tag is a finding."""

    def inspect(self, content: bytes, nested: Nested) -> Inspection:
        """EXIF, XMP, colour profile and whatever the family adds, read by Pillow."""
        found = Found()
        with opened(content, self.pillow_formats) as image:
            self.read_common(found, image)
            self.read_more(found, image, content)
        return found.result()

    def read_common(self, found: Found, image: Image.Image) -> None:
        try:
            exif = image.getexif()
        except Exception:
            exif = Image.Exif()
        if image.info.get("exif") and not exif:
            found.add("other", "camera details Candour could not read in full")
        exif_into(found, exif, thumbnail=True, layout=self.exif_layout)
        if image.info.get("xmp"):
            xmp_into(found, image.info["xmp"])
        icc_into(found, image.info.get("icc_profile"))
        self.info_into(found, image, self.named_info)

    def info_into(self, found: Found, image: Image.Image, named: Iterable[str]) -> None:
        """Every `image.info` key that is neither drawing data nor read out by name is a finding.

        Why / threat: the read-out of a cleaned file must not be the cleaner's own model. Whatever
        Pillow exposes that is not on the short list of drawing data (a key a new Pillow reads, a chunk
        an app invented) is reported, and so fails the check if it is left in a result.
        """
        skip = self.drawing_info | set(named)
        for key, value in image.info.items():
            empty = value is None or (isinstance(value, (str, bytes, tuple, list, dict)) and not value)
            if key not in skip and not empty:
                unexplained_into(found, self.hidden, value)

    def read_more(self, found: Found, image: Image.Image, content: bytes) -> None:
        """What only this family hides (overridden)."""

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        """Every frame decoded, upright, and written afresh with colour and timing only."""
        with opened(content, self.pillow_formats) as image:
            picture = frames(image, turn=1 if nested.keep_orientation else None)
            extra = self.write_options(image, content)
        neutral_colour(picture, convert=not nested.keep_orientation)
        return Rewrite(self.write(picture, extra))

    def write_options(self, image: Image.Image, content: bytes) -> dict[str, Any]:
        """Options read from the original that the writer needs (overridden)."""
        return {}

    def write(self, picture: Frames, extra: dict[str, Any]) -> bytes:
        raise NotImplementedError
