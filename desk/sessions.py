"""Desk sessions, held in this process's memory only: who signed in, their CSRF token, and, once they
unlock it, their private key.

Threat: a session left open on an unattended screen, or a stolen session cookie. Why memory: the
officer's private key must never reach the database or a file; restarting the desk ends every session.
Idle and absolute timeouts are measured with the vault's clock, so tests move time instead of sleeping.
Expired sessions are swept on every lookup and on a timer (desk.app), so an unlocked key does not outlive
its session waiting for the next sign-in. Each session carries the officer's session epoch from the
database; a reset or deactivation bumps it, and the desk ends older sessions at their next request and,
without one, at the timer's next sweep (desk.app.end_reset_sessions).
When a session ends (logout, timeout, reset, shutdown) the reference to the unlocked key is dropped. Python
cannot promise to wipe the bytes, so the key lingers in freed memory until it is reused (see
docs/desk.md).
"""

from __future__ import annotations

import hashlib
import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from storage.clock import Clock
from storage.desk_accounts import SignedIn
from storage.officers import UnlockedOfficer

TOKEN_BYTES = 32
MAX_UNLOCK_FAILURES = 5


@dataclass
class DeskSession:
    """One signed-in officer's session."""

    token: str = field(repr=False)
    officer_id: int
    login: str
    display_name: str
    roles: tuple[str, ...]
    csrf: str = field(repr=False)
    created_at: datetime
    last_seen: datetime
    totp_enrolled: bool
    epoch: int = 0
    pending_totp: bytes | None = field(default=None, repr=False)
    unlocked: UnlockedOfficer | None = field(default=None, repr=False)
    unlock_failures: int = 0
    flash: str | None = None

    def has_role(self, *roles: str) -> bool:
        return bool(set(roles) & set(self.roles))


def _key(token: str) -> str:
    # Why a digest: the dictionary lookup then compares digests, not the secret itself, byte by byte.
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Sessions by token, ended when idle too long or open too long in all."""

    def __init__(self, *, clock: Clock, idle: timedelta, absolute: timedelta) -> None:
        self._clock = clock
        self._idle = idle
        self._absolute = absolute
        self._sessions: dict[str, DeskSession] = {}

    def create(self, signed: SignedIn) -> DeskSession:
        """A new session for a signed-in officer."""
        self.sweep()
        now = self._clock.now()
        session = DeskSession(
            token=secrets.token_urlsafe(TOKEN_BYTES),
            officer_id=signed.officer_id,
            login=signed.login,
            display_name=signed.display_name,
            roles=signed.roles,
            csrf=secrets.token_urlsafe(TOKEN_BYTES),
            created_at=now,
            last_seen=now,
            totp_enrolled=signed.totp_enrolled,
            epoch=signed.epoch,
        )
        self._sessions[_key(session.token)] = session
        return session

    def get(self, token: str | None) -> DeskSession | None:
        """The live session for a token, its idle timer restarted; None if unknown or expired."""
        self.sweep()
        if not token:
            return None
        session = self._sessions.get(_key(token))
        if session is None:
            return None
        session.last_seen = self._clock.now()
        return session

    def _expired(self, session: DeskSession, now: datetime) -> bool:
        return now - session.last_seen > self._idle or now - session.created_at > self._absolute

    def drop(self, token: str) -> None:
        """End a session: the unlocked key goes with it."""
        session = self._sessions.pop(_key(token), None)
        if session is not None:
            session.unlocked = None
            session.pending_totp = None

    def drop_officer(self, officer_id: int) -> None:
        """End every session of one officer (e.g. after too many wrong passphrases)."""
        for session in [s for s in self._sessions.values() if s.officer_id == officer_id]:
            self.drop(session.token)

    def sweep(self) -> int:
        """End every expired session; how many."""
        now = self._clock.now()
        expired = [s for s in self._sessions.values() if self._expired(s, now)]
        for session in expired:
            self.drop(session.token)
        return len(expired)

    def live(self) -> list[DeskSession]:
        """The sessions open now (to check their officers' epochs)."""
        return list(self._sessions.values())

    def drop_ended(self, sessions: list[DeskSession], epochs: Mapping[int, int]) -> int:
        """End those of `sessions` whose officer's epoch moved on, or who is missing from `epochs`
        (deactivated or gone); how many.

        Why only sessions taken before the epochs were read: a session opened since then may carry a
        newer epoch than the one read, and must not be ended for it.
        """
        ended = 0
        for session in sessions:
            still_open = self._sessions.get(_key(session.token)) is session
            if still_open and epochs.get(session.officer_id) != session.epoch:
                self.drop(session.token)
                ended += 1
        return ended

    def clear(self) -> None:
        """End every session (the desk is shutting down)."""
        for session in list(self._sessions.values()):
            self.drop(session.token)

    def __len__(self) -> int:
        return len(self._sessions)


class LoginThrottle:
    """At most `per_minute` sign-in attempts a minute from one client address.

    Why beside the per-account lockout: the lockout stops guessing one account's password; this stops
    one client trying many accounts, and unknown logins, which have no row to count in.
    """

    def __init__(self, *, clock: Clock, per_minute: int) -> None:
        self._clock = clock
        self._per_minute = per_minute
        self._attempts: dict[str, deque[datetime]] = {}

    def allow(self, client: str) -> bool:
        """Count an attempt from `client`; False if it is over the limit (the attempt is not made)."""
        now = self._clock.now()
        window = self._attempts.setdefault(client, deque())
        while window and now - window[0] >= timedelta(minutes=1):
            window.popleft()
        if len(window) >= self._per_minute:
            return False
        window.append(now)
        if len(self._attempts) > 10_000:
            # Bounded memory: forget clients with nothing in their window.
            self._attempts = {k: v for k, v in self._attempts.items() if v}
        return True
