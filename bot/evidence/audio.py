"""Audio: Ogg Opus/Vorbis voice notes, MP3, FLAC with mutagen; WAV and M4A remuxed with PyAV.

What a recording carries besides the sound: tags (Vorbis comments, ID3 frames, APEv2, FLAC blocks, RIFF
INFO and broadcast-wave `bext`, an M4A's item list) that name the artist, owner or encoder, a date, a
place, comments, pictures (whose own EXIF may say where they were taken), files and private data an app
stored. A Telegram voice note is an Ogg Opus file with no tags at all.

How: Ogg is rewritten by mutagen in memory, which empties the comment header and touches nothing
else, so the audio pages stay byte for byte the original's. MP3 and FLAC are rebuilt from their audio
frames alone (bot.evidence.audio_frames finds them): tags in front, tags appended at the end and any
other bytes outside the frames are reported and left out, which editing tags in place cannot promise.
WAV, M4A and MP3 are written anew by FFmpeg through bot.evidence.av_remux (the packets copied, the
container new). Inspection reads mutagen's view and FFmpeg's view of every file, so each checks the
other.

Why every tag is a finding: inspection is also the independent read-out of the result, so it must not
depend on knowing a key. Every tag mutagen or FFmpeg shows is described, by meaning where the key is
known and as "a detail saved in the file" otherwise; only an encoder or vendor string that names a
known library (av_remux.technical) passes, because the muxers write those themselves.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from contextlib import suppress
from typing import ClassVar

import mutagen
import mutagen.apev2
import mutagen.id3
from mutagen.flac import FLAC, Padding, Picture, SeekTable, StreamInfo
from mutagen.ogg import OggPage
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from bot.evidence import audio_frames, av_remux
from bot.evidence import types as t
from bot.evidence.model import Format, Found, Inspection, Nested, Rewrite, Unsupported

NOUN = "recording"
VERB = "recorded"
PICTURE = f"a cover picture stored in the {NOUN}"
# ID3 frames named as FFmpeg names the same tags, so one table describes both (others: by frame id).
ID3_KEYS = {
    "TPE1": "artist", "TPE2": "album_artist", "TPE3": "conductor", "TPE4": "remixer", "TCOM": "composer",
    "TEXT": "lyricist", "TOLY": "lyricist", "TOPE": "performer", "TOLA": "performer", "TENC": "encoded_by",
    "TCOP": "copyright", "TPUB": "publisher", "TOWN": "owner", "TIT1": "title", "TIT2": "title",
    "TIT3": "title", "TALB": "album", "TOAL": "album", "TDRC": "date", "TYER": "date", "TDAT": "date",
    "TIME": "date", "TDOR": "date", "TORY": "date", "TDEN": "date", "TDRL": "date", "TDTG": "date",
    "TSSE": "encoder", "COMM": "comment", "USLT": "lyrics", "SYLT": "lyrics", "TRCK": "track",
    "TPOS": "disc", "TCON": "genre", "TLEN": "length", "TBPM": "bpm", "TCMP": "compilation",
}  # fmt: skip
# FLAC metadata blocks that say only how the sound is coded (the rebuilt file keeps STREAMINFO alone).
FLAC_TECHNICAL = (StreamInfo, SeekTable, Padding)
# Lyrics3 v2 fields, named as FFmpeg names the same tags (IND only says which fields follow).
LYRICS3_KEYS = {
    "AUT": "author", "EAR": "artist", "EAL": "album", "ETT": "title", "INF": "comment", "LYR": "lyrics",
}  # fmt: skip
# The MP3 muxer writes no ID3v2 tag; its Xing/Info frame holds counts, a seek table, the encoder delay
# and padding, and the encoder name "Lavf" (read back by audio_frames.xing_encoder, checked as technical).
MP3_MUXING = {"id3v2_version": "0"}
SAID = "what the recording says (voices, names spoken, sounds of a place)"


def _file(content: bytes) -> io.BytesIO:
    return io.BytesIO(content)


def no_padding(_info: object) -> int:
    """mutagen padding: none, so no space is left where tags were."""
    return 0


def picture(found: Found, data: bytes, nested: Nested) -> None:
    """An embedded picture: said, and its own details read by the picture's format."""
    found.add("other", PICTURE, None)
    found.nested(nested.inspect(data), "in a picture inside: ")


