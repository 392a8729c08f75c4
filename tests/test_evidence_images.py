"""Raster pictures: every place a format hides who, where and when is read out, and none survives cleaning.

Each test builds its picture here, plants identifying values with Pillow and, where Pillow cannot, with
exiftool, then cleans it through the public `bot.evidence.clean` (so the dispatcher's independent check
runs too) and checks the result three ways: Pillow's read-out, exiftool's (`-a -u -G1`: every tag,
unknown ones included), and a byte search for each planted value.
"""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from bot import evidence
from bot.evidence import images, images_base, images_exif, images_read, limits
from bot.evidence.dispatch import Nesting
from bot.evidence.model import EvidenceError, Finding, Found, Inspection
from tests.image_fixtures import (
    GPS_IFD,
    IPTC_PERSON,
    MACHINE,
    NAME,
    PLACE,
    PLANTED,
    SERIAL,
    XMP_PERSON,
    assert_nothing_left,
    exiftool_plant,
    exiftool_read,
    frames_of,
    gradient,
    kinds,
    mean_difference,
    phone_exif,
    png_chunk,
    png_insert,
    png_without,
    renamed_profile,
    srgb_bytes,
    summaries,
    xmp_packet,
)


def test_jpeg_exif_gps_serial_xmp_iptc_thumbnail_comment_and_motion_video_go_and_the_photo_is_upright(
    tmp_path: Path,
) -> None:
    out = io.BytesIO()
    gradient().save(
        out, "JPEG", exif=phone_exif(orientation=6), quality=92, comment=f"{NAME}'s phone".encode()
    )
    thumb = tmp_path / "thumb.jpg"
    gradient((16, 8)).save(thumb, "JPEG")
    planted = exiftool_plant(
        out.getvalue(),
        ".jpg",
        tmp_path,
        f"-XMP-dc:Creator={XMP_PERSON}",
        f"-XMP-photoshop:City={PLACE}",
        f"-IPTC:By-line={IPTC_PERSON}",
        f"-IPTC:City={PLACE}",
        f"-ThumbnailImage<={thumb}",
        "-n",
        "-Orientation=6",
    )
    original = planted + b"\x00\x00\x00\x18ftypmp42 pretend video of the scene"

    found = evidence.inspect(original, filename="evidence.jpg", media_type="image/jpeg")
    text = summaries(found)
    assert {"location", "person", "device", "time", "software", "other"} <= kinds(found)
    assert "where the photo was taken (51.50740, -0.12750)" in text
    assert "the phone or camera (Apple iPhone 15)" in text
    assert f"the owner's name ({NAME})" in text
    assert "when it was taken (2024-05-12 03:15)" in text
    assert f"the camera's serial number ({SERIAL})" in text
    assert f"the author's name ({NAME})" in text  # from Windows' XPAuthor, in UTF-16
    assert XMP_PERSON in text and IPTC_PERSON in text and PLACE in text
    assert "a small preview picture" in text and "after the picture" in text and "a comment hidden" in text

    result = evidence.clean(original, filename="evidence.jpg", media_type="image/jpeg")

    assert result.cleaned and result.removed == found
    assert b"pretend video" not in result.content
    assert_nothing_left(result.content, ".jpg", tmp_path)
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.format == "JPEG" and image.size == (32, 64)
        assert mean_difference(image, gradient().transpose(Image.Transpose.ROTATE_270)) < 4
    assert evidence.inspect(result.content, filename="", media_type="image/jpeg") == ()


