"""Verifying the audit log against signed checkpoints: the installation's file and any exports, with the
public audit key only (storage/checkpoints.py says why checkpoints exist).

Why the public key only: the desk and `candour audit verify` check signatures, never make them; a host
that verifies needs no key that could sign a checkpoint over a rewritten log.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from storage import audit, keyring
from storage.checkpoint_file import CheckpointFileError, CheckpointLog, checkpoint_file, read_file
from storage.errors import KeyringError
from storage.vault import Vault


@dataclass
class AnchorIndex:
    """The checkpoints of every file given, looked up by entry number (audit.Anchors, for audit.verify).

    Why kept as the checkpoints themselves: a short hash per entry of a long log as separate objects
    would cost the desk memory on every verification; a binary search finds the checkpoint covering an
    entry in each file. Two files that disagree about an entry need no check of their own: the entry
    matches one of them at most.
    """

    logs: list[tuple[CheckpointLog, list[int]]] = field(default_factory=list)

    def add(self, checked: CheckpointLog) -> None:
        """Take a checked file's checkpoints as anchors."""
        if checked.checkpoints:
            self.logs.append((checked, [point.seq for point in checked.checkpoints]))

    def mismatch(self, seq: int, entry_hash: str) -> str | None:
        for checked, ends in self.logs:
            index = bisect.bisect_left(ends, seq)
            if index == len(ends):
                continue
            point = checked.checkpoints[index]
            wanted = point.head if seq == point.seq else point.hashes[seq - point.from_seq]
            if not entry_hash.startswith(wanted):
                return f"checkpoint {point.n} in {checked.source}"
        return None

    def furthest(self) -> tuple[int, str] | None:
        ends = [(checked.checkpoints[-1], checked.source) for checked, _ in self.logs]
        if not ends:
            return None
        point, source = max(ends, key=lambda end: end[0].seq)
        return point.seq, f"checkpoint {point.n} in {source}"


@dataclass(frozen=True)
class Against:
    """What a verification was checked against: the newest checkpoint of one source."""

    source: str
    n: int
    seq: int
    at: datetime
    key: str

    def describe(self) -> str:
        """The checkpoint in words, as the CLI prints it."""
        return (
            f"checkpoint {self.n} (entry {self.seq}, signed in the hour from "
            f"{self.at:%Y-%m-%d %H:00} UTC, key {self.key}) in {self.source}"
        )


@dataclass(frozen=True)
class Verification:
    """The chain walked against every checkpoint given; `problem` names a checkpoint file not trusted."""

    chain: audit.ChainReport
    against: tuple[Against, ...] = ()
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problem


async def verify(
    vault: Vault, *, keys_dir: Path, directory: Path, exports: Sequence[Path] = ()
) -> Verification:
    """Walk the whole chain against the installation's checkpoint file and any exports given, and say
    which newest checkpoint of each it was checked against; a file not trusted is named in `problem`."""
    logs, problems = await asyncio.to_thread(_read_all, keys_dir, directory, exports)
    anchors = AnchorIndex()
    for checked in logs:
        anchors.add(checked)
    async with vault.db.reading() as session:
        chain = await audit.verify(session, anchors=anchors)
    against = tuple(
        Against(source=checked.source, n=point.n, seq=point.seq, at=point.at, key=point.key)
        for checked in logs
        if (point := checked.newest) is not None
    )
    return Verification(chain=chain, against=against, problem="; ".join(problems))


def _read_all(
    keys_dir: Path, directory: Path, exports: Sequence[Path]
) -> tuple[list[CheckpointLog], list[str]]:
    """The installation's checkpoint file and the exports, each checked; what could not be trusted."""
    logs: list[CheckpointLog] = []
    problems: list[str] = []
    local = checkpoint_file(directory)
    installed: bytes | None = None
    try:
        public = keyring.load_audit_public_key(keys_dir)
        if public is not None:
            installed = public.public
            logs.append(read_file(local, public_key=installed, begun=public.checkpoints_begun))
        elif local.exists() and local.stat().st_size:
            raise CheckpointFileError(
                f"{local} holds checkpoints but the audit signing key is missing from {keys_dir}: "
                "restore it from backup"
            )
    except (CheckpointFileError, KeyringError) as exc:
        problems.append(str(exc))
    for path in exports:
        try:
            logs.append(read_file(path, public_key=installed, export=True))
        except CheckpointFileError as exc:
            problems.append(str(exc))
    return logs, problems
