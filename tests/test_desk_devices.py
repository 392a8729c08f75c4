"""Device cookies at desk sign-in (issue 9, point 4), over real HTTP against a live desk (uvicorn on a free
port), on SQLite and PostgreSQL.

The attack they answer: a stranger behind the officer's own client address (a shared office NAT, or a
proxy the desk is not told about) fails about twice each time the back-off ends, and so keeps the officer
out of her usual desk for ever, right password and all. With the device cookie her browser got at her
last sign-in, her attempts are counted against that browser, not the address: the stranger can exhaust
the address's back-off and its per-minute budget, and she still signs in. A stolen cookie buys a thief a
few guesses, then is revoked; a reset revokes every device of the officer.

Clients come from loopback addresses of their own (127.0.0.x), as two machines would; two clients on the
same address are two browsers behind one NAT.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import col, select

from candour.app import desk_config
from desk.app import build_app, forget_passed
from storage import desk_accounts
from storage.clock import ManualClock
from storage.models import AuditEntry, DeskDevice, Officer
from storage.vault import Vault
from tests.desk_world import PASSWORD, DeskClient, give_password
from tests.test_desk_signin_attacks import THRESHOLD, LiveDesk, attempt, count_password_checks, serving

DEVICE_FAILURES = 4
PER_MINUTE = 3 * THRESHOLD
OFFICE = "127.0.0.3"  # one NAT address: alice's browser and the stranger's share it
COOKIE = "candour_device"  # plain HTTP on loopback: no __Host- prefix


@pytest.fixture
async def live(vault: Vault, settings) -> AsyncIterator[LiveDesk]:
    app = build_app(
        vault,
        desk_config(
            settings.model_copy(
                update={
                    "desk_cookie_secure": False,
                    "desk_lockout_threshold": THRESHOLD,
                    "desk_lockout_seconds": 900,
                    "desk_login_attempts_per_minute": PER_MINUTE,
                    "desk_device_failures": DEVICE_FAILURES,
                    "desk_device_days": 30,
                }
            )
        ),
    )
    async with serving(app) as desk:
        yield desk


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every verifier a password was checked against (the real check runs; this only counts)."""
    return count_password_checks(monkeypatch)


async def devices_of(vault: Vault, login: str) -> list[DeskDevice]:
    async with vault.db.reading() as session:
        return list(
            (
                await session.exec(
                    select(DeskDevice)
                    .join(Officer, col(Officer.id) == col(DeskDevice.officer_id))
                    .where(Officer.login == login)
                )
            ).all()
        )


async def signed_in_with_a_device(live: LiveDesk, vault: Vault, address: str) -> tuple[DeskClient, str]:
    browser = live.client(address)
    answer = await browser.sign_in("alice")
    assert answer.status_code == 200, answer.text
    token = browser.http.cookies.get(COOKIE)
    assert token, "no device cookie was set at sign-in"
    (cookie,) = [c.lower() for c in answer.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}=")]
    assert all(flag in cookie for flag in ("httponly", "samesite=strict", "max-age=2592000")), cookie
    assert [d.failures for d in await devices_of(vault, "alice")] == [0]
    return browser, token


async def test_a_stranger_behind_her_address_cannot_keep_alice_out_of_her_browser(
    vault: Vault, live: LiveDesk, clock: ManualClock, alice
) -> None:
    await give_password(vault, "alice")
    browser, _ = await signed_in_with_a_device(live, vault, OFFICE)
    stranger = live.client(OFFICE)
    await stranger.pre_sign_in()
    # The stranger fails past the address's back-off, and on to its per-minute budget (alice's first
    # sign-in, without a cookie yet, took one of it) ...
    answers = [await attempt(stranger, "alice", f"not it {i:03d}") for i in range(PER_MINUTE - 1)]
    assert set(answers) == {(401, desk_accounts.REFUSED)}
    assert (await attempt(stranger, "alice", PASSWORD))[0] == 429
    # ... and alice, from the same address in the same minute, signs in with her browser's cookie.
    assert (await browser.sign_in("alice")).status_code == 200
    # Then the probe's pattern: the stranger fails again each time the back-off ends, for hours.
    for _ in range(8):
        clock.advance(timedelta(minutes=15, seconds=1))
        for i in range(2):
            assert (await attempt(stranger, "alice", f"again {i}")) == (401, desk_accounts.REFUSED)
        assert (await attempt(stranger, "alice", PASSWORD)) == (401, desk_accounts.REFUSED), (
            "the address stopped backing off: alice's sign-ins lifted the stranger's back-off"
        )
        # She may mistype too: her browser has a budget of its own.
        assert (await browser.sign_in("alice", password="a slip of the finger")).status_code == 401
        assert (await browser.sign_in("alice")).status_code == 200, "the stranger kept alice out"
    # Each sign-in replaced her browser's token; one device, its count cleared.
    assert [d.failures for d in await devices_of(vault, "alice")] == [0]