def test_a_second_exif_block_and_every_xmp_copy_in_a_jpeg_are_read_and_removed(tmp_path: Path) -> None:
    out = io.BytesIO()
    first = Image.Exif()
    first[0x0131] = "Editor"
    gradient().save(out, "JPEG", exif=first)
    content = out.getvalue()
    tables = content.index(b"\xff\xdb")  # after the first EXIF block, which Pillow reads
    second = b"Exif\x00\x00" + phone_exif().tobytes()
    xmp = b"http://ns.adobe.com/xap/1.0/\x00" + xmp_packet()
    segments = b"".join(b"\xff\xe1" + struct.pack(">H", len(data) + 2) + data for data in (second, xmp, xmp))
    original = content[:tables] + segments + content[tables:]
    with Image.open(io.BytesIO(original)) as image:
        assert GPS_IFD not in image.getexif()  # Pillow alone would not see the position
    found = evidence.inspect(original, filename="", media_type="image/jpeg")
    assert "where the photo was taken (51.50740, -0.12750)" in summaries(found)
    assert XMP_PERSON in summaries(found)
    result = evidence.clean(original, filename="", media_type="image/jpeg")
    assert_nothing_left(result.content, ".jpg", tmp_path)


def test_data_appended_after_a_png_gif_or_webp_is_reported_and_dropped() -> None:
    for fmt, media_type in (("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp")):
        out = io.BytesIO()
        gradient().save(out, fmt)
        original = out.getvalue() + f"hidden note from {NAME}".encode()
        found = evidence.inspect(original, filename="", media_type=media_type)
        assert Finding("other", images.APPENDED) in found, fmt
        result = evidence.clean(original, filename="", media_type=media_type)
        assert NAME.encode() not in result.content


def test_png_rotated_by_its_exif_is_saved_upright() -> None:
    out = io.BytesIO()
    gradient().save(out, "PNG", exif=phone_exif(orientation=8))
    result = evidence.clean(out.getvalue(), filename="", media_type="image/png")
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.convert("RGB").tobytes() == gradient().transpose(Image.Transpose.ROTATE_90).tobytes()


def test_apng_frames_and_timing_survive_and_its_metadata_goes(tmp_path: Path) -> None:
    frames = [
        gradient(mode="RGBA"),
        gradient(mode="RGBA").rotate(180),
        Image.new("RGBA", (64, 32), (9, 8, 7, 128)),
    ]
    info = PngInfo()
    info.add_text("Author", NAME)
    out = io.BytesIO()
    frames[0].save(
        out, "PNG", save_all=True, append_images=frames[1:], duration=[100, 200, 300], loop=3, pnginfo=info,
        exif=phone_exif(),
    )  # fmt: skip
    original = out.getvalue()
    assert Finding("person", f"the author's name ({NAME})") in evidence.inspect(
        original, filename="", media_type="image/png"
    )

    result = evidence.clean(original, filename="", media_type="image/png")

    assert_nothing_left(result.content, ".png", tmp_path)
    assert frames_of(result.content) == frames_of(original)
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.n_frames == 3 and image.info["loop"] == 3  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------------------
# GIF


def test_gif_comments_xmp_and_private_app_data_go_and_the_animation_stays(tmp_path: Path) -> None:
    frames = [gradient((20, 10), "P"), gradient((20, 10), "P").transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    out = io.BytesIO()
    frames[0].save(
        out,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=[100, 250],
        loop=0,
        comment=NAME.encode(),
    )
    content = out.getvalue()
    # A private application extension (as some editors write), planted before the first image.
    private = b"!\xff\x0bPRIVATEAPP1" + bytes([len(SERIAL)]) + SERIAL.encode() + b"\x00"
    first_image = content.index(b"!\xf9")
    content = content[:first_image] + private + content[first_image:]
    original = exiftool_plant(content, ".gif", tmp_path, f"-XMP-dc:Creator={XMP_PERSON}")

    found = evidence.inspect(original, filename="a.gif", media_type="image/gif")
    text = summaries(found)
    assert f"a comment hidden in the file ({NAME})" in text
    assert f"the author's name (in XMP) ({XMP_PERSON})" in text
    assert "other hidden data saved by the app that made it" in text

    result = evidence.clean(original, filename="a.gif", media_type="image/gif")

    assert_nothing_left(result.content, ".gif", tmp_path)
    assert frames_of(result.content) == frames_of(original)
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.n_frames == 2 and image.info["loop"] == 0  # type: ignore[attr-defined]
    assert evidence.inspect(result.content, filename="", media_type="image/gif") == ()


def test_a_transparent_gif_animation_looks_the_same_frame_by_frame() -> None:
    first = Image.new("P", (20, 20), 0)
    first.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] * 85 + [0, 0, 0])
    second, third = first.copy(), first.copy()
    second.paste(1, (5, 5, 10, 10))
    third.paste(2, (0, 0, 4, 4))
    out = io.BytesIO()
    first.save(
        out, "GIF", save_all=True, append_images=[second, third], transparency=0, disposal=2, duration=50
    )
    result = evidence.clean(out.getvalue(), filename="", media_type="image/gif")
    assert frames_of(result.content) == frames_of(out.getvalue())


