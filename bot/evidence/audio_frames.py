"""Where the sound is in an MP3 or FLAC file, byte by byte, so that everything else can be named and cut.

Why / threat: an MP3 or FLAC file is a run of audio frames with tags wherever a tagger chose to put
them: an ID3v2 tag in front (or several), and at the end an ID3v2 tag with a footer, a Lyrics3 tag
(author and free text), an APEv2 tag, an ID3v1 tag, or just bytes an app appended. A library that edits
tags in place removes only the tags it knows, and FFmpeg's parsers hand trailing bytes on as part of
the last packet (the FLAC parser always does), so neither can say where the sound ends. This module
finds the frames themselves, and every byte outside them is reported and left out.

MP3: each frame's length follows from its 4-byte header (version, layer, bit rate, sample rate,
padding). A frame is accepted where the previous one ended, or, after bytes that are not a frame, only
when the next frame confirms it (so a stray 0xFF in a tag is not taken for sound).

FLAC: a frame's length is not in its header. FFmpeg's parser finds where each frame starts; a frame
ends with a CRC-16 over all its bytes, so the true end is the first place where that CRC holds and the
FLAC decoder reads exactly that many bytes (a shorter cut makes the decoder read past the end).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

import av

from bot.evidence.model import DAMAGED, EvidenceError, Unsupported

Span = tuple[int, int]

# Bit rates in kbit/s by [MPEG-1?][layer 1..3][index 1..14].
_RATES = {
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
# The header bits every frame of one stream shares: sync, version, layer and sample rate.
_SAME = 0xFFFE0C00
# Where a Xing/Info (or VBRI) header sits in the first frame, after the header and side information.
_XING_AT = (13, 15, 21, 23, 36, 38)


@dataclass(frozen=True)
class Layout:
    """The audio frames of a file, and every span of bytes outside them (tags included)."""

    frames: tuple[Span, ...]
    gaps: tuple[Span, ...]
    stream_info: bytes = b""  # FLAC: the STREAMINFO block's body, the stream's technical description


def id3v2_length(content: bytes, at: int) -> int:
    """The length of an ID3v2 tag starting at `at` (its footer included), or 0 if none starts there."""
    head = content[at : at + 10]
    if len(head) < 10 or head[:3] != b"ID3" or head[3] == 0xFF or any(b & 0x80 for b in head[6:10]):
        return 0
    size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
    return 10 + size + (10 if head[5] & 0x10 else 0)


def _mp3_frame(content: bytes, at: int) -> tuple[int, int]:
    """The length of the MPEG audio frame whose header is at `at`, and its shared bits; (0, 0) if none."""
    if at + 4 > len(content) or content[at] != 0xFF or content[at + 1] & 0xE0 != 0xE0:
        return 0, 0
    header = int.from_bytes(content[at : at + 4], "big")
    version, layer = (header >> 19) & 3, 4 - ((header >> 17) & 3)
    rate_index, sample_index = (header >> 12) & 15, (header >> 10) & 3
    if version == 1 or layer == 4 or rate_index in (0, 15) or sample_index == 3 or header & 3 == 2:
        return 0, 0  # reserved values, or a free-format bit rate (its length is not in the header)
    mpeg1 = version == 3
    bits = _RATES[(mpeg1, layer)][rate_index - 1] * 1000
    sample_rate = _SAMPLE_RATES[version][sample_index]
    padding = (header >> 9) & 1
    if layer == 1:
        length = (12 * bits // sample_rate + padding) * 4
    elif layer == 3 and not mpeg1:
        length = 72 * bits // sample_rate + padding
    else:
        length = 144 * bits // sample_rate + padding
    return length, header & _SAME


@lru_cache(maxsize=2)
def mp3_layout(content: bytes) -> Layout:
    """The MPEG audio frames of an MP3, and the spans outside them; Unsupported if it has none."""
    frames: list[Span] = []
    gaps: list[Span] = []
    shared = 0
    at = gap_start = 0
    end = len(content)
    while at < end:
        length, bits = _mp3_frame(content, at)
        fits = length and at + length <= end and (not shared or bits == shared)
        if fits and (gap_start < at or not frames):
            following, next_bits = _mp3_frame(content, at + length)
            fits = at + length == end or (following and next_bits == bits)
        if fits:
            if gap_start < at:
                gaps.append((gap_start, at))
            frames.append((at, at + length))
            shared = bits
            at = gap_start = at + length
            continue
        tag = id3v2_length(content, at)
        if tag:
            at += tag  # a tag is never searched for frames: its pictures hold stray sync bytes
            continue
        found = content.find(b"\xff", at + 1)
        at = end if found < 0 else found
    if gap_start < end:
        gaps.append((gap_start, end))
    if not frames:
        raise Unsupported("no MPEG audio frames (or a free-format bit rate)")
    return Layout(tuple(frames), tuple(gaps))


def xing_encoder(frame: bytes) -> str | None:
    """The encoder name in a Xing/Info frame's LAME extension ("LAME3.100", "Lavf"), or None."""
    for at in _XING_AT:
        tag = frame[at : at + 4]
        if tag == b"VBRI":
            return ""
        if tag in (b"Xing", b"Info"):
            flags = int.from_bytes(frame[at + 4 : at + 8], "big")
            offset = at + 8 + 4 * bool(flags & 1) + 4 * bool(flags & 2) + 100 * bool(flags & 4)
            offset += 4 * bool(flags & 8)
            return frame[offset : offset + 9].split(b"\0")[0].decode("latin-1")
    return None


