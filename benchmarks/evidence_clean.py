"""Evidence cleaning against the floor of the same library's bare decode-and-save, side by side.

For four everyday files (a 12-megapixel phone photo, a 20 MB PDF of scanned pages, a 20 MB MP4, a 5 MB
Word document), each carrying identifying metadata, it measures:
- **cleaning**: `bot.cleaner.Cleaner.clean`, the way the bot runs it: the bytes go to a warm worker
  process (sandboxed, resource-limited), which sniffs, inspects, rewrites and independently checks the
  file, and the cleaned bytes come back;
- **floor**: the same library's bare round trip of the same file in one process, with nothing inspected
  or checked: Pillow decode and save (JPEG at the original's quality), pikepdf open and save, PyAV
  remux of every stream, zipfile read and re-write of every part.
Each measurement runs in a fresh process, so its peak RSS (the process's own, or the worker's for
cleaning, whichever is larger) is its own. Rounds alternate cleaning and floor, so load on the machine
falls on both alike. Goal: cleaning within 1.5x of the floor's time, peak RSS under 4x the file size
plus 100 MB. Prints the ratios; exit status 0 when every file meets both goals.

    .venv/bin/python benchmarks/evidence_clean.py              # 5 rounds
    .venv/bin/python benchmarks/evidence_clean.py --rounds 3 --only jpeg,pdf
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import cpu_model

MB = 1024 * 1024
TIME_GOAL = 1.5
RSS_FACTOR, RSS_EXTRA = 4, 100 * MB
KINDS = {
    "jpeg": ("photo.jpg", "image/jpeg"),
    "pdf": ("scans.pdf", "application/pdf"),
    "mp4": ("clip.mp4", "video/mp4"),
    "docx": ("statement.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
}


# ---------------------------------------------------------------------------------------------------------
# The files


def _photo(size: tuple[int, int], quality: int = 90) -> bytes:
    """A photo-like picture (gradients under noise, so it compresses like a real one) with phone EXIF."""
    from PIL import Image

    noise = Image.effect_noise(size, 48)
    red = Image.linear_gradient("L").resize(size)
    green = Image.radial_gradient("L").resize(size)
    blue = Image.blend(noise, red, 0.5)
    image = Image.merge("RGB", (Image.blend(red, noise, 0.35), Image.blend(green, noise, 0.35), blue))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x013B] = "Apple", "iPhone 15", "Jane Smith"
    exif[0x0132] = "2024:05:12 10:22:01"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (Fraction(51), Fraction(30), Fraction(26)), 3: "W", 4: (0, 7, 39)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def make_jpeg() -> bytes:
    return _photo((4000, 3000))


def make_pdf() -> bytes:
    """About 20 MB: pages each showing one scanned photo (a DCT image stream with its own EXIF)."""
    import pikepdf

    pdf = pikepdf.new()
    pdf.docinfo["/Author"] = "Jane Smith"
    pdf.docinfo["/Creator"] = "Microsoft Word"
    page_photo = _photo((1600, 1200), quality=92)
    pages = max(1, (20 * MB) // len(page_photo))
    for index in range(pages):
        image = pikepdf.Stream(pdf, page_photo)
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height, image.BitsPerComponent = 1600, 1200, 8
        image.ColorSpace, image.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
        content = pikepdf.Stream(pdf, f"q 576 0 0 432 18 180 cm /Im{index} Do Q".encode())
        page = pdf.add_blank_page(page_size=(612, 792))
        page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary({f"/Im{index}": image}))
        page.Contents = content
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def make_mp4() -> bytes:
    """About 20 MB of H.264-or-MPEG-4 video with AAC sound, and a phone's metadata on the container."""
    import av
    from PIL import Image

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        container.metadata.update({"location": "+51.5072-000.1276/", "make": "Apple", "model": "iPhone 15"})
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        video = container.add_stream(codec, rate=30)
        video.width, video.height, video.pix_fmt = 1280, 720, "yuv420p"
        video.bit_rate = 16_000_000
        if codec == "libx264":
            video.options = {"preset": "ultrafast"}
        audio = container.add_stream("aac", rate=48000)
        frames = 300
        for index in range(frames):
            picture = Image.effect_noise((1280, 720), 40 + index % 20).convert("RGB")
            for packet in video.encode(av.VideoFrame.from_image(picture)):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        samples = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
        for plane in samples.planes:
            plane.update(bytes(plane.buffer_size))
        samples.sample_rate = 48000
        for index in range(frames * 48000 // 30 // 1024):
            samples.pts = index * 1024
            for packet in audio.encode(samples):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    return out.getvalue()


def make_docx() -> bytes:
    """About 5 MB: a long statement with photos pasted in, and an author in its properties."""
    paragraph = "<w:p><w:r><w:t>{}</w:t></w:r></w:p>"
    body = "".join(paragraph.format(f"Paragraph {n}: what happened on the late shift.") for n in range(4000))
    images = [_photo((1200, 900), quality=88) for _ in range(4)]
    while sum(map(len, images)) < 5 * MB - 200_000:
        images.append(_photo((1200, 900), quality=88))
    drawings = "".join(
        f'<w:p><w:r><w:drawing><a:blip xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
        f'r:embed="rIdImg{n}"/></w:drawing></w:r></w:p>'
        for n in range(len(images))
    )
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    r = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    document = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{w}" xmlns:r="{r}">'
        f"<w:body>{body}{drawings}</w:body></w:document>"
    )
    rels = "".join(
        f'<Relationship Id="rIdImg{n}" Type="{r}/image" Target="media/image{n}.jpeg"/>'
        for n in range(len(images))
    )
    pkg = "http://schemas.openxmlformats.org/package/2006"
    parts = {
        "[Content_Types].xml": f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{pkg}/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="jpeg" ContentType="image/jpeg"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'wordprocessingml.document.main+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        "</Types>",
        "_rels/.rels": f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{pkg}/relationships">'
        f'<Relationship Id="rId1" Type="{r}/officeDocument" Target="word/document.xml"/>'
        f'<Relationship Id="rId2" Type="{pkg}/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        "</Relationships>",
        "docProps/core.xml": '<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties '
        f'xmlns:cp="{pkg}/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<dc:creator>Jane Smith</dc:creator><cp:lastModifiedBy>Jane Smith</cp:lastModifiedBy></cp:coreProperties>",
        "word/document.xml": document,
        "word/_rels/document.xml.rels": f'<?xml version="1.0" encoding="UTF-8"?><Relationships '
        f'xmlns="{pkg}/relationships">{rels}</Relationships>',
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        for n, image in enumerate(images):
            archive.writestr(f"word/media/image{n}.jpeg", image)
    return out.getvalue()


MAKERS = {"jpeg": make_jpeg, "pdf": make_pdf, "mp4": make_mp4, "docx": make_docx}


# ---------------------------------------------------------------------------------------------------------
# The floors: the same library, bare


def floor_jpeg(content: bytes) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(content)) as image:
        out = io.BytesIO()
        image.save(out, "JPEG", quality="keep")
    return out.getvalue()


