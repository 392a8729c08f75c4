"""A checkpoint file deleted or emptied is a checkpoint problem, not a fresh start (issue 9 point 6,
review): after the insider's rewrite, unlinking the file must not make `candour audit verify` say
"intact" and sign the rewrite. Only `candour audit checkpoint start-anew` starts a new file, and it says
so in the audit log. Verification needs the public key only. Every vault test runs on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from sqlmodel import col, select

from candour.settings import Settings
from storage import checkpoints, keyring
from storage.errors import KeyringError
from storage.models import AuditEntry
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.desk_world import DeskClient
from tests.test_audit_checkpoints import (
    _cases_opened,
    _cli,
    _entries,
    _local_file,
    _rewrite_without,
    _verify,
    _write,
    auditor,
)

__all__ = ["auditor"]  # the fixture, imported for the desk test


async def _timer_once(vault: Vault, settings: Settings) -> None:
    stop = asyncio.Event()
    stop.set()
    await checkpoints.keep_checkpointing(
        vault, keys_dir=settings.keys_dir, directory=settings.checkpoint_dir, interval=60, stop=stop
    )


async def test_the_rewrite_with_the_checkpoint_file_deleted_fails_and_nothing_is_signed(
    vault: Vault,
    settings: Settings,
    alice: UnlockedOfficer,
    auditor: DeskClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _cases_opened(vault, alice, 7)
    assert await _write(vault, settings) is not None
    await _rewrite_without(vault, "case.opened", 5)
    _local_file(settings).unlink()  # the anchor, gone

    result = _cli(settings, "audit", "verify")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "intact" not in result.stdout and "signed checkpoint" not in result.stdout
    assert "audit checkpoints BROKEN" in result.stderr
    assert f"{_local_file(settings)} is missing" in result.stderr
    assert "candour audit checkpoint start-anew" in result.stderr
    assert not _local_file(settings).exists()  # nothing was signed over the rewrite

    await _timer_once(vault, settings)
    assert not _local_file(settings).exists()
    assert "audit checkpoint not written" in caplog.text
    with pytest.raises(checkpoints.CheckpointFileError, match="is missing"):
        await _write(vault, settings)

    chain = (await auditor.get("/api/audit/verify")).json()
    assert chain["ok"] is False and "is missing" in chain["checkpoint_problem"]
    page = (await auditor.get("/audit")).text
    assert "Checkpoints BROKEN" in page


async def test_an_emptied_checkpoint_file_fails(
    vault: Vault, settings: Settings, alice: UnlockedOfficer
) -> None:
    await _cases_opened(vault, alice, 2)
    await _write(vault, settings)
    await _cases_opened(vault, alice, 1)
    _local_file(settings).write_text("")

    result = await _verify(vault, settings)
    assert not result.ok and "is empty" in result.problem
    with pytest.raises(checkpoints.CheckpointFileError, match="is empty"):
        await _write(vault, settings)
    await _timer_once(vault, settings)
    assert _local_file(settings).read_text() == ""


async def test_start_anew_is_explicit_and_audited(
    vault: Vault, settings: Settings, alice: UnlockedOfficer
) -> None:
    # Nothing lost: start-anew refuses and changes nothing.
    await _cases_opened(vault, alice, 2)
    refused = _cli(settings, "audit", "checkpoint", "start-anew")
    assert refused.returncode != 0 and not _local_file(settings).exists()
    await _write(vault, settings)
    kept = _local_file(settings).read_text()
    refused = _cli(settings, "audit", "checkpoint", "start-anew")
    assert refused.returncode != 0 and "holds 1 checkpoint" in refused.stderr
    assert _local_file(settings).read_text() == kept

    _local_file(settings).unlink()
    before = len(await _entries(vault))
    started = _cli(settings, "audit", "checkpoint", "start-anew")
    assert started.returncode == 0, started.stderr
    rows = await _entries(vault)
    assert len(rows) == before + 1
    restart = rows[-1]
    assert restart.action == "audit.checkpoints-restarted" and restart.actor == "operator"
    assert restart.detail == {
        "file": "missing",
        "key": keyring.load_audit_public_key(settings.keys_dir).fingerprint,
    }
    assert f"signed checkpoint 1 (entry {restart.seq})" in started.stdout
    lines = [json.loads(line) for line in _local_file(settings).read_text().splitlines()]
    assert [(line["n"], line["from_seq"], line["seq"]) for line in lines] == [(1, 1, restart.seq)]
    result = await _verify(vault, settings)
    assert result.ok and result.against[0].n == 1

    again = _cli(settings, "audit", "checkpoint", "start-anew")
    assert again.returncode != 0
    async with vault.db.reading() as session:
        restarts = (
            await session.exec(
                select(AuditEntry).where(col(AuditEntry.action) == "audit.checkpoints-restarted")
            )
        ).all()
    assert len(restarts) == 1


async def test_a_key_that_never_signed_starts_the_file_without_complaint(
    vault: Vault, settings: Settings, alice: UnlockedOfficer
) -> None:
    await _cases_opened(vault, alice, 1)
    assert not _local_file(settings).exists()
    fresh = await _verify(vault, settings)
    assert fresh.ok and fresh.against == ()
    assert not keyring.load_audit_public_key(settings.keys_dir).checkpoints_begun
    point = await _write(vault, settings)
    assert point is not None and point.n == 1
    assert keyring.load_audit_public_key(settings.keys_dir).checkpoints_begun
    assert keyring.load_audit_key(settings.keys_dir).checkpoints_begun


async def test_verification_needs_only_the_public_key(
    vault: Vault, settings: Settings, alice: UnlockedOfficer
) -> None:
    await _cases_opened(vault, alice, 2)
    point = await _write(vault, settings)
    assert point is not None
    private = settings.keys_dir / keyring.AUDIT_SIGNING_FILE
    public = settings.keys_dir / keyring.AUDIT_PUBLIC_FILE
    assert public.exists() and "private" not in json.loads(public.read_text())

    # The desk's host holds only the public key: verification still checks every checkpoint.
    held = private.read_bytes()
    private.unlink()
    result = await _verify(vault, settings)
    assert result.ok and [(a.n, a.key) for a in result.against] == [(1, point.key)]
    private.write_bytes(held)
    private.chmod(0o600)

    # An installation with only the private key file gets the public file on first use.
    public.unlink()
    result = await _verify(vault, settings)
    assert result.ok and result.against[0].key == point.key
    written = json.loads(public.read_text())
    assert written["checkpoints_begun"] is True and "private" not in written


async def test_key_files_from_before_the_record_get_it_from_the_file_they_signed(
    vault: Vault, settings: Settings, alice: UnlockedOfficer
) -> None:
    """Key files written before `checkpoints_begun` existed, beside a file that holds checkpoints: the
    next checkpoint records it, so a later loss of the file is caught."""
    await _cases_opened(vault, alice, 1)
    await _write(vault, settings)
    for name in (keyring.AUDIT_SIGNING_FILE, keyring.AUDIT_PUBLIC_FILE):
        path = settings.keys_dir / name
        doc = json.loads(path.read_text())
        doc.pop("checkpoints_begun", None)
        path.write_text(json.dumps(doc))
    (settings.keys_dir / keyring.AUDIT_PUBLIC_FILE).unlink()  # as before the public file existed
    await _cases_opened(vault, alice, 1)
    point = await _write(vault, settings)
    assert point is not None and point.n == 2
    assert keyring.load_audit_public_key(settings.keys_dir).checkpoints_begun
    _local_file(settings).unlink()
    result = await _verify(vault, settings)
    assert not result.ok and "is missing" in result.problem


async def test_a_public_file_of_another_key_stops_signing(
    vault: Vault, settings: Settings, alice: UnlockedOfficer
) -> None:
    await _cases_opened(vault, alice, 1)
    public = settings.keys_dir / keyring.AUDIT_PUBLIC_FILE
    doc = json.loads(public.read_text())
    other = keyring.AuditPublicKey(public=bytes(32), checkpoints_begun=False)
    doc["public"] = base64.b64encode(other.public).decode()
    public.write_text(json.dumps(doc))
    with pytest.raises(KeyringError, match="holds another key"):
        await _write(vault, settings)
    assert not _local_file(settings).exists()
