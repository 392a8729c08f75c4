"""Media made for the sound and video tests: short files encoded with PyAV, tags planted with mutagen,
PyAV or exiftool, raw tags built byte by byte the way taggers append them, and the read-outs the tests
use as witnesses (FFmpeg, mutagen, exiftool, a byte search, every packet).
"""

from __future__ import annotations

import io
import math
import os
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import av
import mutagen
import mutagen.id3
import pytest
from mutagen.flac import FLAC
from mutagen.oggopus import OggOpus
from PIL import Image

from bot.evidence import av_remux, inspect

EXIFTOOL = "/usr/bin/exiftool"
NAME = "Jane Smith"
PLACE = "+51.5012-000.1245/"
TECHNICAL_KEYS = {
    "major_brand", "minor_version", "compatible_brands", "handler_name", "vendor_id", "language",
    "encoder", "duration",
}  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# Making media


def video_frame(index: int) -> av.VideoFrame:
    frame = av.VideoFrame(64, 48, "yuv420p")
    for plane_index, plane in enumerate(frame.planes):
        plane.update(bytes([(index * 40 + plane_index * 70) % 256]) * plane.buffer_size)
    frame.pts = index
    return frame


def audio_frame(index: int, samples: int, rate: int) -> av.AudioFrame:
    frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
    wave = b"".join(
        struct.pack("<h", int(3000 * math.sin((index * samples + n) / 7))) for n in range(samples)
    )
    frame.planes[0].update(wave + bytes(frame.planes[0].buffer_size - len(wave)))
    frame.sample_rate, frame.pts = rate, index * samples
    return frame


def make(
    muxer: str,
    video: str | None,
    audio: str | None,
    tags: dict[str, str] | None = None,
    *,
    rate: int = 48000,
    layout: str = "mono",
    setup: Callable[[av.container.OutputContainer], None] | None = None,
    stream_tags: dict[str, str] | None = None,
    muxer_options: dict[str, str] | None = None,
) -> bytes:
    """A short file: five video frames and ten audio frames, tagged as asked."""
    out = io.BytesIO()
    options = {"fflags": "+bitexact", **(muxer_options or {})}
    with av.open(out, "w", format=muxer, container_options=options) as container:
        container.metadata.update(tags or {})
        streams = []
        if video:
            stream = container.add_stream(video, rate=10)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            stream.metadata.update(stream_tags or {})
            streams.append((stream, [video_frame(index) for index in range(5)]))
        if audio:
            options = {"strict": "experimental"} if audio == "vorbis" else {}
            stream = container.add_stream(audio, rate=rate, layout=layout, options=options)
            stream.codec_context.open()
            size = stream.codec_context.frame_size or 1024
            streams.append((stream, [audio_frame(index, size, rate) for index in range(10)]))
        if setup:
            setup(container)
        for stream, frames in streams:
            for frame in [*frames, None]:
                for packet in stream.encode(frame):
                    container.mux(packet)
    return out.getvalue()


