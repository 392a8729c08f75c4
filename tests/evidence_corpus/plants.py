"""What a corpus fixture is: a built file and the identifying values planted in it, each named by place."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.evidence_corpus.exiftool import ExifTool

# Who can see a plant in the original: exiftool's read-out, or only a search of the bytes (raw and
# decompressed), for places exiftool does not model (comments in a zip, a PDF's image stream).
EXIFTOOL = "exiftool"
BYTES = "bytes"


@dataclass(frozen=True)
class Plant:
    """One identifying value and where it was put. `gps` plants are checked as positions, not text."""

    place: str
    value: str
    witness: str = EXIFTOOL
    gps: bool = False

    def inside(self, where: str) -> Plant:
        """The same plant, said to be inside a part of a bigger file."""
        return Plant(f"{where}: {self.place}", self.value, self.witness, self.gps)


@dataclass(frozen=True)
class Built:
    """A fixture's bytes and its plants."""

    content: bytes
    plants: tuple[Plant, ...]


@dataclass
class Workshop:
    """What builders share: the exiftool process and a scratch directory."""

    exiftool: ExifTool
    directory: Path
    _names: itertools.count = field(default_factory=itertools.count)

    def path(self, suffix: str) -> Path:
        """A fresh scratch file name."""
        return self.directory / f"part{next(self._names)}{suffix}"

    def plant(self, content: bytes, suffix: str, *tags: str) -> bytes:
        """The file with exiftool's tags written into it."""
        path = self.path(suffix)
        path.write_bytes(content)
        self.exiftool.write(path, *tags)
        return path.read_bytes()


@dataclass(frozen=True)
class Fixture:
    """One file of the corpus: the issue's name for its format, its real type, and how to build it.

    `evidence` says how the test checks the evidence survived: "image", "pdf", "document" or "media".
    `body` is text the visible content holds (documents), which must still be there after cleaning.
    """

    name: str
    format: str
    media_type: str
    filename: str
    build: Callable[[Workshop], Built]
    evidence: str
    body: str = ""
