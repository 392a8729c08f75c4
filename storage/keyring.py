"""Server key files: the relay keyring (with key ids and rotation), the receipt pepper, the lookup key,
and the public half of the optional offline recovery key.

Threat: the key files and the database together reveal contact handles, drafts and outbox copies (not
report content: that needs an officer's passphrase). Why separate files with 0600 permissions: an
operator can keep the database on shared storage and the keys on the host only; see docs/key-hierarchy.md.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage import crypto
from storage.errors import DecryptionError, KeyringError

RELAY_FILE = "relay-keyring.json"
SERVER_FILE = "server-secrets.json"
RECOVERY_PUBLIC_FILE = "recovery-public.key"
AUDIT_SIGNING_FILE = "audit-signing-key.json"
AUDIT_PUBLIC_FILE = "audit-signing-key.pub.json"


@dataclass(frozen=True)
class RelayKeyring:
    """Symmetric keys by id; new blobs are sealed under the active one, old ones open under theirs."""

    active_id: str
    keys: Mapping[str, bytes]

    def seal(self, plaintext: bytes, *, purpose: str, context: str = "") -> tuple[str, bytes]:
        """Seal under the active key; returns (key id, blob)."""
        key = self.keys[self.active_id]
        return self.active_id, crypto.relay_seal(
            plaintext, key=key, key_id=self.active_id, purpose=purpose, context=context
        )

    def open(self, key_id: str, blob: bytes, *, purpose: str, context: str = "") -> bytes:
        """Open a blob sealed under key `key_id`."""
        key = self.keys.get(key_id)
        if key is None:
            raise DecryptionError(f"relay key {key_id!r} is not in the keyring (retired or never present)")
        return crypto.relay_open(blob, key=key, key_id=key_id, purpose=purpose, context=context)


@dataclass(frozen=True)
class ServerKeys:
    """All server-held secrets, loaded once at start-up."""

    relay: RelayKeyring
    receipt_pepper: bytes
    lookup_key: bytes
    recovery_public_key: bytes | None

    def receipt_digest(self, normalised_code: str) -> bytes:
        """The keyed hash under which a receipt code is stored and looked up."""
        return crypto.keyed_hash(self.receipt_pepper, b"receipt:" + normalised_code.encode("ascii"))

    def chat_tag(self, chat_ref: str) -> bytes:
        """A keyed tag for a chat (drafts, throttling) that does not reveal the chat id without the key."""
        return crypto.keyed_hash(self.lookup_key, b"chat:" + chat_ref.encode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _write_private(path: Path, content: str) -> None:
    """Write a secret file atomically with owner-only permissions."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeyringError(f"key file {path} is missing: run `candour init`") from None
    except (OSError, ValueError) as exc:
        raise KeyringError(f"key file {path} is unreadable ({type(exc).__name__})") from None


def keys_exist(keys_dir: Path) -> bool:
    return (keys_dir / RELAY_FILE).exists() and (keys_dir / SERVER_FILE).exists()


def create_keys(keys_dir: Path) -> bool:
    """Create the relay keyring and server secrets if absent; returns True if anything was created."""
    created = False
    if not (keys_dir / RELAY_FILE).exists():
        _write_relay(keys_dir, active="r1", keys={"r1": crypto.random_key()})
        created = True
    if not (keys_dir / SERVER_FILE).exists():
        secrets_doc = {"receipt_pepper": _b64(crypto.random_key()), "lookup_key": _b64(crypto.random_key())}
        _write_private(keys_dir / SERVER_FILE, json.dumps(secrets_doc, indent=2))
        created = True
    if create_audit_key(keys_dir):
        created = True
    return created


