"""A chat's conversation state, kept in the vault as a sealed draft so a restart or another replica resumes it.

Nothing identifying is kept here: no user id, name or username, only the reporter's answers, Telegram
file ids of evidence not yet sealed, and message ids to delete when the reporter wipes the chat.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from storage import drafts
from storage.clock import coarsen
from storage.policy_store import PublishedPolicy
from storage.vault import Vault

STATE_VERSION = 1
# Every step of every flow, so a button can name the step it was made for in two characters.
ALL_STEPS = (
    "",
    "categories",
    "narrative",
    "when",
    "where",
    "people",
    "person_role",
    "person_unit",
    "person_more",
    "witnesses",
    "evidence",
    "evidence_metadata",
    "evidence_unchecked",
    "risk",
    "reported_before",
    "checkins",
    "review",
    "code",
    "view",
    "reply",
    "file",
)


@dataclass
class PersonAnswer:
    """Someone the reporter names."""

    name: str = ""
    staff_number: str = ""
    role: str | None = None
    unit: str | None = None


@dataclass
class EvidenceAnswer:
    """A file the reporter sent, still on Telegram's servers until submission."""

    file_id: str
    kind: str
    filename: str
    media_type: str
    size: int
    keep_metadata: bool = False
    findings: list[str] = field(default_factory=list)
    cleanable: bool = True


@dataclass
class ChatState:
    """Where a chat is in a flow, and what the reporter has answered so far."""

    flow: str = "idle"
    step: str = ""
    token: str = ""
    editing: bool = False
    language: str | None = None
    categories: list[str] = field(default_factory=list)
    narrative: list[str] = field(default_factory=list)
    when: str = ""
    where: str = ""
    location_unit: str | None = None
    people: list[PersonAnswer] = field(default_factory=list)
    person: PersonAnswer | None = None
    witnesses: str = ""
    evidence: list[EvidenceAnswer] = field(default_factory=list)
    pending_evidence: EvidenceAnswer | None = None
    risk_of_harm: bool | None = None
    reported_before: bool | None = None
    checkin_consent: bool | None = None
    trail: list[int] = field(default_factory=list)
    # The hour (coarsened down) when the oldest message still in the trail was sent: see Turn.wipe.
    trail_since: str = ""
    touched: str = ""
    case_id: str | None = None
    inbox: dict[str, str] = field(default_factory=dict)

    def start(self, flow: str, step: str) -> None:
        """Begin a flow afresh; a new token makes every button of an earlier flow stale."""
        language, trail, since, inbox = self.language, self.trail, self.trail_since, self.inbox
        self.__dict__.update(ChatState().__dict__)
        self.language, self.trail, self.trail_since, self.inbox = language, trail, since, inbox
        self.flow, self.step, self.token = flow, step, secrets.token_urlsafe(4)

    def remember(self, message_id: int, now: datetime) -> None:
        """Add a message of this chat (the bot's or the reporter's) to those to delete later."""
        if not self.trail:
            self.trail_since = coarsen(now).isoformat()
        self.trail.append(message_id)

    def oldest_in_trail(self) -> datetime | None:
        """No later than when the oldest message in the trail was sent (None if unknown)."""
        return datetime.fromisoformat(self.trail_since) if self.trail and self.trail_since else None

    def button_prefix(self) -> str:
        """What a button made now must carry: the flow's token and the current step.

        Why the step: a button left on an earlier message (an old Done) must not act on a later step.
        """
        code = ALL_STEPS.index(self.step) if self.step in ALL_STEPS else 99
        return f"{self.token}.{code}"

    def reset(self) -> None:
        """Back to idle, forgetting answers but not the language or messages still to wipe."""
        self.start("idle", "")

    def to_json(self) -> dict[str, Any]:
        return {"v": STATE_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatState:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["people"] = [PersonAnswer(**p) for p in values.get("people", [])]
        values["evidence"] = [EvidenceAnswer(**e) for e in values.get("evidence", [])]
        if values.get("person"):
            values["person"] = PersonAnswer(**values["person"])
        if values.get("pending_evidence"):
            values["pending_evidence"] = EvidenceAnswer(**values["pending_evidence"])
        return cls(**values)


def chat_ref(chat_id: int) -> str:
    """The reference under which a chat's draft is tagged (the tag, not this, is stored)."""
    return f"telegram:{chat_id}"


ANSWERS_LIFETIME = timedelta(hours=24)
# Why longer than the answers: Telegram lets the bot delete messages for 48 hours, so /wipe must still
# know their ids after a half-written report's answers have expired, and a while beyond, to say plainly
# how many it could not delete.
TRAIL_LIFETIME = timedelta(hours=72)


async def load(vault: Vault, chat_id: int) -> ChatState:
    """The chat's state, or a fresh idle one; a report untouched for 24 hours loses its answers."""
    return _restore(vault, await drafts.load(vault, chat_ref=chat_ref(chat_id)))


async def load_with_policy(vault: Vault, chat_id: int) -> tuple[ChatState, PublishedPolicy]:
    """The chat's state and the active routing policy, read in one transaction (every update needs both)."""
    data, policy = await drafts.load_with_policy(vault, chat_ref=chat_ref(chat_id))
    assert policy is not None
    return _restore(vault, data), policy


def _restore(vault: Vault, data: dict[str, Any] | None) -> ChatState:
    chat_state = ChatState.from_json(data) if data else ChatState()
    if chat_state.flow != "idle" and chat_state.touched:
        touched = datetime.fromisoformat(chat_state.touched)
        if vault.clock.now() - touched >= ANSWERS_LIFETIME + timedelta(hours=1):
            chat_state.reset()
    return chat_state


async def save(vault: Vault, chat_id: int, state: ChatState) -> None:
    """Seal and store the chat's state; an idle chat with nothing to remember keeps no draft at all."""
    if state.flow == "idle" and not state.trail and not state.inbox and state.language is None:
        await drafts.discard(vault, chat_ref=chat_ref(chat_id))
        return
    state.touched = coarsen(vault.clock.now()).isoformat()
    await drafts.save(vault, chat_ref=chat_ref(chat_id), state=state.to_json(), lifetime=TRAIL_LIFETIME)
