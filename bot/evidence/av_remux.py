"""Audio and video read and rewritten with PyAV (FFmpeg): what a container says, and a remux without it.
Shared by bot.evidence.video and bot.evidence.audio, with mutagen's reading of ISO media's item list.

Why remux and never re-encode: the sound and pictures are the evidence. Copying the compressed packets
into a fresh container keeps every packet byte for byte (the tests compare them), while the container
is written new by FFmpeg's muxer from nothing but the streams' technical parameters: no container or
stream metadata is handed to it, no chapters, and `fflags=+bitexact` stops it writing its own version,
dates or random identifiers. Streams that are not sound or pictures (timed data such as an iPhone's GPS
track, subtitles, attachments, cover pictures) are left out and named to the reporter.

Why tag keys are judged here: FFmpeg reports every container's tags under one vocabulary (QuickTime
`udta`/`meta` keys, Matroska tags, Vorbis comments, RIFF INFO, ID3), so one table says what each means
for the reporter. The table of keys that pass is an allow-list of what only describes the file's
structure (brands, language, durations, gapless and loudness numbers); every other key is a finding,
known or not, because the same reading is the independent check of the cleaned file. `encoder`,
`handler_name` and a vendor string are free text an app may fill with its own name or its owner's:
only values that look like a known library or a standard handler pass as technical.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import av
import mutagen
from mutagen.mp4 import MP4, MP4Cover

from bot.evidence.av_output import SharedFile, Store
from bot.evidence.model import (
    DAMAGED,
    TOO_COMPLEX,
    EvidenceError,
    Finding,
    Found,
    Nested,
    Rewrite,
    Unsupported,
    when,
)

MAX_STREAMS = 64
# A timed data track that may hold positions: iPhone `mebx` ("Core Media Metadata"), GoPro `gpmd`
# ("GoPro MET"), Google's camera motion `camm`. Other data tracks (a time code) are named as data.
POSITION_HINTS = ("mebx", "gpmd", "camm", "metadata", "gopro met", "gps")
# Options for the muxer: no version strings, dates or random identifiers (see the module's note).
BITEXACT = {"fflags": "+bitexact"}
# FFmpeg's QuickTime reader shows the XMP packet too (as the "xmp" key) only when asked.
ISO_READ = {"export_xmp": "1"}
# For the independent read-out of a result: no picture decoded, one packet read past the header. Why
# enough: every tag, chapter, stream type and disposition the read-out looks at is parsed from the
# header (an ISO file's `moov`, a Matroska file's segment info, tags and tracks), and FFmpeg reads the
# header whole whatever these say; what they cut is the decoding of the first pictures that finding a
# stream's pixel format and frame delay takes (most of the cost of opening a video), which a read-out of
# metadata does not use. The tests hold the read-out to the fully probed one over the fixture corpus.
READ_OUT = {"skip_frame": "all", "probesize": "32"}
# The muxer's buffer: large, so that its writes, and the second pass of `faststart`, cross into Python a
# few times per file rather than hundreds.
MUX_BUFFER = 1 << 20

# The allow-list: keys that only describe the file's structure, as muxers write them (brands, language,
# durations, counts, rotation) or as encoders write gapless and loudness numbers. Any other key is a
# finding, known or not (see `technical`).
TECHNICAL_KEYS = frozenset(
    {
        "major_brand", "minor_version", "compatible_brands", "vendor_id", "language", "duration", "bps",
        "number_of_frames", "number_of_bytes", "_statistics_tags", "itunsmpb", "itunnorm",
        "gapless_playback", "rotate", "stereo_mode", "alpha_mode", "encoder_delay", "encoder_padding",
    }
)  # fmt: skip
# Loudness tags (ReplayGain, EBU R128) pass when they hold numbers only.
LOUDNESS = ("replaygain_", "r128_")
SOFTWARE_KEYS = frozenset(
    {"encoder", "_statistics_writing_app", "writing_app", "muxing_app", "vendor", "tsse"}
)
# Free text that is technical when it is one of these: FFmpeg, codec libraries, common muxing tools, or
# the codec names cameras write as a track's compressor name.
TECHNICAL_SOFTWARE = re.compile(
    r"(?:Lav[fc]\d*(?:\.\d+)*(?: [\w\-]+)?|ffmpeg|libebml v[\d.]+ \+ libmatroska v[\d.]+|mkvmerge v[\d.]+.*"
    r"|HandBrake [\d.]+(?: \d+)?|libopus [\w.\-]+|libopus|Xiph\.Org libVorbis I \d+(?: \([\w ]+\))?"
    r"|(?:reference )?libFLAC [\d.]+(?: \d+)?|LAME ?[\d.]+\w*|LAME \d+bits version [\d.]+(?: \(http://lame\.sf\.net\))?"
    r"|x26[45]|H\.26[345]|HEVC|AVC Coding"
    r"|JVT/AVC Coding|MPEG-4 Video|GPAC-[\d.\-\w]+|L-SMASH|GStreamer[\w .\-]*|Google)"
)
# Handler names are technical when made only of these words ("VideoHandler", "Core Media Audio").
TECHNICAL_HANDLER = re.compile(
    r"(?:(?:Apple|Core|Media|ISO|GPAC|L-SMASH|Mainconcept|MP4|Bento4|Video|Sound|Audio|Data|Alias|Meta"
    r"|Metadata|Hint|Text|Subtitle|Timed|Handler|Handle|Time ?Code)\s*)+",
    re.IGNORECASE,
)
PERSON = {
    "artist": "the artist's name", "author": "the author's name", "copyright": "a copyright notice",
    "album_artist": "a name", "composer": "a name", "performer": "a name", "publisher": "a name",
    "encoded_by": "a name", "originator": "a name", "director": "a name", "producer": "a name",
    "owner": "the owner's name", "contact": "a contact", "organization": "a name", "lyricist": "a name",
    "conductor": "a name", "arranger": "a name", "remixer": "a name", "account_id": "an account",
    "email": "an e-mail address", "iart": "the artist's name", "ieng": "a name", "icop": "a copyright notice",
    "coding_history": "the history of the recording",
}  # fmt: skip
TIME_WORDS = ("date", "time", "year", "icrd", "tdrc", "tdor", "tyer", "tdat", "tden", "tdrl", "tdtg")
DEVICE_WORDS = ("make", "model", "manufacturer", "camera", "lens", "serial", "device", "com.android.version")
OTHER = {
    "title": "a title", "comment": "a comment", "description": "a description", "synopsis": "a description",
    "album": "an album name", "lyrics": "words written into the file", "keywords": "keywords",
    "subject": "a subject", "icmt": "a comment", "inam": "a title", "url": "a web address",
    "filename": "the name of a file attached inside", "name": "a track name",
}  # fmt: skip


# FFmpeg names an attached picture's ID3/FLAC picture type in its "comment": a label, not a detail.
PICTURE_TYPES = frozenset(
    {
        "Other", "32x32 pixels 'file icon'", "Other file icon", "Cover (front)", "Cover (back)",
        "Leaflet page", "Media (e.g. label side of CD)", "Lead artist/lead performer/soloist",
        "Artist/performer", "Conductor", "Band/Orchestra", "Composer", "Lyricist/text writer",
        "Recording Location", "During recording", "During performance", "Movie/video screen capture",
        "A bright coloured fish", "Illustration", "Band/artist logotype", "Publisher/Studio logotype",
    }
)  # fmt: skip


def norm_key(key: str) -> str:
    """A tag key in one form: lower case, no QuickTime prefix, no language suffix ("-eng")."""
    key = key.strip().lower()
    key = re.sub(r"^com\.apple\.quicktime\.", "", key)
    key = re.sub(r"-[a-z]{3}$", "", key)
    return key.removeprefix("©")


def technical(key: str, value: str) -> bool:
    """Whether a key and value only describe the file's structure (see the module's note).

    Why / threat: this is an allow-list, not a list of known dangers. The same test reads the cleaned
    file, so a key no table here names (an app's own tag, a sort name, a track number) must count as a
    finding: otherwise a tag Candour has never seen would pass the independent read-out unnoticed.
    """
    if key in TECHNICAL_KEYS:
        return True
    if key.startswith(LOUDNESS):
        return re.fullmatch(r"[\d\s.,+\-]*(?:db|lu|lufs)?", value.strip(), re.IGNORECASE) is not None
    if key in SOFTWARE_KEYS:
        return not value.strip() or TECHNICAL_SOFTWARE.fullmatch(value.strip()) is not None
    if key == "handler_name":
        return not value.strip() or TECHNICAL_HANDLER.fullmatch(value.strip()) is not None
    if key == "timecode":
        return re.fullmatch(r"[0:;.]*", value) is not None
    return not value.strip()


def describe(found: Found, key: str, value: str, verb: str) -> None:
    """One tag as a finding, in plain words; `verb` is how the media was made ("filmed", "recorded")."""
    key = norm_key(key)
    if technical(key, value):
        return
    if key == "xmp":
        xmp(found, value, verb)
    elif "location" in key or "gps" in key or key in ("xyz", "iso6709"):
        found.add("location", f"where it was {verb}", value)
    elif key in SOFTWARE_KEYS or key == "software" or key.endswith(".software"):
        found.add("software", "the app that made the file", value)
    elif key == "handler_name":
        found.add("other", "a track name written by the app", value)
    elif key in PERSON:
        found.add("person", PERSON[key], value)
    elif any(word in key for word in DEVICE_WORDS):
        found.add("device", "the phone or camera that made it", value)
    elif any(word in key for word in TIME_WORDS):
        found.add("time", f"when it was {verb}", when(value))
        found.value(value)
    elif key in OTHER:
        found.add("other", OTHER[key], value)
    else:
        found.add("other", "a detail saved in the file", value)


def xmp(found: Found, packet: str, verb: str) -> None:
    """An XMP packet: said once, and each text in it kept for the byte search."""
    found.add("other", "extra details saved in an XMP packet", None)
    if re.search(r"GPS|location", packet, re.IGNORECASE):
        found.add("location", f"where it was {verb}", None)
    if re.search(r"creator|artist|author|owner|rights", packet, re.IGNORECASE):
        found.add("person", "a name in an XMP packet", None)
    for text in re.findall(r">([^<>]+)<|=\s*[\"']([^\"']*)[\"']", packet):
        for part in text:
            found.value(part)


def tags(found: Found, items: Iterable[tuple[str, object]], verb: str) -> None:
    """Every key and value of a tag dictionary, described."""
    for key, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        for one in values:
            describe(found, str(key), one if isinstance(one, str) else str(one), verb)


# ---------------------------------------------------------------------------------------------------------
# Reading a container


@contextmanager
def open_input(
    content: bytes, options: dict[str, str] | None = None
) -> Iterator[av.container.InputContainer]:
    """The file opened for reading from memory; tag text that is not UTF-8 is read with replacements.

    Why: FFmpeg answers some damaged files with "out of memory" (a size field gone wrong), which PyAV
    raises as MemoryError; that is damage, not a picture too large, so the reporter is told so.
    """
    try:
        with av.open(io.BytesIO(content), "r", options=options or {}, metadata_errors="replace") as container:
            if len(container.streams) > MAX_STREAMS:
                raise EvidenceError(TOO_COMPLEX)
            yield container
    except av.error.MemoryError as error:
        raise EvidenceError(DAMAGED) from error


def kept(stream: av.stream.Stream) -> bool:
    """Whether a stream is sound or pictures, the evidence itself (a cover picture is not)."""
    return stream.type in ("audio", "video") and not stream.disposition & av.stream.Disposition.attached_pic


def dropped(stream: av.stream.Stream, noun: str) -> Finding:
    """What leaving this stream out removes, for the reporter.

    The same finding is what inspection reports for the stream, so the reporter reads it once (the bot
    lists the findings, then the removed parts that are not among them).
    """
    hint = " ".join(
        str(part or "")
        for part in (
            stream.codec_context.name if stream.codec_context else "",
            getattr(stream, "codec_tag", ""),
            stream.metadata.get("handler_name"),
        )
    ).lower()
    if stream.type == "data" and any(word in hint for word in POSITION_HINTS):
        return Finding("location", f"a track of positions recorded with the {noun}")
    if stream.type == "data":
        return Finding("other", f"a track of timed data recorded with the {noun}")
    if stream.type == "subtitle":
        return Finding("other", f"subtitles or captions stored in the {noun}")
    if stream.type == "attachment":
        return Finding("other", f"a file attached inside the {noun}")
    if stream.type in ("audio", "video"):
        return Finding("other", f"a cover picture stored in the {noun}")
    return Finding("other", f"an unknown part of the {noun}")


def inspect_container(
    found: Found, content: bytes, nested: Nested, noun: str, verb: str, options: dict[str, str]
) -> None:
    """Container and stream tags, chapters, and every stream that is not sound or pictures."""
    with open_input(content, options) as container:
        read_container(found, container, nested, noun, verb)


def read_container(
    found: Found, container: av.container.InputContainer, nested: Nested, noun: str, verb: str
) -> bool:
    """What `inspect_container` reads, from a container already open; True if it read any packet (a
    cover picture's), after which the container is no longer at its start."""
    tags(found, container.metadata.items(), verb)
    for chapter in container.chapters():
        tags(found, chapter.get("metadata", {}).items(), verb)
    pictures = []
    for stream in container.streams:
        labels = stream.disposition & av.stream.Disposition.attached_pic
        items = [(k, v) for k, v in stream.metadata.items() if not (labels and v in PICTURE_TYPES)]
        tags(found, items, verb)
        if kept(stream):
            continue
        part = dropped(stream, noun)
        found.add(part.kind, part.summary)
        if stream.type == "attachment":
            found.value(getattr(stream, "name", None))
            found.nested(nested.inspect(bytes(stream.data or b"")))
        elif stream.type in ("audio", "video"):
            pictures.append(stream)
    for stream in pictures:
        for packet in container.demux(stream):
            if packet.size:
                found.nested(nested.inspect(bytes(packet)), "in a picture inside: ")
                break
    return bool(pictures)


# ---------------------------------------------------------------------------------------------------------
# ISO media's item list, read by mutagen

# mutagen's item-list keys, named as FFmpeg names them so one table describes both.
ITEM_KEYS = {
    "©nam": "title", "©art": "artist", "aart": "album_artist", "©wrt": "composer", "©alb": "album",
    "©day": "date", "©cmt": "comment", "desc": "description", "ldes": "description", "©too": "encoder",
    "cprt": "copyright", "©xyz": "location", "apid": "account_id", "ownr": "owner", "purd": "purchase_date",
    "©grp": "title", "©lyr": "lyrics", "©gen": "genre", "gnre": "genre", "©mak": "make", "©mod": "model",
    "©swr": "software", "©aut": "author", "©enc": "encoded_by", "©prd": "producer", "©dir": "director",
}  # fmt: skip


def inspect_item_list(found: Found, content: bytes, nested: Nested, noun: str, verb: str) -> None:
    """The iTunes-style item list (`moov/udta/meta/ilst`) as mutagen reads it, cover pictures included.

    Why / threat: FFmpeg shows a `udta` tag and an item-list tag of the same name as one key, so a
    second value would be missed; mutagen reads the item list on its own.
    """
    try:
        items = MP4(io.BytesIO(content)).tags
    except mutagen.MutagenError:
        return  # no movie box mutagen can read: FFmpeg's view (which did read it) stands alone
    for key, values in (items or {}).items():
        if key == "covr":
            for cover in values:
                found.add("other", f"a cover picture stored in the {noun}", None)
                found.nested(nested.inspect(bytes(cover)), "in a picture inside: ")
            continue
        name = key.split(":")[-1] if key.startswith("----") else ITEM_KEYS.get(key.lower(), key)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, MP4Cover | bytes):
                value = bytes(value).decode("utf-8", "replace")
            if isinstance(value, tuple):
                value = "/".join(str(part) for part in value)
            describe(found, name, str(value), verb)


# ---------------------------------------------------------------------------------------------------------
# Writing a fresh container


def remux(
    content: bytes,
    muxer: str,
    noun: str,
    options: dict[str, str] | None = None,
    *,
    faststart: bool = False,
    muxing: dict[str, str] | None = None,
) -> Rewrite:
    """The sound and picture streams copied packet by packet into a new container with nothing else.

    Why / threat: see the module's note. Raises Unsupported when the muxer will not take these streams
    (a codec the container type cannot hold as FFmpeg writes it), so the file is returned as not cleaned.
    `faststart` (ISO media) puts the index first, as phones and streaming sites do (av_output.SharedFile
    says how);
    `muxing` adds the muxer's own options (the MP3 muxer's, to write no ID3v2 tag).
    """
    with open_input(content, options) as source:
        return remux_open(source, len(content), muxer, noun, faststart=faststart, muxing=muxing)


def inspect_and_remux(
    found: Found,
    content: bytes,
    nested: Nested,
    inspected: Callable[[], None],
    *,
    noun: str,
    verb: str,
    options: dict[str, str],
    muxer: str,
    faststart: bool,
) -> Rewrite:
    """`inspect_container` into `found`, `inspected()` once that is done (before the remux, so that its
    findings stand when the muxer refuses the file), then `remux`, from one opening where it can be.

    Why: opening a video costs most of a remux (FFmpeg decodes its first pictures to learn their
    format), so the original is opened once for both; reading its tags changes nothing in it. Only a
    file with a cover picture, whose packets the inspection reads, is opened afresh for the remux.
    """
    with open_input(content, options) as source:
        read_packets = read_container(found, source, nested, noun, verb)
        inspected()
        if not read_packets:
            return remux_open(source, len(content), muxer, noun, faststart=faststart)
    return remux(content, muxer, noun, options, faststart=faststart)


def remux_open(
    source: av.container.InputContainer,
    size: int,
    muxer: str,
    noun: str,
    *,
    faststart: bool = False,
    muxing: dict[str, str] | None = None,
) -> Rewrite:
    """`remux` of a container already open at its start (`size`: the file's length, room to reserve)."""
    store = Store.for_output(size + (1 << 20))
    muxing = {**BITEXACT, **(muxing or {})}
    if faststart:
        muxing["movflags"] = "+faststart"
    try:
        streams = [stream for stream in source.streams if kept(stream)]
        removed = [dropped(stream, noun) for stream in source.streams if not kept(stream)]
        if not streams:
            raise Unsupported("no sound or pictures")
        with av.open(
            SharedFile(store),
            "w",
            format=muxer,
            container_options=muxing,
            buffer_size=MUX_BUFFER,
            io_open=lambda _url, _flags, _options: SharedFile(store),
        ) as target:
            mapping = {}
            try:
                for stream in streams:
                    mapping[stream.index] = target.add_stream_from_template(stream)
                target.start_encoding()
            except (av.error.FFmpegError, ValueError) as error:
                raise Unsupported("the muxer refused a stream") from error
            for packet in source.demux(streams):
                if not packet.size:
                    continue  # the empty packet a demuxer gives at the end of each stream
                packet.stream = mapping[packet.stream.index]
                target.mux(packet)
        return Rewrite(store.content(), tuple(removed))
    finally:
        store.release()
