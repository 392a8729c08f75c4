"""A small client of the desk's JSON API, for `candour desk`: it signs in, keeps the session in a file
only its owner can read, and calls the API with the session cookie and CSRF token.

Why it sends the cookie itself: the desk's cookies are Secure (and `__Host-`), which an HTTP client's
cookie jar will not send to http://127.0.0.1; the session file holds exactly what a browser would.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SESSION_SUFFIX = "candour_session"
CSRF_SUFFIX = "candour_csrf"


class DeskClientError(Exception):
    """The desk refused a request or could not be reached; the message says why."""


def default_session_file() -> Path:
    configured = os.environ.get("CANDOUR_DESK_SESSION_FILE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "candour" / "desk-session.json"


@dataclass
class StoredSession:
    """What a signed-in CLI keeps between commands."""

    url: str
    cookie_name: str
    token: str
    csrf: str

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.__dict__, handle)

    @classmethod
    def load(cls, path: Path) -> StoredSession:
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise DeskClientError("not signed in: run `candour desk login`") from None
        except (OSError, ValueError, TypeError):
            raise DeskClientError(f"the session file {path} is damaged: run `candour desk login`") from None


class DeskApi:
    """Calls to the desk's JSON API over one HTTP connection pool."""

    def __init__(self, url: str, *, session: StoredSession | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.session = session
        self._http = httpx.Client(base_url=self.url, timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DeskApi:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        cookies: dict[str, str] | None = None,
        csrf: str | None = None,
    ) -> httpx.Response:
        headers = {}
        jar = dict(cookies or {})
        if self.session is not None:
            jar[self.session.cookie_name] = self.session.token
            csrf = csrf or self.session.csrf
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        if csrf and method != "GET":
            headers["X-CSRF-Token"] = csrf
        try:
            response = self._http.request(method, path, json=json_body, headers=headers)
        except httpx.TransportError as exc:
            raise DeskClientError(
                f"cannot reach the desk at {self.url} ({type(exc).__name__}): is `candour run` running?"
            ) from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text[:200]
            raise DeskClientError(f"{detail} (HTTP {response.status_code})")
        return response

    def sign_in(self, *, login: str, password: str, code: str | None) -> dict[str, Any]:
        """Sign in; keeps the new session in `self.session`."""
        pre = self._request("GET", "/api/session/csrf")
        pre_cookie = next((c for c in pre.cookies if c.endswith(CSRF_SUFFIX)), None)
        if pre_cookie is None:
            raise DeskClientError("the desk did not answer like a Candour desk")
        token = pre.json()["csrf_token"]
        response = self._request(
            "POST",
            "/api/session",
            json_body={"login": login, "password": password, "code": code or None},
            cookies={pre_cookie: pre.cookies[pre_cookie]},
            csrf=token,
        )
        name = next((c for c in response.cookies if c.endswith(SESSION_SUFFIX)), None)
        if name is None:
            raise DeskClientError("the desk did not open a session")
        body = response.json()
        self.session = StoredSession(
            url=self.url, cookie_name=name, token=response.cookies[name], csrf=body["csrf_token"]
        )
        return body

    def unlock(self, passphrase: str) -> dict[str, Any]:
        return self._request("POST", "/api/session/unlock", json_body={"passphrase": passphrase}).json()

    def logout(self) -> None:
        self._request("POST", "/api/session/logout", json_body={})

    def queue_page(self, *, cursor: str | None = None, **filters: Any) -> dict[str, Any]:
        params = {k: v for k, v in filters.items() if v not in (None, "", False)}
        if cursor:
            params["cursor"] = cursor
        query = str(httpx.QueryParams(params))
        return self._request("GET", f"/api/cases{'?' + query if query else ''}").json()

    def queue(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every case of the queue matching the filters, page after page."""
        cursor = None
        while True:
            page = self.queue_page(cursor=cursor, **filters)
            yield from page["cases"]
            cursor = page["next_cursor"]
            if not cursor:
                return

    def case(self, reference: str) -> dict[str, Any]:
        return self._request("GET", f"/api/cases/{reference}").json()

    def file(self, href: str) -> bytes:
        return self._request("GET", href).content

    def record_export(self, reference: str) -> None:
        self._request("POST", f"/api/cases/{reference}/exported", json_body={"form": "folder"})
