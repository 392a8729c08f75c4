"""Signing checkpoints and appending them to the installation's file, starting a new file after a loss,
and exporting them for an auditor (storage/checkpoints.py says why checkpoints exist). Only this module
loads the private audit key.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from storage import audit, crypto, keyring
from storage.checkpoint_file import (
    CONTEXT,
    EXPORT_FORMAT,
    LOCK_NAME,
    SHORT,
    START_ANEW,
    Checkpoint,
    CheckpointFileError,
    CheckpointLog,
    checkpoint_file,
    lost,
    newest_line,
    read_file,
)
from storage.clock import coarsen
from storage.errors import KeyringError, VaultError
from storage.vault import Vault

RESTARTED = "audit.checkpoints-restarted"


class AuditBrokenError(VaultError):
    """The log no longer extends the newest checkpoint, so no new checkpoint is signed over it."""

    def __init__(self, report: audit.ChainReport) -> None:
        super().__init__(f"audit log BROKEN at entry {report.first_broken}: {report.reason}")
        self.report = report


async def write(vault: Vault, *, keys_dir: Path, directory: Path) -> Checkpoint | None:
    """Sign the head of the chain and append it to the checkpoint file, if the chain grew since the
    newest checkpoint; None if it did not.

    Why the chain is checked from the newest checkpoint first: a checkpoint over a rewritten log would
    bless the rewrite. If the entry at the newest checkpoint lost its hash, or a later link does not
    hold, AuditBrokenError is raised and nothing is signed. Why a missing or empty file is refused once
    checkpoints have begun (CheckpointFileError): starting again at checkpoint 1 would anchor whatever
    the log holds now, a rewrite included; only `start_anew` does that, and audits it. An installation
    without an audit key yet (made before checkpoints existed) gets one here, and its first checkpoint
    after a walk of the whole chain.
    """
    path = checkpoint_file(directory)
    with await asyncio.to_thread(_locked, directory) as lock:
        key, previous = await asyncio.to_thread(_prepare, lock, keys_dir, path)
        return await _extend(vault, key=key, previous=previous, keys_dir=keys_dir, path=path)


async def start_anew(vault: Vault, *, keys_dir: Path, directory: Path, actor: str) -> Checkpoint:
    """After the checkpoint file was lost (missing or empty although checkpoints were signed): audit
    that, then sign checkpoint 1 of a new file over the whole chain as it is now.

    Why explicit and audited: the new file vouches only for the log as it is at the restart; the entry
    says so in the log itself, and an auditor's export from before still names any entry changed. A
    file that holds checkpoints, or is damaged, is never replaced here (it is evidence): CheckpointFileError.
    """
    path = checkpoint_file(directory)
    with await asyncio.to_thread(_locked, directory) as lock:
        key = await asyncio.to_thread(_loss_to_restart, lock, keys_dir, path)
        how = "empty" if path.exists() else "missing"
        async with vault.db.transaction() as session:
            await audit.append(
                session,
                at=coarsen(vault.clock.now()),
                actor=actor,
                action=RESTARTED,
                detail={"file": how, "key": key.fingerprint},
            )
        point = await _extend(vault, key=key, previous=None, keys_dir=keys_dir, path=path)
        assert point is not None  # the log holds at least the entry just written
        return point


async def _extend(
    vault: Vault, *, key: keyring.AuditSigningKey, previous: Checkpoint | None, keys_dir: Path, path: Path
) -> Checkpoint | None:
    """Check the chain from `previous` on, sign its head and append it (the lock is held)."""
    async with vault.db.reading() as session:
        start = None if previous is None else (previous.seq, previous.head)
        report = await audit.verify(session, start=start)
        if not report.ok:
            raise AuditBrokenError(report)
        if report.entries == (0 if previous is None else previous.seq):
            return None
        from_seq = 1 if previous is None else previous.seq + 1
        hashes = await _short_hashes(session, from_seq, report.entries)
    point = signed(
        key,
        n=1 if previous is None else previous.n + 1,
        seq=report.entries,
        head=report.head_hash,
        # Never before the previous one, even if this clock is behind (a sandbox's clock was ahead).
        at=max(coarsen(vault.clock.now()), previous.at) if previous else coarsen(vault.clock.now()),
        from_seq=from_seq,
        hashes=hashes,
    )
    if previous is None:
        # Recorded before the first line is appended: a crash between the two leaves a record without a
        # file, which verification reports (a false alarm, cleared by start-anew), never the reverse.
        await asyncio.to_thread(keyring.mark_checkpoints_begun, keys_dir)
    await asyncio.to_thread(_append, path, point.line())
    return point


def _signing_key(keys_dir: Path) -> keyring.AuditSigningKey:
    """The private key; made here only if neither key file exists (an installation from before
    checkpoints). A public file without its private key is a loss to restore, not a reason for a new key."""
    if not (keys_dir / keyring.AUDIT_PUBLIC_FILE).exists():
        keyring.create_audit_key(keys_dir)
    elif not (keys_dir / keyring.AUDIT_SIGNING_FILE).exists():
        raise KeyringError(
            f"the audit signing key {keys_dir / keyring.AUDIT_SIGNING_FILE} is missing, but its public key "
            "is there: restore it from backup"
        )
    return keyring.load_audit_key(keys_dir)


def _begun(keys_dir: Path, key: keyring.AuditSigningKey) -> bool:
    public = keyring.load_audit_public_key(keys_dir)
    return key.checkpoints_begun or (public is not None and public.checkpoints_begun)


def _prepare(lock: _Lock, keys_dir: Path, path: Path) -> tuple[keyring.AuditSigningKey, Checkpoint | None]:
    """Wait for the lock (another process may be checkpointing), then the key and the newest checkpoint;
    CheckpointFileError if the file is missing or empty although checkpoints were signed."""
    fcntl.flock(lock.fd, fcntl.LOCK_EX)
    key = _signing_key(keys_dir)
    newest = newest_line(path, key.public)
    begun = _begun(keys_dir, key)
    if newest is None and begun:
        raise lost(path, key.public)
    if newest is not None and not begun:
        # Key files from before the record existed: the file shows that checkpoints have begun.
        keyring.mark_checkpoints_begun(keys_dir)
    return key, newest


def _loss_to_restart(lock: _Lock, keys_dir: Path, path: Path) -> keyring.AuditSigningKey:
    """Under the lock: the key, if the file is missing or empty although checkpoints were signed."""
    fcntl.flock(lock.fd, fcntl.LOCK_EX)
    key = keyring.load_audit_key(keys_dir)
    if not _begun(keys_dir, key):
        raise CheckpointFileError(
            f"no checkpoint was ever signed under audit key {key.fingerprint}: there is nothing to start "
            "anew (the next checkpoint starts the file: `candour audit verify`)"
        )
    try:
        held = read_file(path, public_key=key.public).checkpoints
    except CheckpointFileError as exc:
        raise CheckpointFileError(
            f"{exc}; move the file aside (keep it: it is evidence), then run `{START_ANEW}` again"
        ) from None
    if held:
        raise CheckpointFileError(
            f"{path} holds {len(held)} checkpoint{'s' if len(held) > 1 else ''}: there is nothing to start "
            "anew"
        )
    return key


def signed(key: keyring.AuditSigningKey, **fields: Any) -> Checkpoint:
    """A checkpoint of `fields`, signed under the key."""
    unsigned = Checkpoint(key=key.fingerprint, signature=b"", **fields)
    signature = crypto.sign(unsigned.payload(), private_key=key.private, context=CONTEXT)
    return Checkpoint(key=key.fingerprint, signature=signature, **fields)


async def _short_hashes(session: Any, first: int, last: int) -> tuple[str, ...]:
    statement = text("SELECT seq, hash FROM audit_log WHERE seq >= :first AND seq <= :last ORDER BY seq")
    rows = (await session.exec(statement.bindparams(first=first, last=last))).all()
    if [int(row[0]) for row in rows] != list(range(first, last + 1)):
        raise AuditBrokenError(audit.ChainReport(first - 1, "", first, "entries changed while checkpointing"))
    return tuple(str(row[1])[:SHORT] for row in rows)


def _append(path: Path, line: str) -> None:
    """Append one line and make it durable (the file is only ever appended to)."""
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # A line cut short by a crash in the middle of an append never was a checkpoint (readers
            # skip it): drop it, so it does not become a damaged line in the middle of the file.
            os.ftruncate(fd, _end_of_last_line(fd, size))
        os.write(fd, line.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _end_of_last_line(fd: int, size: int) -> int:
    """The offset just after the file's last newline (0 if it has none)."""
    end = size
    while end > 0:
        start = max(0, end - 64 * 1024)
        found = os.pread(fd, end - start, start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


@dataclass
class _Lock:
    """An open lock file; closing it releases the lock (a flock lock belongs to the open file)."""

    fd: int

    def __enter__(self) -> _Lock:
        return self

    def __exit__(self, *_exc: object) -> None:
        os.close(self.fd)


def _locked(directory: Path) -> _Lock:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return _Lock(os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600))


def export(*, keys_dir: Path, directory: Path, out: Path) -> CheckpointLog:
    """Write every checkpoint and the public key to `out`, for an auditor to keep away from this host."""
    key = keyring.load_audit_public_key(keys_dir)
    if key is None:
        raise CheckpointFileError("there is no audit key, so no checkpoint to export yet")
    checked = read_file(checkpoint_file(directory), public_key=key.public, begun=key.checkpoints_begun)
    if checked.newest is None:
        raise CheckpointFileError("there is no checkpoint to export yet")
    header = {
        "format": EXPORT_FORMAT,
        "public_key": base64.b64encode(key.public).decode("ascii"),
        "key": key.fingerprint,
        "context": CONTEXT,
    }
    content = json.dumps(header, sort_keys=True) + "\n" + "".join(p.line() for p in checked.checkpoints)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(content, encoding="ascii")
    tmp.replace(out)
    return checked