# ---------------------------------------------------------------------------------------------------------
# WebP


def test_webp_exif_and_xmp_go_and_lossless_pixels_are_identical(tmp_path: Path) -> None:
    out = io.BytesIO()
    gradient(mode="RGBA").save(out, "WEBP", lossless=True, exact=True, exif=phone_exif(), xmp=xmp_packet())
    original = exiftool_plant(out.getvalue(), ".webp", tmp_path, f"-XMP-photoshop:Credit={IPTC_PERSON}")
    found = evidence.inspect(original, filename="a.webp", media_type="image/webp")
    assert {"location", "person", "device", "time"} <= kinds(found)
    assert XMP_PERSON in summaries(found) and PLACE in summaries(found)

    result = evidence.clean(original, filename="a.webp", media_type="image/webp")

    assert_nothing_left(result.content, ".webp", tmp_path)
    with Image.open(io.BytesIO(original)) as first, Image.open(io.BytesIO(result.content)) as second:
        assert first.tobytes() == second.tobytes()


def test_animated_and_lossy_webp_keep_their_frames_and_look(tmp_path: Path) -> None:
    frames = [gradient(), gradient().rotate(180)]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=[120, 340], loop=2,
                   lossless=True, exif=phone_exif())  # fmt: skip
    animated = out.getvalue()
    result = evidence.clean(animated, filename="", media_type="image/webp")
    assert_nothing_left(result.content, ".webp", tmp_path)
    assert frames_of(result.content) == frames_of(animated)

    out = io.BytesIO()
    gradient().save(out, "WEBP", quality=80, exif=phone_exif(orientation=6))
    result = evidence.clean(out.getvalue(), filename="", media_type="image/webp")
    assert_nothing_left(result.content, ".webp", tmp_path)
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.size == (32, 64)
        assert mean_difference(image, gradient().transpose(Image.Transpose.ROTATE_270)) < 6


# ---------------------------------------------------------------------------------------------------------
# TIFF


@pytest.mark.filterwarnings("ignore:Metadata Warning")  # Pillow notes exiftool's IPTC tag length
def test_tiff_tags_gps_and_every_page_are_cleaned_losslessly(tmp_path: Path) -> None:
    tags = {271: "Canon", 272: "CanoScan LiDE 300", 315: NAME, 305: "Scan app", 306: "2024:05:12 03:15:22"}
    out = io.BytesIO()
    pages = [gradient(), gradient((30, 20), "L")]
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:], tiffinfo=tags)
    original = exiftool_plant(
        out.getvalue(), ".tif", tmp_path, "-GPSLatitude=51.5", "-GPSLatitudeRef=N", "-GPSLongitude=0.12",
        "-GPSLongitudeRef=W", f"-XMP-dc:Creator={XMP_PERSON}", f"-IPTC:By-line={IPTC_PERSON}",
        f"-SerialNumber={SERIAL}", "-n", "-Orientation=3",
    )  # fmt: skip

    found = evidence.inspect(original, filename="s.tif", media_type="image/tiff")
    text = summaries(found)
    assert {"location", "device", "person", "time", "software"} <= kinds(found)
    assert "where the photo was taken (51.50000, -0.12000)" in text
    assert XMP_PERSON in text and IPTC_PERSON in text

    result = evidence.clean(original, filename="s.tif", media_type="image/tiff")

    assert_nothing_left(result.content, ".tif", tmp_path, (*PLANTED, "Canon", "CanoScan", "Scan app"))
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.n_frames == 2  # type: ignore[attr-defined]
        assert image.tobytes() == gradient().transpose(Image.Transpose.ROTATE_180).tobytes()
        image.seek(1)
        assert image.tobytes() == pages[1].tobytes()
    assert evidence.inspect(result.content, filename="", media_type="image/tiff") == ()


