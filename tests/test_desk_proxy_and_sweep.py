"""Sign-in back-off behind a reverse proxy, and sessions a reset ends without waiting for their next
request; over real HTTP against a live desk (uvicorn on a free port), on SQLite and PostgreSQL.

The proxy is a client on a loopback address of its own (127.0.0.5) that sends X-Forwarded-For, as nginx
or Caddy in front of the desk would: every request reaches the desk from that one socket address.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import event
from sqlmodel import select

from candour.app import desk_config
from desk import server
from desk.app import build_app, end_reset_sessions
from storage import desk_accounts
from storage.clock import ManualClock
from storage.models import Officer
from storage.vault import Vault
from tests.desk_world import PASSWORD, DeskClient, until_listening
from tests.test_desk_signin_attacks import THRESHOLD, LiveDesk, attempt, free_port, signed_in_unlocked

PROXY = "127.0.0.5"
ALICE_HOME = "203.0.113.7"
STRANGER = "198.51.100.66"

StartDesk = Callable[..., Awaitable[LiveDesk]]


@pytest.fixture
async def start_desk(vault: Vault, settings) -> AsyncIterator[StartDesk]:
    """Start a live desk with these settings overrides (on top of fast, plain-HTTP test settings)."""
    running: list[tuple[LiveDesk, asyncio.Event, asyncio.Task[None]]] = []

    async def start(**overrides: object) -> LiveDesk:
        app = build_app(
            vault,
            desk_config(
                settings.model_copy(
                    update={
                        "desk_cookie_secure": False,
                        "desk_lockout_threshold": THRESHOLD,
                        "desk_lockout_seconds": 900,
                        "desk_session_idle_seconds": 600,
                        "desk_session_sweep_seconds": 0.05,
                        "desk_login_attempts_per_minute": 1000,
                        **overrides,
                    }
                )
            ),
        )
        port = free_port()
        stop = asyncio.Event()
        task = asyncio.create_task(server.serve(app, host="127.0.0.1", port=port, stop=stop))
        await until_listening(port)
        desk = LiveDesk(url=f"http://127.0.0.1:{port}", app=app, made=[])
        running.append((desk, stop, task))
        return desk

    yield start
    for desk, stop, task in running:
        for http in desk.made:
            await http.aclose()
        stop.set()
        await task


def through(desk: LiveDesk, forwarded_for: str, *, socket_address: str = PROXY) -> DeskClient:
    """A browser whose requests reach the desk from `socket_address` carrying this X-Forwarded-For."""
    http = httpx.AsyncClient(
        base_url=desk.url,
        transport=httpx.AsyncHTTPTransport(local_address=socket_address),
        headers={"X-Forwarded-For": forwarded_for},
        follow_redirects=False,
        timeout=30,
    )
    desk.made.append(http)
    return DeskClient(http)


async def fail_often(client: DeskClient, login: str, times: int) -> None:
    await client.pre_sign_in()
    for i in range(times):
        assert (await attempt(client, login, f"not the password {i:03d}")) == (401, desk_accounts.REFUSED)


# --- behind a trusted proxy ------------------------------------------------------------------------


async def test_behind_the_proxy_a_stranger_cannot_lock_alice_out(
    vault: Vault, start_desk: StartDesk, alice
) -> None:
    await desk_accounts.set_password(vault, login="alice", password=PASSWORD)
    desk = await start_desk(desk_trusted_proxies=PROXY)
    stranger = through(desk, STRANGER)
    await fail_often(stranger, "alice", 3 * THRESHOLD)
    # The stranger's forwarded address backs off, even for the right password ...
    assert (await attempt(stranger, "alice", PASSWORD)) == (401, desk_accounts.REFUSED)
    # ... while alice, through the same proxy socket from her own address, signs in at once.
    assert (await through(desk, ALICE_HOME).sign_in("alice")).status_code == 200


async def test_the_client_is_the_right_most_address_no_trusted_proxy_added(
    vault: Vault, start_desk: StartDesk, alice
) -> None:
    await desk_accounts.set_password(vault, login="alice", password=PASSWORD)
    # Two proxies in a row: the TLS proxy on loopback, a load balancer in 10.0.0.0/8 before it.
    desk = await start_desk(desk_trusted_proxies=f"{PROXY}, 10.0.0.1/8")
    # The stranger writes alice's address into the header; each proxy appends the peer it saw.
    forger = through(desk, f"{ALICE_HOME}, {STRANGER}, 10.1.2.3")
    await fail_often(forger, "alice", 3 * THRESHOLD)
    again = through(desk, f"{STRANGER}, 10.9.9.9")
    await again.pre_sign_in()
    assert (await attempt(again, "alice", PASSWORD)) == (401, desk_accounts.REFUSED)
    assert (await through(desk, f"{ALICE_HOME}, 10.1.2.3").sign_in("alice")).status_code == 200, (
        "the client's own left-most entry was believed"
    )


async def test_a_proxy_not_listed_is_not_believed(vault: Vault, start_desk: StartDesk, alice) -> None:
    await desk_accounts.set_password(vault, login="alice", password=PASSWORD)
    desk = await start_desk(desk_trusted_proxies="127.0.0.9")
    # From an unlisted address, each attempt names a new "client": all count against the socket's own.
    client = through(desk, "192.0.2.1", socket_address="127.0.0.2")
    await client.pre_sign_in()
    for i in range(THRESHOLD):
        client.http.headers["X-Forwarded-For"] = f"192.0.2.{i + 10}"
        await attempt(client, "alice", f"not the password {i:03d}")
    client.http.headers["X-Forwarded-For"] = "192.0.2.200"
    assert (await attempt(client, "alice", PASSWORD)) == (401, desk_accounts.REFUSED)


# --- with no proxy configured ----------------------------------------------------------------------


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.3"])
async def test_without_a_trusted_proxy_a_forged_header_is_ignored(
    vault: Vault, start_desk: StartDesk, alice, address: str
) -> None:
    """127.0.0.1 too: uvicorn on its own believes X-Forwarded-For from loopback (FORWARDED_ALLOW_IPS)."""
    await desk_accounts.set_password(vault, login="alice", password=PASSWORD)
    desk = await start_desk()
    assert desk.app.state.desk.config.proxy_addresses == ()
    guesser = through(desk, "192.0.2.1", socket_address=address)
    await guesser.pre_sign_in()
    for i in range(3 * THRESHOLD):
        # A fresh address in every attempt: believed, it would escape the per-client back-off.
        guesser.http.headers["X-Forwarded-For"] = f"192.0.2.{i + 10}"
        assert (await attempt(guesser, "alice", f"guess {i:03d}!")) == (401, desk_accounts.REFUSED)
    guesser.http.headers["X-Forwarded-For"] = "192.0.2.250"
    assert (await attempt(guesser, "alice", PASSWORD)) == (401, desk_accounts.REFUSED), (
        "a forged X-Forwarded-For escaped the back-off"
    )


@pytest.mark.parametrize("bad", ["*", "proxy.example.org", "127.0.0.1, 10.0.0.0/99"])
def test_a_trusted_proxy_must_be_an_address_or_network(settings_factory, bad: str) -> None:
    with pytest.raises(ValidationError, match="desk_trusted_proxies"):
        settings_factory(desk_trusted_proxies=bad)
    good = settings_factory(desk_trusted_proxies=" 127.0.0.1 ,10.1.2.3/8,, ::1")
    assert good.desk_proxy_addresses == ("127.0.0.1", "10.0.0.0/8", "::1")


# --- sessions ended by a reset, on the timer ---------------------------------------------------------


@pytest.mark.parametrize("reset", ["password", "totp", "ended", "deactivation"])
async def test_a_reset_drops_the_unlocked_key_without_a_request(
    vault: Vault, start_desk: StartDesk, clock: ManualClock, make_officer, reset: str
) -> None:
    desk = await start_desk()
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    await signed_in_unlocked(desk, vault, clock, "alice")
    await signed_in_unlocked(desk, vault, clock, "carol")
    by_login = {s.login: s for s in desk.sessions()}
    carol, alice = by_login["carol"], by_login["alice"]
    assert carol.unlocked is not None and alice.unlocked is not None
    # What `candour officer set-password [--reset-totp]` calls, from its own process; nobody then makes
    # a request, and the clock does not move (no timeout will end the session).
    if reset == "password":
        await desk_accounts.set_password(vault, login="carol", password="a brand new desk password")
    elif reset == "totp":
        await desk_accounts.reset_totp(vault, login="carol")
    elif reset == "ended":
        await desk_accounts.end_sessions(vault, officer_id=carol.officer_id)
    else:
        async with vault.db.transaction() as db:
            officer = (await db.exec(select(Officer).where(Officer.login == "carol"))).one()
            officer.active = False
            db.add(officer)
    for _ in range(100):
        if carol.unlocked is None:
            break
        await asyncio.sleep(0.05)
    assert carol.unlocked is None, f"the unlocked key stayed in memory after the {reset}"
    assert [s.login for s in desk.sessions()] == ["alice"]
    # Many sweeps later, alice (not reset) is still signed in and unlocked.
    clock.advance(timedelta(seconds=1))
    await asyncio.sleep(0.3)
    assert alice.unlocked is not None and [s.login for s in desk.sessions()] == ["alice"]


async def test_the_sweep_reads_every_sessions_epoch_in_one_query(
    vault: Vault, start_desk: StartDesk, clock: ManualClock, make_officer
) -> None:
    desk = await start_desk(desk_session_sweep_seconds=3600)  # the test sweeps by hand
    for login in ("carol", "dave", "erin"):
        await make_officer(login, queues=("psd-conduct",), unit="professional-standards")
        await signed_in_unlocked(desk, vault, clock, login)
    await desk_accounts.set_password(vault, login="dave", password="a brand new desk password")
    statements: list[str] = []

    def count(_conn, _cursor, statement: str, *_args: object) -> None:
        statements.append(statement)

    sync_engine = vault.db.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        assert await end_reset_sessions(desk.app.state.desk) == 1
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
    assert len([s for s in statements if "session_epoch" in s]) == 1, statements
    assert sorted(s.login for s in desk.sessions()) == ["carol", "erin"]