def phone_jpeg() -> bytes:
    """A small photo with the GPS position and owner a phone writes, to embed as a cover."""
    exif = Image.Exif()
    exif[0x013B] = "PC Jane Smith"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 26.64), 3: "W", 4: (0.0, 7.0, 39.0)}
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def with_mutagen(content: bytes, change: Callable[[io.BytesIO], None]) -> bytes:
    buffer = io.BytesIO(content)
    change(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Reading back


def packets(content: bytes) -> dict[str, list[bytes]]:
    """Every audio and video packet's bytes, per stream, in file order (cover pictures left out)."""
    found: dict[str, list[bytes]] = {}
    with av.open(io.BytesIO(content)) as container:
        names = {}
        for kind in ("video", "audio"):
            for number, stream in enumerate(s for s in container.streams if s.type == kind):
                if not stream.disposition & av.stream.Disposition.attached_pic:
                    names[stream.index] = f"{kind}{number}"
                    found[f"{kind}{number}"] = []
        for packet in container.demux():
            if packet.size and packet.stream.index in names:
                found[names[packet.stream.index]].append(bytes(packet))
    return found


def av_tags(content: bytes) -> dict[str, str]:
    """FFmpeg's read-out of every container, stream and chapter tag, minus the muxer's technical ones."""
    left = {}
    with av.open(io.BytesIO(content), options=dict(av_remux.ISO_READ)) as container:
        for where in [container, *container.streams]:
            left.update({k: v for k, v in where.metadata.items() if k.lower() not in TECHNICAL_KEYS})
        assert container.chapters() == []
        assert {s.type for s in container.streams} <= {"audio", "video"}
    return left


def mutagen_tags(content: bytes) -> list[object]:
    """mutagen's read-out: every tag it finds in any format it knows."""
    found = mutagen.File(io.BytesIO(content))
    tags = list((found.tags or {}).items()) if found is not None and found.tags is not None else []
    if isinstance(found, FLAC):
        tags += found.pictures
    return [tag for tag in tags if not (isinstance(tag, tuple) and tag[0] in ("TSSE",))]


def exiftool_available() -> bool:
    if os.path.exists(EXIFTOOL):
        return True
    if os.environ.get("CANDOUR_REQUIRE_EXIFTOOL"):
        pytest.fail("exiftool is required (CANDOUR_REQUIRE_EXIFTOOL is set) but /usr/bin/exiftool is missing")
    return False


needs_exiftool = pytest.mark.skipif(
    not os.path.exists(EXIFTOOL) and not os.environ.get("CANDOUR_REQUIRE_EXIFTOOL"),
    reason="Debian's exiftool is not installed (.ci/run installs it)",
)


def exiftool_write(tmp_path: Path, content: bytes, suffix: str, *args: str) -> bytes:
    assert exiftool_available()
    path = tmp_path / f"planted{suffix}"
    path.write_bytes(content)
    subprocess.run([EXIFTOOL, "-q", "-overwrite_original", *args, str(path)], check=True, timeout=60)
    return path.read_bytes()


def exiftool_read(tmp_path: Path, content: bytes, suffix: str) -> str:
    """exiftool's full read-out (every group, unknown tags, embedded data) as JSON text."""
    if not exiftool_available():
        return ""
    path = tmp_path / f"read{suffix}"
    path.write_bytes(content)
    done = subprocess.run(
        [EXIFTOOL, "-j", "-a", "-u", "-G1", "-ee", str(path)], capture_output=True, check=True, timeout=60
    )
    return done.stdout.decode("utf-8", "replace")


def assert_clean(tmp_path: Path, original: bytes, result: bytes, suffix: str, planted: list[str]) -> None:
    """Nothing planted survives by any read-out, and every packet is the original's."""
    assert av_tags(result) == {}
    assert mutagen_tags(result) == []
    witness = exiftool_read(tmp_path, result, suffix)
    for value in planted:
        assert value.encode() not in result, value
        assert value not in witness, value
    assert "GPS" not in witness and "Location" not in witness
    for tag in ("Make", "Model", "Artist", "Author", "Creator", "CreationDate", "Software", "Encoder"):
        assert f':{tag}"' not in witness, tag
    before, after = packets(original), packets(result)
    assert before and all(before.values())
    assert after == before


def kinds(content: bytes, filename: str, media_type: str) -> set[str]:
    return {found.kind for found in inspect(content, filename=filename, media_type=media_type)}


def summaries(content: bytes, filename: str, media_type: str) -> str:
    return " | ".join(found.summary for found in inspect(content, filename=filename, media_type=media_type))


AUDIO_TAGS = {"artist": NAME, "date": "2024-05-12", "location": "Lambeth", "comment": "the station yard"}


def voice_note(tags: dict[str, str] | None = None) -> bytes:
    """An Ogg Opus voice note; with no tags it is what Telegram records (vendor only, no comments)."""
    content = make("ogg", None, "libopus", tags)
    if tags:
        return content

    def strip(buffer: io.BytesIO) -> None:
        audio = OggOpus(buffer)
        audio.tags.clear()
        audio.tags.vendor = "libopus 1.4"
        audio.save(buffer, padding=lambda info: 0)

    return with_mutagen(content, strip)


# ---------------------------------------------------------------------------------------------------------
# Tags built byte by byte, the way taggers write them where mutagen would not


def id3v2_tag(text: str, *, footer: bool = False) -> bytes:
    """A whole ID3v2.4 tag naming a person twice (artist and a user text frame), optionally with a footer.

    An ID3v2.4 tag with a footer is the kind a tagger may append at the end of a file (the footer,
    "3DI", lets a reader find it from the end).
    """
    tags = mutagen.id3.ID3()
    tags.add(mutagen.id3.TPE1(encoding=3, text=[text]))
    tags.add(mutagen.id3.TXXX(encoding=3, desc="recorded by", text=[text]))
    out = io.BytesIO()
    tags.save(out, v2_version=4, padding=lambda _info: 0)
    data = out.getvalue()
    if not footer:
        return data
    flags = bytes((data[5] | 0x10,))
    return data[:5] + flags + data[6:] + b"3DI" + data[3:5] + flags + data[6:10]


def lyrics3_tag(fields: dict[str, str]) -> bytes:
    """A Lyrics3 v2 tag: LYRICSBEGIN, fields of a 3-letter id, 5-digit size and text, its size, LYRICS200."""
    body = b"LYRICSBEGIN" + b"IND00002" + b"10"
    for key, value in fields.items():
        body += key.encode() + b"%05d" % len(value) + value.encode("latin-1")
    return body + b"%06d" % len(body) + b"LYRICS200"


def id3v1_tag(artist: str) -> bytes:
    """An ID3v1 tag: the fixed 128 bytes at the very end of a file."""
    return b"TAG" + bytes(30) + artist.encode().ljust(30, b"\0") + bytes(30) + b"2024" + bytes(30) + b"\xff"