# ---------------------------------------------------------------------------------------------------------
# HEIC and AVIF


def test_heic_gps_device_owner_and_xmp_go_and_the_photo_survives(tmp_path: Path) -> None:
    out = io.BytesIO()
    photo = gradient((128, 64))
    photo.save(out, "HEIF", quality=95, exif=phone_exif().tobytes(), xmp=xmp_packet())
    original = out.getvalue()
    assert evidence.sniff_media_type(original, "", None) == "image/heic"

    found = evidence.inspect(original, filename="IMG_0001.HEIC", media_type="image/heic")
    text = summaries(found)
    assert "where the photo was taken (51.50740, -0.12750)" in text
    assert "the phone or camera (Apple iPhone 15)" in text and f"the owner's name ({NAME})" in text
    assert XMP_PERSON in text

    result = evidence.clean(original, filename="IMG_0001.HEIC", media_type="image/heic")

    assert result.cleaned and result.media_type == "image/heic"
    assert_nothing_left(result.content, ".heic", tmp_path)
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.size == (128, 64) and mean_difference(image, photo) < 6


def test_heic_with_gps_planted_by_exiftool_is_cleaned(tmp_path: Path) -> None:
    out = io.BytesIO()
    gradient((96, 64)).save(out, "HEIF", quality=90)
    original = exiftool_plant(
        out.getvalue(), ".heic", tmp_path, "-GPSLatitude=51.5", "-GPSLatitudeRef=N", "-GPSLongitude=0.12",
        "-GPSLongitudeRef=W", f"-Artist={NAME}", "-Model=iPhone 15",
    )  # fmt: skip
    assert "GPS" in json.dumps(exiftool_read(original, ".heic", tmp_path))
    found = evidence.inspect(original, filename="", media_type="image/heic")
    assert "location" in kinds(found)
    result = evidence.clean(original, filename="", media_type="image/heic")
    assert_nothing_left(result.content, ".heic", tmp_path)


@pytest.mark.skipif(
    not any(fmt.media_types == ("image/avif",) for fmt in images.FORMATS), reason="no AVIF codec"
)
def test_avif_exif_and_xmp_go(tmp_path: Path) -> None:
    out = io.BytesIO()
    gradient().save(out, "AVIF", quality=95, exif=phone_exif(), xmp=xmp_packet())
    found = evidence.inspect(out.getvalue(), filename="", media_type="image/avif")
    assert {"location", "person", "device"} <= kinds(found)
    result = evidence.clean(out.getvalue(), filename="", media_type="image/avif")
    assert_nothing_left(result.content, ".avif", tmp_path)
    with Image.open(io.BytesIO(result.content)) as image:
        assert mean_difference(image, gradient()) < 6


# ---------------------------------------------------------------------------------------------------------
# Limits


