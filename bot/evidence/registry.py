"""Every format Candour cleans, by media type. A type missing here is not cleaned, and the reporter is told."""

from __future__ import annotations

from bot.evidence import audio, images, odf, office, pdf, text, video
from bot.evidence.model import Format

ALL: tuple[Format, ...] = (
    *images.FORMATS,
    *pdf.FORMATS,
    *office.FORMATS,
    *odf.FORMATS,
    *audio.FORMATS,
    *video.FORMATS,
    *text.FORMATS,
)
FORMATS: dict[str, Format] = {media_type: fmt for fmt in ALL for media_type in fmt.media_types}
