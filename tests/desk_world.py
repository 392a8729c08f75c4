"""Test helpers for the desk: an httpx client on the real ASGI app, signing in and unlocking as an officer."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from storage import crypto, desk_accounts
from storage.clock import ManualClock
from storage.vault import Vault

PASSWORD = "desk password for tests"
# A host the desk trusts by default (desk_trusted_hosts): any other Host header is refused.
BASE_URL = "https://localhost"
# The one-time enrolment codes handed over with each desk password, as an operator would (by vault, login).
ENROLMENT_CODES: dict[tuple[int, str], str] = {}


@dataclass
class DeskClient:
    """One browser-like client (own cookie jar) of the desk app."""

    http: httpx.AsyncClient
    csrf: str = ""
    totp_secret: bytes = b""

    async def pre_sign_in(self) -> str:
        response = await self.http.get("/api/session/csrf")
        assert response.status_code == 200, response.text
        self.csrf = response.json()["csrf_token"]
        return self.csrf

    async def sign_in(self, login: str, password: str = PASSWORD, code: str | None = None) -> httpx.Response:
        await self.pre_sign_in()
        response = await self.post("/api/session", {"login": login, "password": password, "code": code})
        if response.status_code == 200:
            self.csrf = response.json()["csrf_token"]
        return response

    async def unlock(self, passphrase: str) -> httpx.Response:
        return await self.post("/api/session/unlock", {"passphrase": passphrase})

    async def post(self, path: str, body: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        return await self.http.post(path, json=body or {}, headers={"X-CSRF-Token": self.csrf}, **kwargs)

    async def form(self, path: str, data: dict[str, str]) -> httpx.Response:
        return await self.http.post(path, data={"csrf_token": self.csrf, **data})

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, **kwargs)


def client_for(app: FastAPI) -> DeskClient:
    return DeskClient(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL, follow_redirects=False)
    )


async def enrol(vault: Vault, client: DeskClient, clock: ManualClock) -> bytes:
    """Enrol a second factor through the API for the signed-in client; returns the secret."""
    begun = await client.post("/api/account/totp/begin")
    assert begun.status_code == 200, begun.text
    secret = _secret_from(begun.json()["secret"])
    login = (await client.get("/api/session")).json()["login"]
    confirmed = await client.post(
        "/api/account/totp/confirm",
        {
            "code": crypto.totp_code(secret, at=clock.now().timestamp()),
            "enrolment_code": ENROLMENT_CODES[(id(vault), login)],
        },
    )
    assert confirmed.status_code == 200, confirmed.text
    client.totp_secret = secret
    return secret


def _secret_from(base32: str) -> bytes:
    return base64.b32decode(base32 + "=" * (-len(base32) % 8))


async def give_password(vault: Vault, login: str) -> str | None:
    """A desk password for `login`, keeping the enrolment code the operator would hand over."""
    code = await desk_accounts.set_password(vault, login=login, password=PASSWORD)
    if code is not None:
        ENROLMENT_CODES[(id(vault), login)] = code
    return code


async def until_listening(port: int) -> None:
    """Wait (up to about five seconds) until a server started on this event loop accepts on the port."""
    for _ in range(250):
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        return
