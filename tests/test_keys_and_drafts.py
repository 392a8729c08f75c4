"""Server key files, relay key rotation, officer keys and sealed drafts."""

from __future__ import annotations

import stat
from datetime import timedelta

import pytest
from sqlmodel import select

from bot import state as chat_state
from candour.app import open_vault
from storage import cases, casework, drafts, followup, keyring, links, officers, outbox, rotation
from storage.errors import DecryptionError, InvalidPassphraseError, KeyringError
from storage.models import ContactHandle, Draft, Officer
from storage.vault import Vault
from tests.conftest import PASSPHRASE


def test_key_files_are_private(settings, vault: Vault) -> None:
    for name in (keyring.RELAY_FILE, keyring.SERVER_FILE):
        mode = stat.S_IMODE((settings.keys_dir / name).stat().st_mode)
        assert mode == 0o600
    assert stat.S_IMODE(settings.keys_dir.stat().st_mode) == 0o700


def test_damaged_or_missing_key_files_are_named(tmp_path) -> None:
    with pytest.raises(KeyringError, match="missing"):
        keyring.load_keys(tmp_path)
    keyring.create_keys(tmp_path)
    (tmp_path / keyring.RELAY_FILE).write_text('{"active": "r9", "keys": []}')
    with pytest.raises(KeyringError, match="damaged"):
        keyring.load_keys(tmp_path)


async def test_officer_key_is_sealed_and_unlocks_only_with_passphrase(vault: Vault) -> None:
    async with vault.db.transaction() as session:
        alice = (await session.exec(select(Officer).where(Officer.login == "alice"))).one()
    unlocked = await officers.unlock(vault, login="alice", passphrase=PASSPHRASE)
    assert unlocked.private_key not in alice.sealed_private_key
    assert "private_key" not in repr(unlocked)
    for login, passphrase in (("alice", "not the passphrase"), ("nobody", PASSPHRASE)):
        with pytest.raises(InvalidPassphraseError):
            await officers.unlock(vault, login=login, passphrase=passphrase)


async def test_rotate_relay_reseals_everything(settings, vault: Vault, alice, clock) -> None:
    result = await cases.submit(
        vault, report=cases.ReportSubmission(categories=("other",), narrative="n"), contact="chat-5"
    )
    await casework.message_reporter(vault, officer=alice, reference=result.reference, text="question?")
    await drafts.save(vault, chat_ref="chat-6", state={"step": "narrative"})
    await links.redeem(vault, code=await links.create_code(vault, officer_id=alice.id), chat="chat-7")

    new_id = keyring.add_relay_key(settings.keys_dir)
    rotated = await open_vault(settings, clock=clock)
    try:
        counts = await rotation.reseal_all(rotated, keyring=rotated.keys.relay, actor="operator")
        assert (counts.contacts, counts.drafts, counts.outbox, counts.links) == (1, 1, 1, 1)
        assert keyring.retire_relay_keys(settings.keys_dir) == ["r1"]
        fresh = await open_vault(settings, clock=clock)
        try:
            assert list(fresh.keys.relay.keys) == [new_id]
            assert await cases.open_contact(fresh, case_id=result.case_id) == "chat-5"
            assert await drafts.load(fresh, chat_ref="chat-6") == {"step": "narrative"}
            assert await followup.officer_chat(fresh, officer_id=alice.id) == "chat-7"
            async with fresh.db.transaction() as session:
                pending = await outbox.pending_for_case(session, case_id=result.case_id)
                contact = await session.get(ContactHandle, result.case_id)
            message = next(e for e in pending if e.kind == outbox.REPORTER_MESSAGE)
            assert outbox.open_reporter_payload(fresh, message) == "question?"
            assert contact.key_id == new_id
        finally:
            await fresh.db.dispose()
        # The old process still holds r1 only: what was re-sealed no longer opens for it.
        with pytest.raises(DecryptionError):
            await cases.open_contact(vault, case_id=result.case_id)
    finally:
        await rotated.db.dispose()