async def test_a_stolen_device_cookie_is_revoked_after_a_few_guesses(
    vault: Vault, live: LiveDesk, checks: list[str], alice
) -> None:
    await give_password(vault, "alice")
    browser, token = await signed_in_with_a_device(live, vault, OFFICE)
    real = checks[0]
    checks.clear()
    thief = live.client("127.0.0.4")
    thief.http.cookies.set(COOKIE, token)
    await thief.pre_sign_in()
    # Counted against the device: one answer, one Argon2id run each, like any other refusal.
    for i in range(DEVICE_FAILURES):
        assert (await attempt(thief, "alice", f"guess {i:03d}")) == (401, desk_accounts.REFUSED)
    assert await devices_of(vault, "alice") == [], "the device was not revoked"
    async with vault.db.reading() as session:
        revoked = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "desk.device-revoked"))
        ).all()
    assert [entry.detail for entry in revoked] == [{"login": "alice"}]
    # From here the cookie buys nothing: the thief's guesses count on his address, which backs off.
    for i in range(THRESHOLD):
        assert (await attempt(thief, "alice", f"more {i:03d}")) == (401, desk_accounts.REFUSED)
    assert (await attempt(thief, "alice", PASSWORD)) == (401, desk_accounts.REFUSED)
    assert len(checks) == DEVICE_FAILURES + THRESHOLD + 1
    assert checks.count(real) == DEVICE_FAILURES + THRESHOLD, "a guess past both budgets was checked"
    # Alice, whose cookie it was, signs in from her own address and gets a new one.
    assert (await browser.sign_in("alice")).status_code == 200
    assert browser.http.cookies.get(COOKIE) not in (None, token)
    assert len(await devices_of(vault, "alice")) == 1


async def test_parallel_guesses_with_a_stolen_cookie_are_checked_within_the_devices_budget(
    vault: Vault, live: LiveDesk, checks: list[str], alice
) -> None:
    await give_password(vault, "alice")
    _, token = await signed_in_with_a_device(live, vault, OFFICE)
    real = checks[0]
    checks.clear()
    thief = live.client("127.0.0.4")
    thief.http.cookies.set(COOKIE, token)
    await thief.pre_sign_in()
    answers = await asyncio.gather(*(attempt(thief, "alice", f"parallel {i:04d}") for i in range(15)))
    assert {status for status, _ in answers} <= {401, 429} and answers.count(
        (401, desk_accounts.REFUSED)
    ) >= 1
    # The device's budget and then the address's: never more real checks than the two together.
    assert checks.count(real) <= DEVICE_FAILURES + THRESHOLD


@pytest.mark.parametrize("reset", ["password", "totp", "ended", "deactivation"])
async def test_a_reset_revokes_the_officers_devices(vault: Vault, live: LiveDesk, reset: str, alice) -> None:
    await give_password(vault, "alice")
    browser, _ = await signed_in_with_a_device(live, vault, OFFICE)
    password = PASSWORD
    if reset == "password":
        password = "a brand new desk password"
        await desk_accounts.set_password(vault, login="alice", password=password)
    elif reset == "totp":
        await desk_accounts.reset_totp(vault, login="alice")
    elif reset == "ended":
        await desk_accounts.end_sessions(vault, officer_id=alice.id)
    else:
        for active in (False, True):  # deactivated, swept by the desk's timer, then brought back
            async with vault.db.transaction() as db:
                officer = (await db.exec(select(Officer).where(Officer.login == "alice"))).one()
                officer.active = active
                db.add(officer)
            if not active:
                await forget_passed(live.app.state.desk)
    assert await devices_of(vault, "alice") == [], f"the {reset} left a device that counts apart"
    # The old cookie no longer keeps her apart from the address: a stranger there now holds her back.
    stranger = live.client(OFFICE)
    await stranger.pre_sign_in()
    for i in range(THRESHOLD):
        await attempt(stranger, "alice", f"not it {i:03d}")
    assert (await browser.sign_in("alice", password=password)).status_code == 401
