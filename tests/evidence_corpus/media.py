"""Video and sound: MP4, MOV, 3GP, WebM, M4A, Ogg Opus, MP3 and FLAC, one second each, made by PyAV, with
container and track metadata, QuickTime Keys/UserData/ItemList atoms and XMP written by exiftool, and
Vorbis comments, ID3 frames and cover pictures written by mutagen."""

from __future__ import annotations

import base64
import io
import math
import struct
from collections.abc import Callable

import av
from mutagen import flac, id3, mp4, oggopus
from PIL import Image

from bot.evidence import types as t
from tests.evidence_corpus import values as v
from tests.evidence_corpus.plants import BYTES, Built, Fixture, Plant, Workshop

SECONDS = 1
FPS = 10
SIZE = (64, 48)
SAMPLE_FORMATS = {"flt": "<f", "fltp": "<f", "s16": "<h", "s16p": "<h", "s32": "<i", "s32p": "<i"}
SCALE = {"<f": 0.3, "<h": 9000, "<i": 9000 << 16}


def _samples(sample_format: str, start: int, count: int, rate: int) -> bytes:
    code = SAMPLE_FORMATS[sample_format]
    tone = [SCALE[code] * math.sin(2 * math.pi * 440 * (start + k) / rate) for k in range(count)]
    return b"".join(struct.pack(code, value if code == "<f" else int(value)) for value in tone)


def encode(
    shop: Workshop,
    container: str,
    suffix: str,
    video: str | None,
    audio: str | None,
    rate: int,
    metadata: dict[str, str],
    track: dict[str, str],
) -> bytes:
    """A one-second file: a moving picture (if `video`) and a tone (if `audio`), with the metadata given."""
    path = shop.path(suffix)
    with av.open(str(path), "w", format=container) as out:
        out.metadata.update(metadata)
        streams = []
        if video:
            picture = out.add_stream(video, rate=FPS)
            picture.width, picture.height, picture.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
            if video == "libx264":
                picture.options = {"preset": "ultrafast"}
            picture.metadata.update(track)
            streams.append(picture)
        if audio:
            sound = out.add_stream(audio, rate=rate, layout="mono")
            sound.metadata.update(track)
            streams.append(sound)
        if video:
            for index in range(SECONDS * FPS):
                frame = av.VideoFrame.from_image(Image.new("RGB", SIZE, (index * 25, 80, 160 - index * 10)))
                frame.pts = index
                for packet in picture.encode(frame):
                    out.mux(packet)
            for packet in picture.encode():
                out.mux(packet)
        if audio:
            size = sound.codec_context.frame_size or 1152
            name = sound.codec_context.format.name
            for start in range(0, SECONDS * rate, size):
                frame = av.AudioFrame(format=name, layout="mono", samples=size)
                data = _samples(name, start, size, rate)
                frame.planes[0].update(data + bytes(frame.planes[0].buffer_size - len(data)))
                frame.sample_rate, frame.pts = rate, start
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return path.read_bytes()


CONTAINER_METADATA = {
    "title": v.MEDIA_TITLE,
    "artist": v.MEDIA_ARTIST,
    "comment": v.MEDIA_COMMENT,
    "location": v.ISO6709,
}
TRACK_METADATA = {"handler_name": v.MEDIA_HANDLER, "title": v.MEDIA_TRACK_NAME}
QUICKTIME_TAGS = (
    f"-Keys:GPSCoordinates={v.LATITUDE}, {v.LONGITUDE}",
    f"-UserData:GPSCoordinates={v.LATITUDE}, {v.LONGITUDE}",
    f"-Keys:Make={v.MEDIA_MAKE}",
    f"-Keys:Model={v.MEDIA_MODEL}",
    f"-Keys:Author={v.MEDIA_AUTHOR}",
    f"-Keys:CreationDate={v.MEDIA_CREATED}",
    f"-UserData:Make={v.MEDIA_UD_MAKE}",
    f"-UserData:Model={v.MEDIA_UD_MODEL}",
    f"-XMP-dc:Creator={v.MEDIA_XMP_CREATOR}",
    f"-ItemList:Encoder={v.MEDIA_ENCODER}",
    f"-Keys:LocationName={v.MEDIA_LOCATION_NAME}",
    f"-Keys:Software={v.MEDIA_SOFTWARE}",
    f"-QuickTime:CreateDate={v.MOVIE_CREATED}",
    f"-QuickTime:TrackCreateDate={v.MOVIE_CREATED}",
    f"-QuickTime:MediaCreateDate={v.MOVIE_CREATED}",
)
QUICKTIME_PLANTS = (
    Plant("container title (ItemList or UserData ©nam)", v.MEDIA_TITLE),
    Plant("container artist (©ART)", v.MEDIA_ARTIST),
    Plant("container comment (©cmt)", v.MEDIA_COMMENT),
    Plant("ItemList encoder (©too)", v.MEDIA_ENCODER),
    Plant("container location (©xyz or 3GPP loci)", v.GPS, gps=True),
    Plant("track handler name (hdlr)", v.MEDIA_HANDLER),
    Plant("Keys GPSCoordinates (com.apple.quicktime.location.ISO6709)", v.GPS, gps=True),
    Plant("UserData GPSCoordinates (©xyz)", v.GPS, gps=True),
    Plant("Keys Make", v.MEDIA_MAKE),
    Plant("Keys Model", v.MEDIA_MODEL),
    Plant("Keys Author", v.MEDIA_AUTHOR),
    Plant("Keys CreationDate", "2019:07:23 04:56:17"),
    Plant("Keys LocationName", v.MEDIA_LOCATION_NAME),
    Plant("Keys Software", v.MEDIA_SOFTWARE),
    Plant("UserData Make (©mak)", v.MEDIA_UD_MAKE),
    Plant("UserData Model (©mod)", v.MEDIA_UD_MODEL),
    Plant("XMP dc:creator (uuid/XMP_ box)", v.MEDIA_XMP_CREATOR),
    Plant("movie, track and media header creation times (mvhd/tkhd/mdhd)", v.MOVIE_CREATED),
)