def floor_pdf(content: bytes) -> bytes:
    """pikepdf open and save, with each JPEG image stream decoded and saved by Pillow (cleaning must too)."""
    import pikepdf

    with pikepdf.open(io.BytesIO(content)) as pdf:
        for page in pdf.pages:
            for _, image in page.images.items():
                if image.get("/Filter") == pikepdf.Name.DCTDecode:
                    image.write(floor_jpeg(image.read_raw_bytes()), filter=pikepdf.Name.DCTDecode)
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def floor_mp4(content: bytes) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(io.BytesIO(content)) as source, av.open(out, "w", format="mp4") as target:
        streams = {
            s.index: target.add_stream_from_template(s)
            for s in source.streams
            if s.type in ("video", "audio")
        }
        for packet in source.demux():
            if packet.dts is None or packet.stream.index not in streams:
                continue
            packet.stream = streams[packet.stream.index]
            target.mux(packet)
    return out.getvalue()


def floor_docx(content: bytes) -> bytes:
    """zipfile read and re-write of every part, each JPEG picture decoded and saved by Pillow (as cleaning must)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info.filename, floor_jpeg(data) if data.startswith(b"\xff\xd8\xff") else data)
    return out.getvalue()


FLOORS = {"jpeg": floor_jpeg, "pdf": floor_pdf, "mp4": floor_mp4, "docx": floor_docx}


# ---------------------------------------------------------------------------------------------------------
# One measurement, in a process of its own


def _own_peak() -> int:
    """This process's peak resident memory (VmHWM), which, unlike ru_maxrss, is not inherited at exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


_LIBRARIES = {"jpeg": ("PIL.Image",), "pdf": ("pikepdf", "PIL.Image"), "mp4": ("av",), "docx": ("PIL.Image",)}