def test_pictures_over_the_pixel_or_frame_limits_are_refused_before_decoding() -> None:
    side = int(limits.MAX_PIXELS**0.5) + 10
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b"\0" * 100))
    png += png_chunk(b"IEND", b"")
    gif = (
        b"GIF89a" + struct.pack("<HHBBB", 60000, 60000, 0, 0, 0) + b",\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;"
    )
    for content, media_type in ((png, "image/png"), (gif, "image/gif")):
        for action in (evidence.clean, evidence.inspect):
            with pytest.raises(EvidenceError) as raised:
                action(content, filename="", media_type=media_type)
            assert str(raised.value) == evidence.TOO_MANY_PIXELS

    frames = [Image.new("L", (2, 2), index % 2 * 255) for index in range(limits.MAX_FRAMES + 1)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=10)
    with pytest.raises(EvidenceError) as raised:
        evidence.clean(out.getvalue(), filename="", media_type="image/gif")
    assert str(raised.value) == evidence.TOO_COMPLEX
    assert Image.MAX_IMAGE_PIXELS == limits.MAX_PIXELS


def test_tiff_pages_larger_than_the_first_count_towards_the_total_pixel_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.BytesIO()
    gradient((8, 8)).save(out, "TIFF", save_all=True, append_images=[gradient((64, 64))] * 2)
    assert evidence.clean(out.getvalue(), filename="", media_type="image/tiff").cleaned
    monkeypatch.setattr(limits, "MAX_TOTAL_PIXELS", 5_000)  # above 3 x 8 x 8, below 8 x 8 + 2 x 64 x 64
    with pytest.raises(EvidenceError) as raised:
        evidence.clean(out.getvalue(), filename="", media_type="image/tiff")
    assert str(raised.value) == evidence.TOO_MANY_PIXELS


@pytest.mark.filterwarnings("ignore")  # Pillow warns about the damage it skips; that is expected here
def test_damaged_pictures_of_every_format_give_a_plain_error_or_a_clean_result() -> None:
    """Promise 5: a cut-short or corrupted picture never crashes and is never passed on half-clean."""
    rng = random.Random(20240512)
    seeds = []
    for fmt, options in (
        (
            "GIF",
            {"comment": NAME.encode(), "save_all": True, "append_images": [gradient((32, 16)).rotate(90)]},
        ),
        ("WEBP", {"exif": phone_exif(), "xmp": xmp_packet()}),
        ("TIFF", {"tiffinfo": {315: NAME}}),
        ("HEIF", {"exif": phone_exif().tobytes()}),
        ("PNG", {"exif": phone_exif(), "icc_profile": renamed_profile(MACHINE)}),
    ):
        out = io.BytesIO()
        gradient((32, 16)).save(out, fmt, **options)
        seeds.append(out.getvalue())
    allowed = (evidence.DAMAGED, evidence.TOO_MANY_PIXELS, evidence.NOT_CLEANED, evidence.TOO_COMPLEX)
    outcomes = set()
    for seed in seeds:
        for _ in range(15):
            damaged = bytearray(seed)
            if rng.random() < 0.3:
                damaged = damaged[: rng.randrange(len(damaged))]
            else:
                for _ in range(rng.randint(1, 6)):
                    damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            try:
                result = evidence.clean(bytes(damaged), filename="x", media_type="")
            except EvidenceError as error:
                assert str(error) in allowed
                outcomes.add("refused")
                continue
            if result.cleaned:
                outcomes.add("cleaned")
                assert evidence.inspect(result.content, filename="", media_type=result.media_type) == ()
                assert NAME.encode() not in result.content
    assert outcomes == {"refused", "cleaned"}


def test_every_image_format_says_what_cleaning_leaves() -> None:
    covered = {media_type for fmt in images.FORMATS for media_type in fmt.media_types}
    assert {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/tiff",
        "image/heic",
        "image/heif",
    } <= covered
    assert all(fmt.cannot_clean for fmt in images.FORMATS)


# ---------------------------------------------------------------------------------------------------------
# The read-out is generic: what is not drawing data is a finding, so it cannot be left in a result


def _private_png() -> bytes:
    out = io.BytesIO()
    gradient().save(out, "PNG")
    return png_insert(out.getvalue(), png_chunk(b"prVt", f"owner={NAME};".encode()))


def _private_jpeg() -> bytes:
    out = io.BytesIO()
    gradient().save(out, "JPEG")
    content, data = out.getvalue(), f"VENDOR\x00owner={NAME};".encode()
    return content[:2] + b"\xff\xef" + struct.pack(">H", len(data) + 2) + data + content[2:]