# FFmpeg writes a track's title as its udta name in MP4 and MOV only.
TRACK_NAME_PLANT = Plant("track name (trak udta name)", v.MEDIA_TRACK_NAME)


def build_quicktime(container: str, suffix: str) -> Callable[[Workshop], Built]:
    def build(shop: Workshop) -> Built:
        content = encode(shop, container, suffix, "libx264", "aac", 16000, CONTAINER_METADATA, TRACK_METADATA)
        named = (TRACK_NAME_PLANT,) if container in ("mp4", "mov") else ()
        return Built(shop.plant(content, suffix, *QUICKTIME_TAGS), QUICKTIME_PLANTS + named)

    build.__doc__ = f"A phone video ({container}) with every QuickTime place for where and who."
    return build


def cover() -> bytes:
    """Cover art: a picture whose own comment is planted."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(out, "JPEG", comment=v.COVER_COMMENT.encode())
    return out.getvalue()


COVER_PLANT = Plant("embedded cover picture (its JPEG comment)", v.COVER_COMMENT, witness=BYTES)


def build_m4a(shop: Workshop) -> Built:
    """A voice memo: iTunes-style tags, a cover picture, and QuickTime GPS."""
    content = encode(shop, "ipod", ".m4a", None, "aac", 16000, CONTAINER_METADATA, TRACK_METADATA)
    path = shop.path(".m4a")
    path.write_bytes(content)
    tags = mp4.MP4(str(path))
    tags["covr"] = [mp4.MP4Cover(cover(), imageformat=mp4.MP4Cover.FORMAT_JPEG)]
    tags["----:com.apple.iTunes:OWNER"] = [v.ID3_PRIVATE_OWNER.encode()]
    tags.save()
    content = shop.plant(path.read_bytes(), ".m4a", *QUICKTIME_TAGS)
    plants = (*QUICKTIME_PLANTS, COVER_PLANT, Plant("iTunes freeform ----:OWNER", v.ID3_PRIVATE_OWNER))
    return Built(content, plants)


def build_webm(shop: Workshop) -> Built:
    """A WebM clip with Matroska segment and track tags."""
    metadata = {
        "title": v.MEDIA_TITLE,
        "artist": v.MEDIA_ARTIST,
        "comment": v.MEDIA_COMMENT,
        "location": v.ISO6709,
    }
    track = {"title": v.MEDIA_HANDLER}
    content = encode(shop, "webm", ".webm", "libvpx", "libopus", 48000, metadata, track)
    plants = (
        Plant("segment title", v.MEDIA_TITLE),
        Plant("segment tag ARTIST", v.MEDIA_ARTIST),
        Plant("segment tag COMMENT", v.MEDIA_COMMENT),
        Plant("segment tag LOCATION (ISO 6709)", v.GPS, gps=True),
        Plant("track name", v.MEDIA_HANDLER),
    )
    return Built(content, plants)


def build_ogg(shop: Workshop) -> Built:
    """A voice note as Ogg Opus with Vorbis comments."""
    content = encode(shop, "ogg", ".ogg", None, "libopus", 48000, {}, {})
    path = shop.path(".opus")
    path.write_bytes(content)
    tags = oggopus.OggOpus(str(path))
    tags["ARTIST"] = v.VORBIS_ARTIST
    tags["LOCATION"] = v.VORBIS_LOCATION
    tags["COMMENT"] = v.VORBIS_COMMENT
    tags["ENCODER"] = v.MEDIA_ENCODER
    picture = flac.Picture()
    picture.type, picture.mime, picture.data = 3, "image/jpeg", cover()
    tags["METADATA_BLOCK_PICTURE"] = [base64.b64encode(picture.write()).decode("ascii")]
    tags.save()
    plants = (
        Plant("Vorbis comment ARTIST", v.VORBIS_ARTIST),
        Plant("Vorbis comment LOCATION", v.VORBIS_LOCATION),
        Plant("Vorbis comment COMMENT", v.VORBIS_COMMENT),
        Plant("Vorbis comment ENCODER", v.MEDIA_ENCODER),
        Plant("Vorbis METADATA_BLOCK_PICTURE (base64 cover, its JPEG comment)", v.COVER_COMMENT),
    )
    return Built(path.read_bytes(), plants)


def id3v1(artist: str) -> bytes:
    """An ID3v1 tag (the last 128 bytes of an MP3) naming the artist."""
    field = artist.encode("latin-1")[:30]
    return b"TAG" + bytes(30) + field + bytes(30 - len(field)) + bytes(30) + b"2019" + bytes(30) + b"\xff"


def build_mp3(shop: Workshop) -> Built:
    """A dictaphone MP3: ID3v2 text, comment (UTF-16), private and picture frames, and an ID3v1 tag."""
    content = encode(shop, "mp3", ".mp3", None, "libmp3lame", 16000, {}, {})
    path = shop.path(".mp3")
    path.write_bytes(content)
    tags = id3.ID3()
    tags.add(id3.TPE1(encoding=3, text=[v.ID3_ARTIST]))
    tags.add(id3.TIT2(encoding=1, text=[v.ID3_TITLE]))
    tags.add(id3.COMM(encoding=1, lang="eng", desc="", text=[v.ID3_COMMENT]))
    tags.add(id3.TENC(encoding=3, text=[v.MEDIA_ENCODER]))
    tags.add(id3.PRIV(owner=v.ID3_PRIVATE_OWNER, data=b"\x01\x02"))
    tags.add(id3.TXXX(encoding=1, desc="Location", text=[v.ID3_USER_TEXT]))
    tags.add(id3.WXXX(encoding=3, desc="home", url=v.ID3_URL))
    tags.add(id3.GEOB(encoding=3, mime="text/plain", filename=v.ID3_OBJECT_NAME, desc="notes", data=b"notes"))
    tags.add(id3.APIC(encoding=3, mime="image/jpeg", type=3, desc="cover", data=cover()))
    tags.save(str(path), v1=0, v2_version=3)
    path.write_bytes(path.read_bytes() + id3v1(v.ID3V1_ARTIST))
    plants = (
        Plant("ID3v2 TPE1 (artist)", v.ID3_ARTIST),
        Plant("ID3v2 TIT2 (title, UTF-16)", v.ID3_TITLE),
        Plant("ID3v2 COMM (comment, UTF-16)", v.ID3_COMMENT),
        Plant("ID3v2 TENC (encoded by)", v.MEDIA_ENCODER),
        Plant("ID3v2 PRIV owner", v.ID3_PRIVATE_OWNER, witness=BYTES),
        Plant("ID3v2 TXXX user text (UTF-16)", v.ID3_USER_TEXT),
        Plant("ID3v2 WXXX user URL", v.ID3_URL),
        Plant("ID3v2 GEOB file name", v.ID3_OBJECT_NAME, witness=BYTES),
        COVER_PLANT,
        Plant("ID3v1 artist (last 128 bytes)", v.ID3V1_ARTIST),
    )
    return Built(path.read_bytes(), plants)


def build_flac(shop: Workshop) -> Built:
    """A FLAC recording with Vorbis comments and a picture block."""
    content = encode(shop, "flac", ".flac", None, "flac", 16000, {}, {})
    path = shop.path(".flac")
    path.write_bytes(content)
    tags = flac.FLAC(str(path))
    tags["ARTIST"] = v.VORBIS_ARTIST
    tags["LOCATION"] = v.VORBIS_LOCATION
    tags["COMMENT"] = v.VORBIS_COMMENT
    picture = flac.Picture()
    picture.type, picture.mime, picture.data = 3, "image/jpeg", cover()
    tags.add_picture(picture)
    tags.save()
    plants = (
        Plant("Vorbis comment ARTIST", v.VORBIS_ARTIST),
        Plant("Vorbis comment LOCATION", v.VORBIS_LOCATION),
        Plant("Vorbis comment COMMENT", v.VORBIS_COMMENT),
        COVER_PLANT,
    )
    return Built(path.read_bytes(), plants)


FIXTURES = (
    Fixture("mp4", "MP4", t.MP4, "VID_0001.mp4", build_quicktime("mp4", ".mp4"), "media"),
    Fixture("mov", "MOV", t.MOV, "IMG_0003.MOV", build_quicktime("mov", ".mov"), "media"),
    Fixture("3gp", "3GP", t.THREE_GP, "clip.3gp", build_quicktime("3gp", ".3gp"), "media"),
    Fixture("webm", "WebM", t.WEBM, "clip.webm", build_webm, "media"),
    Fixture("m4a", "M4A", t.M4A, "memo.m4a", build_m4a, "media"),
    Fixture("ogg-opus", "Ogg Opus", t.OGG_AUDIO, "voice.ogg", build_ogg, "media"),
    Fixture("mp3", "MP3", t.MP3, "memo.mp3", build_mp3, "media"),
    Fixture("flac", "FLAC", t.FLAC, "recording.flac", build_flac, "media"),
)