async def test_drafts_are_sealed_resumable_and_expire(vault: Vault, clock) -> None:
    state = {"step": "where", "categories": ["bullying"], "narrative": "They said ..."}
    await drafts.save(vault, chat_ref="4503599627370497", state=state)
    assert await drafts.load(vault, chat_ref="4503599627370497") == state
    assert await drafts.load(vault, chat_ref="other-chat") is None
    async with vault.db.transaction() as session:
        row = (await session.exec(select(Draft))).one()
    assert b"4503599627370497" not in row.chat_tag and b"They said" not in row.sealed

    clock.advance(timedelta(hours=23))
    await drafts.save(vault, chat_ref="4503599627370497", state={**state, "step": "who"})  # refreshes expiry
    clock.advance(timedelta(hours=23))
    assert (await drafts.load(vault, chat_ref="4503599627370497"))["step"] == "who"
    clock.advance(timedelta(hours=2))
    assert await drafts.load(vault, chat_ref="4503599627370497") is None
    assert await drafts.purge_expired(vault) == 1
    assert await drafts.discard(vault, chat_ref="4503599627370497") is False


async def test_recovery_key_opens_new_cases(settings, vault: Vault, tmp_path, clock) -> None:
    from storage.crypto import KdfParams

    keyring.create_recovery_key(
        settings.keys_dir,
        out_file=tmp_path / "recovery.json",
        passphrase="two people hold this",
        params=KdfParams(64, 1, 1),
    )
    with_recovery = await open_vault(settings, clock=clock)
    try:
        result = await cases.submit(
            with_recovery, report=cases.ReportSubmission(categories=("other",), narrative="kept safe")
        )
        private = keyring.open_recovery_key(tmp_path / "recovery.json", passphrase="two people hold this")
        opened = await casework.open_case_with_recovery(
            with_recovery, recovery_private_key=private, reference=result.reference
        )
        assert opened.first(cases.REPORT).meta["narrative"] == "kept safe"
        with pytest.raises(InvalidPassphraseError):
            keyring.open_recovery_key(tmp_path / "recovery.json", passphrase="wrong guess here")
    finally:
        await with_recovery.db.dispose()


async def test_init_refuses_to_replace_lost_key_files(settings, vault: Vault) -> None:
    import shutil

    from candour.app import initialise

    shutil.rmtree(settings.keys_dir)
    with pytest.raises(KeyringError, match="restore the keys directory"):
        await initialise(settings, admin=None)
    assert not settings.keys_dir.exists()


def test_argon2_settings_cannot_make_unopenable_keys(settings_factory) -> None:
    from pydantic import ValidationError

    for bad in (
        {"argon2_iterations": 65},
        {"argon2_lanes": 65},
        {"argon2_lanes": 4, "argon2_memory_kib": 16},
    ):
        with pytest.raises(ValidationError):
            settings_factory(**bad)


async def test_two_writers_of_a_chat_state_lose_nothing(vault: Vault) -> None:
    """The bot handling a chat and a dispatcher in another process adding a check-in to its wipe list: the
    later save sees the conflict and keeps the other's message id; a wipe keeps only what came after it."""
    first = await chat_state.load(vault, 777)
    first.start("report", "narrative")
    first.remember(11, vault.clock.now())
    await chat_state.save(vault, 777, first)

    bot_side, dispatcher_side = await chat_state.load(vault, 777), await chat_state.load(vault, 777)
    dispatcher_side.remember(99, vault.clock.now())
    await chat_state.save(vault, 777, dispatcher_side)
    bot_side.narrative.append("It happened again.")
    bot_side.remember(12, vault.clock.now())
    await chat_state.save(vault, 777, bot_side)
    merged = await chat_state.load(vault, 777)
    assert merged.trail == [11, 12, 99] and merged.narrative == ["It happened again."]

    wiper, dispatcher_side = await chat_state.load(vault, 777), await chat_state.load(vault, 777)
    dispatcher_side.remember(100, vault.clock.now())
    await chat_state.save(vault, 777, dispatcher_side)
    wiper.trail = []  # /wipe deleted everything it knew of
    wiper.reset()
    await chat_state.save(vault, 777, wiper)
    assert (await chat_state.load(vault, 777)).trail == [100]