def vorbis_comments(found: Found, comments: list[tuple[str, str]], nested: Nested) -> None:
    """Vorbis comments (Ogg and FLAC): pictures opened, the rest described by key."""
    for key, value in comments:
        if key.upper() == "METADATA_BLOCK_PICTURE":
            try:
                picture(found, Picture(base64.b64decode(value)).data, nested)
            except (ValueError, mutagen.MutagenError):
                found.add("other", PICTURE, None)
        else:
            av_remux.describe(found, key, value, VERB)


def vendor(found: Found, value: str) -> None:
    """A Vorbis comment header's vendor string: a finding unless it names a known library."""
    av_remux.describe(found, "vendor", value, VERB)


def id3_frames(found: Found, tags: mutagen.id3.ID3, nested: Nested) -> None:
    """Every ID3 frame: pictures and embedded objects opened, text frames described by meaning."""
    for frame in tags.values():
        frame_id = frame.FrameID
        if frame_id == "APIC":
            picture(found, frame.data, nested)
        elif frame_id == "GEOB":
            found.add("other", "a file stored inside the recording", frame.filename or None)
            found.value(frame.desc)
            found.nested(nested.inspect(frame.data))
        elif frame_id == "PRIV":
            found.add("other", "private data an app stored in the file", frame.owner)
        elif frame_id == "TXXX":
            for text in frame.text:
                av_remux.describe(found, frame.desc, str(text), VERB)
        elif frame_id == "POPM":
            found.add("person", "an e-mail address", frame.email)
        elif frame_id in ("COMM", "USLT"):
            found.value(frame.desc)
            av_remux.describe(found, ID3_KEYS[frame_id], str(frame), VERB)
        elif frame_id.startswith("W"):
            found.add("other", "a web address", getattr(frame, "url", None))
        elif hasattr(frame, "text"):
            for text in frame.text:
                av_remux.describe(found, ID3_KEYS.get(frame_id, frame_id.lower()), str(text), VERB)
        else:
            found.add("other", "a detail saved in the file", None)
            found.value(str(frame))


def id3_tags(content: bytes) -> mutagen.id3.ID3 | None:
    """The ID3 tag at the start (and an ID3v1 tag at the end), or None."""
    try:
        return mutagen.id3.ID3(_file(content))
    except mutagen.id3.ID3NoHeaderError:
        return None


def ape_tags(found: Found, content: bytes) -> None:
    """An APEv2 tag (some MP3 taggers write one at the end)."""
    try:
        tags = mutagen.apev2.APEv2(_file(content))
    except mutagen.apev2.APENoHeaderError:
        return
    for key, value in tags.items():
        if value.kind == mutagen.apev2.BINARY:
            found.add("other", "a file or picture stored in the tags", None)
        else:
            for text in value:
                av_remux.describe(found, key, str(text), VERB)


def rewrite_with(content: bytes, change: Callable[[io.BytesIO], None]) -> bytes:
    """The file changed in memory by a mutagen call on a file object."""
    buffer = _file(content)
    change(buffer)
    return buffer.getvalue()


def where(content: bytes, layout: audio_frames.Layout, stop: int) -> str:
    """Where a span outside the frames lies, in plain words."""
    if stop == len(content):
        return "after the sound"
    return "before the sound" if stop <= layout.frames[0][0] else "between parts of the sound"


def outside_frames(found: Found, content: bytes, layout: audio_frames.Layout, nested: Nested) -> None:
    """Every span outside the audio frames: ID3v2, Lyrics3 and ID3v1 tags read, any other bytes named.

    Why / threat: the generic half of the read-out. Whatever a tagger or an app put beside the sound is
    found by where it is, not by what it is, so an unknown kind of tag is still reported (and cleaning,
    which keeps only the frames, removes it). The ID3v2 tag at the very start is read by id3_tags.
    """
    for start, stop in layout.gaps:
        at = start
        while (length := audio_frames.id3v2_length(content, at)) and at + length <= stop:
            if at:
                found.add("other", f"more tags stored {where(content, layout, stop)}", None)
                with suppress(mutagen.MutagenError):  # a damaged tag: said above, cut with the rest
                    id3_frames(found, mutagen.id3.ID3(_file(content[at : at + length])), nested)
            at += length
        rest = content[at:stop]
        if not rest.strip(b"\0"):
            continue  # nothing but zero padding
        found.add("other", f"extra data stored {where(content, layout, stop)}", None)
        lyrics3(found, rest)
        if stop == len(content) and len(rest) >= 128 and rest[-128:].startswith(b"TAG"):
            id3_frames(found, mutagen.id3.ParseID3v1(rest[-128:]) or {}, nested)


