"""Signed checkpoints of the audit log, kept outside the database: the anchor the hash chain lacks.

Threat: an insider with write access to the database drops the append-only triggers, deletes or edits
entries and re-hashes the chain from there on (the hash function is public, so a rebuilt chain verifies
on its own), or cuts off the tail.
Why checkpoints: from time to time the head of the chain (its sequence number and hash, with a short
hash of every entry since the previous checkpoint) is signed with an Ed25519 key that lives with the
server keys, never in the database, and appended as one line to a file outside the database. Whoever can
write the database can neither forge a checkpoint nor reach the file, so `candour audit verify` and the
desk find the first entry that no longer matches, and a log shorter than a checkpoint. An auditor keeps
an export (every checkpoint and the public key) elsewhere, against an insider who holds the keys too.
Why on a timer and not at every write: the signing key would have to be in every process that writes an
entry (the bot, at every submission), and a signature on the submission path costs time. The window
this leaves (entries after the newest checkpoint are protected by the chain alone) is one interval
(`CANDOUR_AUDIT_CHECKPOINT_SECONDS`), and verification checkpoints too.
Why a deleted or emptied file is not a fresh start: the key files record, once, that checkpoints have
begun, so a missing or empty file fails verification and signs nothing until an operator runs
`candour audit checkpoint start-anew`, which says so in the log. A file cut back to a valid prefix is
not caught on this host: the auditor's export is the defence.
Why the hour for a checkpoint's time: like every stored time, so that a checkpoint does not date the
entries it covers more finely than the log itself does.

The code is in small modules, named here for their callers: the file format (storage/checkpoint_file.py),
verification with the public key only (storage/checkpoint_verify.py), signing, restarting and export
(storage/checkpoint_signing.py), and the timer (storage/checkpoint_timer.py).
"""

from __future__ import annotations

from storage.checkpoint_file import (
    CONTEXT,
    EXPORT_FORMAT,
    FILE_NAME,
    FORMAT,
    LOCK_NAME,
    SHORT,
    Checkpoint,
    CheckpointFileError,
    CheckpointLog,
    checkpoint_file,
    read_file,
)
from storage.checkpoint_signing import RESTARTED, AuditBrokenError, export, signed, start_anew, write
from storage.checkpoint_timer import keep_checkpointing
from storage.checkpoint_verify import Against, AnchorIndex, Verification, verify

__all__ = [
    "CONTEXT",
    "EXPORT_FORMAT",
    "FILE_NAME",
    "FORMAT",
    "LOCK_NAME",
    "RESTARTED",
    "SHORT",
    "Against",
    "AnchorIndex",
    "AuditBrokenError",
    "Checkpoint",
    "CheckpointFileError",
    "CheckpointLog",
    "Verification",
    "checkpoint_file",
    "export",
    "keep_checkpointing",
    "read_file",
    "signed",
    "start_anew",
    "verify",
    "write",
]
