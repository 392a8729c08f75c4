"""Signed audit checkpoints kept outside the database (issue 9 point 6): an insider who can write the
database drops the triggers, deletes entries and re-hashes the chain with the module's own hash function,
or cuts off the tail. The chain alone still verifies after that; against the newest signed checkpoint,
`candour audit verify` (run as the CLI) and the desk fail and name the first entry that no longer matches.
Every vault test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert, text
from sqlmodel import col, select

from candour.app import desk_config
from candour.settings import Settings
from desk.app import build_app
from storage import audit, cases, casework, checkpoints, crypto, keyring
from storage.clock import ManualClock
from storage.models import AuditEntry
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.desk_world import DeskClient, client_for, enrol, give_password
from tests.test_audit import _drop_triggers

CANDOUR = Path(sys.executable).parent / "candour"


# --- how the insider works, and how the operator looks --------------------------------------------


async def _cases_opened(vault: Vault, alice: UnlockedOfficer, n: int) -> None:
    """n reports, each opened by alice: n `case.submitted` and n `case.opened` entries, interleaved."""
    for index in range(n):
        result = await cases.submit(
            vault, report=cases.ReportSubmission(categories=("other",), narrative=f"report {index}")
        )
        await casework.open_case(vault, officer=alice, reference=result.reference)


async def _entries(vault: Vault) -> list[AuditEntry]:
    async with vault.db.reading() as session:
        rows = list((await session.exec(select(AuditEntry).order_by(col(AuditEntry.seq)))).all())
        session.expunge_all()
    return rows


async def _rewrite_without(vault: Vault, action: str, count: int) -> int:
    """The attack: drop the triggers, delete `count` entries of `action`, renumber and re-hash the rest with
    the module's own hash function, so that the chain holds again. Returns the first sequence number
    whose entry is no longer the one that was there."""
    await _drop_triggers(vault)
    rows = await _entries(vault)
    doomed = [row.seq for row in rows if row.action == action][:count]
    assert len(doomed) == count
    kept = [row for row in rows if row.seq not in doomed]
    rebuilt, prev = [], audit.GENESIS
    for seq, row in enumerate(kept, start=1):
        digest = audit.entry_hash(
            prev_hash=prev,
            seq=seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            case_id=row.case_id,
            detail=row.detail,
        )
        rebuilt.append(
            {
                "seq": seq,
                "at": row.at,
                "actor": row.actor,
                "action": row.action,
                "case_id": row.case_id,
                "detail": row.detail,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    async with vault.db.transaction() as session:
        await session.exec(delete(AuditEntry))
        await session.exec(insert(AuditEntry).values(rebuilt))
    return doomed[0]


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`candour` as the operator runs it, on this test's installation."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_")}
    env.update(
        {
            "CANDOUR_DATA_DIR": str(settings.data_dir),
            "CANDOUR_KEYS_DIR": str(settings.keys_dir),
            "CANDOUR_ARGON2_MEMORY_KIB": "64",
            "CANDOUR_ARGON2_ITERATIONS": "1",
            "CANDOUR_ARGON2_LANES": "1",
        }
    )
    if settings.database_url:
        env["CANDOUR_DATABASE_URL"] = settings.database_url
    result = subprocess.run(
        [str(CANDOUR), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


async def _write(vault: Vault, settings: Settings) -> checkpoints.Checkpoint | None:
    return await checkpoints.write(vault, keys_dir=settings.keys_dir, directory=settings.checkpoint_dir)


async def _verify(vault: Vault, settings: Settings, *exports: Path) -> checkpoints.Verification:
    return await checkpoints.verify(
        vault, keys_dir=settings.keys_dir, directory=settings.checkpoint_dir, exports=exports
    )


def _local_file(settings: Settings) -> Path:
    return checkpoints.checkpoint_file(settings.checkpoint_dir)


@pytest.fixture
async def auditor(vault: Vault, settings: Settings, clock: ManualClock) -> AsyncIterator[DeskClient]:
    """alice (every role, auditor included) signed in to the desk."""
    app: FastAPI = build_app(vault, desk_config(settings))
    await give_password(vault, "alice")
    client = client_for(app)
    assert (await client.sign_in("alice")).status_code == 200
    await enrol(vault, client, clock)
    yield client
    await client.http.aclose()


# --- the rewrite of the finding ---------------------------------------------------------------------


async def test_the_rewrite_of_the_finding_fails_in_the_cli_and_on_the_desk(
    vault: Vault, settings: Settings, alice: UnlockedOfficer, auditor: DeskClient
) -> None:
    await _cases_opened(vault, alice, 7)
    point = await _write(vault, settings)
    assert point is not None and point.n == 1
    await _cases_opened(vault, alice, 1)  # after the checkpoint: the chain alone protects these

    first_changed = await _rewrite_without(vault, "case.opened", 5)

    # What the finding saw: the chain on its own is intact again.
    async with vault.db.reading() as session:
        assert (await audit.verify(session)).ok

    result = _cli(settings, "audit", "verify")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "intact" not in result.stdout
    assert result.stderr.startswith(
        f"audit log BROKEN at entry {first_changed}: it no longer matches checkpoint 1"
    )
    assert f"checked against checkpoint 1 (entry {point.seq}" in result.stderr
    assert f"key {point.key}" in result.stderr
    assert len(_local_file(settings).read_text().splitlines()) == 1  # nothing was signed over the rewrite

    chain = (await auditor.get("/api/audit/verify")).json()
    assert chain["ok"] is False and chain["first_broken"] == first_changed
    assert chain["checked_against"] == [
        {
            "source": checkpoints.FILE_NAME,
            "checkpoint": 1,
            "entry": point.seq,
            "hour": point.at.isoformat().replace("+00:00", "Z"),
            "key": point.key,
        }
    ]
    page = (await auditor.get("/audit")).text
    assert f"Chain BROKEN at entry {first_changed}" in page and "Chain verified" not in page
    assert f"signed checkpoint 1 (entry {point.seq}" in page


async def test_the_checkpoint_timer_signs_nothing_over_a_rewrite(
    vault: Vault, settings: Settings, alice: UnlockedOfficer, caplog: pytest.LogCaptureFixture
) -> None:
    await _cases_opened(vault, alice, 6)
    await _write(vault, settings)
    before = _local_file(settings).read_bytes()
    first_changed = await _rewrite_without(vault, "case.opened", 5)
    await _cases_opened(vault, alice, 1)  # the log grew: the timer would checkpoint it
    with pytest.raises(checkpoints.AuditBrokenError, match=f"entry {await _checkpointed_seq(settings)}"):
        await _write(vault, settings)
    stop = asyncio.Event()
    stop.set()
    await checkpoints.keep_checkpointing(
        vault, keys_dir=settings.keys_dir, directory=settings.checkpoint_dir, interval=60, stop=stop
    )
    assert _local_file(settings).read_bytes() == before
    assert "no checkpoint was signed" in caplog.text
    assert (await _verify(vault, settings)).chain.first_broken == first_changed


async def _checkpointed_seq(settings: Settings) -> int:
    return int(json.loads(_local_file(settings).read_text().splitlines()[-1])["seq"])


async def test_a_cut_off_tail_fails(vault: Vault, settings: Settings, alice: UnlockedOfficer) -> None:
    await _cases_opened(vault, alice, 3)
    point = await _write(vault, settings)
    assert point is not None
    await _drop_triggers(vault)
    async with vault.db.transaction() as session:
        await session.exec(text(f"DELETE FROM audit_log WHERE seq > {point.seq - 3}"))
    async with vault.db.reading() as session:
        assert (await audit.verify(session)).ok  # the shorter chain holds on its own

    result = await _verify(vault, settings)
    assert not result.ok and result.chain.first_broken == point.seq - 2
    assert f"the log ends at entry {point.seq - 3}, but checkpoint 1" in result.chain.reason
    assert f"covers up to {point.seq}" in result.chain.reason
    with pytest.raises(checkpoints.AuditBrokenError, match=f"entry {point.seq}: it is missing"):
        await _write(vault, settings)


# --- the checkpoint file itself ---------------------------------------------------------------------


async def test_an_edited_or_forged_checkpoint_file_fails(
    vault: Vault, settings: Settings, alice: UnlockedOfficer
) -> None:
    await _cases_opened(vault, alice, 2)
    await _write(vault, settings)
    await _cases_opened(vault, alice, 2)
    await _write(vault, settings)
    path = _local_file(settings)
    honest = path.read_text()
    assert (await _verify(vault, settings)).ok

    # Edited: the newest checkpoint moved back, as if the log had been shorter (to hide a cut-off tail).
    lines = honest.splitlines()
    doc = json.loads(lines[1])
    doc["seq"], doc["hashes"] = doc["seq"] - 1, doc["hashes"][:-1]
    path.write_text(lines[0] + "\n" + json.dumps(doc) + "\n")
    result = await _verify(vault, settings)
    assert not result.ok and "line 2: the signature of checkpoint 2 does not verify" in result.problem

    # Forged: signed with a key of the forger's own, over a rewritten log.
    path.write_text(honest)
    await _rewrite_without(vault, "case.opened", 2)
    forger = keyring.AuditSigningKey(private=crypto.new_signing_key(), public=b"")
    forger = keyring.AuditSigningKey(private=forger.private, public=crypto.signing_public_key(forger.private))
    forged = _forge(await _entries(vault), forger)
    path.write_text(forged.line())
    result = await _verify(vault, settings)
    assert not result.ok and "the signature of checkpoint 1 does not verify" in result.problem

    # Removed: the first checkpoint's line taken out of the file.
    path.write_text(honest.splitlines()[1] + "\n")
    result = await _verify(vault, settings)
    assert (
        "checkpoint 2 covers entries from" in result.problem and "checkpoint 1 from entry 1" in result.problem
    )


def _forge(rows: list[AuditEntry], key: keyring.AuditSigningKey) -> checkpoints.Checkpoint:
    return checkpoints.signed(
        key,
        n=1,
        seq=rows[-1].seq,
        head=rows[-1].hash,
        at=datetime(2026, 1, 5, 10, tzinfo=UTC),
        from_seq=1,
        hashes=tuple(row.hash[: checkpoints.SHORT] for row in rows),
    )


async def test_an_export_catches_an_insider_who_holds_the_keys_too(
    vault: Vault, settings: Settings, alice: UnlockedOfficer, tmp_path: Path
) -> None:
    """Database and keys directory both in the insider's hands: they rewrite the log, make a new key and
    a fresh checkpoint file. The export an auditor kept elsewhere still tells."""
    await _cases_opened(vault, alice, 6)
    exported = tmp_path / "auditor" / "checkpoints.jsonl"
    exported.parent.mkdir()
    honest = _cli(settings, "audit", "checkpoint", "export", "--out", str(exported))
    assert honest.returncode == 0, honest.stderr
    entries = len(await _entries(vault))
    assert f"exported 1 checkpoints (newest: checkpoint 1, entry {entries})" in honest.stdout
    header = json.loads(exported.read_text().splitlines()[0])
    original_key = keyring.load_audit_key(settings.keys_dir)
    assert base64.b64decode(header["public_key"]) == original_key.public
    assert header["key"] == original_key.fingerprint

    first_changed = await _rewrite_without(vault, "case.opened", 5)
    (settings.keys_dir / keyring.AUDIT_SIGNING_FILE).unlink()
    (settings.keys_dir / keyring.AUDIT_PUBLIC_FILE).unlink()
    _local_file(settings).unlink()
    await _write(vault, settings)  # a new key and a checkpoint over the rewritten log
    assert (await _verify(vault, settings)).ok  # on this host alone, all looks well

    result = _cli(settings, "audit", "verify", "--checkpoint-file", str(exported))
    assert result.returncode == 2
    assert (
        f"is signed by key {original_key.fingerprint}, but this installation's audit key is" in result.stderr
    )

    # Even with the installation's key put back as it was, the export names the first changed entry.
    keyring_file = settings.keys_dir / keyring.AUDIT_SIGNING_FILE
    keyring_file.unlink()
    (settings.keys_dir / keyring.AUDIT_PUBLIC_FILE).unlink()  # made again from the private key
    keyring_file.write_text(
        json.dumps(
            {
                "private": base64.b64encode(original_key.private).decode(),
                "public": base64.b64encode(original_key.public).decode(),
            }
        )
    )
    _local_file(settings).unlink()
    result = await _verify(vault, settings, exported)
    assert result.chain.first_broken == first_changed
    assert f"checkpoint 1 in {exported}" in result.chain.reason


# --- the honest path ---------------------------------------------------------------------------------


async def test_an_honest_log_verifies_and_says_against_what(
    vault: Vault, settings: Settings, alice: UnlockedOfficer, clock: ManualClock, tmp_path: Path
) -> None:
    await _cases_opened(vault, alice, 2)
    clock.current = clock.current.replace(minute=37, second=12)
    point = await _write(vault, settings)
    entries = len(await _entries(vault))
    assert point is not None and (point.n, point.from_seq, point.seq) == (1, 1, entries)
    # Like every stored time: the hour, so a checkpoint dates no entry more finely than the log does.
    assert point.at == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert await _write(vault, settings) is None  # nothing new, nothing appended

    await _cases_opened(vault, alice, 1)
    second = _cli(settings, "audit", "verify")
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(f"audit log intact: {entries + 2} entries, head ")
    assert (
        f"checked against checkpoint 1 (entry {entries}, signed in the hour from 2026-01-05 10:00 UTC, "
        f"key {point.key}) in {_local_file(settings)}" in second.stdout
    )
    assert f"signed checkpoint 2 (entry {entries + 2}) into {_local_file(settings)}" in second.stdout

    out = tmp_path / "export.jsonl"
    exported = _cli(settings, "audit", "checkpoint", "export", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert f"exported 2 checkpoints (newest: checkpoint 2, entry {entries + 2})" in exported.stdout
    with_export = await _verify(vault, settings, out)
    assert with_export.ok and [(a.source, a.n) for a in with_export.against] == [
        (str(_local_file(settings)), 2),
        (str(out), 2),
    ]
    assert stat.S_IMODE(_local_file(settings).stat().st_mode) == 0o600


async def test_the_timer_checkpoints_at_start_on_its_interval_and_on_a_clean_stop(
    vault: Vault, settings: Settings, alice: UnlockedOfficer
) -> None:
    await _cases_opened(vault, alice, 1)
    stop = asyncio.Event()
    timer = asyncio.create_task(
        checkpoints.keep_checkpointing(
            vault, keys_dir=settings.keys_dir, directory=settings.checkpoint_dir, interval=0.2, stop=stop
        )
    )
    for _ in range(100):
        await asyncio.sleep(0.05)
        if _local_file(settings).exists():
            break
    await _cases_opened(vault, alice, 1)
    for _ in range(100):
        await asyncio.sleep(0.05)
        if len(_local_file(settings).read_text().splitlines()) == 2:
            break
    await _cases_opened(vault, alice, 1)
    stop.set()
    await timer
    lines = [json.loads(line) for line in _local_file(settings).read_text().splitlines()]
    entries = len(await _entries(vault))
    assert [line["n"] for line in lines] == [1, 2, 3] and lines[-1]["seq"] == entries
    assert (await _verify(vault, settings)).ok


async def test_an_installation_from_before_checkpoints_gets_a_key_and_a_first_checkpoint(
    vault: Vault, settings: Settings, alice: UnlockedOfficer
) -> None:
    await _cases_opened(vault, alice, 2)
    # As installed before this change: no audit key, no checkpoint file.
    (settings.keys_dir / keyring.AUDIT_SIGNING_FILE).unlink()
    (settings.keys_dir / keyring.AUDIT_PUBLIC_FILE).unlink()
    assert not _local_file(settings).exists()
    result = await _verify(vault, settings)
    assert result.ok and result.against == ()  # no key yet is not a failure

    upgraded = _cli(settings, "audit", "verify")
    assert upgraded.returncode == 0, upgraded.stderr
    entries = len(await _entries(vault))
    assert "no signed checkpoint yet" in upgraded.stdout
    assert f"signed checkpoint 1 (entry {entries})" in upgraded.stdout
    key_file = settings.keys_dir / keyring.AUDIT_SIGNING_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (await _verify(vault, settings)).against[0].n == 1


async def test_a_new_installation_has_its_audit_key_with_the_server_keys(
    vault: Vault, settings: Settings
) -> None:
    key = keyring.load_audit_key(settings.keys_dir)
    assert not keyring.create_audit_key(settings.keys_dir)  # never replaced
    assert keyring.load_audit_key(settings.keys_dir) == key
    async with vault.db.reading() as session:
        rows = [
            row
            for table in ("audit_log", "officers")
            for row in (await session.exec(text(f"SELECT * FROM {table}"))).all()
        ]
    dumped = " ".join(str(value) for row in rows for value in row)
    for secret in (key.private, key.public):
        assert base64.b64encode(secret).decode() not in dumped and secret.hex() not in dumped


def test_a_signature_binds_its_context() -> None:
    private = crypto.new_signing_key()
    public = crypto.signing_public_key(private)
    signature = crypto.sign(b"seq 7", private_key=private, context=checkpoints.CONTEXT)
    assert crypto.signature_valid(b"seq 7", signature, public_key=public, context=checkpoints.CONTEXT)
    assert not crypto.signature_valid(b"seq 7", signature, public_key=public, context="audit-checkpoint/v2")
    assert not crypto.signature_valid(b"seq 8", signature, public_key=public, context=checkpoints.CONTEXT)
    other = crypto.signing_public_key(crypto.new_signing_key())
    assert not crypto.signature_valid(b"seq 7", signature, public_key=other, context=checkpoints.CONTEXT)


async def test_a_line_cut_short_by_a_crash_is_skipped_and_the_next_append_starts_afresh(
    vault: Vault, settings: Settings, alice: UnlockedOfficer
) -> None:
    await _cases_opened(vault, alice, 1)
    await _write(vault, settings)
    whole = _local_file(settings).read_text()
    with _local_file(settings).open("a") as handle:
        handle.write(whole[: len(whole) // 2])  # a second line that never got its end
    assert (await _verify(vault, settings)).ok
    await _cases_opened(vault, alice, 1)
    point = await _write(vault, settings)
    assert point is not None and point.n == 2
    result = await _verify(vault, settings)
    assert result.ok and result.against[0].n == 2
