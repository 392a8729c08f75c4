"""Attacks on desk sign-in, driven over real HTTP against a live desk (uvicorn on a free port), on SQLite
and PostgreSQL: parallel guessing, telling logins apart, locking an officer out from elsewhere, sessions
that outlive their time or a reset, enrolling someone else's authenticator, a desk password equal to the
key passphrase, a forged Host header, and telling a missing case from one that is not yours.

Clients come from different loopback addresses (127.0.0.x), so the desk sees different client addresses,
as it would for two machines. Where a test counts Argon2id checks, it wraps the real
`crypto.verify_password` with a counter (the check itself still runs): the count is what an attacker's
guesses cost, which no HTTP answer shows.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from sqlmodel import select

from candour.app import desk_config
from candour.cli import main
from desk import server
from desk.app import build_app
from desk.errors import CASE_NOT_FOUND
from desk.sessions import DeskSession
from storage import cases, crypto, desk_accounts
from storage.clock import ManualClock
from storage.errors import InputError
from storage.models import DeskAccount, Officer
from storage.vault import Vault
from tests.conftest import PASSPHRASE
from tests.desk_world import PASSWORD, DeskClient, enrol, give_password, until_listening

THRESHOLD = 5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveDesk:
    url: str
    app: FastAPI
    made: list[httpx.AsyncClient]

    def client(self, address: str = "127.0.0.1") -> DeskClient:
        """A browser-like client connecting from `address` (a loopback address of its own)."""
        http = httpx.AsyncClient(
            base_url=self.url,
            transport=httpx.AsyncHTTPTransport(local_address=address),
            follow_redirects=False,
            timeout=30,
        )
        self.made.append(http)
        return DeskClient(http)

    def sessions(self) -> list[DeskSession]:
        return list(self.app.state.desk.sessions._sessions.values())


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[LiveDesk]:
    """Serve `app` on a free loopback port until the block ends; clients made for it are closed."""
    port = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(server.serve(app, host="127.0.0.1", port=port, stop=stop))
    await until_listening(port)
    desk = LiveDesk(url=f"http://127.0.0.1:{port}", app=app, made=[])
    try:
        yield desk
    finally:
        for http in desk.made:
            await http.aclose()
        stop.set()
        await task


def count_password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every verifier a password is checked against from now on (the real check runs; this only counts)."""
    seen: list[str] = []
    real = crypto.verify_password

    def counting(password: str, encoded: str) -> bool:
        seen.append(encoded)
        return real(password, encoded)

    monkeypatch.setattr(crypto, "verify_password", counting)
    return seen


