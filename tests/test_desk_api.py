"""The desk through HTTP against the real ASGI app, on SQLite and PostgreSQL: sign-in with TOTP and
lockout, sessions that expire by the vault's clock, CSRF refusals, security headers, the queue and case
views of a reporter's submission, the case actions, and that an officer of another queue sees nothing."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from candour.app import desk_config
from desk.app import build_app
from storage import cases, crypto, desk_accounts, outbox
from storage.clock import ManualClock
from storage.models import AuditEntry, Case
from storage.vault import Vault
from tests.conftest import PASSPHRASE
from tests.desk_world import DeskClient, client_for, enrol, give_password

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.fixture
def desk_app(vault: Vault, settings) -> FastAPI:
    return build_app(
        vault,
        desk_config(
            settings.model_copy(
                update={
                    "desk_session_idle_seconds": 600,
                    "desk_session_absolute_seconds": 3600,
                    "desk_lockout_threshold": 3,
                    "desk_lockout_seconds": 900,
                }
            )
        ),
    )


@pytest.fixture
async def clients(desk_app: FastAPI) -> AsyncIterator[list[DeskClient]]:
    made: list[DeskClient] = []
    yield made
    for client in made:
        await client.http.aclose()


async def signed_in(
    desk_app: FastAPI,
    vault: Vault,
    clock: ManualClock,
    clients: list[DeskClient],
    login: str,
    *,
    unlock: bool = True,
) -> DeskClient:
    """A client of `login`, with a desk password and an enrolled second factor, signed in (and unlocked)."""
    await give_password(vault, login)
    client = client_for(desk_app)
    clients.append(client)
    assert (await client.sign_in(login)).status_code == 200
    await enrol(vault, client, clock)
    if unlock:
        assert (await client.unlock(PASSPHRASE)).status_code == 200
    return client


async def submit(vault: Vault, **overrides) -> cases.SubmitResult:
    values = {
        "categories": ("bullying",),
        "narrative": "He said <script>alert(1)</script> in the briefing.",
        "evidence": (
            cases.Evidence(filename="shot.png", media_type="image/png", content=PNG, metadata_kept=False),
            cases.Evidence(
                filename="notes.html",
                media_type="text/html",
                content=b"<script>alert(2)</script>",
                metadata_kept=False,
            ),
        ),
    }
    values.update(overrides)
    return await cases.submit(vault, report=cases.ReportSubmission(**values), contact="chat-9")


async def actions(vault: Vault) -> list[str]:
    async with vault.db.reading() as session:
        return list((await session.exec(select(AuditEntry.action).order_by(col(AuditEntry.seq)))).all())


async def test_submission_appears_in_queue_and_opens_in_case_view(
    vault: Vault, desk_app, clock, clients, make_officer
) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    result = await submit(vault)
    carol = await signed_in(desk_app, vault, clock, clients, "carol")

    queue = (await carol.get("/api/cases")).json()
    assert [c["reference"] for c in queue["cases"]] == [result.reference]
    assert queue["cases"][0]["ack_state"] == "open" and queue["next_cursor"] is None

    case = (await carol.get(f"/api/cases/{result.reference}")).json()
    assert case["report"]["narrative"] == "He said <script>alert(1)</script> in the briefing."
    files = {f["filename"]: f for f in case["files"]}
    assert set(files) == {"shot.png", "notes.html"}

    image = await carol.get(files["shot.png"]["href"])
    assert image.status_code == 200 and image.content == PNG
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"].startswith('attachment; filename="shot.png"')
    html_file = await carol.get(files["notes.html"]["href"])
    assert html_file.content == b"<script>alert(2)</script>"
    assert "sandbox" in html_file.headers["content-security-policy"]
    assert html_file.headers["content-disposition"].startswith("attachment")

    page = await carol.get(f"/cases/{result.reference}")
    assert page.status_code == 200
    assert "He said &lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>" not in page.text
    assert f'<img src="/cases/{result.reference}/files/{files["shot.png"]["id"]}/preview"' in page.text
    assert "notes.html</a>" in page.text and f'/files/{files["notes.html"]["id"]}" alt' not in page.text
    queue_page = await carol.get("/queue")
    assert result.reference in queue_page.text
    logged = await actions(vault)
    assert logged.count("case.opened") == 2 and logged.count("case.file-opened") == 2
    assert "desk.signed-in" in logged and "desk.totp-enrolled" in logged


async def test_officer_of_another_queue_can_neither_list_nor_decrypt(
    vault: Vault, desk_app, clock, clients, make_officer
) -> None:
    await make_officer("dave", queues=("psd-counter-corruption",), unit="professional-standards")
    result = await submit(vault)
    dave = await signed_in(desk_app, vault, clock, clients, "dave")
    assert (await dave.get("/api/cases")).json()["cases"] == []
    assert (await dave.get(f"/api/cases?reference={result.reference}")).json()["cases"] == []
    unknown = await dave.get("/api/cases/CN-NOSUCH00")
    refused = await dave.get(f"/api/cases/{result.reference}")
    assert refused.status_code == unknown.status_code == 404
    assert "that you can open" in refused.json()["detail"]
    assert (await dave.get(f"/cases/{result.reference}")).status_code == 404
    async with vault.db.reading() as session:
        item_ids = [
            i.id
            for i in (
                await session.exec(select(cases.CaseItem).where(cases.CaseItem.case_id == result.case_id))
            )
        ]
    for item_id in item_ids:
        assert (await dave.get(f"/api/cases/{result.reference}/files/{item_id}")).status_code == 404
    for path, body in (
        ("status", {"status": "acknowledged"}),
        ("notes", {"text": "sneaky"}),
        ("messages", {"text": "sneaky"}),
        ("assign", {"login": "dave"}),
    ):
        assert (await dave.post(f"/api/cases/{result.reference}/{path}", body)).status_code == 404
    async with vault.db.reading() as session:
        assert (await session.get(Case, result.case_id)).status == "received"
    assert "case.opened" not in await actions(vault)


async def test_csrf_is_required_on_every_state_change(vault: Vault, desk_app, clock, clients, alice) -> None:
    result = await submit(vault)
    client = client_for(desk_app)
    clients.append(client)
    await give_password(vault, "alice")
    # Before sign-in: the pre-sign-in token must come back.
    bare = await client.http.post(
        "/api/session", json={"login": "alice", "password": "desk password for tests"}
    )
    assert bare.status_code == 403 and "CSRF" in bare.json()["detail"]
    assert (await client.sign_in("alice")).status_code == 200
    await enrol(vault, client, clock)
    assert (await client.unlock(PASSPHRASE)).status_code == 200

    path = f"/api/cases/{result.reference}/status"
    missing = await client.http.post(path, json={"status": "acknowledged"})
    wrong = await client.http.post(path, json={"status": "acknowledged"}, headers={"X-CSRF-Token": "x" * 43})
    form = await client.http.post(f"/cases/{result.reference}/status", data={"status": "acknowledged"})
    other = client_for(desk_app)
    clients.append(other)
    foreign = await other.pre_sign_in()
    cross = await client.http.post(path, json={"status": "acknowledged"}, headers={"X-CSRF-Token": foreign})
    for response in (missing, wrong, form, cross):
        assert response.status_code == 403
    assert "CSRF" in form.text
    async with vault.db.reading() as session:
        assert (await session.get(Case, result.case_id)).status == "received"
    ok = await client.form(f"/cases/{result.reference}/status", {"status": "acknowledged"})
    assert ok.status_code == 303 and ok.headers["location"] == f"/cases/{result.reference}"
    async with vault.db.reading() as session:
        assert (await session.get(Case, result.case_id)).status == "acknowledged"


async def test_sessions_expire_when_idle_and_absolutely(
    vault: Vault, desk_app, clock, clients, alice
) -> None:
    client = await signed_in(desk_app, vault, clock, clients, "alice")
    store = desk_app.state.desk.sessions
    assert len(store) == 1
    clock.advance(timedelta(seconds=590))
    assert (await client.get("/api/session")).status_code == 200  # activity restarts the idle timer
    clock.advance(timedelta(seconds=590))
    assert (await client.get("/api/session")).json()["unlocked"] is True
    clock.advance(timedelta(seconds=601))
    assert (await client.get("/api/session")).status_code == 401
    page = await client.get("/queue")
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert len(store) == 0

    clock.advance(timedelta(minutes=1))
    again = client_for(desk_app)
    clients.append(again)
    code = crypto.totp_code(client.totp_secret, at=clock.now().timestamp())
    assert (await again.sign_in("alice", code=code)).status_code == 200
    for _ in range(6):  # never idle for long, yet the absolute limit of an hour ends it
        clock.advance(timedelta(seconds=590))
        assert (await again.get("/api/session")).status_code == 200
    clock.advance(timedelta(seconds=590))
    assert (await again.get("/api/session")).status_code == 401
    assert len(store) == 0


async def test_logout_ends_the_session_and_drops_the_key(
    vault: Vault, desk_app, clock, clients, alice
) -> None:
    client = await signed_in(desk_app, vault, clock, clients, "alice")
    session = next(iter(desk_app.state.desk.sessions._sessions.values()))
    assert session.unlocked is not None
    out = await client.form("/logout", {})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert session.unlocked is None and len(desk_app.state.desk.sessions) == 0
    assert (await client.get("/api/session")).status_code == 401


async def test_lockout_after_failed_sign_ins(vault: Vault, desk_app, clock, clients, alice) -> None:
    await give_password(vault, "alice")
    client = client_for(desk_app)
    clients.append(client)
    for _ in range(3):
        wrong = await client.sign_in("alice", password="not the right one")
        assert wrong.status_code == 401 and wrong.json()["detail"] == desk_accounts.REFUSED
    # Backing off from this client: even the right password gets the one answer, and is not checked.
    locked = await client.sign_in("alice")
    assert locked.status_code == 401 and locked.json()["detail"] == desk_accounts.REFUSED
    unknown = await client.sign_in("nobody")
    assert unknown.status_code == 401 and unknown.json()["detail"] == desk_accounts.REFUSED
    clock.advance(timedelta(minutes=16))
    assert (await client.sign_in("alice")).status_code == 200
    assert "desk.backing-off" in await actions(vault)


async def test_sign_in_is_throttled_per_client(vault: Vault, settings, clock) -> None:
    app = build_app(vault, desk_config(settings.model_copy(update={"desk_login_attempts_per_minute": 3})))
    client = client_for(app)
    try:
        statuses = [(await client.sign_in(f"nobody{i}")).status_code for i in range(4)]
        assert statuses == [401, 401, 401, 429]
        clock.advance(timedelta(minutes=1))
        assert (await client.sign_in("nobody")).status_code == 401
    finally:
        await client.http.aclose()


async def test_totp_enrolment_then_sign_in_with_code(vault: Vault, desk_app, clock, clients, alice) -> None:
    enrolment = await give_password(vault, "alice")
    client = client_for(desk_app)
    clients.append(client)
    first = await client.sign_in("alice")
    assert first.json()["totp_enrolled"] is False
    assert (await client.get("/api/cases")).status_code == 403
    assert (await client.get("/queue")).headers["location"] == "/account/totp"
    page = await client.get("/account/totp")
    assert page.status_code == 200 and '<img class="qr" src="/account/totp/qr.svg"' in page.text
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page.text).group(1)
    qr = await client.get("/account/totp/qr.svg")
    assert qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.text.startswith('<svg xmlns="http://www.w3.org/2000/svg"')  # a standalone image needs it
    begun = (await client.post("/api/account/totp/begin")).json()
    assert begun["secret"] == secret and begun["uri"].startswith("otpauth://totp/")
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    bad = await client.form(
        "/account/totp",
        {"code": "123456" if crypto.totp_code(raw, at=clock.now().timestamp()) != "123456" else "654321"},
    )
    assert bad.status_code == 400 and "does not match" in bad.text
    good = await client.form(
        "/account/totp",
        {"code": crypto.totp_code(raw, at=clock.now().timestamp()), "enrolment_code": enrolment},
    )
    assert good.status_code == 303
    assert (await client.get("/api/cases")).status_code == 200
    await client.form("/logout", {})

    clock.advance(timedelta(seconds=60))
    code = crypto.totp_code(raw, at=clock.now().timestamp())
    assert (await client.sign_in("alice")).status_code == 401  # no code
    assert (await client.sign_in("alice", code=code)).status_code == 200
    assert (await client.post("/api/session/logout")).status_code == 200
    assert (await client.sign_in("alice", code=code)).status_code == 401  # the same code again


async def test_security_headers_everywhere(vault: Vault, desk_app, clock, clients, alice) -> None:
    client = await signed_in(desk_app, vault, clock, clients, "alice")
    for path in (
        "/login",
        "/queue",
        "/api/cases",
        "/static/desk.css",
        "/api/openapi.json",
        "/cases/CN-NOSUCH00",
    ):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
    login = await client_for(desk_app).get("/login")
    cookie = login.headers["set-cookie"]
    assert (
        "HttpOnly" in cookie
        and "Secure" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
    )
    signed = await client.sign_in("alice")
    assert signed.status_code == 401  # enrolled now: a code is needed


def test_templates_hold_no_inline_script_or_style() -> None:
    from pathlib import Path

    import desk

    for template in (Path(desk.__file__).parent / "templates").glob("*.html"):
        text = template.read_text()
        assert "<script" not in text and " style=" not in text and "<style" not in text, template.name


async def test_case_actions_reach_the_vault_and_the_reporter(
    vault: Vault, desk_app, clock, clients, make_officer, alice
) -> None:
    await make_officer("erin", queues=("psd-conduct",), unit="professional-standards")
    await make_officer("zed", unit="north-bcu")
    result = await submit(vault)
    ref = result.reference
    lead = await signed_in(desk_app, vault, clock, clients, "alice")

    closing = await lead.post(f"/api/cases/{ref}/status", {"status": "closed"})
    assert closing.status_code == 400 and "outcome" in closing.json()["detail"]
    assert (await lead.post(f"/api/cases/{ref}/status", {"status": "investigating"})).status_code == 409
    assert (await lead.post(f"/api/cases/{ref}/status", {"status": "acknowledged"})).status_code == 200
    assert (await lead.post(f"/api/cases/{ref}/assign", {"login": "erin"})).json()["detail"] == {
        "assignee": "erin"
    }
    assert (await lead.post(f"/api/cases/{ref}/notes", {"text": "Check the rota."})).status_code == 200
    assert (await lead.post(f"/api/cases/{ref}/messages", {"text": "When did it start?"})).status_code == 200
    assert (await lead.post(f"/api/cases/{ref}/notes", {"text": "   "})).status_code == 400
    assert (await lead.post(f"/api/cases/{ref}/grant", {"login": "zed"})).json()["detail"] == {
        "granted": True
    }
    assert (await lead.post(f"/api/cases/{ref}/refer", {"queue": "no-such-queue"})).status_code == 404

    view = await cases.reporter_view(vault, code=result.receipt_code)
    said = [e.text for e in view.timeline if e.text]
    assert "When did it start?" in said and any("received" in t for t in said)
    async with vault.db.reading() as session:
        pending = await outbox.pending_for_case(session, case_id=result.case_id)
    assert sum(e.kind == outbox.REPORTER_MESSAGE for e in pending) == 2

    await cases.add_from_reporter(vault, case_id=result.case_id, kind=cases.REPORTER_MESSAGE, text="In May.")
    row = (await lead.get(f"/api/cases?reference={ref}")).json()["cases"][0]
    assert row["assignee"] == "erin" and row["new_message"] is True and row["ack_state"] == "done"
    case = (await lead.get(f"/api/cases/{ref}")).json()
    kinds = [(t["kind"], t["author"], t["officer"], t["text"]) for t in case["timeline"]]
    assert ("note", "officer", "alice", "Check the rota.") in kinds
    assert ("reporter-message", "reporter", None, "In May.") in kinds

    closed = await lead.form(
        f"/cases/{ref}/status", {"status": "closed", "outcome": "Words of advice given."}
    )
    assert closed.status_code == 303
    page = await lead.get(f"/cases/{ref}")
    assert "Status is now closed." in page.text and "Words of advice given." in page.text
    logged = await actions(vault)
    for action in ("case.status", "case.assigned", "case.noted", "case.messaged", "case.granted"):
        assert action in logged


async def test_bad_form_input_gets_a_clear_page_and_changes_nothing(
    vault: Vault, desk_app, clock, clients, alice
) -> None:
    result = await submit(vault)
    client = await signed_in(desk_app, vault, clock, clients, "alice")
    bad = await client.form(f"/cases/{result.reference}/status", {"status": "closed"})
    assert bad.status_code == 400 and "needs an outcome" in bad.text and "Nothing was changed" in bad.text
    missing = await client.form(f"/cases/{result.reference}/notes", {})
    assert missing.status_code == 400 and "text" in missing.text
    cursor = await client.get("/api/cases?cursor=garbage")
    assert cursor.status_code == 400 and "cursor" in cursor.json()["detail"]
    async with vault.db.reading() as session:
        assert (await session.get(Case, result.case_id)).status == "received"
