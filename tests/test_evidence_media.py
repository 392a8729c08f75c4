"""Promise 1 for sound and video: tags, places, devices and names are gone after `bot.evidence.clean`, and
the sound and pictures are the original's, packet for packet.

Every file is made here: a few frames encoded with PyAV, tags planted with PyAV, mutagen and (where it
is installed) exiftool, which writes QuickTime `udta`, `meta` keys and XMP the way phones and editors
do. Each test checks that `inspect` sees each planted value; that after cleaning FFmpeg's read-out,
mutagen's read-out, exiftool's read-out and a byte search find none of them; and that every audio and
video packet is unchanged.
"""

from __future__ import annotations

import base64
import io
import json
from fractions import Fraction
from pathlib import Path

import av
import mutagen
import mutagen.apev2
import mutagen.id3
import pytest
from mutagen.flac import FLAC, Picture
from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm
from mutagen.oggopus import OggOpus
from mutagen.wave import WAVE

from bot.evidence import audio, audio_frames, av_remux, clean, inspect, sniff_media_type
from bot.evidence import types as t
from tests.media_fixtures import (
    AUDIO_TAGS,
    NAME,
    PLACE,
    assert_clean,
    exiftool_read,
    exiftool_write,
    id3v1_tag,
    id3v2_tag,
    kinds,
    lyrics3_tag,
    make,
    mutagen_tags,
    needs_exiftool,
    packets,
    phone_jpeg,
    summaries,
    voice_note,
    with_mutagen,
)

# ---------------------------------------------------------------------------------------------------------
# Video

VIDEO_TAGS = {"title": "Jane Title", "artist": NAME, "comment": "Meet at Lambeth", "location": PLACE}
VIDEOS = [
    ("mp4", "libx264", "aac", t.MP4, ".mp4"),
    ("mov", "libx264", "aac", t.MOV, ".mov"),
    ("3gp", "mpeg4", "aac", t.THREE_GP, ".3gp"),
    ("webm", "libvpx", "libopus", t.WEBM, ".webm"),
    ("matroska", "libx264", "aac", t.MKV, ".mkv"),
]


@pytest.mark.parametrize(("muxer", "video", "audio", "media_type", "suffix"), VIDEOS)
def test_video_tags_are_removed_and_every_packet_kept(
    tmp_path: Path, muxer: str, video: str, audio: str, media_type: str, suffix: str
) -> None:
    tags = {**VIDEO_TAGS, "creation_time": "2024-05-12T10:00:00Z"}
    original = make(muxer, video, audio, tags, stream_tags={"title": "Jane Track"})
    assert sniff_media_type(original, "clip" + suffix, None) == media_type
    found = summaries(original, "clip" + suffix, media_type)
    assert "where it was filmed" in found and "when it was filmed (2024-05-12 10:00)" in found
    if muxer != "3gp":  # FFmpeg's 3GP muxer writes only the place and the time
        assert NAME in found and "Meet at Lambeth" in found

    result = clean(original, filename="clip" + suffix, media_type=media_type)

    assert result.cleaned and result.media_type == media_type and result.filename.endswith(suffix)
    assert {"location", "time"} <= {removed.kind for removed in result.removed}
    assert inspect(result.content, filename="", media_type=media_type) == ()
    assert_clean(
        tmp_path, original, result.content, suffix, [NAME, "Jane Title", "Lambeth", PLACE, "Jane Track"]
    )
    assert "2024:05:12" not in exiftool_read(tmp_path, result.content, suffix)