@pytest.fixture
async def live(vault: Vault, settings) -> AsyncIterator[LiveDesk]:
    app = build_app(
        vault,
        desk_config(
            settings.model_copy(
                update={
                    "desk_cookie_secure": False,  # plain HTTP on loopback
                    "desk_lockout_threshold": THRESHOLD,
                    "desk_lockout_seconds": 900,
                    "desk_session_idle_seconds": 600,
                    "desk_session_sweep_seconds": 0.05,
                    "desk_login_attempts_per_minute": 60,
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


async def verifier_of(vault: Vault, login: str) -> str:
    async with vault.db.reading() as session:
        officer = (await session.exec(select(Officer).where(Officer.login == login))).one()
        account = (await session.exec(select(DeskAccount).where(DeskAccount.officer_id == officer.id))).one()
    assert account.password_hash is not None
    return account.password_hash


async def attempt(client: DeskClient, login: str, password: str) -> tuple[int, str]:
    response = await client.post("/api/session", {"login": login, "password": password, "code": None})
    return response.status_code, response.json()["detail"] if response.status_code != 200 else "ok"


async def signed_in_unlocked(live: LiveDesk, vault: Vault, clock: ManualClock, login: str) -> DeskClient:
    await give_password(vault, login)
    client = live.client()
    assert (await client.sign_in(login)).status_code == 200
    await enrol(vault, client, clock)
    assert (await client.unlock(PASSPHRASE)).status_code == 200
    return client


# --- guessing -----------------------------------------------------------------------------------


async def test_parallel_wrong_passwords_are_checked_at_most_threshold_times(
    vault: Vault, live: LiveDesk, checks: list[str], alice
) -> None:
    await give_password(vault, "alice")
    real = await verifier_of(vault, "alice")
    guesser = live.client("127.0.0.2")
    await guesser.pre_sign_in()
    answers = await asyncio.gather(*(attempt(guesser, "alice", f"guess number {i:04d}") for i in range(15)))
    assert set(answers) == {(401, desk_accounts.REFUSED)}
    assert checks.count(real) == THRESHOLD, "attempts past the threshold were checked against the password"
    # Each refused attempt still cost one Argon2id run (the dummy verifier), so none answered faster.
    assert len(checks) == 15


async def test_unknown_real_and_backing_off_logins_answer_alike(
    vault: Vault, live: LiveDesk, checks: list[str], alice
) -> None:
    await give_password(vault, "alice")
    real = await verifier_of(vault, "alice")

    async def life(login: str, address: str) -> list[tuple[int, str, bool]]:
        client = live.client(address)
        await client.pre_sign_in()
        seen = []
        for password in [*(f"wrong guess {i}!" for i in range(THRESHOLD + 2)), PASSWORD]:
            response = await client.post("/api/session", {"login": login, "password": password, "code": None})
            seen.append((response.status_code, response.text, "set-cookie" in response.headers))
        return seen

    known = await life("alice", "127.0.0.2")
    unknown = await life("nobody-at-all", "127.0.0.3")
    # The right password last: alice is backing off from that client, so even it gets the one answer.
    assert known == unknown == [(401, f'{{"detail":"{desk_accounts.REFUSED}"}}', False)] * (THRESHOLD + 3)
    # One Argon2id run per attempt whatever the login: THRESHOLD real checks, the rest against the dummy.
    assert len(checks) == 2 * (THRESHOLD + 3) and checks.count(real) == THRESHOLD


async def test_a_stranger_cannot_lock_an_officer_out(
    vault: Vault, live: LiveDesk, clock: ManualClock, alice
) -> None:
    await give_password(vault, "alice")
    stranger = live.client("127.0.0.2")
    await stranger.pre_sign_in()
    for i in range(3 * THRESHOLD):
        assert (await attempt(stranger, "alice", f"not it {i:03d}")) == (401, desk_accounts.REFUSED)
    # The stranger's own address backs off, even for the right password ...
    assert (await attempt(stranger, "alice", PASSWORD)) == (401, desk_accounts.REFUSED)
    # ... while alice, from her own machine, signs in at once.
    desk = live.client("127.0.0.3")
    assert (await desk.sign_in("alice")).status_code == 200

    # Many addresses together slow the login for clients it never signed in from, but not for hers.
    for host in range(10, 22):
        bot = live.client(f"127.0.0.{host}")
        await bot.pre_sign_in()
        for i in range(THRESHOLD):
            await attempt(bot, "alice", f"botnet guess {host}-{i}")
    newcomer = live.client("127.0.0.40")
    assert (await newcomer.sign_in("alice")).status_code == 401
    again = live.client("127.0.0.3")
    assert (await again.sign_in("alice")).status_code == 200, "the botnet locked alice out of her own desk"
    # And the wait ends: back-off, not a permanent lock.
    clock.advance(timedelta(minutes=16))
    assert (await newcomer.sign_in("alice")).status_code == 200


# --- sessions -----------------------------------------------------------------------------------


async def test_an_expired_sessions_key_is_dropped_by_the_timer(
    vault: Vault, live: LiveDesk, clock: ManualClock, alice
) -> None:
    await signed_in_unlocked(live, vault, clock, "alice")
    (session,) = live.sessions()
    assert session.unlocked is not None
    clock.advance(timedelta(seconds=601))  # past the idle timeout; nobody makes a request
    for _ in range(100):
        if session.unlocked is None:
            break
        await asyncio.sleep(0.05)
    assert session.unlocked is None, "the unlocked key outlived its session"
    assert live.sessions() == []


@pytest.mark.parametrize("reset", ["password", "totp", "deactivation"])
async def test_a_reset_ends_a_live_session_at_once(
    vault: Vault, live: LiveDesk, clock: ManualClock, make_officer, reset: str
) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    carol = await signed_in_unlocked(live, vault, clock, "carol")
    (session,) = live.sessions()
    assert (await carol.get("/api/cases")).status_code == 200
    if reset == "password":
        await desk_accounts.set_password(vault, login="carol", password="a brand new desk password")
    elif reset == "totp":
        await desk_accounts.reset_totp(vault, login="carol")
    else:
        async with vault.db.transaction() as db:
            officer = (await db.exec(select(Officer).where(Officer.login == "carol"))).one()
            officer.active = False
            db.add(officer)
    answer = await carol.get("/api/cases")
    assert answer.status_code == 401, f"the session lived on after the {reset} reset"
    assert session.unlocked is None and live.sessions() == []
    assert (await carol.get("/queue")).headers["location"] == "/login"


# --- enrolment and passwords ---------------------------------------------------------------------


async def test_enrolment_needs_the_one_time_code(
    vault: Vault, live: LiveDesk, clock: ManualClock, make_officer, alice
) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    carol_code = await give_password(vault, "carol")
    alice_code = await give_password(vault, "alice")
    assert carol_code and alice_code and carol_code != alice_code

    # Whoever learnt carol's initial password signs in, and tries to bind their own authenticator.
    intruder = live.client("127.0.0.2")
    assert (await intruder.sign_in("carol")).status_code == 200
    begun = (await intruder.post("/api/account/totp/begin")).json()
    raw = _secret(begun["secret"])

    def now_code() -> str:
        return crypto.totp_code(raw, at=clock.now().timestamp())

    for given in ("", "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF", alice_code):
        refused = await intruder.post(
            "/api/account/totp/confirm", {"code": now_code(), "enrolment_code": given}
        )
        assert refused.status_code == 400 and "enrolment code" in refused.json()["detail"]
    page = await intruder.form("/account/totp", {"code": now_code()})
    assert page.status_code == 400 and "enrolment code" in page.text
    assert (await intruder.get("/api/session")).json()["totp_enrolled"] is False

    # An expired code is refused too; the operator's fresh one works, once.
    clock.advance(timedelta(hours=73))
    assert (await intruder.sign_in("carol")).status_code == 200
    raw = _secret((await intruder.post("/api/account/totp/begin")).json()["secret"])
    expired = await intruder.post(
        "/api/account/totp/confirm", {"code": now_code(), "enrolment_code": carol_code}
    )
    assert expired.status_code == 400
    fresh = await desk_accounts.reset_totp(vault, login="carol")
    carol = live.client("127.0.0.3")
    assert (await carol.sign_in("carol", password="desk password for tests")).status_code == 200
    begun = (await carol.post("/api/account/totp/begin")).json()
    raw = _secret(begun["secret"])
    good = await carol.post(
        "/api/account/totp/confirm", {"code": now_code(), "enrolment_code": fresh.lower().replace("-", " ")}
    )
    assert good.status_code == 200 and good.json()["totp_enrolled"] is True
    async with vault.db.reading() as db:
        account = (await db.exec(select(DeskAccount).join(Officer).where(Officer.login == "carol"))).one()
    assert account.enrolment_digest is None and fresh.encode() not in (account.totp_sealed or b"")


def _secret(base32: str) -> bytes:
    return base64.b32decode(base32 + "=" * (-len(base32) % 8))


async def test_a_desk_password_equal_to_the_passphrase_is_refused(vault: Vault, settings, alice) -> None:
    with pytest.raises(InputError, match="must not be the officer's key passphrase"):
        await desk_accounts.set_password(vault, login="alice", password=PASSPHRASE)
    async with vault.db.reading() as db:
        assert (await db.exec(select(DeskAccount))).all() == []

    env = {
        "CANDOUR_DATA_DIR": str(settings.data_dir),
        "CANDOUR_DATABASE_URL": settings.database_url or "",
        "CANDOUR_ARGON2_MEMORY_KIB": "64",
        "CANDOUR_ARGON2_ITERATIONS": "1",
        "CANDOUR_ARGON2_LANES": "1",
    }
    run: Callable[..., object] = CliRunner().invoke
    same = await asyncio.to_thread(
        run, main, ["officer", "set-password", "alice"], env=env, input=f"{PASSPHRASE}\n{PASSPHRASE}\n"
    )
    assert same.exit_code == 1 and "must not be the officer's key passphrase" in same.output  # type: ignore[attr-defined]
    added = await asyncio.to_thread(
        run,
        main,
        ["officer", "add", "dora", "--name", "Dora", "--desk-password", "the same secret words"],
        env={**env, "CANDOUR_NEW_PASSPHRASE": "the same secret words"},
    )
    assert added.exit_code == 1 and "must not be the officer's key passphrase" in added.output  # type: ignore[attr-defined]
    async with vault.db.reading() as db:
        assert (await db.exec(select(Officer).where(Officer.login == "dora"))).first() is None
    # A different one is set, and the enrolment code is printed once.
    good = await asyncio.to_thread(
        run,
        main,
        ["officer", "add", "dora", "--name", "Dora", "--desk-password", "other words for the desk"],
        env={**env, "CANDOUR_NEW_PASSPHRASE": "the same secret words"},
    )
    assert good.exit_code == 0, good.output  # type: ignore[attr-defined]
    assert "enrolment code for dora: " in good.output  # type: ignore[attr-defined]


# --- the HTTP surface ---------------------------------------------------------------------------


async def test_a_foreign_host_header_is_refused(live: LiveDesk) -> None:
    client = live.client()
    assert (await client.get("/login")).status_code == 200
    for host in ("evil.example", "localhost.evil.example", "127.0.0.1.nip.io:8470"):
        refused = await client.get("/api/session/csrf", headers={"Host": host})
        assert refused.status_code == 400, host
        assert "set-cookie" not in refused.headers and refused.headers["x-frame-options"] == "DENY"


async def test_a_missing_case_and_one_not_yours_answer_alike(
    vault: Vault, live: LiveDesk, clock: ManualClock, make_officer
) -> None:
    # dave works cases, but in no queue: he holds the key of no case.
    await make_officer("dave", roles=("standards-officer", "queue-lead"), unit="professional-standards")
    theirs = await cases.submit(
        vault, report=cases.ReportSubmission(categories=("bullying",), narrative="Not for dave.")
    )
    dave = await signed_in_unlocked(live, vault, clock, "dave")
    gets = ["", "/files/item-1", "/export.pdf", "/export.zip"]
    posts = {
        "/status": {"status": "acknowledged"},
        "/assign": {"login": "dave"},
        "/notes": {"text": "a note"},
        "/messages": {"text": "a message"},
        "/refer": {"queue": "psd-conduct", "reason": "r"},
        "/escalation": {"queue": "psd-conduct"},
        "/grant": {"login": "dave"},
        "/exported": {"form": "folder"},
    }

    async def answers(reference: str) -> list[tuple[str, int, str]]:
        seen = []
        for tail in gets:
            for prefix in ("/api", ""):
                response = await dave.get(f"{prefix}/cases/{reference}{tail}")
                seen.append((f"GET {prefix}{tail}", response.status_code, response.text))
        for tail, body in posts.items():
            response = await dave.post(f"/api/cases/{reference}{tail}", body)
            seen.append((f"POST /api{tail}", response.status_code, response.text))
            if tail != "/exported":
                page = await dave.form(f"/cases/{reference}{tail}", {k: str(v) for k, v in body.items()})
                seen.append((f"POST {tail}", page.status_code, page.text))
        return seen

    missing = await answers("CN-ZZZZZZZZ")
    not_yours = await answers(theirs.reference)
    for (route, status, text), (_, other_status, other_text) in zip(missing, not_yours, strict=True):
        assert (status, text) == (other_status, other_text), route
        assert status == 404, route
    assert CASE_NOT_FOUND in missing[0][2]
