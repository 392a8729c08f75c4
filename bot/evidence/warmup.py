"""Warming the cleaning worker up: every module imported and every format run once, before isolation.

Why (bot.evidence.worker): once the worker has chrooted into an empty directory there is no disk to
import a module or load a plugin from, so whatever a library loads on first use must have been loaded
by then. The files used are tiny, made here, and carry one metadata value each, so the paths that read
and remove metadata run too.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any


def warm() -> None:
    """Import every module the formats may need and run each format once on a tiny file made here.

    Why: libraries import plugins, codecs and tables on first use (Pillow's image plugins, mutagen's
    formats, Python's text encodings). After isolation there is no file system to import from, so a
    first use then would fail; doing it here makes the first real file behave like the hundredth.
    """
    import encodings

    _import_all(encodings)
    for name in ("PIL", "pillow_heif", "pikepdf", "av", "mutagen", "lxml"):
        try:
            package = __import__(name)
        except Exception:  # noqa: S112 - a library a format does not use here is not needed
            continue
        _import_all(package)
    from PIL import Image

    Image.init()
    from bot.evidence import dispatch

    for media_type, make in _SAMPLES.items():
        try:
            sample = make()
            dispatch.inspect(sample, filename="warm", media_type=media_type)
            dispatch.clean(sample, filename="warm", media_type=media_type)
        except Exception:  # noqa: S112 - warming is best effort; a real file meets the same code again
            continue


_SKIPPED = (
    "test",
    "qt",
    "tk",
    "_pyinstaller",
    "benchmark",
)  # not used to read files; some print or open GUIs


def _import_all(package: Any) -> None:
    """Import a package's submodules (not tests, not GUI toolkits), ignoring any that cannot load."""
    import importlib
    import pkgutil

    path = getattr(package, "__path__", None)
    if path is None:
        return
    for info in pkgutil.walk_packages(path, package.__name__ + "."):
        name = info.name.lower()
        if name.endswith(("__main__", ".report")) or any(part in name for part in _SKIPPED):
            continue
        try:
            importlib.import_module(info.name)
        except BaseException:  # noqa: S112 - SystemExit from a script-like module included
            continue


def _image(fmt: str, **options: Any) -> Callable[[], bytes]:
    def make() -> bytes:
        from PIL import Image

        out = io.BytesIO()
        picture = Image.new("RGB", (8, 8), (200, 40, 40))
        exif = Image.Exif()
        exif[0x010F] = "Warm"  # Make: so the EXIF path is taken too
        picture.save(out, fmt, exif=exif.tobytes(), **options)
        return out.getvalue()

    return make


def _heif() -> bytes:
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 90, 200)).save(out, "HEIF", quality=50)
    return out.getvalue()


def _pdf() -> bytes:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = "Warm"
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _zip(parts: dict[str, str], *, first: tuple[str, str] | None = None) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        if first:
            archive.writestr(zipfile.ZipInfo(first[0]), first[1])
        for name, text in parts.items():
            archive.writestr(name, text, zipfile.ZIP_DEFLATED)
    return out.getvalue()


_CORE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><cp:coreProperties xmlns:cp="http://schemas.'
    'openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    "<dc:creator>Warm</dc:creator></cp:coreProperties>"
)


def _docx() -> bytes:
    ns = "http://schemas.openxmlformats.org"
    return _zip(
        {
            "[Content_Types].xml": (
                f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{ns}/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
                'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
                'officedocument.wordprocessingml.document.main+xml"/><Override PartName="/docProps/core.xml"'
                ' ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>'
            ),
            "_rels/.rels": (
                f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}/package/2006/'
                f'relationships"><Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/'
                'officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="'
                f'{ns}/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
                "</Relationships>"
            ),
            "word/document.xml": (
                f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{ns}/wordprocessingml/2006/'
                'main"><w:body><w:p><w:r><w:t>warm</w:t></w:r></w:p></w:body></w:document>'
            ),
            "docProps/core.xml": _CORE,
        }
    )


def _odt() -> bytes:
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    return _zip(
        {
            "META-INF/manifest.xml": (
                '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:'
                'tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry '
                'manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                '<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>'
                "</manifest:manifest>"
            ),
            "content.xml": (
                f'<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="{office}" '
                'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
                "<office:body><office:text><text:p>warm</text:p></office:text></office:body>"
                "</office:document-content>"
            ),
            "meta.xml": (
                f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta xmlns:office="{office}" '
                'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" office:version="1.2">'
                "<office:meta><meta:initial-creator>Warm</meta:initial-creator></office:meta>"
                "</office:document-meta>"
            ),
        },
        first=("mimetype", "application/vnd.oasis.opendocument.text"),
    )


def _wav() -> bytes:
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\x00\x00" * 800)
    return out.getvalue()


def _encoded(container: str, codec: str, *, video: bool) -> Callable[[], bytes]:
    """A fraction of a second of silence or of one colour, encoded by FFmpeg (through PyAV)."""

    def make() -> bytes:
        import av

        out = io.BytesIO()
        with av.open(out, "w", format=container) as media:
            media.metadata["title"] = "Warm"
            if video:
                stream = media.add_stream(codec, rate=5)
                stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
                for _ in range(3):
                    picture = av.VideoFrame(16, 16, "yuv420p")
                    for plane in picture.planes:
                        plane.update(b"\x80" * plane.buffer_size)
                    media.mux(stream.encode(picture))
            else:
                stream = media.add_stream(codec, rate=48000, layout="mono")
                sound = av.AudioFrame(
                    format=stream.format.name, layout="mono", samples=stream.frame_size or 1152
                )
                sound.sample_rate = 48000
                for plane in sound.planes:
                    plane.update(bytes(plane.buffer_size))
                media.mux(stream.encode(sound))
            media.mux(stream.encode(None))
        return out.getvalue()

    return make


_SAMPLES: dict[str, Callable[[], bytes]] = {
    "text/plain": lambda: b"warm\n",
    "image/jpeg": _image("JPEG", quality=50),
    "image/png": _image("PNG"),
    "image/gif": _image("GIF"),
    "image/webp": _image("WEBP", quality=50),
    "image/tiff": _image("TIFF"),
    "image/heic": _heif,
    "application/pdf": _pdf,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _docx,
    "application/vnd.oasis.opendocument.text": _odt,
    "audio/wav": _wav,
    "audio/ogg": _encoded("ogg", "libopus", video=False),
    "audio/flac": _encoded("flac", "flac", video=False),
    "audio/mpeg": _encoded("mp3", "libmp3lame", video=False),
    "audio/mp4": _encoded("ipod", "aac", video=False),
    "video/mp4": _encoded("mp4", "mpeg4", video=True),
    "video/webm": _encoded("webm", "libvpx", video=True),
    "video/quicktime": _encoded("mov", "mpeg4", video=True),
    "video/x-matroska": _encoded("matroska", "mpeg4", video=True),
    "image/avif": _image("AVIF", quality=50),
}