@needs_exiftool
@pytest.mark.parametrize(("muxer", "suffix", "media_type"), [("mov", ".mov", t.MOV), ("mp4", ".mp4", t.MP4)])
def test_quicktime_keys_user_data_and_xmp_written_by_exiftool_are_removed(
    tmp_path: Path, muxer: str, suffix: str, media_type: str
) -> None:
    original = exiftool_write(
        tmp_path,
        make(muxer, "libx264", "aac"),
        suffix,
        "-Keys:GPSCoordinates=51.5012, -0.1245",
        "-UserData:GPSCoordinates=51.5012, -0.1245, 12",
        "-Keys:Make=Apple",
        "-Keys:Model=iPhone 15 Pro",
        "-UserData:Make=Apple",
        "-Keys:CreationDate=2024:05:12 10:00:00+01:00",
        "-Keys:Software=17.4.1",
        "-Keys:Author=PC Jane Keys",
        "-UserData:Artist=PC Jane Udta",
        "-ItemList:Artist=PC Jane Smith",
        "-ItemList:Encoder=Jane's Recorder 2",
        "-XMP:Creator=PC Jane Xmp",
    )
    witness = exiftool_read(tmp_path, original, suffix)
    assert "GPS" in witness and "iPhone 15 Pro" in witness and "PC Jane Smith" in witness
    found = summaries(original, "clip" + suffix, media_type)
    assert {"location", "device", "person", "time", "software"} <= kinds(
        original, "clip" + suffix, media_type
    )
    for value in ("PC Jane Keys", "PC Jane Udta", "PC Jane Smith", "iPhone 15 Pro", "Jane's Recorder 2"):
        assert value in found

    result = clean(original, filename="clip" + suffix, media_type=media_type)

    assert result.cleaned and inspect(result.content, filename="", media_type=media_type) == ()
    assert_clean(
        tmp_path,
        original,
        result.content,
        suffix,
        ["PC Jane", "iPhone", "17.4.1", "Jane's Recorder", "2024:05:12", "51 deg", "51.501"],
    )


@needs_exiftool
def test_a_voice_message_that_is_really_an_mp4_with_gps_is_cleaned_as_video(tmp_path: Path) -> None:
    """The issue's defect: a "voice message" stored as voice.ogg, unchecked, while its bytes are an MP4."""
    original = exiftool_write(
        tmp_path,
        make("mp4", "libx264", "aac"),
        ".mp4",
        "-Keys:GPSCoordinates=51.5012, -0.1245",
        "-UserData:GPSCoordinates=51.5012, -0.1245",
        "-Keys:Model=iPhone 15",
    )
    assert sniff_media_type(original, "voice.ogg", "audio/ogg") == t.MP4
    assert "location" in kinds(original, "voice.ogg", "audio/ogg")

    result = clean(original, filename="voice.ogg", media_type="audio/ogg")

    assert result.cleaned and result.media_type == t.MP4 and result.filename.endswith(".mp4")
    assert "location" in {removed.kind for removed in result.removed}
    assert_clean(tmp_path, original, result.content, ".mp4", ["iPhone", "51.501"])


def test_custom_track_names_are_findings_and_the_muxer_writes_only_its_own(tmp_path: Path) -> None:
    """A handler name is free text: one that is not a standard handler is reported and replaced."""
    original = make("mp4", "libx264", "aac", stream_tags={"handler_name": "Jane Smith's body camera"})
    assert "a track name written by the app (Jane Smith's body camera)" in summaries(original, "", t.MP4)
    result = clean(original, filename="clip.mp4", media_type=t.MP4)
    assert_clean(tmp_path, original, result.content, ".mp4", ["Jane Smith"])


