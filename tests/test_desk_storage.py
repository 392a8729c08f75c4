"""The vault side of the desk on both engines: sign-in with lockout and TOTP, the keyset-paged queue
(only cases the officer holds a key for), assignment rules, opening one file, and relay rotation of
TOTP secrets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from candour.app import open_vault
from storage import case_desk, cases, casework, crypto, desk_accounts, keyring, queue_view, rotation
from storage.errors import CannotWorkError, InputError, NotFoundError, NotPermittedError
from storage.models import AuditEntry, DeskAccount
from storage.vault import Vault

PASSWORD = "desk password for tests"
RULE = desk_accounts.LockoutRule(threshold=3, duration=timedelta(minutes=15))


def report(**overrides) -> cases.ReportSubmission:
    values = {"categories": ("bullying",), "narrative": "My sergeant humiliates me in briefings."}
    values.update(overrides)
    return cases.ReportSubmission(**values)


async def _actions(vault: Vault) -> list[str]:
    async with vault.db.reading() as session:
        return list((await session.exec(select(AuditEntry.action).order_by(col(AuditEntry.seq)))).all())


async def test_sign_in_locks_out_after_failures_and_unlocks_later(vault: Vault, clock) -> None:
    await desk_accounts.set_password(vault, login="alice", password=PASSWORD)
    signed = await desk_accounts.sign_in(vault, login="alice", password=PASSWORD, code=None, rule=RULE)
    assert signed.login == "alice" and "queue-lead" in signed.roles and not signed.totp_enrolled

    for login, password in (("alice", "wrong password here"), ("nobody", PASSWORD)):
        with pytest.raises(desk_accounts.SignInRefusedError, match="wrong login, password or code"):
            await desk_accounts.sign_in(vault, login=login, password=password, code=None, rule=RULE)
    for _ in range(2):
        with pytest.raises(desk_accounts.SignInRefusedError):
            await desk_accounts.sign_in(vault, login="alice", password="wrong again!!", code=None, rule=RULE)
    # Backing off now: even the right password gets the one answer until the wait ends.
    with pytest.raises(desk_accounts.SignInRefusedError, match="too many attempts"):
        await desk_accounts.sign_in(vault, login="alice", password=PASSWORD, code=None, rule=RULE)
    assert "desk.backing-off" in await _actions(vault)
    clock.advance(timedelta(minutes=16))
    assert (await desk_accounts.sign_in(vault, login="alice", password=PASSWORD, code=None, rule=RULE)).login


async def test_short_password_is_refused_and_nothing_stored(vault: Vault) -> None:
    with pytest.raises(InputError, match="at least 12"):
        await desk_accounts.set_password(vault, login="alice", password="short")
    async with vault.db.reading() as session:
        assert (await session.exec(select(DeskAccount))).all() == []


async def test_totp_enrolment_and_no_replay(vault: Vault, clock) -> None:
    enrolment = await desk_accounts.set_password(vault, login="alice", password=PASSWORD)
    assert enrolment is not None
    signed = await desk_accounts.sign_in(vault, login="alice", password=PASSWORD, code=None, rule=RULE)
    secret = desk_accounts.new_totp_secret()
    with pytest.raises(InputError, match="does not match"):
        await desk_accounts.enrol_totp(
            vault, officer_id=signed.officer_id, secret=secret, code="000000x", enrolment_code=enrolment
        )
    code = crypto.totp_code(secret, at=clock.now().timestamp())
    await desk_accounts.enrol_totp(
        vault, officer_id=signed.officer_id, secret=secret, code=code, enrolment_code=enrolment
    )
    assert desk_accounts.totp_uri(secret, login="alice").startswith("otpauth://totp/")

    # The code used to enrol cannot sign in: it has been seen.
    with pytest.raises(desk_accounts.SignInRefusedError):
        await desk_accounts.sign_in(vault, login="alice", password=PASSWORD, code=code, rule=RULE)
    clock.advance(timedelta(seconds=30))
    fresh = crypto.totp_code(secret, at=clock.now().timestamp())
    with pytest.raises(desk_accounts.SignInRefusedError):
        await desk_accounts.sign_in(vault, login="alice", password=PASSWORD, code=None, rule=RULE)
    assert (
        await desk_accounts.sign_in(vault, login="alice", password=PASSWORD, code=fresh, rule=RULE)
    ).totp_enrolled
    with pytest.raises(desk_accounts.SignInRefusedError):
        await desk_accounts.sign_in(vault, login="alice", password=PASSWORD, code=fresh, rule=RULE)
    async with vault.db.reading() as session:
        account = (await session.exec(select(DeskAccount))).one()
    assert secret not in account.totp_sealed
    assert await desk_accounts.reset_totp(vault, login="alice")


async def test_rotation_reseals_totp_secrets(settings, vault: Vault, clock) -> None:
    enrolment = await desk_accounts.set_password(vault, login="alice", password=PASSWORD)
    assert enrolment is not None
    signed = await desk_accounts.sign_in(vault, login="alice", password=PASSWORD, code=None, rule=RULE)
    secret = desk_accounts.new_totp_secret()
    await desk_accounts.enrol_totp(
        vault,
        officer_id=signed.officer_id,
        secret=secret,
        code=crypto.totp_code(secret, at=clock.now().timestamp()),
        enrolment_code=enrolment,
    )
    new_id = keyring.add_relay_key(settings.keys_dir)
    rotated = await open_vault(settings, clock=clock)
    try:
        counts = await rotation.reseal_all(rotated, keyring=rotated.keys.relay, actor="operator")
        assert counts.totp == 1
        keyring.retire_relay_keys(settings.keys_dir)
    finally:
        await rotated.db.dispose()
    fresh = await open_vault(settings, clock=clock)
    try:
        clock.advance(timedelta(minutes=1))
        code = crypto.totp_code(secret, at=clock.now().timestamp())
        assert await desk_accounts.sign_in(fresh, login="alice", password=PASSWORD, code=code, rule=RULE)
        async with fresh.db.reading() as session:
            assert (await session.exec(select(DeskAccount))).one().totp_key_id == new_id
    finally:
        await fresh.db.dispose()


async def test_queue_lists_only_entitled_cases_with_keyset_pages(
    vault: Vault, make_officer, alice, clock
) -> None:
    carol = await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    dave = await make_officer("dave", queues=("psd-counter-corruption",), unit="professional-standards")
    refs = []
    for index in range(7):
        # Several cases share one coarse hour: the id breaks ties so no row is skipped or repeated.
        if index % 3 == 0:
            clock.advance(timedelta(hours=1))
        refs.append((await cases.submit(vault, report=report(risk_of_harm=index == 0))).reference)

    seen, cursor = [], None
    while True:
        page = await queue_view.page(vault, officer_id=carol.id, cursor=cursor, limit=3)
        seen.extend(row.reference for row in page.rows)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(refs) and len(seen) == len(set(seen))
    # Newest first when asked (the default puts urgent and overdue cases first: storage/queue_view.py).
    newest = await queue_view.page(vault, officer_id=carol.id, limit=50, sort="received-desc")
    received = list(newest.rows)
    assert [r.received_at for r in received] == sorted((r.received_at for r in received), reverse=True)

    assert (await queue_view.page(vault, officer_id=dave.id)).rows == ()
    by_ref = await queue_view.page(
        vault, officer_id=carol.id, filters=queue_view.QueueFilter(reference=refs[4])
    )
    assert [r.reference for r in by_ref.rows] == [refs[4]]
    assert (
        await queue_view.page(vault, officer_id=carol.id, filters=queue_view.QueueFilter(category="racism"))
    ).rows == ()
    bullying = await queue_view.page(
        vault, officer_id=carol.id, filters=queue_view.QueueFilter(category="bullying")
    )
    assert len(bullying.rows) == 7

    await casework.change_status(vault, officer=alice, reference=refs[2], status="acknowledged")
    acked = await queue_view.page(
        vault, officer_id=carol.id, filters=queue_view.QueueFilter(status="acknowledged")
    )
    assert [r.reference for r in acked.rows] == [refs[2]]
    row = acked.rows[0]
    assert row.ack_state(clock.now(), timedelta(days=2)) == "done"
    first = (await queue_view.page(vault, officer_id=carol.id, sort="ack-due", limit=1)).rows[0]
    assert first.ack_state(first.ack_due_at + timedelta(hours=1), timedelta(days=2)) == "overdue"
    assert first.ack_state(first.ack_due_at - timedelta(days=1), timedelta(days=2)) == "due-soon"

    await cases.add_from_reporter(
        vault,
        case_id=(await casework.open_case(vault, officer=alice, reference=refs[1])).id,
        kind=cases.REPORTER_MESSAGE,
        text="More happened.",
    )
    flagged = {r.reference: r.new_message for r in received}
    assert not any(flagged.values())
    again = {r.reference: r.new_message for r in (await queue_view.page(vault, officer_id=carol.id)).rows}
    assert again[refs[1]] and not again[refs[0]]


async def test_queue_refuses_bad_filters_and_foreign_cursors(vault: Vault, alice) -> None:
    for bad in (
        {"filters": queue_view.QueueFilter(status="lost")},
        {"filters": queue_view.QueueFilter(priority="extreme")},
        {"filters": queue_view.QueueFilter(category="%")},
        {"filters": queue_view.QueueFilter(reference="CN-'; drop")},
        {"sort": "random"},
        {"limit": 0},
        {"cursor": "not-a-cursor"},
    ):
        with pytest.raises(InputError):
            await queue_view.page(vault, officer_id=alice.id, **bad)
    for index in range(2):
        await cases.submit(vault, report=report(narrative=f"report {index}"))
    page = await queue_view.page(vault, officer_id=alice.id, limit=1)
    with pytest.raises(InputError, match="another sort"):
        await queue_view.page(vault, officer_id=alice.id, sort="ack-due", cursor=page.next_cursor)


async def test_assignment_rules(vault: Vault, make_officer, alice) -> None:
    carol = await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    erin = await make_officer("erin", queues=("psd-conduct",), unit="professional-standards")
    dave = await make_officer("dave", queues=("psd-counter-corruption",), unit="professional-standards")
    ref = (await cases.submit(vault, report=report())).reference

    assert await case_desk.assign(vault, officer=carol, reference=ref, login="carol") == "carol"
    with pytest.raises(NotPermittedError):
        await case_desk.assign(vault, officer=carol, reference=ref, login="erin")
    with pytest.raises(NotPermittedError):
        await case_desk.assign(vault, officer=erin, reference=ref, login=None)  # not hers to give up
    with pytest.raises(NotFoundError, match="that you can open"):
        await case_desk.assign(vault, officer=dave, reference=ref, login="dave")
    with pytest.raises(CannotWorkError, match="grant it to them first"):
        await case_desk.assign(vault, officer=alice, reference=ref, login="dave")
    assert await case_desk.assign(vault, officer=alice, reference=ref, login="erin") == "erin"
    page = await queue_view.page(
        vault, officer_id=erin.id, filters=queue_view.QueueFilter(assigned_to_me=True)
    )
    assert [(r.reference, r.assignee) for r in page.rows] == [(ref, "erin")]
    assert (await case_desk.extras(vault, officer_id=carol.id, reference=ref)).assignee == "erin"
    assert await case_desk.assign(vault, officer=erin, reference=ref, login=None) is None
    assert (await case_desk.extras(vault, officer_id=carol.id, reference=ref)).assignee is None
    assert (await _actions(vault)).count("case.assigned") == 3


async def test_open_file_is_audited_and_entitled_only(vault: Vault, make_officer, alice) -> None:
    dave = await make_officer("dave", queues=("psd-counter-corruption",), unit="professional-standards")
    photo = cases.Evidence(
        filename="shot.png", media_type="image/png", content=b"\x89PNG" + bytes(100), metadata_kept=False
    )
    result = await cases.submit(vault, report=report(evidence=(photo,)))
    opened = await casework.open_case(vault, officer=alice, reference=result.reference)
    evidence = opened.first(cases.EVIDENCE)
    report_item = opened.first(cases.REPORT)
    got = await case_desk.open_file(vault, officer=alice, reference=result.reference, item_id=evidence.id)
    assert got.body == photo.content and got.meta["media_type"] == "image/png"
    with pytest.raises(NotFoundError):
        await case_desk.open_file(vault, officer=alice, reference=result.reference, item_id=report_item.id)
    with pytest.raises(NotFoundError):
        await case_desk.open_file(vault, officer=dave, reference=result.reference, item_id=evidence.id)
    assert (await _actions(vault)).count("case.file-opened") == 1
