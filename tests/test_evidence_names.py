"""File names: a photo's, video's or recording's own name is always replaced; a document keeps its name.

Each name below is one a phone, screen recorder or messaging app really gives (the reviewer's list): every
one of them carries a moment or a device, so each must be reported and none may be stored.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot import evidence
from bot.evidence import names
from bot.evidence import types as t

DEVICE_NAMES = [
    ("ScreenRecording_05-12-2024 03-15-22_1.MP4", t.MP4, "video.mp4"),
    ("RPReplay_Final1715483722.MP4", t.MP4, "video.mp4"),
    ("1715483722123.jpg", t.JPEG, "photo.jpg"),
    ("Recording 12 May 2024 at 03.15.m4a", t.M4A, "recording.m4a"),
    ("WhatsApp Image 2024-05-12 at 03.15.22.jpeg", t.JPEG, "photo.jpeg"),
    ("Screenshot 2024-05-12 at 03.15.22.png", t.PNG, "photo.png"),
    ("signal-2024-05-12-031522.jpg", t.JPEG, "photo.jpg"),
    ("PXL_20240512_031522123.MP.jpg", t.JPEG, "photo.jpg"),
    ("IMG_1234.HEIC", t.HEIC, "photo.heic"),
    ("Jane at the station.webp", t.WEBP, "photo.webp"),
    ("AUD-20240512-WA0001.opus", t.OGG_AUDIO, "recording.opus"),
]


@pytest.mark.parametrize(("name", "media_type", "stored"), DEVICE_NAMES)
def test_a_device_or_app_name_is_reported_and_never_stored(name: str, media_type: str, stored: str) -> None:
    (found,) = names.findings(name, media_type)
    assert found.summary.startswith("the file name")
    assert names.safe(name, media_type) == stored
    assert names.findings(stored, media_type) == []


@pytest.mark.parametrize(
    "name", ["ScreenRecording_05-12-2024 03-15-22_1", "RPReplay_Final1715483722", "1715483722123"]
)
def test_names_holding_a_time_say_so(name: str) -> None:
    (found,) = names.findings(f"{name}.mp4", t.MP4)
    assert found.kind == "time" and "which shows the date" in found.summary


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("photo.jpg", t.JPEG),
        ("voice.ogg", t.OGG_AUDIO),
        ("video.mp4", t.MP4),
        ("recording.m4a", t.M4A),
        ("", t.PNG),
    ],
)
def test_neutral_names_are_no_finding(name: str, media_type: str) -> None:
    assert names.findings(name, media_type) == []


def test_a_documents_name_is_kept_but_made_safe() -> None:
    assert names.findings("Statement 2024-05-12 03.15.pdf", t.PDF) == []
    assert names.safe("Statement 2024-05-12 03.15.pdf", t.PDF) == "Statement 2024-05-12 03.15.pdf"
    assert names.safe("C:\\Users\\jane\\rota\u202egpj.docx", t.DOCX) == "rota gpj.docx"
    assert names.safe("notes\x07.txt", "text/plain") == "notes.txt"


def test_clean_stores_a_photo_under_the_neutral_name_and_says_what_the_name_was() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(out, "PNG")
    name = "Screenshot 2024-05-12 at 03.15.22.png"
    result = evidence.clean(out.getvalue(), filename=name, media_type="image/png")
    assert result.cleaned and result.filename == "photo.png"
    assert [found.summary for found in result.removed] == [
        "the file name, which shows the date (Screenshot 2024-05-12 at 03.15.22)"
    ]
    plain = evidence.clean(out.getvalue(), filename="photo.jpg", media_type="image/jpeg")
    assert plain.filename == "photo.png" and plain.removed == ()


@pytest.mark.parametrize(
    "name", ["video-note.mp4", "animation.mp4", "voice.ogg", "audio", "document", "evidence.mp4"]
)
def test_the_names_the_bot_gives_are_no_finding(name: str) -> None:
    """bot/files.py names a video note or a GIF itself: "video-note" is no camera's "VID_" name."""
    assert names.findings(name, t.MP4) == []


def test_the_types_the_bot_calls_cleanable_are_the_registrys() -> None:
    from bot.evidence.registry import FORMATS

    assert frozenset(FORMATS) == names.CLEANED_TYPES


def test_a_device_named_file_left_uncleaned_still_loses_its_name() -> None:
    """A video the muxer cannot write (here: its metadata box after the media data) is handed back as
    sent, but never under the phone's name with the moment it was filmed."""
    from tests.test_bot_evidence_inputs import mp4_the_muxer_refuses

    result = evidence.clean(mp4_the_muxer_refuses(), filename="PXL_20240512_031522.mp4", media_type=t.MP4)
    assert result.cleaned is False and result.filename == "video.mp4"
    amr = b"#!AMR\n" + bytes([0x3C]) + bytes(31)
    unknown = evidence.clean(amr, filename="AUD-20240512-WA0001.amr", media_type="audio/amr")
    assert unknown.cleaned is False and "20240512" not in unknown.filename