def test_attachments_subtitles_chapters_and_time_codes_are_removed_and_named(tmp_path: Path) -> None:
    def extras(container: av.container.OutputContainer) -> None:
        container.add_attachment("jane_smith_notes.txt", "text/plain", b"notes by Jane Smith")
        subtitles = container.add_mux_stream("subrip")
        subtitles.metadata["title"] = "Jane captions"
        container.set_chapters(
            [
                {
                    "id": 1,
                    "start": 0,
                    "end": 5,
                    "time_base": Fraction(1, 10),
                    "metadata": {"title": "At Lambeth"},
                }
            ]
        )

    original = make("matroska", "libx264", "aac", setup=extras)
    found = summaries(original, "clip.mkv", t.MKV)
    assert "a file attached inside the video" in found and "subtitles or captions" in found
    assert "At Lambeth" in found and "jane_smith_notes.txt" in found

    result = clean(original, filename="clip.mkv", media_type=t.MKV)

    dropped = {removed.summary for removed in result.removed}
    assert "a file attached inside the video" in dropped
    assert "subtitles or captions stored in the video" in dropped
    assert_clean(tmp_path, original, result.content, ".mkv", ["Jane Smith", "At Lambeth", "jane_smith"])

    timed = make("mov", "libx264", None, {"timecode": "10:04:22:11"})
    assert "a track of timed data recorded with the video" in summaries(timed, "", t.MOV)
    result = clean(timed, filename="clip.mov", media_type=t.MOV)
    assert "a track of timed data recorded with the video" in {r.summary for r in result.removed}
    assert_clean(tmp_path, timed, result.content, ".mov", ["10:04:2"])


def test_technical_values_pass_and_app_names_do_not() -> None:
    for key, value in [
        ("encoder", "Lavf62.12.102"),
        ("encoder", "Lavc61.19.100 libx264"),
        ("vendor", "libopus 1.3.1"),
        ("vendor", "Xiph.Org libVorbis I 20200704 (Reducing Environment)"),
        ("vendor", "reference libFLAC 1.4.3 20230623"),
        ("encoder", "HEVC"),
        ("handler_name", "Core Media Video"),
        ("handler_name", "VideoHandler"),
        ("handler_name", "Apple Sound Media Handler"),
        ("major_brand", "qt  "),
    ]:
        assert av_remux.technical(key, value), (key, value)
    for key, value in [
        ("encoder", "Jane's Recorder 2"),
        ("vendor", "Recorded on Jane's phone"),
        ("handler_name", "Jane Smith's body camera"),
        ("handler_name", "ISO Media file produced by Google Inc. Created on: 05/12/2024."),
        ("timecode", "10:04:22:11"),
    ]:
        assert not av_remux.technical(key, value), (key, value)


# ---------------------------------------------------------------------------------------------------------
# Audio


def test_a_telegram_voice_note_comes_back_with_nothing_found_and_unchanged(tmp_path: Path) -> None:
    original = voice_note()
    assert sniff_media_type(original, "voice.ogg", "audio/ogg") == t.OGG_AUDIO
    assert inspect(original, filename="voice.ogg", media_type="audio/ogg") == ()
    result = clean(original, filename="voice.ogg", media_type="audio/ogg")
    assert result.cleaned and result.removed == () and result.content == original
    assert packets(result.content) == packets(original) and packets(original)["audio0"]


def test_ogg_comments_pictures_and_an_app_vendor_are_removed(tmp_path: Path) -> None:
    cover = Picture()
    cover.type, cover.mime, cover.data = 3, "image/jpeg", phone_jpeg()

    def plant(buffer: io.BytesIO) -> None:
        audio = OggOpus(buffer)
        audio.tags.vendor = "Jane's Recorder 2"
        audio["ENCODER"] = "Jane's Recorder 2"
        audio["METADATA_BLOCK_PICTURE"] = base64.b64encode(cover.write()).decode("ascii")
        audio.save(buffer)

    original = with_mutagen(voice_note(AUDIO_TAGS), plant)
    found = summaries(original, "voice.ogg", t.OGG_AUDIO)
    assert NAME in found and "Lambeth" in found and "when it was recorded (2024-05-12" in found
    assert "the app that made the file (Jane's Recorder 2)" in found
    assert "a cover picture stored in the recording" in found
    assert "in a picture inside: where the photo was taken" in found

    result = clean(original, filename="voice.ogg", media_type=t.OGG_AUDIO)

    assert result.cleaned and OggOpus(io.BytesIO(result.content)).tags.vendor == ""
    assert_clean(tmp_path, original, result.content, ".ogg", [NAME, "Lambeth", "station yard", "Recorder"])


