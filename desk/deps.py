"""What every desk route shares: the desk's state (vault, configuration, sessions), and the dependencies that
find the caller's session, check the CSRF token, and require a second factor, roles, or an unlocked key.

Each refusal is an exception the app turns into a JSON error under /api/ and a redirect or an error page
elsewhere, so a route only ever runs for a caller it is meant for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from desk.config import DeskConfig
from desk.security import UNSAFE_METHODS, CookieNames, submitted_token, tokens_match
from desk.sessions import DeskSession, LoginThrottle, SessionStore
from storage import desk_accounts
from storage.casework import CASEWORK_ROLES, QUEUE_LEAD
from storage.desk_accounts import LockoutRule
from storage.officers import UnlockedOfficer
from storage.vault import Vault


@dataclass
class DeskState:
    """The desk's long-lived parts, built once by `desk.app.build_app`."""

    vault: Vault
    config: DeskConfig
    sessions: SessionStore
    throttle: LoginThrottle
    cookies: CookieNames
    templates: Jinja2Templates

    @property
    def lockout(self) -> LockoutRule:
        return self.config.lockout

    @property
    def due_soon(self) -> timedelta:
        return self.config.due_soon


class SignInRequired(Exception):
    """No live session: sign in (again)."""


class EnrolmentRequired(Exception):
    """Signed in with a password alone, and the desk requires a second factor: enrol one first."""


class UnlockRequired(Exception):
    """The action needs the officer's private key, which is not unlocked in this session."""


class Forbidden(Exception):
    """The caller's roles do not allow this route."""


class CsrfRefused(Exception):
    """A state-changing request without the right CSRF token."""


# Sign-in forms check the pre-sign-in token, whether or not an older session cookie is still around.
SIGN_IN_PATHS = frozenset({"/login", "/api/session"})


def desk_state(request: Request) -> DeskState:
    state: DeskState = request.app.state.desk
    return state


State = Annotated[DeskState, Depends(desk_state)]


async def check_csrf(request: Request, state: State) -> None:
    """Refuse a state-changing request unless it carries the token of its session (or, before sign-in,
    the token of its pre-sign-in cookie)."""
    if request.method not in UNSAFE_METHODS:
        return
    session = None
    if request.url.path not in SIGN_IN_PATHS:
        session = state.sessions.get(request.cookies.get(state.cookies.session))
    expected = session.csrf if session is not None else request.cookies.get(state.cookies.csrf)
    if not tokens_match(expected, await submitted_token(request)):
        raise CsrfRefused()


async def optional_session(request: Request, state: State) -> DeskSession | None:
    """The caller's live session, or None; one begun before a reset or deactivation ends here.

    Why a database read on every request: a password reset, a second-factor reset or a deactivation
    must end a stolen or forgotten session at once, not at its absolute timeout (the epoch is one
    primary-key lookup).
    """
    session = state.sessions.get(request.cookies.get(state.cookies.session))
    if session is None:
        return None
    epoch = await desk_accounts.current_epoch(state.vault, officer_id=session.officer_id)
    if epoch != session.epoch:
        state.sessions.drop(session.token)
        return None
    return session


async def any_session(request: Request, state: State) -> DeskSession:
    """The caller's live session, whatever its second-factor state."""
    session = await optional_session(request, state)
    if session is None:
        raise SignInRequired()
    return session


AnySession = Annotated[DeskSession, Depends(any_session)]


def full_session(session: AnySession, state: State) -> DeskSession:
    """A session past the second factor (or any session, if the settings do not require one)."""
    if state.config.require_totp and not session.totp_enrolled:
        raise EnrolmentRequired()
    return session


FullSession = Annotated[DeskSession, Depends(full_session)]


def casework_session(session: FullSession) -> DeskSession:
    """A session of a standards officer or queue lead."""
    if not session.has_role(*CASEWORK_ROLES):
        raise Forbidden(f"this needs the role {' or '.join(CASEWORK_ROLES)}")
    return session


CaseworkSession = Annotated[DeskSession, Depends(casework_session)]


def unlocked_officer(session: CaseworkSession) -> UnlockedOfficer:
    """The officer's unlocked key, for routes that decrypt or seal."""
    if session.unlocked is None:
        raise UnlockRequired()
    return session.unlocked


Unlocked = Annotated[UnlockedOfficer, Depends(unlocked_officer)]


def queue_lead(session: CaseworkSession) -> DeskSession:
    """A queue lead's session (granting access widens who can read)."""
    if not session.has_role(QUEUE_LEAD):
        raise Forbidden(f"this needs the role {QUEUE_LEAD}")
    return session


QueueLead = Annotated[DeskSession, Depends(queue_lead)]

AUDITOR = "auditor"
# Who may see aggregate statistics: people who answer for the service as a whole, not one queue's cases.
DASHBOARD_ROLES = (AUDITOR, QUEUE_LEAD, "policy-admin")


def auditor(session: FullSession) -> DeskSession:
    """An auditor's session (the audit log names who read which case)."""
    if not session.has_role(AUDITOR):
        raise Forbidden(f"this needs the role {AUDITOR}")
    return session


Auditor = Annotated[DeskSession, Depends(auditor)]


def dashboard_viewer(session: FullSession) -> DeskSession:
    """A session of an auditor, queue lead or policy admin."""
    if not session.has_role(*DASHBOARD_ROLES):
        raise Forbidden(f"this needs the role {' or '.join(DASHBOARD_ROLES)}")
    return session


DashboardViewer = Annotated[DeskSession, Depends(dashboard_viewer)]
