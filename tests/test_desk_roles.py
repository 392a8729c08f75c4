"""Every role against every route of the desk: each is either allowed (it answers, and not with 401/403)
or refused with 403, as the table says. A route added to the app without a row here fails the test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlmodel import select

from candour.app import desk_config
from desk import api, oversight, pages
from desk.app import build_app
from storage import cases, crypto, officers
from storage.conflicts import CASEWORK_ROLES
from storage.models import CaseItem, CaseQueue
from storage.vault import Vault
from tests.conftest import PASSPHRASE
from tests.desk_world import DeskClient, client_for, enrol, give_password

ROLES = officers.ROLES
EVERYONE = frozenset(ROLES)
CASEWORK = frozenset({"standards-officer", "queue-lead"})
LEAD = frozenset({"queue-lead"})
PUBLIC = "public"
AUDITOR = frozenset({"auditor"})
DASHBOARD = frozenset({"auditor", "queue-lead", "policy-admin"})

# (method, path, body or form, who may) — {ref} and {item} are filled in per role. Order matters:
# each role works its own fresh case through the workflow, and signs out last.
Body = dict[str, str | None]
MATRIX: list[tuple[str, str, Body | None, frozenset[str] | str]] = [
    ("GET", "/api/session/csrf", None, PUBLIC),
    ("GET", "/api/openapi.json", None, PUBLIC),
    ("GET", "/login", None, PUBLIC),
    ("GET", "/api/session", None, EVERYONE),
    ("GET", "/", None, EVERYONE),
    ("GET", "/account/totp", None, EVERYONE),
    ("GET", "/account/totp/qr.svg", None, EVERYONE),
    ("POST", "/api/account/totp/begin", {}, EVERYONE),
    ("POST", "/api/account/totp/confirm", {"code": "000000"}, EVERYONE),
    ("POST", "/account/totp", {"code": "000000"}, EVERYONE),
    ("GET", "/unlock", None, CASEWORK),
    ("POST", "/unlock", {"passphrase": PASSPHRASE}, CASEWORK),
    ("POST", "/api/session/unlock", {"passphrase": PASSPHRASE}, CASEWORK),
    ("GET", "/queue", None, CASEWORK),
    ("GET", "/api/cases", None, CASEWORK),
    ("GET", "/cases/{ref}", None, CASEWORK),
    ("GET", "/api/cases/{ref}", None, CASEWORK),
    ("GET", "/cases/{ref}/files/{item}", None, CASEWORK),
    ("GET", "/cases/{ref}/files/{item}/preview", None, CASEWORK),
    ("GET", "/api/cases/{ref}/files/{item}", None, CASEWORK),
    ("GET", "/cases/{ref}/export.pdf", None, CASEWORK),
    ("GET", "/api/cases/{ref}/export.pdf", None, CASEWORK),
    ("GET", "/cases/{ref}/export.zip", None, CASEWORK),
    ("GET", "/api/cases/{ref}/export.zip", None, CASEWORK),
    ("GET", "/account/telegram", None, CASEWORK),
    ("POST", "/account/telegram", {}, CASEWORK),
    ("POST", "/api/account/telegram-link", {}, CASEWORK),
    ("POST", "/api/cases/{ref}/status", {"status": "acknowledged"}, CASEWORK),
    ("POST", "/cases/{ref}/status", {"status": "investigating"}, CASEWORK),
    ("POST", "/api/cases/{ref}/assign", {"login": "{login}"}, CASEWORK),
    ("POST", "/cases/{ref}/assign", {"login": ""}, CASEWORK),
    ("POST", "/api/cases/{ref}/notes", {"text": "a note"}, CASEWORK),
    ("POST", "/cases/{ref}/notes", {"text": "a note"}, CASEWORK),
    ("POST", "/api/cases/{ref}/messages", {"text": "a question"}, CASEWORK),
    ("POST", "/cases/{ref}/messages", {"text": "a question"}, CASEWORK),
    ("POST", "/api/cases/{ref}/refer", {"queue": "psd-lead"}, CASEWORK),
    ("POST", "/cases/{ref}/refer", {"queue": "independent-review"}, CASEWORK),
    ("POST", "/api/cases/{ref}/escalation", {"queue": "psd-counter-corruption"}, CASEWORK),
    ("POST", "/cases/{ref}/escalation", {"queue": "psd-counter-corruption"}, CASEWORK),
    ("POST", "/api/cases/{ref}/grant", {"login": "zed"}, LEAD),
    ("POST", "/cases/{ref}/grant", {"login": "zed"}, LEAD),
    ("POST", "/api/cases/{ref}/exported", {"form": "folder"}, CASEWORK),
    ("GET", "/api/audit", None, AUDITOR),
    ("GET", "/api/audit/verify", None, AUDITOR),
    ("GET", "/audit", None, AUDITOR),
    ("POST", "/api/audit/case", {"reference": "{ref}"}, AUDITOR),
    ("POST", "/audit/case", {"reference": "{ref}"}, AUDITOR),
    ("GET", "/api/dashboard", None, DASHBOARD),
    ("GET", "/dashboard", None, DASHBOARD),
    ("POST", "/api/session/logout", {}, EVERYONE),
    ("POST", "/login", {"login": "{login}", "password": "desk password for tests", "code": "{code}"}, PUBLIC),
    ("POST", "/logout", {}, EVERYONE),
    (
        "POST",
        "/api/session",
        {"login": "{login}", "password": "desk password for tests", "code": "{code}"},
        PUBLIC,
    ),
]


def test_matrix_covers_every_route() -> None:
    covered = {(method, path) for method, path, _, _ in MATRIX}
    routes = {
        (method, route.path.replace("{reference}", "{ref}").replace("{item_id}", "{item}"))
        for route in _routes()
        for method in route.methods - {"HEAD"}
    }
    assert routes == covered


def _routes() -> list[APIRoute]:
    routers = (api.router, pages.router, oversight.api_router, oversight.page_router)
    return [r for router in routers for r in router.routes if isinstance(r, APIRoute)] + [
        _OpenApi()  # served by FastAPI itself
    ]


class _OpenApi:
    path = "/api/openapi.json"
    methods = frozenset({"GET"})


async def _call(client: DeskClient, method: str, path: str, body: Body | None, fill: Callable[[str], str]):
    path = fill(path)
    if method == "GET":
        return await client.get(path)
    values = {k: fill(v) if isinstance(v, str) else v for k, v in (body or {}).items()}
    if path.startswith("/api/"):
        return await client.post(path, values)
    return await client.form(path, {k: v or "" for k, v in values.items()})


@pytest.mark.parametrize("role", ROLES)
async def test_every_role_against_every_route(role: str, vault: Vault, settings, clock, make_officer) -> None:
    app: FastAPI = build_app(vault, desk_config(settings))
    await make_officer("zed", unit="north-bcu")
    login = f"officer-{role}"
    # Only a casework role may sit in a queue (officers.add refuses the others).
    queues = ("psd-conduct",) if role in CASEWORK_ROLES else ()
    await make_officer(login, queues=queues, unit="professional-standards", roles=(role,))
    photo = cases.Evidence(
        filename="p.png", media_type="image/png", content=b"\x89PNG" + bytes(8), metadata_kept=False
    )
    result = await cases.submit(
        vault, report=cases.ReportSubmission(categories=("bullying",), narrative="n", evidence=(photo,))
    )
    # As the follow-up dispatcher escalates: the queue is added, its member (yan) gets no key.
    await make_officer(f"yan-{role}", queues=("psd-counter-corruption",), unit="professional-standards")
    async with vault.db.transaction() as session:
        session.add(
            CaseQueue(
                case_id=result.case_id,
                queue_id="psd-counter-corruption",
                via="escalated",
                added_at=clock.now(),
            )
        )
    async with vault.db.reading() as session:
        item = (
            await session.exec(
                select(CaseItem.id).where(CaseItem.case_id == result.case_id, CaseItem.kind == "evidence")
            )
        ).one()
    await give_password(vault, login)
    client = client_for(app)
    assert (await client.sign_in(login)).status_code == 200
    secret = await enrol(vault, client, clock)

    def fill(text: str) -> str:
        code = crypto.totp_code(secret, at=clock.now().timestamp())
        return text.format(ref=result.reference, item=item, login=login, code=code)

    outcomes: dict[tuple[str, str], int] = {}
    try:
        for method, path, body, who in MATRIX:
            if path in ("/login", "/api/session") and method == "POST":
                # A fresh code for each sign-in: a used one is refused, whatever the role.
                clock.advance(timedelta(seconds=30))
                await client.pre_sign_in()
            response = await _call(client, method, path, body, fill)
            if path in ("/api/session", "/login") and method == "POST":
                client.csrf = (await client.get("/api/session")).json()["csrf_token"]
            outcomes[(method, path)] = response.status_code
            allowed = who == PUBLIC or role in who
            if allowed:
                assert response.status_code not in (401, 403) and response.status_code < 500, (
                    method,
                    path,
                    response.status_code,
                    response.text[:200],
                )
                if method == "POST" and "{ref}" in path:
                    assert response.status_code in (200, 303), (method, path, response.text[:300])
            else:
                assert response.status_code == 403, (method, path, response.status_code, response.text[:200])
            if path in ("/api/session/logout", "/logout"):
                await client.pre_sign_in()
                signed = await client.sign_in(login, code=_fresh(secret, clock))
                assert signed.status_code == 200
    finally:
        await client.http.aclose()
    assert len(outcomes) == len(MATRIX)


def _fresh(secret: bytes, clock) -> str:
    clock.advance(timedelta(seconds=30))
    return crypto.totp_code(secret, at=clock.now().timestamp())