def test_ogg_vorbis_comments_are_removed(tmp_path: Path) -> None:
    original = make("ogg", None, "vorbis", AUDIO_TAGS, rate=44100, layout="stereo")
    assert sniff_media_type(original, "", None) == t.OGG_AUDIO
    assert {"person", "location", "time"} <= kinds(original, "", t.OGG_AUDIO)
    result = clean(original, filename="note.ogg", media_type=t.OGG_AUDIO)
    assert_clean(tmp_path, original, result.content, ".ogg", [NAME, "Lambeth", "station yard"])


def test_mp3_id3_frames_and_ape_tags_are_removed(tmp_path: Path) -> None:
    def plant(buffer: io.BytesIO) -> None:
        tags = mutagen.id3.ID3()
        tags.add(mutagen.id3.TPE1(encoding=3, text=[NAME]))
        tags.add(mutagen.id3.TDRC(encoding=3, text=["2024-05-12"]))
        tags.add(mutagen.id3.COMM(encoding=3, lang="eng", desc="", text=["the station yard"]))
        tags.add(mutagen.id3.TXXX(encoding=3, desc="LOCATION", text=["Lambeth"]))
        tags.add(mutagen.id3.GEOB(encoding=3, mime="text/plain", filename="jane.txt", desc="x", data=b"x"))
        tags.add(mutagen.id3.PRIV(owner="com.example.janeapp", data=b"\x01\x02"))
        tags.add(mutagen.id3.APIC(encoding=3, mime="image/jpeg", type=3, desc="", data=phone_jpeg()))
        tags.save(buffer)
        buffer.seek(0)
        ape = mutagen.apev2.APEv2()
        ape["Artist"] = "PC Jane Ape"
        ape.save(buffer)

    original = with_mutagen(make("mp3", None, "libmp3lame", rate=44100), plant)
    assert sniff_media_type(original, "", None) == t.MP3
    found = summaries(original, "", t.MP3)
    for value in (NAME, "station yard", "Lambeth", "jane.txt", "com.example.janeapp", "PC Jane Ape"):
        assert value in found
    assert "in a picture inside: where the photo was taken" in found

    result = clean(original, filename="song.mp3", media_type=t.MP3)

    with pytest.raises(mutagen.apev2.APENoHeaderError):
        mutagen.apev2.APEv2(io.BytesIO(result.content))
    assert_clean(
        tmp_path, original, result.content, ".mp3", [NAME, "Lambeth", "station yard", "janeapp", "Jane Ape"]
    )


def test_flac_comments_and_pictures_are_removed(tmp_path: Path) -> None:
    def plant(buffer: io.BytesIO) -> None:
        audio = FLAC(buffer)
        audio["LOCATION"] = "Lambeth"
        cover = Picture()
        cover.type, cover.mime, cover.data = 3, "image/jpeg", phone_jpeg()
        audio.add_picture(cover)
        buffer.seek(0)
        audio.save(buffer)

    original = with_mutagen(make("flac", None, "flac", {"artist": NAME}), plant)
    found = summaries(original, "", t.FLAC)
    assert NAME in found and "Lambeth" in found and "in a picture inside: where the photo was taken" in found
    result = clean(original, filename="a.flac", media_type=t.FLAC)
    assert FLAC(io.BytesIO(result.content)).tags is None
    assert_clean(tmp_path, original, result.content, ".flac", [NAME, "Lambeth", "PC Jane"])