def measure_floor(kind: str, path: Path) -> dict[str, float]:
    """Why the library is imported before the clock starts: cleaning is timed on a warm worker, so the
    floor is timed warm too (an import inside the timing would flatter cleaning's ratio)."""
    import importlib

    for name in _LIBRARIES[kind]:
        importlib.import_module(name)
    content = path.read_bytes()
    start = time.perf_counter()
    result = FLOORS[kind](content)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rss": _own_peak(), "bytes": len(result)}


class DescendantPeaks:
    """The largest peak resident memory (VmHWM) of any process below this one, sampled every 2 ms.

    Why sample: the worker that reads the file is a grandchild, the first process of its own PID
    namespace, and ends as soon as it has answered; ru_maxrss of children is, besides, inherited at
    exec from the process that started them, so it would report this process's own peak.
    """

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> DescendantPeaks:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in _descendants(os.getpid()):
                with contextlib.suppress(OSError, ValueError):
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peak = max(self.peak, int(line.split()[1]) * 1024)
            time.sleep(0.002)


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def measure_clean(kind: str, path: Path) -> dict[str, float]:
    from bot.cleaner import Cleaner, CleanerLimits

    content = path.read_bytes()
    filename, media_type = KINDS[kind]

    async def run() -> dict[str, float]:
        async with Cleaner(CleanerLimits()) as cleaner:
            await cleaner.ready()
            before = _own_peak()
            with DescendantPeaks() as peaks:
                start = time.perf_counter()
                cleaned = await cleaner.clean(content, filename=filename, media_type=media_type)
                seconds = time.perf_counter() - start
            bot_side = max(_own_peak() - before, 0)
        if not cleaned.cleaned:
            raise SystemExit(f"{kind}: not cleaned")
        worker = peaks.peak
        return {"seconds": seconds, "rss": worker + bot_side, "worker": worker, "bytes": len(cleaned.content)}

    return asyncio.run(run())


def child(args: argparse.Namespace) -> None:
    measure = measure_clean if args.child == "clean" else measure_floor
    print(json.dumps(measure(args.kind, Path(args.file))))


def make_in_child(kind: str, path: Path) -> None:
    """Build the file in a process of its own, so this one stays small (a child inherits its peak)."""
    subprocess.run([sys.executable, __file__, "--make", kind, "--file", str(path)], check=True)


def run_child(side: str, kind: str, path: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", side, "--kind", kind, "--file", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------------
# The run


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default=",".join(KINDS))
    parser.add_argument("--child", choices=("clean", "floor"))
    parser.add_argument("--make", choices=tuple(KINDS))
    parser.add_argument("--kind", choices=tuple(KINDS))
    parser.add_argument("--file")
    args = parser.parse_args()
    if args.make:
        Path(args.file).write_bytes(MAKERS[args.make]())
        return 0
    if args.child:
        child(args)
        return 0
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; {platform.system()} {platform.release()}")
    print(f"python {platform.python_version()}; {args.rounds} rounds, cleaning and floor alternating\n")
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.only.split(","):
            path = Path(folder) / KINDS[kind][0]
            make_in_child(kind, path)
            size = path.stat().st_size
            cleans, floors = [], []
            for _ in range(args.rounds):
                cleans.append(run_child("clean", kind, path))
                floors.append(run_child("floor", kind, path))
            clean_s = statistics.median(m["seconds"] for m in cleans)
            floor_s = statistics.median(m["seconds"] for m in floors)
            clean_rss = max(m["rss"] for m in cleans)
            worker_rss = max(m["worker"] for m in cleans)
            floor_rss = max(m["rss"] for m in floors)
            ratio = clean_s / floor_s
            rss_goal = RSS_FACTOR * size + RSS_EXTRA
            passed = ratio <= TIME_GOAL and clean_rss <= rss_goal
            ok &= passed
            print(
                f"{kind:5} {size / MB:6.1f} MB  cleaning {clean_s * 1000:8.1f} ms  floor {floor_s * 1000:8.1f} ms  "
                f"ratio {ratio:5.2f} (goal <= {TIME_GOAL})  peak RSS {clean_rss / MB:4.0f} MB "
                f"(worker {worker_rss / MB:.0f}, floor {floor_rss / MB:.0f}, goal < {rss_goal / MB:.0f})  "
                f"{'PASS' if passed else 'FAIL'}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