def lyrics3(found: Found, data: bytes) -> None:
    """A Lyrics3 tag's fields (v2: id, five-digit size, text; v1: lyrics up to LYRICSEND)."""
    begin = data.find(b"LYRICSBEGIN")
    if begin < 0:
        return
    at, fields = begin + 11, 0
    while at + 8 <= len(data) and data[at : at + 3].isalpha() and data[at + 3 : at + 8].isdigit():
        key, size = data[at : at + 3].decode("ascii"), int(data[at + 3 : at + 8])
        text = data[at + 8 : at + 8 + size].decode("latin-1")
        if key != "IND":
            av_remux.describe(found, LYRICS3_KEYS.get(key, key.lower()), text, VERB)
        at, fields = at + 8 + size, fields + 1
    if not fields:
        text = data[begin + 11 :].split(b"LYRICSEND")[0].decode("latin-1")
        av_remux.describe(found, "lyrics", text, VERB)


class _Audio(Format):
    """An audio format: its own library's view, plus FFmpeg's as the second read-out."""

    read_options: ClassVar[dict[str, str]] = {}

    def inspect(self, content: bytes, nested: Nested) -> Inspection:
        found = Found()
        self.read_tags(found, content, nested)
        av_remux.inspect_container(found, content, nested, NOUN, VERB, self.read_options)
        return found.result()

    def read_tags(self, found: Found, content: bytes, nested: Nested) -> None:
        """What the format's own library reads."""


class OggAudio(_Audio):
    """Ogg Opus or Vorbis, one logical stream: the comment header emptied by mutagen.

    Why / threat: a file with a second logical stream (chained or multiplexed Ogg) could carry tags in
    a stream mutagen does not rewrite, so it is not cleaned. Opus allows binary data after the comments
    that mutagen preserves (its `_pad_data`); it is reported and dropped.
    """

    media_types = (t.OGG_AUDIO,)
    cannot_clean = (
        SAID,
        "the codec's own setup header (Vorbis), which says only how the sound is coded",
        "an Ogg file holding more than one stream (chained or multiplexed) is not cleaned",
    )

    @staticmethod
    def _open(content: bytes) -> OggOpus | OggVorbis:
        pages = _file(content)
        first = OggPage(pages)
        serials = {first.serial}
        while pages.tell() < len(content):
            serials.add(OggPage(pages).serial)
        if len(serials) != 1:
            raise Unsupported("more than one logical stream")
        kind = OggOpus if first.packets and first.packets[0].startswith(b"OpusHead") else OggVorbis
        return kind(_file(content))

    def read_tags(self, found: Found, content: bytes, nested: Nested) -> None:
        audio = self._open(content)
        if audio.tags is None:
            return
        vendor(found, audio.tags.vendor)
        vorbis_comments(found, list(audio.tags), nested)
        if getattr(audio.tags, "_pad_data", b""):
            found.add("other", "extra data stored after the recording's tags", None)

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        audio = self._open(content)
        tags = audio.tags
        if tags is None:
            return Rewrite(content)
        found = Found()
        vendor(found, tags.vendor)
        extra = getattr(tags, "_pad_data", b"")
        if not list(tags) and not extra and not found.result().findings:
            return Rewrite(content)  # a Telegram voice note: nothing to remove, nothing rewritten
        tags.clear()
        if found.result().findings:
            tags.vendor = ""
        if extra:
            tags._pad_data = b""  # mutagen keeps it otherwise (see the class note)
        return Rewrite(rewrite_with(content, lambda buffer: audio.save(buffer, padding=no_padding)))