def test_wav_info_and_id3_chunks_are_removed(tmp_path: Path) -> None:
    def plant(buffer: io.BytesIO) -> None:
        audio = WAVE(buffer)
        audio.add_tags()
        audio.tags.add(mutagen.id3.TCOM(encoding=3, text=["PC Jane Id3"]))
        buffer.seek(0)
        audio.save(buffer)

    broadcast = {**AUDIO_TAGS, "originator": "PC Jane Bext", "origination_date": "2024-05-12"}
    original = with_mutagen(
        make("wav", None, "pcm_s16le", broadcast, muxer_options={"write_bext": "1"}), plant
    )
    assert b"bext" in original
    found = summaries(original, "", t.WAV)
    assert NAME in found and "PC Jane Id3" in found and "station yard" in found and "PC Jane Bext" in found
    result = clean(original, filename="a.wav", media_type=t.WAV)
    assert result.media_type == t.WAV and WAVE(io.BytesIO(result.content)).tags is None
    assert_clean(tmp_path, original, result.content, ".wav", [NAME, "Jane Id3", "station yard", "Jane Bext"])
    assert b"bext" not in result.content and b"LIST" not in result.content


def test_m4a_item_list_and_cover_are_removed(tmp_path: Path) -> None:
    def plant(buffer: io.BytesIO) -> None:
        audio = MP4(buffer)
        audio["©day"] = "2024-05-12"
        audio["©xyz"] = PLACE
        audio["covr"] = [MP4Cover(phone_jpeg(), MP4Cover.FORMAT_JPEG)]
        audio["----:com.apple.iTunes:RECORDED_BY"] = [MP4FreeForm(b"PC Jane Freeform")]
        buffer.seek(0)
        audio.save(buffer)

    original = with_mutagen(make("ipod", None, "aac", {"artist": NAME}), plant)
    assert sniff_media_type(original, "memo.m4a", None) == t.M4A
    found = summaries(original, "", t.M4A)
    assert NAME in found and "PC Jane Freeform" in found and "where it was recorded" in found
    assert "in a picture inside: where the photo was taken" in found

    result = clean(original, filename="memo.m4a", media_type=t.M4A)

    assert result.media_type == t.M4A and result.filename.endswith(".m4a")
    assert_clean(tmp_path, original, result.content, ".m4a", [NAME, "PC Jane", PLACE])


