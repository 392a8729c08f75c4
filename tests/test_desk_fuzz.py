"""Fuzzing the desk's JSON API from its own OpenAPI document (issue 5, point 7): schemathesis generates
requests for every documented operation, valid and invalid, and sends them to a live desk (uvicorn on a
free port over a real vault) as a signed-in, unlocked officer holding every role, with the session's
CSRF token. No answer may be a 5xx; statuses, content types, headers and bodies must match the document.

Half the generated requests name a real case (and a real evidence file), so the case actions run on it
with fuzzed bodies instead of stopping at 404. A generated request that ends the session (sign-out, too
many wrong passphrases) is followed by a fresh sign-in, by the vault's clock, before the next one.

Bounded: a few derandomized examples per operation and mode, so the whole run takes seconds.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from candour.app import desk_config
from candour.settings import Settings
from desk import server
from desk.app import build_app
from storage import cases, crypto, desk_accounts
from storage.clock import ManualClock
from storage.vault import Vault
from tests.conftest import PASSPHRASE
from tests.desk_world import PASSWORD, client_for, enrol, give_password, until_listening

EXAMPLES_PER_OPERATION = 10
FILE_PATH = "/api/cases/{reference}/files/{item_id}"


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(48)


@pytest.fixture
def engine_name() -> str:
    # The API's answers do not depend on the engine, and the storage layer is tested on both elsewhere.
    return "sqlite"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def desk_url(vault: Vault, settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(
        server.serve(build_app(vault, desk_config(settings)), host="127.0.0.1", port=port, stop=stop)
    )
    await until_listening(port)
    yield f"http://127.0.0.1:{port}"
    stop.set()
    await task


@dataclass
class Officer:
    """A signed-in, unlocked desk session over plain HTTP, renewed whenever a fuzzed request ended it."""

    base: str
    login: str
    secret: bytes
    clock: ManualClock
    http: requests.Session = field(default_factory=requests.Session)
    cookie_name: str = "__Host-candour_session"
    token: str = ""
    csrf: str = ""
    sign_ins: int = 0
    stale: bool = True

    def auth(self) -> tuple[dict[str, str], dict[str, str]]:
        """(headers, cookies) for one request, signing in again if the last request may have ended it."""
        if self.stale:
            alive = self.http.get(
                f"{self.base}/api/session", cookies={self.cookie_name: self.token}, timeout=10
            )
            if alive.status_code != 200 or not alive.json()["unlocked"]:
                self.sign_in()
            self.stale = False
        return {"X-CSRF-Token": self.csrf}, {self.cookie_name: self.token}

    def saw(self, path: str, status: int) -> None:
        # Sign-out ends the session with a 200, five wrong passphrases with a 401.
        if status == 401 or path.startswith("/api/session"):
            self.stale = True

    def sign_in(self) -> None:
        # A new TOTP step (a code is never accepted twice) and a new throttle minute for this address.
        self.clock.advance(timedelta(seconds=61))
        pre = self.http.get(f"{self.base}/api/session/csrf", timeout=10)
        pre_token = pre.json()["csrf_token"]
        signed = self.http.post(
            f"{self.base}/api/session",
            json={
                "login": self.login,
                "password": PASSWORD,
                "code": crypto.totp_code(self.secret, at=self.clock.now().timestamp()),
            },
            headers={"X-CSRF-Token": pre_token},
            cookies={"__Host-candour_csrf": pre_token},
            timeout=10,
        )
        assert signed.status_code == 200, signed.text
        self.token = signed.cookies[self.cookie_name]
        self.csrf = signed.json()["csrf_token"]
        unlocked = self.http.post(
            f"{self.base}/api/session/unlock",
            json={"passphrase": PASSPHRASE},
            headers={"X-CSRF-Token": self.csrf},
            cookies={self.cookie_name: self.token},
            timeout=10,
        )
        assert unlocked.status_code == 200, unlocked.text
        self.sign_ins += 1


async def enrolled(vault: Vault, clock: ManualClock, login: str) -> bytes:
    enrolment = await desk_accounts.set_password(vault, login=login, password=PASSWORD)
    assert enrolment is not None
    signed = await desk_accounts.sign_in(
        vault,
        login=login,
        password=PASSWORD,
        code=None,
        rule=desk_accounts.LockoutRule(5, timedelta(minutes=1)),
    )
    secret = desk_accounts.new_totp_secret()
    await desk_accounts.enrol_totp(
        vault,
        officer_id=signed.officer_id,
        secret=secret,
        code=crypto.totp_code(secret, at=clock.now().timestamp()),
        enrolment_code=enrolment,
    )
    return secret


@dataclass
class Outcome:
    """What the fuzzing saw: failures, and the statuses each operation answered."""

    failures: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, set[int]] = field(default_factory=dict)


def fuzz(schema: Any, officer: Officer, real: dict[str, str], modes: tuple[GenerationMode, ...]) -> Outcome:
    """Run every operation of `schema` in each mode; collect the first failure of each (shrunk)."""
    outcome = Outcome()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        for mode in modes:
            try:
                strategy = operation.as_strategy(generation_mode=mode)
            except Exception as exc:  # an operation with nothing to make invalid has no negative mode
                if mode is GenerationMode.NEGATIVE:
                    continue
                raise AssertionError(f"{label}: no strategy: {exc}") from exc
            run = _runner(strategy, officer, real, outcome, label)
            try:
                run()
            except Unsatisfiable:
                # Nothing to make invalid (no parameters, no body): the positive mode covered it.
                if mode is not GenerationMode.NEGATIVE:
                    raise
            except (Exception, BaseExceptionGroup) as exc:  # the shrunk failure: keep it and go on
                outcome.failures[f"{label} [{mode.value}]"] = f"{type(exc).__name__}: {exc}"[:1500]
    return outcome


def _runner(
    strategy: Any, officer: Officer, real: dict[str, str], outcome: Outcome, label: str
) -> Callable[[], None]:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, on_real_case=st.booleans())
    def run(case: Any, on_real_case: bool) -> None:
        if on_real_case and case.path_parameters:
            for name in ("reference", "item_id"):
                if name in case.path_parameters:
                    case.path_parameters[name] = real[name]
        headers, cookies = officer.auth()
        response = case.call(base_url=officer.base, headers=headers, cookies=cookies, timeout=30)
        officer.saw(case.operation.path, response.status_code)
        outcome.statuses.setdefault(label, set()).add(response.status_code)
        case.validate_response(response, checks=CHECKS)

    return run


async def test_fuzzing_every_documented_operation_finds_no_server_error(
    vault: Vault, clock: ManualClock, make_officer, desk_url: str
) -> None:
    # alice holds every role and sits in every queue, so every operation is reachable past its role check.
    secret = await enrolled(vault, clock, "alice")
    await make_officer("bea", queues=("psd-conduct",), unit="professional-standards")
    filed = await cases.submit(
        vault,
        report=cases.ReportSubmission(
            categories=("bullying",),
            narrative="Fuzzing target.",
            evidence=(
                cases.Evidence(filename="shot.png", media_type="image/png", content=PNG, metadata_kept=False),
            ),
        ),
        contact="chat-fuzz",
    )
    officer = Officer(base=desk_url, login="alice", secret=secret, clock=clock)
    await asyncio.to_thread(officer.sign_in)
    found = await asyncio.to_thread(
        lambda: officer.http.get(
            f"{desk_url}/api/cases/{filed.reference}",
            cookies={officer.cookie_name: officer.token},
            timeout=10,
        )
    )
    evidence = [f for f in found.json()["files"] if f["filename"] == "shot.png"]
    real = {"reference": filed.reference, "item_id": evidence[0]["id"]}

    document = await asyncio.to_thread(
        lambda: requests.get(f"{desk_url}/api/openapi.json", timeout=10).json()
    )
    schema = schemathesis.openapi.from_dict(document)
    documented = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}

    outcome = await asyncio.to_thread(
        fuzz, schema, officer, real, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    )

    assert set(outcome.statuses) == documented, f"never called: {documented - set(outcome.statuses)}"
    # Generated requests got past validation into the vault, on the real case too, not only to 4xx.
    for reached in ("GET /api/cases", "GET /api/cases/{reference}", "POST /api/cases/{reference}/notes"):
        assert 200 in outcome.statuses[reached], (reached, outcome.statuses[reached])
    assert outcome.failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in outcome.failures.items())


# --- what the fuzzing found, pinned down one by one ------------------------------------------------


def _operation(app: Any, path: str, method: str) -> Any:
    return schemathesis.openapi.from_dict(app.openapi())[path][method]


async def test_a_malformed_body_is_answered_as_documented(vault: Vault, settings: Settings) -> None:
    app = build_app(vault, desk_config(settings))
    client = client_for(app)
    try:
        await client.pre_sign_in()
        response = await client.http.post(
            "/api/session",
            content=b"\x00",
            headers={"X-CSRF-Token": client.csrf, "Content-Type": "application/json"},
        )
    finally:
        await client.http.aclose()
    assert response.status_code == 422 and isinstance(response.json()["detail"], str)
    operation = _operation(app, "/api/session", "POST")
    operation.Case(body={}).validate_response(response, checks=[response_schema_conformance])


async def test_an_evidence_file_is_served_as_documented(
    vault: Vault, settings: Settings, clock: ManualClock
) -> None:
    filed = await cases.submit(
        vault,
        report=cases.ReportSubmission(
            categories=("bullying",),
            narrative="Evidence attached.",
            evidence=(
                cases.Evidence(filename="shot.png", media_type="image/png", content=PNG, metadata_kept=False),
            ),
        ),
    )
    app = build_app(vault, desk_config(settings))
    client = client_for(app)
    try:
        await give_password(vault, "alice")
        assert (await client.sign_in("alice")).status_code == 200
        await enrol(vault, client, clock)
        assert (await client.unlock(PASSPHRASE)).status_code == 200
        case = (await client.get(f"/api/cases/{filed.reference}")).json()
        [file] = [f for f in case["files"] if f["filename"] == "shot.png"]
        response = await client.get(f"/api/cases/{filed.reference}/files/{file['id']}")
    finally:
        await client.http.aclose()
    assert response.status_code == 200 and response.content == PNG
    operation = _operation(app, FILE_PATH, "GET")
    operation.Case(path_parameters={"reference": filed.reference, "item_id": file["id"]}).validate_response(
        response, checks=[content_type_conformance]
    )
