"""The external witness: what exiftool and a plain byte search see in a file and in every piece of it.

Independent of bot.evidence: the pieces come from tests.evidence_corpus.pieces, the read-out from
Debian's exiftool, and a value counts as seen in any of the forms files store text in.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.evidence_corpus import values as v
from tests.evidence_corpus.exiftool import ExifTool, texts
from tests.evidence_corpus.pieces import Piece, kind, pieces
from tests.evidence_corpus.plants import BYTES, Plant

GPS_TEXT = re.compile(r"51\.50[67]\d*|51 deg 30'|\+51\.5")
GPS_BYTES = (b"51.5072", b"51.50719", b"+51.507", b"51 deg 30'")


def forms(value: str) -> set[bytes]:
    """The byte forms a text takes in files (lower case): UTF-8, UTF-16 either way, XML-escaped."""
    low = value.lower()
    found = {low.encode("utf-8"), low.encode("utf-16-le"), low.encode("utf-16-be")}
    for escaped in (html.escape(low, quote=True), low.replace("'", "&apos;"), low.replace("'", "&#39;")):
        found.add(escaped.encode("utf-8"))
    return found


@dataclass
class View:
    """What the witness saw in one file: its pieces, and exiftool's tags for the pieces that are files."""

    pieces: list[Piece]
    tags: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def exiftool_locations(self, value: str) -> list[str]:
        """Where exiftool printed the value (piece and tag)."""
        low, wanted = value.lower(), forms(value)
        found = []
        for where, tags in self.tags:
            for key, item in texts(tags):
                if isinstance(item, str):
                    hit = low in item.lower()
                else:
                    lowered = item.lower()
                    hit = any(form in lowered for form in wanted)
                if hit:
                    found.append(f"exiftool of {where}: {key}")
        return found

    def byte_locations(self, value: str) -> list[str]:
        """Which pieces hold the value's bytes in any form."""
        wanted = forms(value)
        return [piece.where for piece in self.pieces if any(form in piece.data.lower() for form in wanted)]

    def gps_locations(self) -> list[str]:
        """Every sign of a position: a GPS tag, the planted latitude as a number or text, or its bytes."""
        found = []
        for where, tags in self.tags:
            for key, item in tags.items():
                if "gps" in key.rpartition(":")[2].lower():  # "#2" marks a second copy; still a GPS tag
                    found.append(f"exiftool of {where}: {key}")
                elif (
                    isinstance(item, (int, float))
                    and not isinstance(item, bool)
                    and abs(item - v.LATITUDE) < 1e-3
                ):
                    found.append(f"exiftool of {where}: {key} (a number at the planted latitude)")
                elif isinstance(item, str) and GPS_TEXT.search(item):
                    found.append(f"exiftool of {where}: {key} (the planted latitude as text)")
        for piece in self.pieces:
            if any(form in piece.data for form in GPS_BYTES):
                found.append(f"{piece.where} (the planted latitude as text bytes)")
        return found

    def locations(self, plant: Plant) -> list[str]:
        """Everywhere the plant's value was seen."""
        if plant.gps:
            return self.gps_locations()
        return self.exiftool_locations(plant.value) + self.byte_locations(plant.value)

    def sees(self, plant: Plant) -> bool:
        """Whether the plant's own witness sees it (proof the plant worked)."""
        if plant.gps:
            return bool(self.gps_locations())
        if plant.witness == BYTES:
            return bool(self.byte_locations(plant.value))
        return bool(self.exiftool_locations(plant.value))


class Witness:
    """Looks at files with exiftool and the byte search."""

    def __init__(self, exiftool: ExifTool, directory: Path) -> None:
        self.exiftool = exiftool
        self.directory = directory
        self._count = 0

    def look(self, content: bytes, suffix: str) -> View:
        """The file's pieces and exiftool's read-out of every piece that is a file."""
        self._count += 1
        folder = self.directory / f"look{self._count}"
        folder.mkdir()
        found = pieces(content)
        paths, names = [], []
        for index, piece in enumerate(found):
            ending = suffix if index == 0 else kind(piece.data)
            if ending and piece.data:
                path = folder / f"piece{index}{ending}"
                path.write_bytes(piece.data)
                paths.append(path)
                names.append(piece.where)
        tags = self.exiftool.read(paths)
        return View(found, list(zip(names, tags, strict=True)))
