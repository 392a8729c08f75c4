"""Colour profiles (promise 1): a source profile is never carried over, since its header dates it and
its tags can name a screen, its owner or its serial number; the picture keeps its colours as sRGB."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms

from bot import evidence
from bot.evidence import images_exif
from bot.evidence.model import Finding
from tests.image_fixtures import (
    MACHINE,
    NAME,
    PLACE,
    PLANTED,
    SERIAL,
    SRGB,
    assert_nothing_left,
    exiftool_plant,
    gradient,
    mean_difference,
    phone_exif,
    png_chunk,
    png_insert,
    png_without,
    profile_with,
    renamed_profile,
    srgb_bytes,
    summaries,
)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("name", ["sRGB IEC61966-2.1", "Display P3", "Color LCD"])
def test_a_profile_with_a_standard_name_is_read_out_tag_by_tag_and_never_kept(
    fmt: str, name: str, tmp_path: Path
) -> None:
    icc = calibrated_profile(name)
    assert images_exif.icc_name(icc) == name
    out = io.BytesIO()
    gradient().save(out, fmt, icc_profile=icc)
    media_type = f"image/{fmt.lower()}"
    found = evidence.inspect(out.getvalue(), filename="", media_type=media_type)
    assert Finding("device", f"the colour profile's name ({name})") in found
    assert Finding("person", f"the colour profile's copyright (Copyright {NAME})") in found
    assert Finding("device", f"the screen or camera model (in the colour profile) ({MACHINE})") in found
    assert Finding("device", "the screen or camera maker (in the colour profile) (Calibrite)") in found
    assert Finding("device", "the screen's model and serial number (in the colour profile)") in found
    assert Finding("other", "other data in the colour profile") in found
    result = evidence.clean(out.getvalue(), filename="", media_type=media_type)
    assert result.cleaned and result.removed == found
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.info["icc_profile"] == images_exif.SRGB_PROFILE
    assert_nothing_left(result.content, f".{fmt.lower()}", tmp_path, (NAME, MACHINE, SERIAL, PLACE, name))
    assert evidence.inspect(result.content, filename="", media_type=media_type) == ()


def test_jpeg_keeps_the_original_quality_tables_and_writes_pillows_srgb_profile(tmp_path: Path) -> None:
    out = io.BytesIO()
    photo = Image.effect_noise((320, 240), 40).convert("RGB")
    photo.save(out, "JPEG", quality=70, exif=phone_exif(), icc_profile=srgb_bytes())
    result = evidence.clean(out.getvalue(), filename="a.jpg", media_type="image/jpeg")
    with Image.open(io.BytesIO(result.content)) as cleaned, Image.open(io.BytesIO(out.getvalue())) as first:
        assert cleaned.quantization == first.quantization  # type: ignore[attr-defined]
        assert cleaned.info["icc_profile"] == images_exif.SRGB_PROFILE
        assert mean_difference(cleaned, first) < 2
    assert len(result.content) < 1.1 * len(out.getvalue())
    assert_nothing_left(result.content, ".jpg", tmp_path)


def test_a_colour_profile_named_after_its_owner_is_replaced_and_pillows_srgb_is_not() -> None:
    for icc, flagged in ((renamed_profile(MACHINE), True), (images_exif.SRGB_PROFILE, False)):
        out = io.BytesIO()
        gradient().save(out, "JPEG", quality=95, icc_profile=icc)
        found = evidence.inspect(out.getvalue(), filename="", media_type="image/jpeg")
        assert (Finding("device", f"the colour profile's name ({MACHINE})") in found) is flagged
        assert (found == ()) is not flagged
        result = evidence.clean(out.getvalue(), filename="", media_type="image/jpeg")
        assert MACHINE.encode("utf-16-be") not in result.content
        with Image.open(io.BytesIO(result.content)) as image:
            assert image.info["icc_profile"] == images_exif.SRGB_PROFILE
            assert images_exif.icc_name(image.info["icc_profile"]) == "sRGB built-in"
            assert mean_difference(image, gradient()) < 4


def test_a_phone_photos_display_p3_profile_naming_the_maker_is_reported_and_replaced(tmp_path: Path) -> None:
    # The Display P3 profile of an iPhone photo says "Apple" in its copyright, as EXIF's make does: both
    # are read out, and neither is left, since no source profile is kept.
    icc = profile_with(profile_with(SRGB, b"desc", "Display P3"), b"cprt", "Copyright Apple Inc., 2022")
    out = io.BytesIO()
    gradient().save(out, "JPEG", exif=phone_exif(), icc_profile=icc)
    original = exiftool_plant(out.getvalue(), ".jpg", tmp_path, "-XMP-tiff:Make=Apple")
    found = evidence.inspect(original, filename="", media_type="image/jpeg")
    assert "the phone or camera maker (in XMP) (Apple)" in summaries(found)
    assert Finding("device", "the colour profile's name (Display P3)") in found
    assert Finding("person", "the colour profile's copyright (Copyright Apple Inc., 2022)") in found
    result = evidence.clean(original, filename="", media_type="image/jpeg")
    assert result.cleaned
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.info["icc_profile"] == images_exif.SRGB_PROFILE
    assert b"Apple" not in result.content
    # exiftool names the sRGB profile's platform "Apple Computer Inc." from its 4-byte code: not a value.
    assert_nothing_left(result.content, ".jpg", tmp_path, (*PLANTED, "Display P3", "Apple Inc"))


def p3_profile() -> bytes:
    """Pillow's sRGB with Display P3's primaries (adapted to D50): a real wide-gamut profile."""
    out = bytearray(SRGB)
    (count,) = struct.unpack(">I", out[128:132])
    primaries = {b"rXYZ": (0.5151, 0.2412, -0.0011), b"gXYZ": (0.2919, 0.6922, 0.0419),
                 b"bXYZ": (0.1571, 0.0666, 0.7841)}  # fmt: skip
    for index in range(count):
        signature, offset, _ = struct.unpack(">4sII", out[132 + 12 * index : 144 + 12 * index])
        if signature in primaries:
            out[offset + 8 : offset + 20] = struct.pack(
                ">3i", *(round(v * 65536) for v in primaries[signature])
            )
    return profile_with(bytes(out), b"desc", "Display P3")


def test_a_wide_gamut_picture_is_converted_to_srgb_through_littlecms() -> None:
    icc = p3_profile()
    picture = gradient()
    out = io.BytesIO()
    picture.save(out, "PNG", icc_profile=icc)
    result = evidence.clean(out.getvalue(), filename="", media_type="image/png")
    expected = ImageCms.profileToProfile(
        picture, ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"), outputMode="RGB"
    )
    assert expected is not None and mean_difference(expected, picture) > 2  # the colours did move
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.info["icc_profile"] == images_exif.SRGB_PROFILE
        assert ImageChops.difference(image.convert("RGB"), expected).getextrema() <= ((0, 1),) * 3


def calibrated_profile(name: str) -> bytes:
    """The reviewer's case: a standard name over a calibration tool's copyright, model, Apple serial tag
    and a private tag."""
    icc = profile_with(SRGB, b"desc", name)
    icc = profile_with(icc, b"cprt", f"Copyright {NAME}")
    out = bytearray(icc)
    (count,) = struct.unpack(">I", out[128:132])
    extra = [
        (b"dmdd", _mluc(MACHINE)),
        (b"dmnd", _mluc("Calibrite")),
        (b"mmod", b"mmod" + b"\x00" * 4 + b"\x00\x00\x06\x10\x00\x00\xa0\x4c" + SERIAL.encode()),
        (b"zzzz", b"zzzz" + b"\x00" * 4 + f"owner {PLACE}".encode() + b"\x00"),
    ]
    table = out[132 : 132 + 12 * count]
    body = out[132 + 12 * count :]
    shift = 12 * len(extra)
    entries = bytearray()
    for index in range(count):
        signature, offset, size = struct.unpack(">4sII", table[12 * index : 12 * index + 12])
        entries += struct.pack(">4sII", signature, offset + shift, size)
    tail = bytearray(body)
    base = 132 + 12 * (count + len(extra))
    for signature, data in extra:
        while len(tail) % 4:
            tail.append(0)
        entries += struct.pack(">4sII", signature, base + len(tail), len(data))
        tail += data
    result = bytearray(out[:128]) + struct.pack(">I", count + len(extra)) + entries + tail
    result[0:4] = struct.pack(">I", len(result))
    return bytes(result)


def test_pillows_srgb_made_at_another_time_says_when_and_is_written_with_a_fixed_date() -> None:
    fresh = bytearray(images_exif.SRGB_PROFILE)
    fresh[24:36] = struct.pack(">6H", 2024, 5, 12, 3, 15, 22)
    out = io.BytesIO()
    gradient().save(out, "PNG", icc_profile=bytes(fresh))
    found = evidence.inspect(out.getvalue(), filename="", media_type="image/png")
    assert found == (Finding("time", "when the colour profile was made (2024-05-12 03:15)"),)
    result = evidence.clean(out.getvalue(), filename="", media_type="image/png")
    with Image.open(io.BytesIO(result.content)) as image, Image.open(io.BytesIO(out.getvalue())) as first:
        assert image.info["icc_profile"] == images_exif.SRGB_PROFILE
        assert image.tobytes() == first.tobytes()  # the same colour space: pixels untouched


def test_bytes_that_are_no_colour_profile_are_not_carried_over() -> None:
    out = io.BytesIO()
    gradient().save(out, "JPEG", icc_profile=b"not a profile, written by " + NAME.encode())
    result = evidence.clean(out.getvalue(), filename="", media_type="image/jpeg")
    assert NAME.encode() not in result.content
    with Image.open(io.BytesIO(result.content)) as image:
        assert "icc_profile" not in image.info


def test_a_profile_and_chunk_named_plain_srgb_are_reported_but_do_not_refuse_the_result() -> None:
    # "sRGB" is also in the profile every cleaned picture carries: shown, never searched for.
    icc = profile_with(p3_profile(), b"desc", "sRGB")
    out = io.BytesIO()
    gradient().save(out, "PNG", icc_profile=icc)
    content = out.getvalue()
    iccp = png_chunk(b"iCCP", b"sRGB\x00\x00" + zlib.compress(icc))
    original = png_insert(png_without(content, b"iCCP"), iccp)
    found = evidence.inspect(original, filename="", media_type="image/png")
    assert Finding("device", "the colour profile's name (sRGB)") in found
    result = evidence.clean(original, filename="", media_type="image/png")
    assert result.cleaned
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.info["icc_profile"] == images_exif.SRGB_PROFILE


def test_each_tiff_page_is_converted_by_its_own_profile() -> None:
    first, second = gradient(), gradient().transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    one, two = first.copy(), second.copy()
    one.info["icc_profile"], two.info["icc_profile"] = images_exif.SRGB_PROFILE, p3_profile()
    pages = io.BytesIO()
    one.save(pages, "TIFF", save_all=True, append_images=[two])
    with Image.open(io.BytesIO(pages.getvalue())) as check:
        check.seek(1)
        assert check.info["icc_profile"] == p3_profile()
    result = evidence.clean(pages.getvalue(), filename="", media_type="image/tiff")
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.tobytes() == first.tobytes()  # already sRGB: untouched
        image.seek(1)
        assert mean_difference(image, second) > 2  # converted from wide gamut
        assert image.info["icc_profile"] == images_exif.SRGB_PROFILE


def _mluc(words: str) -> bytes:
    text = words.encode("utf-16-be")
    return (
        b"mluc" + b"\x00" * 4 + struct.pack(">II", 1, 12) + b"enUS" + struct.pack(">II", len(text), 28) + text
    )


def test_a_picture_inside_a_pdf_loses_its_profile_but_keeps_its_colour_values() -> None:
    """A PDF page colours a picture by its own colour space, never by the picture's profile: converting
    the pixels to sRGB there would change how the page looks (and a CMYK photo would change mode and be
    refused), so inside a PDF the profile is dropped and the decoded values are kept as stored."""
    import pikepdf

    icc = profile_with(SRGB, b"desc", MACHINE)
    out = io.BytesIO()
    gradient((48, 32)).save(out, "JPEG", quality=95, icc_profile=icc)
    photo = out.getvalue()
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, photo)
    image.Type, image.Subtype, image.Filter = pikepdf.Name.XObject, pikepdf.Name.Image, pikepdf.Name.DCTDecode
    image.Width, image.Height, image.BitsPerComponent = 48, 32, 8
    image.ColorSpace = pikepdf.Name.DeviceRGB
    page = pdf.add_blank_page(page_size=(200, 200))
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.Contents = pikepdf.Stream(pdf, b"q 96 0 0 64 10 10 cm /Im0 Do Q")
    document = io.BytesIO()
    pdf.save(document)

    result = evidence.clean(document.getvalue(), filename="scan.pdf", media_type="application/pdf")

    assert result.cleaned and MACHINE.encode() not in result.content
    with pikepdf.open(io.BytesIO(result.content)) as cleaned:
        (stream,) = [obj for obj in cleaned.objects if isinstance(obj, pikepdf.Stream) and obj.get("/Width")]
        picture = stream.read_raw_bytes()
    with Image.open(io.BytesIO(picture)) as after, Image.open(io.BytesIO(photo)) as before:
        assert "icc_profile" not in after.info
        assert after.mode == before.mode and after.size == before.size
        assert (
            ImageChops.difference(after.convert("RGB"), before.convert("RGB")).getextrema() <= ((0, 6),) * 3
        )