def load_keys(keys_dir: Path) -> ServerKeys:
    """Load every server key; raises KeyringError naming the file at fault."""
    relay_doc = _read_json(keys_dir / RELAY_FILE)
    server_doc = _read_json(keys_dir / SERVER_FILE)
    try:
        keys = {entry["id"]: _unb64(entry["key"]) for entry in relay_doc["keys"]}
        relay = RelayKeyring(active_id=relay_doc["active"], keys=keys)
        if relay.active_id not in keys or any(len(k) != crypto.KEY_SIZE for k in keys.values()):
            raise ValueError("inconsistent relay keyring")
        pepper = _unb64(server_doc["receipt_pepper"])
        lookup = _unb64(server_doc["lookup_key"])
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyringError(f"key files in {keys_dir} are damaged ({exc.__class__.__name__})") from None
    recovery_path = keys_dir / RECOVERY_PUBLIC_FILE
    recovery = None
    if recovery_path.exists():
        try:
            recovery = _unb64(recovery_path.read_text().strip())
        except (OSError, ValueError):
            raise KeyringError(f"{recovery_path} is damaged") from None
        if len(recovery) != crypto.KEY_SIZE:
            raise KeyringError(f"{recovery_path} does not hold a 32-byte public key")
    return ServerKeys(relay=relay, receipt_pepper=pepper, lookup_key=lookup, recovery_public_key=recovery)


def _write_relay(keys_dir: Path, *, active: str, keys: Mapping[str, bytes]) -> None:
    created = datetime.now(UTC).isoformat(timespec="seconds")
    doc = {"active": active, "keys": [{"id": k, "key": _b64(v), "created": created} for k, v in keys.items()]}
    _write_private(keys_dir / RELAY_FILE, json.dumps(doc, indent=2))


def add_relay_key(keys_dir: Path) -> str:
    """Add a new relay key and make it active, keeping the old ones so existing blobs still open."""
    current = load_keys(keys_dir).relay
    numbers = [int(k[1:]) for k in current.keys if k.startswith("r") and k[1:].isdigit()]
    new_id = f"r{max(numbers, default=0) + 1}"
    _write_relay(keys_dir, active=new_id, keys={**current.keys, new_id: crypto.random_key()})
    return new_id


def retire_relay_keys(keys_dir: Path) -> list[str]:
    """Drop every relay key but the active one (after everything was re-sealed); returns the ids dropped."""
    current = load_keys(keys_dir).relay
    dropped = [k for k in current.keys if k != current.active_id]
    _write_relay(
        keys_dir, active=current.active_id, keys={current.active_id: current.keys[current.active_id]}
    )
    return dropped


def create_recovery_key(keys_dir: Path, *, out_file: Path, passphrase: str, params: crypto.KdfParams) -> str:
    """Make the offline recovery key: the public half stays here, the sealed private half goes to `out_file`.

    Why: if every entitled officer leaves or forgets their passphrase, a case would be lost; the recovery
    key (kept offline, under a passphrase held by two people) is an extra recipient of every case key.
    """
    if (keys_dir / RECOVERY_PUBLIC_FILE).exists():
        raise KeyringError("a recovery key already exists; remove recovery-public.key first to replace it")
    pair = crypto.generate_keypair()
    sealed = crypto.seal_with_passphrase(
        pair.private, passphrase=passphrase, params=params, context="recovery"
    )
    doc = {"kind": "candour-recovery-key", "public": _b64(pair.public), "sealed_private": _b64(sealed)}
    _write_private(out_file, json.dumps(doc, indent=2))
    _write_private(keys_dir / RECOVERY_PUBLIC_FILE, _b64(pair.public) + "\n")
    return crypto.fingerprint(pair.public)


def open_recovery_key(path: Path, *, passphrase: str) -> bytes:
    """Unlock the offline recovery private key from its file."""
    doc = _read_json(path)
    try:
        sealed = _unb64(doc["sealed_private"])
    except (KeyError, TypeError, ValueError):
        raise KeyringError(f"{path} is not a Candour recovery key file") from None
    return crypto.open_with_passphrase(sealed, passphrase=passphrase, context="recovery")


# --- the audit signing key ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditPublicKey:
    """The public half of the audit signing key, all that verification needs; `checkpoints_begun` says
    that a checkpoint was signed under it (so a missing checkpoint file is a loss, not a fresh start)."""

    public: bytes
    checkpoints_begun: bool

    @property
    def fingerprint(self) -> str:
        return crypto.fingerprint(self.public)


@dataclass(frozen=True)
class AuditSigningKey:
    """The Ed25519 key that signs audit checkpoints (storage/checkpoint_signing.py); never in the database."""

    private: bytes
    public: bytes
    checkpoints_begun: bool = False

    @property
    def fingerprint(self) -> str:
        return crypto.fingerprint(self.public)