class Mp3(_Audio):
    """MP3: rebuilt from its MPEG audio frames by FFmpeg's muxer; every byte outside them left out."""

    media_types = (t.MP3,)
    cannot_clean = (
        SAID,
        "an encoder's name and version written inside the sound frames themselves (such as LAME3.100)",
        "an MP3 with a free-format bit rate is not cleaned",
    )

    def read_tags(self, found: Found, content: bytes, nested: Nested) -> None:
        tags = id3_tags(content)
        if tags is not None:
            id3_frames(found, tags, nested)
        ape_tags(found, content)
        layout = audio_frames.mp3_layout(content)
        first = content[slice(*layout.frames[0])]
        encoder = audio_frames.xing_encoder(first)
        if encoder:
            av_remux.describe(found, "encoder", encoder, VERB)
        outside_frames(found, content, layout, nested)

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        """The frames alone, remuxed: FFmpeg drops the old Xing/Info frame and writes its own."""
        layout = audio_frames.mp3_layout(content)
        sound = b"".join(content[start:end] for start, end in layout.frames)
        return av_remux.remux(sound, "mp3", NOUN, muxing=MP3_MUXING)


class Flac(_Audio):
    """FLAC: rebuilt as the `fLaC` mark, the STREAMINFO block and the audio frames, nothing else.

    Why / threat: mutagen rewrites the metadata blocks but keeps whatever follows the last frame (an
    APEv2 or ID3v2 tag, an app's bytes), so the file is assembled here from the parts that are sound.
    """

    media_types = (t.FLAC,)
    cannot_clean = (
        SAID,
        "the stream's technical description (sample rate, channels, length and a checksum of the sound)",
        "a damaged last frame of sound, which is removed with the data after it",
    )

    def read_tags(self, found: Found, content: bytes, nested: Nested) -> None:
        audio = FLAC(_file(content))
        if audio.tags is not None:
            vendor(found, audio.tags.vendor)
            vorbis_comments(found, list(audio.tags), nested)
        for block in audio.metadata_blocks:
            if isinstance(block, Picture):
                picture(found, block.data, nested)
            elif block.code == 2:  # APPLICATION: an app's own data (flac keeps foreign RIFF chunks here)
                found.add("other", "data an app stored in the file", None)
            elif block.code == 5:  # CUESHEET: a track list, with catalogue numbers
                found.add("other", "a track list stored in the file", None)
            elif not isinstance(block, FLAC_TECHNICAL) and block is not audio.tags:
                found.add("other", "a detail saved in the file", None)
        tags = id3_tags(content)
        if tags is not None:
            id3_frames(found, tags, nested)
        ape_tags(found, content)
        outside_frames(found, content, audio_frames.flac_layout(content), nested)

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        layout = audio_frames.flac_layout(content)
        head = b"fLaC" + bytes((0x80, 0, 0, len(layout.stream_info))) + layout.stream_info
        return Rewrite(head + b"".join(content[start:end] for start, end in layout.frames))


class Wave(_Audio):
    """WAV: written anew by FFmpeg (RIFF INFO, `bext`, `id3 ` and any other chunk left out)."""

    media_types = (t.WAV,)
    cannot_clean = (SAID, "the sound's technical format (sample rate, channels, sample size)")

    def read_tags(self, found: Found, content: bytes, nested: Nested) -> None:
        tags = WAVE(_file(content)).tags
        if tags is not None:
            id3_frames(found, tags, nested)

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        return av_remux.remux(content, "wav", NOUN)


class M4a(_Audio):
    """M4A: ISO media like MP4, so remuxed by FFmpeg's iPod muxer; the item list read by mutagen too."""

    media_types = (t.M4A,)
    cannot_clean = (SAID, "data an encoder may have placed inside the compressed sound frames")
    read_options = av_remux.ISO_READ

    def read_tags(self, found: Found, content: bytes, nested: Nested) -> None:
        av_remux.inspect_item_list(found, content, nested, NOUN, VERB)

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        return av_remux.remux(content, "ipod", NOUN, self.read_options, faststart=True)


FORMATS: tuple[Format, ...] = (OggAudio(), Mp3(), Flac(), Wave(), M4a())
