"""Debian's exiftool, kept running (-stay_open) so a whole corpus costs one start: it plants what the
Python libraries cannot write, and it is the external witness that reads every file back.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

EXIFTOOL = Path("/usr/bin/exiftool")
# Every tag (-a duplicates, -u unknown, -U unknown binary), embedded documents (-ee: JPEGs in PDFs, MPF
# images), binary values as base64 (-b) so the witness can look inside them, numbers as numbers (-n), and
# each tag named by its document, group and copy (-G3:1:4: "Doc1:IFD0:Artist", "XMP-dc:Copy1:Creator"), for
# JSON keeps only one of two equal keys, and a second copy of a tag is just where a value would hide.
READ_FLAGS = ("-j", "-a", "-u", "-U", "-ee", "-b", "-n", "-G3:1:4", "-api", "LargeFileSupport=1")


def available() -> bool:
    """Whether /usr/bin/exiftool is there to plant and to witness."""
    return EXIFTOOL.is_file() and os.access(EXIFTOOL, os.X_OK)


class ExifTool:
    """One long-running exiftool process fed argument lists on stdin."""

    def __init__(self) -> None:
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process; closed in close()
        self._process = subprocess.Popen(
            [str(EXIFTOOL), "-stay_open", "True", "-@", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
        )
        self._count = 0

    def run(self, *args: str) -> str:
        """Run one exiftool command; its standard output."""
        assert self._process.stdin is not None and self._process.stdout is not None
        self._count += 1
        self._errors.seek(0)
        self._errors.truncate()
        lines = [*args, f"-execute{self._count}"]
        assert all("\n" not in line for line in lines)
        self._process.stdin.write(("\n".join(lines) + "\n").encode("utf-8"))
        self._process.stdin.flush()
        out = []
        end = f"{{ready{self._count}}}".encode()
        while True:
            line = self._process.stdout.readline()
            if not line:
                raise RuntimeError("exiftool ended unexpectedly")
            if line.strip() == end:
                break
            out.append(line)
        return b"".join(out).decode("utf-8", "replace")

    def errors(self) -> str:
        """What the last command wrote to standard error."""
        self._errors.seek(0)
        return self._errors.read().decode("utf-8", "replace")

    def write(self, path: Path, *tags: str) -> None:
        """Write tags into the file in place; fails loudly when exiftool did not update it."""
        out = self.run("-overwrite_original", "-m", *tags, str(path))
        if "1 image files updated" not in out:
            raise RuntimeError(f"exiftool did not write {path.name}: {out.strip()} {self.errors().strip()}")

    def read(self, paths: list[Path]) -> list[dict[str, object]]:
        """Every tag of each file, in order."""
        if not paths:
            return []
        out = self.run(*READ_FLAGS, *(str(path) for path in paths))
        found = json.loads(out, object_pairs_hook=keep_duplicates) if out.strip() else []
        by_source = {entry.get("SourceFile"): entry for entry in found}
        return [by_source.get(str(path), {}) for path in paths]

    def close(self) -> None:
        """Stop the process."""
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.write(b"-stay_open\nFalse\n")
            self._process.stdin.flush()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._errors.close()


def keep_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object keeping every copy of a repeated tag (-a prints one key per copy): "Key", "Key#2"."""
    out: dict[str, object] = {}
    for key, value in pairs:
        name, copy = key, 1
        while name in out:
            copy += 1
            name = f"{key}#{copy}"
        out[name] = value
    return out


def texts(tags: dict[str, object]) -> Iterator[tuple[str, str | bytes]]:
    """(tag, value) for every value exiftool printed; base64 binaries decoded, so the search sees inside."""
    for key, value in tags.items():
        if key in ("SourceFile",) or key.startswith(("System:", "ExifTool:")):
            continue
        items = value if isinstance(value, list) else [value]
        if isinstance(value, list):  # exiftool splits a list-like text (PDF Keywords) into words
            yield key, " ".join(str(item) for item in value)
        for item in items:
            if isinstance(item, str) and item.startswith("base64:"):
                try:
                    yield key, base64.b64decode(item[7:])
                except ValueError:
                    yield key, item
            else:
                yield key, str(item)