def test_damaged_media_give_a_plain_error_or_a_clean_result() -> None:
    """A cut-short file never crashes the cleaner and is never passed on with a planted value."""
    from bot.evidence import EvidenceError

    seeds = [
        (make("mp4", "libx264", "aac", VIDEO_TAGS), t.MP4),
        (voice_note(AUDIO_TAGS), t.OGG_AUDIO),
        (make("flac", None, "flac", AUDIO_TAGS), t.FLAC),
    ]
    for seed, media_type in seeds:
        for cut in (len(seed) // 3, len(seed) // 2, len(seed) - 7):
            try:
                result = clean(seed[:cut], filename="x", media_type=media_type)
            except EvidenceError as error:
                assert str(error)
                continue
            assert NAME.encode() not in result.content or not result.cleaned
            assert json.dumps([r.summary for r in result.removed])


@needs_exiftool
@pytest.mark.parametrize(("muxer", "suffix", "media_type"), [("mov", ".mov", t.MOV), ("mp4", ".mp4", t.MP4)])
def test_cleaned_video_keeps_its_rotation_and_puts_the_index_first(
    tmp_path: Path, muxer: str, suffix: str, media_type: str
) -> None:
    """The evidence plays upright and starts playing while it downloads (moov before mdat)."""
    original = exiftool_write(tmp_path, make(muxer, "libx264", "aac"), suffix, "-Rotation=90")
    result = clean(original, filename="clip" + suffix, media_type=media_type).content
    assert '"Composite:Rotation": 90' in exiftool_read(tmp_path, result, suffix)
    assert 0 < result.find(b"moov") < result.find(b"mdat")
    assert packets(result) == packets(original)


def test_data_hidden_after_opus_comments_is_reported_and_dropped(tmp_path: Path) -> None:
    """Opus lets binary data follow the comments, and mutagen keeps it when it rewrites the header."""

    def hide(buffer: io.BytesIO) -> None:
        audio = OggOpus(buffer)
        audio.tags._pad_data = b"\x01hidden by PC Jane Smith"
        audio.save(buffer)

    original = with_mutagen(voice_note(), hide)
    assert b"hidden by PC Jane Smith" in original
    assert "extra data stored after the recording's tags" in summaries(original, "", t.OGG_AUDIO)
    result = clean(original, filename="voice.ogg", media_type=t.OGG_AUDIO)
    assert_clean(tmp_path, original, result.content, ".ogg", ["hidden by", "Jane Smith"])


# ---------------------------------------------------------------------------------------------------------
# Bytes outside the audio frames (MP3 and FLAC are rebuilt from their frames)

APPENDED = "PC Jane Appended"
EMAIL = "jane.appended@example.police.uk"
TAILS = {
    "id3v2-with-footer": id3v2_tag(APPENDED, footer=True),
    "id3v2-no-footer": id3v2_tag(APPENDED),
    "lyrics3v2": lyrics3_tag({"AUT": APPENDED, "INF": EMAIL}),
    "plain-bytes": f"TAGX notes for {APPENDED}".encode(),
    "id3v1-after-ape": b"",  # built in the test: APEv2 then ID3v1, as foobar2000 writes them
}


def appended(plain: bytes, tail: str) -> bytes:
    if tail != "id3v1-after-ape":
        return plain + TAILS[tail]
    ape = mutagen.apev2.APEv2()
    ape["Artist"] = APPENDED
    return with_mutagen(plain, ape.save) + id3v1_tag("PC Jane Id3v1")


@pytest.mark.parametrize("tail", list(TAILS))
@pytest.mark.parametrize(("muxer", "codec", "media_type", "suffix"), [
    ("mp3", "libmp3lame", t.MP3, ".mp3"), ("flac", "flac", t.FLAC, ".flac"),
])  # fmt: skip
def test_tags_and_bytes_after_the_last_frame_are_reported_and_cut(
    tmp_path: Path, tail: str, muxer: str, codec: str, media_type: str, suffix: str
) -> None:
    """The reviewer's leak: tags appended at the end survived with cleaned=True and nothing reported."""
    plain = make(muxer, None, codec, rate=44100)
    original = appended(plain, tail)
    assert sniff_media_type(original, "a" + suffix, None) == media_type
    found = summaries(original, "", media_type)
    assert "extra data stored after the sound" in found or "more tags stored after the sound" in found
    if tail != "plain-bytes":
        assert APPENDED in found

    result = clean(original, filename="a" + suffix, media_type=media_type)

    assert result.cleaned and result.removed
    assert inspect(result.content, filename="", media_type=media_type) == ()
    assert_clean(tmp_path, plain, result.content, suffix, [APPENDED, EMAIL, "Jane Id3v1", "TAGX"])
    assert not result.content.startswith(b"ID3") and b"LYRICS" not in result.content


def test_a_flac_with_an_id3v2_tag_in_front_sniffs_as_flac_and_loses_the_tag(tmp_path: Path) -> None:
    """Some taggers put an ID3v2 tag before `fLaC`; the rebuilt file starts with `fLaC`."""
    plain = make("flac", None, "flac", rate=44100)
    original = id3v2_tag(APPENDED) + plain
    assert sniff_media_type(original, "a.flac", "application/octet-stream") == t.FLAC
    assert APPENDED in summaries(original, "", t.FLAC)

    result = clean(original, filename="a.flac", media_type=t.FLAC)

    assert result.content.startswith(b"fLaC") and result.removed
    assert_clean(tmp_path, plain, result.content, ".flac", [APPENDED])


def test_tags_between_mp3_frames_and_several_in_front_are_cut_and_the_sound_after_them_kept(
    tmp_path: Path,
) -> None:
    plain = make("mp3", None, "libmp3lame", rate=44100)
    frames = audio_frames.mp3_layout(plain).frames
    middle = frames[len(frames) // 2][0]
    original = id3v2_tag("PC Jane First") + id3v2_tag("PC Jane Second") + plain[:middle]
    original += id3v2_tag("PC Jane Middle") + plain[middle:]
    found = summaries(original, "", t.MP3)
    for value in ("PC Jane First", "PC Jane Second", "PC Jane Middle"):
        assert value in found
    assert "more tags stored between parts of the sound" in found

    result = clean(original, filename="a.mp3", media_type=t.MP3)

    assert_clean(tmp_path, plain, result.content, ".mp3", ["PC Jane"])


def test_the_rebuilt_mp3_has_no_id3_tag_and_a_xing_frame_naming_only_ffmpeg() -> None:
    """The MP3 muxer's own header frame: counts, a seek table, delay and padding, and "Lavf"."""
    result = clean(
        make("mp3", None, "libmp3lame", AUDIO_TAGS, rate=44100), filename="a.mp3", media_type=t.MP3
    )
    layout = audio_frames.mp3_layout(result.content)
    assert layout.gaps == () and not result.content.startswith(b"ID3")
    assert audio_frames.xing_encoder(result.content[slice(*layout.frames[0])]) == "Lavf"
    assert mutagen_tags(result.content) == []


def test_an_app_name_in_the_lame_header_frame_is_a_finding() -> None:
    plain = make("mp3", None, "libmp3lame", rate=44100)
    first = bytes(plain[slice(*audio_frames.mp3_layout(plain).frames[0])])
    at = first.index(b"Lavf")
    marked = plain.replace(first, first[:at] + b"JaneRec 2" + first[at + 9 :], 1)
    assert "the app that made the file (JaneRec 2)" in summaries(marked, "", t.MP3)
    result = clean(marked, filename="a.mp3", media_type=t.MP3)
    assert b"JaneRec" not in result.content


def test_flac_blocks_of_any_unknown_kind_are_findings_and_removed(tmp_path: Path) -> None:
    plain = make("flac", None, "flac", rate=44100)
    _, audio_start, info = audio_frames.flac_header(plain)
    unknown = bytes((0x80 | 100,)) + (18).to_bytes(3, "big") + b"PC Jane unknown 1."
    original = b"fLaC" + bytes((0, 0, 0, 34)) + info + unknown + plain[audio_start:]
    assert "a detail saved in the file" in summaries(original, "", t.FLAC)
    result = clean(original, filename="a.flac", media_type=t.FLAC)
    assert_clean(tmp_path, plain, result.content, ".flac", ["PC Jane"])


def test_each_audio_format_names_only_what_its_own_cleaning_leaves() -> None:
    lists = {fmt.media_types: fmt.cannot_clean for fmt in audio.FORMATS}
    assert len(set(lists.values())) == len(lists)
    for media_types, lines in lists.items():
        assert any("LAME" in line for line in lines) == (media_types == (t.MP3,))


def test_the_read_out_passes_only_an_allow_list_of_technical_keys() -> None:
    """Keys the tables do not know are findings, so the read-out of a result needs no list of dangers."""
    for key, value in [
        ("sort_artist", "Smith, Jane"),
        ("genre", "Jane's tapes"),
        ("com.example.recorder.user", "jsmith"),
        ("replaygain_track_gain", "by Jane"),
        ("track", "Jane"),
    ]:
        assert not av_remux.technical(key, value), (key, value)
    assert av_remux.technical("replaygain_track_gain", "-6.20 dB")
    tagged = make("matroska", "libx264", None, {"sort_artist": "Smith, Jane", "X_JANE_APP": "jsmith"})
    found = summaries(tagged, "", t.MKV)
    assert "Smith, Jane" in found and "jsmith" in found
