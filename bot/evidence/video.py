"""Video: MP4, MOV, 3GP (ISO media) and WebM, Matroska, remuxed with PyAV without their metadata.

What a phone's video carries besides the pictures: where it was filmed (QuickTime `©xyz` and the
`com.apple.quicktime.location.ISO6709` key, or a timed track of positions such as an iPhone's `mebx`
track), the phone's make and model, the system and app versions, the time it was made, and whatever
names an editing app wrote (artist, author, copyright, title, comments, XMP). Matroska adds tags,
chapters and attached files.

How: bot.evidence.av_remux copies the sound and picture packets unchanged into a new container of the
same type, written by FFmpeg with nothing but the streams' technical parameters. Inspection reads
FFmpeg's view of every tag, and for ISO media also mutagen's view of the iTunes-style item list, which
FFmpeg merges with the `udta` tags under the same names (so one of two values could hide behind the
other in FFmpeg's view alone).

Why any key is a finding: the same inspection is the independent read-out of the cleaned video, so it
cannot rely on knowing which keys are dangerous. Every container, stream and chapter key outside
av_remux's explicit allow-list of technical keys (brands, language, durations, rotation) is reported,
by meaning where the key is known and as "a detail saved in the file" otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from bot.evidence import av_remux
from bot.evidence import types as t
from bot.evidence.model import Format, Found, Inspection, Nested, Rewrite

NOUN = "video"
FILMED = "filmed"


class _RemuxedVideo(Format):
    """A video family: the muxer that writes it, and what FFmpeg is asked to read."""

    muxer: ClassVar[str] = ""
    read_options: ClassVar[dict[str, str]] = {}
    iso: ClassVar[bool] = False
    cannot_clean = (
        "what the video shows and says (faces, voices, places, names on screen)",
        "settings an encoder wrote inside the compressed pictures (such as x264's options text)",
        "a video whose sound or picture codec this container type cannot be rewritten with is not cleaned",
    )

    def inspect(self, content: bytes, nested: Nested) -> Inspection:
        found = Found()
        av_remux.inspect_container(found, content, nested, NOUN, FILMED, self.read_options)
        if self.iso:
            av_remux.inspect_item_list(found, content, nested, NOUN, FILMED)
        return found.result()

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        return av_remux.remux(content, self.muxer, NOUN, self.read_options, faststart=self.iso)

    def inspect_and_clean(
        self, content: bytes, nested: Nested, inspected: Callable[[Inspection], None]
    ) -> Rewrite:
        """One opening of the original for FFmpeg's read-out and the remux (av_remux.inspect_and_remux);
        the inspection, mutagen's item list included, is handed on before the remux starts."""
        found = Found()

        def done() -> None:
            if self.iso:
                av_remux.inspect_item_list(found, content, nested, NOUN, FILMED)
            inspected(found.result())

        return av_remux.inspect_and_remux(
            found,
            content,
            nested,
            done,
            noun=NOUN,
            verb=FILMED,
            options=self.read_options,
            muxer=self.muxer,
            faststart=self.iso,
        )

    def read_back(self, content: bytes, nested: Nested) -> tuple[Inspection, list[bytes]]:
        """The result's read-out, opened afresh from its bytes without decoding a picture
        (av_remux.READ_OUT says why that reads all the same tags); a video has no pieces to open."""
        found = Found()
        av_remux.inspect_container(
            found, content, nested, NOUN, FILMED, {**self.read_options, **av_remux.READ_OUT}
        )
        if self.iso:
            av_remux.inspect_item_list(found, content, nested, NOUN, FILMED)
        return found.result(), []


class Mp4(_RemuxedVideo):
    media_types = (t.MP4,)
    muxer = "mp4"
    read_options = av_remux.ISO_READ
    iso = True


class QuickTime(_RemuxedVideo):
    media_types = (t.MOV,)
    muxer = "mov"
    read_options = av_remux.ISO_READ
    iso = True


class ThreeGp(_RemuxedVideo):
    media_types = (t.THREE_GP,)
    muxer = "3gp"
    read_options = av_remux.ISO_READ
    iso = True


class WebM(_RemuxedVideo):
    media_types = (t.WEBM,)
    muxer = "webm"


class Matroska(_RemuxedVideo):
    media_types = (t.MKV,)
    muxer = "matroska"


FORMATS: tuple[Format, ...] = (Mp4(), QuickTime(), ThreeGp(), WebM(), Matroska())
