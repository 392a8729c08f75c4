"""The checkpoint file's format: one signed checkpoint per line, read and every signature checked
(storage/checkpoints.py says why checkpoints exist).

Why a missing or empty file is a problem once checkpoints have begun: the key files record, once, that a
checkpoint was signed under the key (storage/keyring.py `mark_checkpoints_begun`). Without that record a
deleted file would look like an installation that never had one, and the next checkpoint would anchor a
rewritten log. What this cannot catch: a file cut back to a valid prefix (its last lines removed) by
someone who can write the checkpoint directory. The newest checkpoints it lost are what an auditor's
export kept elsewhere still holds.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from storage import crypto
from storage.errors import VaultError

# Versioned per purpose: a signature made for a checkpoint of this format verifies for nothing else.
CONTEXT = "audit-checkpoint/v1"
FORMAT = "candour-audit-checkpoint/v1"
EXPORT_FORMAT = "candour-audit-checkpoints-export/v1"
FILE_NAME = "audit-checkpoints.jsonl"
LOCK_NAME = "audit-checkpoints.lock"
START_ANEW = "candour audit checkpoint start-anew"
# The short hash kept of each entry: enough to name the first entry that changed (the head is signed in
# full, and so is every short hash, so shortening weakens nothing that detection relies on).
SHORT = 16


class CheckpointFileError(VaultError):
    """A checkpoint file that is damaged, was edited, carries a signature that does not verify,
    disagrees with another, or is missing or empty although checkpoints were signed."""


@dataclass(frozen=True)
class Checkpoint:
    """One signed checkpoint: the chain's head at `seq`, and the short hashes of entries from_seq..seq."""

    n: int
    seq: int
    head: str
    at: datetime
    from_seq: int
    hashes: tuple[str, ...]
    key: str
    signature: bytes = field(repr=False)

    def payload(self) -> bytes:
        """The canonical bytes that are signed: every field but the signature."""
        body = {
            "format": FORMAT,
            "n": self.n,
            "seq": self.seq,
            "head": self.head,
            "at": self.at.isoformat(),
            "from_seq": self.from_seq,
            "hashes": list(self.hashes),
            "key": self.key,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    def line(self) -> str:
        """The checkpoint as one line of the file, with its signature."""
        doc = json.loads(self.payload())
        doc["signature"] = base64.b64encode(self.signature).decode("ascii")
        return json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n"


@dataclass(frozen=True)
class CheckpointLog:
    """The checkpoints of one file, every signature checked; `source` names the file for reports."""

    source: str
    public_key: bytes | None
    checkpoints: tuple[Checkpoint, ...]

    @property
    def newest(self) -> Checkpoint | None:
        return self.checkpoints[-1] if self.checkpoints else None


def checkpoint_file(directory: Path) -> Path:
    """Where the installation appends its checkpoints."""
    return directory / FILE_NAME


def lost(path: Path, public_key: bytes) -> CheckpointFileError:
    """The error for a checkpoint file missing or empty although checkpoints were signed under the key."""
    how = "empty" if path.exists() else "missing"
    return CheckpointFileError(
        f"checkpoint file {path} is {how}, but checkpoints were signed under audit key "
        f"{crypto.fingerprint(public_key)}: restore it from backup; only if it is lost, compare the log "
        f"with the auditor's export and run `{START_ANEW}`"
    )


def read_file(
    path: Path, *, public_key: bytes | None, export: bool = False, begun: bool = False
) -> CheckpointLog:
    """Read and check a checkpoint file (the installation's, or an export, which names its own key).

    Every line's signature must verify under the key, the checkpoints must be numbered 1, 2, 3 ... with
    no gap, and each must start where the previous one ended: a line edited, forged, removed or
    reordered fails here, with the line named. `public_key` is the installation's key; an export signed
    under another key fails too (a forger would make an export with a key of their own). `begun` (the key
    files say checkpoints were signed) makes a missing or empty installation file fail too.
    """
    try:
        lines = _complete_lines(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        if export or public_key is None:
            raise CheckpointFileError(f"checkpoint file {path} does not exist") from None
        if begun:
            raise lost(path, public_key) from None
        return CheckpointLog(source=str(path), public_key=public_key, checkpoints=())
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointFileError(f"checkpoint file {path} is unreadable ({type(exc).__name__})") from None
    key, body = _key_of(path, lines, public_key)
    if not body and (export or begun):
        raise (CheckpointFileError(f"checkpoint file {path} is empty") if export else lost(path, key))
    points: list[Checkpoint] = []
    for number, raw in body:
        point = parse(path, number, raw, key)
        previous = points[-1] if points else None
        expected_n, expected_from = (1, 1) if previous is None else (previous.n + 1, previous.seq + 1)
        if point.n != expected_n or point.from_seq != expected_from:
            raise CheckpointFileError(
                f"{path} line {number}: checkpoint {point.n} covers entries from {point.from_seq}, but "
                f"checkpoint {expected_n} from entry {expected_from} was expected (a line was removed?)"
            )
        if previous is not None and point.at < previous.at:
            raise CheckpointFileError(
                f"{path} line {number}: checkpoint {point.n} is dated before the one before"
            )
        points.append(point)
    return CheckpointLog(source=str(path), public_key=key, checkpoints=tuple(points))


def newest_line(path: Path, public_key: bytes) -> Checkpoint | None:
    """The last checkpoint of the file, its signature checked; None for a missing or empty file (only
    verification reads the whole file)."""
    try:
        with path.open("rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            chunk, start = b"", end
            while start > 0 and chunk.count(b"\n") < 2:
                start = max(0, start - 64 * 1024)
                handle.seek(start)
                chunk = handle.read(end - start)
    except FileNotFoundError:
        return None
    lines = [line for line in _complete_lines(chunk.decode("ascii", errors="replace")) if line.strip()]
    if not lines:
        return None
    return parse(path, 0, lines[-1], public_key)


def _complete_lines(content: str) -> list[str]:
    """The file's lines, without a last one cut short (a crash in the middle of an append)."""
    lines = content.split("\n")
    return lines[:-1]


def _key_of(path: Path, lines: list[str], installed: bytes | None) -> tuple[bytes, list[tuple[int, str]]]:
    """The key the file is checked under, and its checkpoint lines with their line numbers."""
    body = [(number, raw) for number, raw in enumerate(lines, start=1) if raw.strip()]
    header: dict[str, Any] | None = None
    if body:
        with contextlib.suppress(ValueError):
            first = json.loads(body[0][1])
            if isinstance(first, dict) and first.get("format") == EXPORT_FORMAT:
                header, body = first, body[1:]
    if header is None:
        if installed is None:
            raise CheckpointFileError(f"{path} is not a checkpoint export (its first line names no key)")
        return installed, body
    try:
        exported = base64.b64decode(str(header["public_key"]), validate=True)
    except (KeyError, ValueError):
        raise CheckpointFileError(f"{path} line 1: the public key is damaged") from None
    if len(exported) != crypto.KEY_SIZE:
        raise CheckpointFileError(f"{path} line 1: the public key is damaged")
    if installed is not None and exported != installed:
        raise CheckpointFileError(
            f"{path} is signed by key {crypto.fingerprint(exported)}, but this installation's audit key "
            f"is {crypto.fingerprint(installed)}"
        )
    return exported, body


def parse(path: Path, number: int, raw: str, public_key: bytes) -> Checkpoint:
    """One line as a checkpoint, its signature and shape checked; CheckpointFileError names the line."""
    where = f"{path} line {number}"
    try:
        doc = json.loads(raw)
        point = Checkpoint(
            n=int(doc["n"]),
            seq=int(doc["seq"]),
            head=str(doc["head"]),
            at=datetime.fromisoformat(str(doc["at"])),
            from_seq=int(doc["from_seq"]),
            hashes=tuple(str(h) for h in doc["hashes"]),
            key=str(doc["key"]),
            signature=base64.b64decode(str(doc["signature"]), validate=True),
        )
        valid_shape = doc.get("format") == FORMAT and point.at.tzinfo is not None
    except (KeyError, TypeError, ValueError):
        raise CheckpointFileError(f"{where} is not a checkpoint") from None
    if (
        not valid_shape
        or not 1 <= point.from_seq <= point.seq
        or len(point.hashes) != point.seq - point.from_seq + 1
    ):
        raise CheckpointFileError(f"{where} is not a checkpoint of this format")
    if not crypto.signature_valid(point.payload(), point.signature, public_key=public_key, context=CONTEXT):
        raise CheckpointFileError(
            f"{where}: the signature of checkpoint {point.n} does not verify under key "
            f"{crypto.fingerprint(public_key)} (the line was edited or forged)"
        )
    if point.key != crypto.fingerprint(public_key) or point.hashes[-1] != point.head[:SHORT]:
        raise CheckpointFileError(f"{where}: checkpoint {point.n} does not hold together")
    return point