def _private_gif() -> bytes:
    out = io.BytesIO()
    gradient().save(out, "GIF")
    content, data = out.getvalue(), b"PRIVATEAPP1" + f"owner={NAME};".encode()
    block = b"\x21\xff\x0b" + data[:11] + bytes([len(data) - 11]) + data[11:] + b"\x00"
    return content[:-1] + block + content[-1:]


def _private_webp() -> bytes:
    out = io.BytesIO()
    gradient().save(out, "WEBP", lossless=True)
    data = f"owner={NAME};".encode()
    chunk = b"prVt" + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) & 1)
    content = out.getvalue() + chunk
    return content[:4] + struct.pack("<I", len(content) - 8) + content[8:]


@pytest.mark.parametrize(
    ("build", "media_type", "what"),
    [
        (_private_png, "image/png", images_base.HIDDEN_BY_APP),
        (_private_jpeg, "image/jpeg", images_base.HIDDEN),
        (_private_gif, "image/gif", images_base.HIDDEN_BY_APP),
        (_private_webp, "image/webp", images_base.HIDDEN_BY_APP),
    ],
)
def test_a_private_chunk_carrying_a_name_is_reported_searched_for_and_removed(
    build: object, media_type: str, what: str, tmp_path: Path
) -> None:
    original = build()  # type: ignore[operator]
    fmt = next(f for f in images.FORMATS if media_type in f.media_types)
    inspection = fmt.inspect(original, Nesting(0))
    assert Finding("other", what) in inspection.findings
    assert any(NAME in value for value in inspection.values)  # its words go to the byte search
    result = evidence.clean(original, filename="", media_type=media_type)
    assert result.cleaned and NAME.encode() not in result.content
    assert evidence.inspect(result.content, filename="", media_type=media_type) == ()


def test_an_info_key_pillow_exposes_that_is_not_drawing_data_is_a_finding() -> None:
    out = io.BytesIO()
    gradient().save(out, "PNG")
    found = Found()
    with Image.open(io.BytesIO(out.getvalue())) as image:
        images.Png().info_into(found, image, images_base.NAMED_INFO)
        assert found.result() == Inspection()  # a file Pillow wrote: drawing data only
        image.info["maker_private"] = f"owner={NAME};".encode()  # as a newer reader might expose
        images.Png().info_into(found, image, images_base.NAMED_INFO)
    assert found.result().findings == (Finding("other", images_base.HIDDEN_BY_APP),)
    assert any(NAME in value for value in found.result().values)


def test_a_png_drawing_chunk_of_the_wrong_size_is_reported() -> None:
    out = io.BytesIO()
    gradient().save(out, "PNG")
    original = png_insert(out.getvalue(), png_chunk(b"gAMA", struct.pack(">I", 45455) + NAME.encode()))
    found = evidence.inspect(original, filename="", media_type="image/png")
    assert Finding("other", images_base.HIDDEN_BY_APP) in found
    assert NAME.encode() not in evidence.clean(original, filename="", media_type="image/png").content


def test_exif_with_only_an_orientation_is_a_finding_and_is_not_written() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    gradient().save(out, "JPEG", exif=exif)
    found = evidence.inspect(out.getvalue(), filename="", media_type="image/jpeg")
    assert found == (Finding("other", "camera details on how the picture is stored (such as which way up)"),)
    result = evidence.clean(out.getvalue(), filename="", media_type="image/jpeg")
    with Image.open(io.BytesIO(result.content)) as image:
        assert not image.getexif() and image.size == (32, 64)