def create_audit_key(keys_dir: Path) -> bool:
    """Create the audit signing key (and its public file) if it is absent; True if this call created it.

    Why never overwrite, even when two processes race: checkpoints already signed under the old key would
    no longer verify, and a new key would look like a forger's. The file is made under a temporary name
    and linked into place, which fails if another process got there first.
    """
    path = keys_dir / AUDIT_SIGNING_FILE
    if path.exists():
        return False
    private = crypto.new_signing_key()
    doc = {
        "kind": "candour-audit-signing-key",
        "private": _b64(private),
        "public": _b64(crypto.signing_public_key(private)),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tmp = keys_dir / f".{AUDIT_SIGNING_FILE}.{os.getpid()}.tmp"
    _write_private(tmp, json.dumps(doc, indent=2))
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    _write_audit_public(
        keys_dir, AuditPublicKey(public=crypto.signing_public_key(private), checkpoints_begun=False)
    )
    return True


def load_audit_key(keys_dir: Path) -> AuditSigningKey:
    """Load the audit signing key (to sign); KeyringError if it is missing, damaged, or not the key of the
    public file beside it (checkpoints it signed would not verify)."""
    path = keys_dir / AUDIT_SIGNING_FILE
    doc = _read_json(path)
    try:
        private = _unb64(doc["private"])
        public = crypto.signing_public_key(private)
        if _unb64(doc["public"]) != public:
            raise ValueError("the public key does not belong to the private key")
        begun = doc.get("checkpoints_begun", False) is True
    except (KeyError, TypeError, ValueError):
        raise KeyringError(f"{path} is damaged") from None
    key = AuditSigningKey(private=private, public=public, checkpoints_begun=begun)
    public_path = keys_dir / AUDIT_PUBLIC_FILE
    if public_path.exists():
        published = _read_audit_public(public_path)
        if published.public != public:
            raise KeyringError(f"{public_path} holds another key than {path}: restore both from backup")
    return key


def load_audit_public_key(keys_dir: Path) -> AuditPublicKey | None:
    """The public audit key, for verification (the private key is not needed, nor read when the public
    file exists); None if neither key file exists (an installation from before checkpoints).

    An installation with only the private key file (made before the public file existed) gets the public
    file written here, once; if the keys directory is read-only, the key derived from it is used as is.
    """
    public_path = keys_dir / AUDIT_PUBLIC_FILE
    if public_path.exists():
        return _read_audit_public(public_path)
    if not (keys_dir / AUDIT_SIGNING_FILE).exists():
        return None
    key = load_audit_key(keys_dir)
    published = AuditPublicKey(public=key.public, checkpoints_begun=key.checkpoints_begun)
    with contextlib.suppress(OSError):
        _write_audit_public(keys_dir, published)
    return published


def mark_checkpoints_begun(keys_dir: Path) -> None:
    """Record in both key files, once, that checkpoints are signed under this key.

    Why: without the record, a checkpoint file deleted or emptied could not be told from an installation
    that never had one, and the next checkpoint would silently anchor a rewritten log. Written once (at
    the first checkpoint), never per checkpoint; the private key in the file is the one loaded, unchanged.
    """
    key = load_audit_key(keys_dir)
    if not key.checkpoints_begun:
        path = keys_dir / AUDIT_SIGNING_FILE
        doc = _read_json(path)
        doc["checkpoints_begun"] = True
        _write_private(path, json.dumps(doc, indent=2))
    public = AuditPublicKey(public=key.public, checkpoints_begun=True)
    if load_audit_public_key(keys_dir) != public:
        _write_audit_public(keys_dir, public)


def _write_audit_public(keys_dir: Path, key: AuditPublicKey) -> None:
    doc = {
        "kind": "candour-audit-public-key",
        "public": _b64(key.public),
        "key": key.fingerprint,
        "checkpoints_begun": key.checkpoints_begun,
    }
    _write_private(keys_dir / AUDIT_PUBLIC_FILE, json.dumps(doc, indent=2))


def _read_audit_public(path: Path) -> AuditPublicKey:
    doc = _read_json(path)
    try:
        public = _unb64(doc["public"])
        begun = doc["checkpoints_begun"]
        if len(public) != crypto.KEY_SIZE or not isinstance(begun, bool):
            raise ValueError("not a public audit key")
    except (KeyError, TypeError, ValueError):
        raise KeyringError(f"{path} is damaged") from None
    return AuditPublicKey(public=public, checkpoints_begun=begun)