# ---------------------------------------------------------------------------------------------------------
# FLAC

_CRC16 = []
for _byte in range(256):
    _value = _byte << 8
    for _ in range(8):
        _value = (_value << 1) ^ 0x8005 if _value & 0x8000 else _value << 1
    _CRC16.append(_value & 0xFFFF)


def _crc_zeros(data: bytes) -> list[int]:
    """Every length at which FLAC's CRC-16 (polynomial 0x8005) of data[:length] is zero."""
    table, crc, ends = _CRC16, 0, []
    for index, byte in enumerate(data):
        crc = ((crc << 8) & 0xFF00) ^ table[(crc >> 8) ^ byte]
        if not crc:
            ends.append(index + 1)
    return ends


def _flac_frame_end(data: bytes, decoder: av.CodecContext) -> int:
    """How many bytes of a FLAC packet are its frame (0: none is a whole frame)."""
    ends = _crc_zeros(data)
    if ends and ends[-1] == len(data):
        return len(data)  # the usual case: the packet is exactly one frame
    for length in ends:
        try:
            if decoder.decode(av.Packet(data[:length])):
                return length
        except av.error.FFmpegError:
            continue  # a cut inside the frame: the decoder reads past its end
    return 0


def flac_header(content: bytes) -> tuple[list[Span], int, bytes]:
    """ID3v2 tags in front, where the audio frames start, and the STREAMINFO block's body."""
    gaps: list[Span] = []
    at = 0
    while tag := id3v2_length(content, at):
        gaps.append((at, at + tag))
        at += tag
    if content[at : at + 4] != b"fLaC":
        raise EvidenceError(DAMAGED)
    at += 4
    stream_info = b""
    last = False
    while not last:
        if at + 4 > len(content):
            raise EvidenceError(DAMAGED)
        last, code = bool(content[at] & 0x80), content[at] & 0x7F
        length = int.from_bytes(content[at + 1 : at + 4], "big")
        if not stream_info:
            if code != 0 or length != 34:
                raise EvidenceError(DAMAGED)
            stream_info = content[at + 4 : at + 4 + length]
        at += 4 + length
    return gaps, at, stream_info


@lru_cache(maxsize=2)
def flac_layout(content: bytes) -> Layout:
    """The FLAC frames of a file, and the spans outside them (tags in front and after, other bytes)."""
    gaps, audio_start, stream_info = flac_header(content)
    frames: list[Span] = []
    cursor = audio_start
    with av.open(io.BytesIO(content), "r") as container:
        stream = container.streams.audio[0]
        decoder = av.CodecContext.create("flac", "r")
        decoder.extradata = stream_info
        for packet in container.demux(stream):
            if not packet.size:
                continue
            start, data = packet.pos, bytes(packet)
            if start is None or start < cursor or content[start : start + len(data)] != data:
                raise EvidenceError(DAMAGED)
            if start > cursor:
                gaps.append((cursor, start))
            length = _flac_frame_end(data, decoder)
            if length:
                frames.append((start, start + length))
            if length < len(data):
                gaps.append((start + length, start + len(data)))
            cursor = start + len(data)
    if cursor < len(content):
        gaps.append((cursor, len(content)))
    if not frames:
        raise EvidenceError(DAMAGED)
    return Layout(tuple(frames), tuple(_merged(gaps)), stream_info)


def _merged(spans: list[Span]) -> list[Span]:
    """Touching spans joined, so a tag and the bytes after it read as one stretch of appended data."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out
