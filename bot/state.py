"""A chat's conversation state, kept in the vault as a sealed draft so a restart or another replica resumes it.

Nothing identifying is kept here: no user id, name or username, only the reporter's answers, Telegram
file ids of evidence not yet sealed, and message ids to delete when the reporter wipes the chat.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from storage import drafts, updates
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
    "when_ongoing",  # added later: at the end, so buttons of drafts saved before keep their step
)


@dataclass
class PersonAnswer:
    """Someone the reporter names."""

    name: str = ""
    staff_number: str = ""
    role: str | None = None
    unit: str | None = None
    # What the reporter typed where the buttons offered nothing that fits (bot.questions.add_note): sealed
    # with the report, never a routing fact.
    note: str = ""


# Why a file cannot be cleaned (EvidenceAnswer.cannot_clean): Candour has no cleaner for its type, or it
# has one but cleaning this file failed the independent check.
CANNOT_CLEAN_TYPE = "type"
CANNOT_CLEAN_UNSAFE = "unsafe"


@dataclass
class EvidenceAnswer:
    """A file the reporter sent, still on Telegram's servers until submission.

    What the cleaner found is kept as its findings, each a phrase id with its shown value encoded by
    bot.finding_words (never the bytes), so it is said in the language the reporter reads when shown: it
    may name a place or a phone, so it lives only in the sealed draft and is never logged.
    """

    file_id: str
    kind: str
    filename: str
    media_type: str  # the real type, once the cleaner has read the bytes
    size: int
    keep_metadata: bool = False
    # What the file reveals (the keep-or-remove question lists these), at most a few of each kind: see
    # bot.files.bounded. `finding_kinds` is each one's kind; `findings_more` counts, per kind, those left out.
    findings: list[str] = field(default_factory=list)
    finding_kinds: list[str] = field(default_factory=list)
    findings_more: dict[str, int] = field(default_factory=dict)
    # Parts cleaning removes whole beyond the findings (an embedded object Candour cannot check), bounded
    # the same way.
    parts: list[str] = field(default_factory=list)
    part_kinds: list[str] = field(default_factory=list)
    parts_more: dict[str, int] = field(default_factory=dict)
    # Cleaning works on this file; if not, `cannot_clean` says why (CANNOT_CLEAN_TYPE or _UNSAFE).
    cleanable: bool = True
    cannot_clean: str = ""
    # The message it came in (its id within this chat), so a file added to a case twice is stored once.
    message_id: int | None = None
    # The caption the reporter sent with it (normalised; "" if none or blank): sealed with the file.
    caption: str = ""


@dataclass
class ChatState:
    """Where a chat is in a flow, and what the reporter has answered so far."""

    flow: str = "idle"
    step: str = ""
    token: str = ""
    editing: bool = False
    # The language the reporter chose (/start's row or /language): a catalogue's folder name. Telegram's own
    # language code is read per update and never kept here or anywhere. This state lives 72 hours, so the
    # language is also sealed with each case's contact handle (storage/contact.py), and a check-in or a
    # pushed message days later puts it back here (bot.delivery.recall_language).
    language: str | None = None
    categories: list[str] = field(default_factory=list)
    narrative: list[str] = field(default_factory=list)
    when: str = ""
    # Still going on (a routing fact): True, False, or None when the reporter is not sure.
    ongoing: bool | None = None
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
    # The first message of the current flow (message ids only grow in a chat): a stopped report deletes
    # its own messages from here on, never an earlier one (a receipt code not yet saved).
    flow_from: int = 0
    touched: str = ""
    case_id: str | None = None
    inbox: dict[str, str] = field(default_factory=dict)
    # Random, made when a report begins: a repeated submit of this draft finds the case it made.
    submission_key: str = ""
    # A receipt code not yet handed to Telegram: set in the submission's own transaction (see `finished`),
    # cleared as soon as the receipt message was accepted, so a crash in between still delivers it.
    receipt: str = field(default="", repr=False)
    # Not stored: the draft version this state was read from, and the trail as it was then (see `save`).
    read_version: bytes | None = field(default=None, repr=False, compare=False)
    read_trail: tuple[int, ...] = field(default=(), repr=False, compare=False)

    def start(self, flow: str, step: str) -> None:
        """Begin a flow afresh; a new token makes every button of an earlier flow stale."""
        kept = {name: getattr(self, name) for name in _KEPT_ON_START}
        self.__dict__.update(ChatState().__dict__)
        self.__dict__.update(kept)
        self.flow, self.step, self.token = flow, step, secrets.token_urlsafe(4)
        self.submission_key = secrets.token_urlsafe(16) if flow == "report" else ""

    def remember(self, message_id: int, now: datetime) -> None:
        """Add a message of this chat (the bot's or the reporter's) to those to delete later."""
        if not self.trail:
            self.trail_since = coarsen(now).isoformat()
        if self.flow != "idle" and not self.flow_from:
            self.flow_from = message_id
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

    def finished(self, receipt_code: str, now: datetime) -> dict[str, Any]:
        """The stored form of this chat once its report is a case: idle, holding the receipt to show."""
        after = ChatState.from_json(self.to_json())
        after.reset()
        after.receipt = receipt_code
        after.touched = coarsen(now).isoformat()
        return after.to_json()

    def replace_with(self, other: ChatState) -> None:
        """Become `other` (a state read anew from the vault), read version included."""
        self.__dict__.update(other.__dict__)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for transient in _TRANSIENT:
            data.pop(transient)
        return {"v": STATE_VERSION, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatState:
        known = {f.name for f in fields(cls)} - _TRANSIENT
        values = {k: v for k, v in data.items() if k in known}
        values["people"] = [PersonAnswer(**p) for p in values.get("people", [])]
        values["evidence"] = [EvidenceAnswer(**e) for e in values.get("evidence", [])]
        if values.get("person"):
            values["person"] = PersonAnswer(**values["person"])
        if values.get("pending_evidence"):
            values["pending_evidence"] = EvidenceAnswer(**values["pending_evidence"])
        return cls(**values)


_TRANSIENT = frozenset({"read_version", "read_trail"})
# What a new flow keeps: the language, what there is to wipe, pushed messages, and where the state was read.
_KEPT_ON_START = ("language", "trail", "trail_since", "inbox", "receipt", "read_version", "read_trail")


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
    return _restore(vault, await drafts.read(vault, chat_ref=chat_ref(chat_id), policy=False))


def restore(vault: Vault, data: dict[str, Any], version: bytes | None) -> ChatState:
    """A state from its stored form and version (as written in a submission's transaction)."""
    return _restore(vault, drafts.StoredDraft(data, version))


async def refresh(vault: Vault, chat_id: int, state: ChatState) -> None:
    """After a conflicting write: take the stored version, keeping what another writer added (see save)."""
    _merge_newer(state, await drafts.read(vault, chat_ref=chat_ref(chat_id), policy=False))


async def load_with_policy(
    vault: Vault, chat_id: int, *, update: bytes | None = None
) -> tuple[ChatState, PublishedPolicy]:
    """The chat's state and the active routing policy, read in one transaction (every update needs both).

    With `update` (a tag from storage.updates), raises `updates.AlreadyHandledError` if that update was
    already applied, read in the same round trip.
    """
    stored = await drafts.read(vault, chat_ref=chat_ref(chat_id), update=update)
    if stored.handled:
        raise updates.AlreadyHandledError("this update was already handled")
    assert stored.policy is not None
    return _restore(vault, stored), stored.policy


def _restore(vault: Vault, stored: drafts.StoredDraft) -> ChatState:
    chat_state = ChatState.from_json(stored.state) if stored.state else ChatState()
    if chat_state.flow != "idle" and chat_state.touched:
        touched = datetime.fromisoformat(chat_state.touched)
        if vault.clock.now() - touched >= ANSWERS_LIFETIME + timedelta(hours=1):
            chat_state.reset()
    chat_state.read_version, chat_state.read_trail = stored.version, tuple(chat_state.trail)
    return chat_state


async def save(vault: Vault, chat_id: int, state: ChatState, *, update: bytes | None = None) -> None:
    """Seal and store the chat's state; an idle chat with nothing to remember keeps no draft at all.

    With `update` (a tag from storage.updates), the update is recorded as handled in the same transaction
    as the state it produced; `updates.AlreadyHandledError` if another handling of it got there first.

    Threat: a lost update. The bot's own updates of a chat are handled one at a time, but a follow-up
    dispatcher in another process may add a message (a check-in) to the chat's wipe list meanwhile. Why
    merge rather than fail: what the other writer adds is only message ids; they are kept, and the rest
    is this state's.
    """
    ref = chat_ref(chat_id)
    for _attempt in range(_SAVE_ATTEMPTS):
        if (
            state.flow == "idle"
            and not state.trail
            and not state.inbox
            and state.language is None
            and not state.receipt
        ):
            if await drafts.discard(vault, chat_ref=ref, replacing=state.read_version, update=update):
                state.read_version, state.read_trail = None, ()
                return
        else:
            state.touched = coarsen(vault.clock.now()).isoformat()
            version = await drafts.save(
                vault,
                chat_ref=ref,
                state=state.to_json(),
                lifetime=TRAIL_LIFETIME,
                replacing=state.read_version,
                update=update,
            )
            if version is not None:
                state.read_version, state.read_trail = version, tuple(state.trail)
                return
        _merge_newer(state, await drafts.read(vault, chat_ref=ref, policy=False))
    raise drafts.DraftConflictError("the chat's state kept changing under this update")


_SAVE_ATTEMPTS = 5


def _merge_newer(state: ChatState, stored: drafts.StoredDraft) -> None:
    """Take from the stored state what another writer added since this one was read: message ids."""
    newer = ChatState.from_json(stored.state) if stored.state else ChatState()
    added = [m for m in newer.trail if m not in state.read_trail and m not in state.trail]
    if added and not state.trail:
        state.trail_since = newer.trail_since
    state.trail.extend(added)
    state.read_version, state.read_trail = stored.version, tuple(newer.trail)
