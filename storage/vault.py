"""The vault context handed to every vault operation: database, server keys, key-derivation cost, clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.clock import Clock, SystemClock
from storage.crypto import KdfParams
from storage.db import Database
from storage.keyring import ServerKeys


@dataclass(frozen=True)
class Limits:
    """Input limits the vault enforces whatever the front door (Telegram's own limits are the bot's)."""

    max_text_chars: int = 20_000
    max_evidence_bytes: int = 20 * 1024 * 1024
    max_evidence_items: int = 30
    max_subjects: int = 20


@dataclass(frozen=True)
class Vault:
    """Everything a vault operation needs; built once by the composition root and passed down."""

    db: Database
    keys: ServerKeys
    kdf: KdfParams
    clock: Clock = field(default_factory=SystemClock)
    limits: Limits = field(default_factory=Limits)