def test_a_jfif_thumbnail_is_a_preview_and_goes() -> None:
    out = io.BytesIO()
    gradient().save(out, "JPEG")
    content = out.getvalue()
    (length,) = struct.unpack(">H", content[4:6])
    app0 = bytearray(content[6 : 4 + length])
    app0[12:14] = b"\x02\x01"  # a 2 x 1 thumbnail, six bytes of RGB pixels
    app0 += b"\x10\x20\x30\x40\x50\x60"
    original = content[:4] + struct.pack(">H", len(app0) + 2) + bytes(app0) + content[4 + length :]
    found = evidence.inspect(original, filename="", media_type="image/jpeg")
    assert Finding("other", "a small preview picture (may show the photo before editing)") in found
    result = evidence.clean(original, filename="", media_type="image/jpeg")
    assert evidence.inspect(result.content, filename="", media_type="image/jpeg") == ()


# ---------------------------------------------------------------------------------------------------------
# PNG and APNG


def planted_png(tmp_path: Path) -> bytes:
    info = PngInfo()
    info.add_text("Author", NAME)
    info.add_text("Comment", f"taken at {PLACE}", zip=True)
    info.add_itxt("Description", f"sent by {IPTC_PERSON}", zip=True)
    out = io.BytesIO()
    gradient(mode="RGBA").save(out, "PNG", pnginfo=info, exif=phone_exif(), icc_profile=srgb_bytes())
    content = out.getvalue()
    # Pillow writes its own fixed profile name; a screen-calibration tool writes the owner's machine.
    iccp = png_chunk(b"iCCP", MACHINE.encode("latin-1") + b"\x00\x00" + zlib.compress(srgb_bytes()))
    splt = png_chunk(b"sPLT", f"{NAME} palette".encode() + b"\x00\x08" + b"\x10\x20\x30\xff\x00\x01")
    time_chunk = png_chunk(b"tIME", struct.pack(">HBBBBB", 2024, 5, 12, 3, 15, 22))
    content = png_insert(png_without(content, b"iCCP"), iccp, splt, time_chunk)
    return exiftool_plant(content, ".png", tmp_path, f"-XMP-dc:Creator={XMP_PERSON}")


def test_png_text_exif_xmp_time_and_free_text_profile_and_palette_names_go_and_pixels_are_identical(
    tmp_path: Path,
) -> None:
    original = planted_png(tmp_path)
    kinds_before = [kind for kind, _ in images_read.png_chunks(original).chunks]
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP", b"sPLT", b"tIME"} <= set(kinds_before)

    found = evidence.inspect(original, filename="shot.png", media_type="image/png")
    text = summaries(found)
    assert Finding("person", f"the author's name ({NAME})") in found
    assert Finding("device", f"the colour profile's name ({MACHINE})") in found
    assert Finding("other", f"a colour palette's name ({NAME} palette)") in found
    assert "when the file was last changed (2024-05-12 03:15)" in text
    assert PLACE in text and IPTC_PERSON in text and XMP_PERSON in text
    assert {"location", "device", "time", "person"} <= kinds(found)

    result = evidence.clean(original, filename="shot.png", media_type="image/png")

    assert result.cleaned
    assert_nothing_left(result.content, ".png", tmp_path)
    chunks = images_read.png_chunks(result.content).chunks
    assert {kind for kind, _ in chunks} <= {b"IHDR", b"iCCP", b"IDAT", b"IEND"}
    assert [images_read.iccp_name(data) for kind, data in chunks if kind == b"iCCP"] == ["ICC Profile"]
    with Image.open(io.BytesIO(original)) as first, Image.open(io.BytesIO(result.content)) as second:
        assert first.mode == second.mode and first.tobytes() == second.tobytes()
        assert second.info["icc_profile"] == images_exif.SRGB_PROFILE
    assert evidence.inspect(result.content, filename="", media_type="image/png") == ()


def test_png_streams_open_compressed_text_and_profiles_for_the_byte_search(tmp_path: Path) -> None:
    pieces = b"".join(images.Png().streams(planted_png(tmp_path)))
    assert f"taken at {PLACE}".encode() in pieces and f"sent by {IPTC_PERSON}".encode() in pieces
    assert srgb_bytes() in pieces
