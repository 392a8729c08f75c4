"""Every cryptographic operation of Candour, and the only module that imports `cryptography`.

The envelope (docs/key-hierarchy.md):
- each case has an X25519 key pair; items are sealed to its public key with HPKE (RFC 9180 base mode,
  DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305);
- what an item is bound to (case id, item id, kind) goes into HPKE's `info`, which is authenticated: the
  single-shot API of cryptography 50 has no separate aad;
- large items are an HPKE-wrapped random data key plus ChaCha20-Poly1305 chunks whose aad names the
  chunk index and whether it is the last, so chunks cannot be dropped, reordered or cut off;
- the case private key is wrapped with HPKE to each entitled officer's public key;
- officer private keys are sealed under Argon2id(passphrase) with ChaCha20-Poly1305;
- the relay keyring seals contact handles, drafts and outbox copies with ChaCha20-Poly1305.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
import os
import struct
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidKey, InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from storage.errors import DecryptionError, InvalidPassphraseError, MalformedBlobError

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
# Why: RFC 9180's identifiers of the suite above, for independent implementations and the docs.
SUITE_IDS = {"kem_id": 0x0020, "kdf_id": 0x0001, "aead_id": 0x0003}

INFO_PREFIX = b"candour/v1/"
KEY_SIZE = 32
ENC_SIZE = 32  # X25519 encapsulated key
TAG_SIZE = 16
NONCE_SIZE = 12
CHUNK_SIZE = 64 * 1024
# Items up to this size are sealed in one HPKE call; larger ones are chunked so memory stays bounded.
SINGLE_SHOT_LIMIT = 256 * 1024

_FORMAT_SINGLE = 0x01
_FORMAT_CHUNKED = 0x02
_FORMAT_PASSPHRASE = 0x01


class Purpose(StrEnum):
    """What a sealed blob is for; part of every `info`, so a blob made for one purpose opens for no other."""

    ITEM = "item"
    FILE_KEY = "file-key"
    CHUNK = "chunk"
    CASE_KEY = "case-key"
    OFFICER_KEY = "officer-key"
    RELAY = "relay"
    REPORTER_KEY = "reporter-key"
    REPORTER_COPY = "reporter-copy"


def bind(purpose: Purpose, *fields: str | bytes) -> bytes:
    """Encode a purpose and its fields unambiguously (length-prefixed) for use as HPKE info or AEAD aad."""
    out = bytearray(INFO_PREFIX + purpose.value.encode() + b"\x00")
    for field in fields:
        raw = field.encode() if isinstance(field, str) else field
        out += struct.pack(">H", len(raw)) + raw
    return bytes(out)


# --- key pairs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    """A raw X25519 key pair (32-byte private and public keys)."""

    private: bytes
    public: bytes


def generate_keypair() -> KeyPair:
    """A fresh X25519 key pair."""
    private = X25519PrivateKey.generate()
    return KeyPair(private=_raw_private(private), public=_raw_public(private.public_key()))


def public_from_private(private_key: bytes) -> bytes:
    """The public key matching a raw private key."""
    return _raw_public(_load_private(private_key).public_key())


def fingerprint(public_key: bytes) -> str:
    """A short stable name for a public key (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def _raw_private(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _load_private(raw: bytes) -> X25519PrivateKey:
    if len(raw) != KEY_SIZE:
        raise DecryptionError("the private key is not a 32-byte X25519 key")
    return X25519PrivateKey.from_private_bytes(raw)


def _load_public(raw: bytes) -> X25519PublicKey:
    if len(raw) != KEY_SIZE:
        raise DecryptionError("the public key is not a 32-byte X25519 key")
    return X25519PublicKey.from_public_bytes(raw)


# --- HPKE ----------------------------------------------------------------------------------------


def hpke_seal(plaintext: bytes, *, public_key: bytes, info: bytes) -> bytes:
    """HPKE base-mode seal; returns enc || ciphertext as RFC 9180's single-shot API does."""
    return SUITE.encrypt(plaintext, _load_public(public_key), info=info)


def hpke_open(blob: bytes, *, private_key: bytes, info: bytes) -> bytes:
    """Open an HPKE blob; any failure (wrong key, wrong info, tampering, truncation) raises DecryptionError."""
    if len(blob) < ENC_SIZE + TAG_SIZE:
        raise MalformedBlobError("the sealed blob is truncated")
    try:
        return SUITE.decrypt(blob, _load_private(private_key), info=info)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("the sealed blob does not open with this key and binding") from exc


# --- case items ----------------------------------------------------------------------------------


def seal_item(plaintext: bytes, *, case_public_key: bytes, case_id: str, item_id: str, kind: str) -> bytes:
    """Seal one case item to the case public key, bound to its case, item id and kind."""
    if len(plaintext) <= SINGLE_SHOT_LIMIT:
        info = bind(Purpose.ITEM, case_id, item_id, kind)
        return bytes([_FORMAT_SINGLE]) + hpke_seal(plaintext, public_key=case_public_key, info=info)
    data_key = ChaCha20Poly1305.generate_key()
    wrapped = hpke_seal(
        data_key, public_key=case_public_key, info=bind(Purpose.FILE_KEY, case_id, item_id, kind)
    )
    aead = ChaCha20Poly1305(data_key)
    out = bytearray([_FORMAT_CHUNKED]) + struct.pack(">H", len(wrapped)) + wrapped
    count = max(1, -(-len(plaintext) // CHUNK_SIZE))
    for index in range(count):
        chunk = plaintext[index * CHUNK_SIZE : (index + 1) * CHUNK_SIZE]
        final = index == count - 1
        # Why a counter nonce: the data key is fresh per item, so (key, counter) never repeats.
        nonce = index.to_bytes(NONCE_SIZE, "big")
        out += aead.encrypt(nonce, chunk, _chunk_aad(case_id, item_id, kind, index, final))
    return bytes(out)


def open_item(blob: bytes, *, case_private_key: bytes, case_id: str, item_id: str, kind: str) -> bytes:
    """Open a case item; a blob moved to another case, item or kind, or tampered with, fails closed."""
    if not blob:
        raise MalformedBlobError("the sealed item is empty")
    fmt, body = blob[0], blob[1:]
    if fmt == _FORMAT_SINGLE:
        return hpke_open(body, private_key=case_private_key, info=bind(Purpose.ITEM, case_id, item_id, kind))
    if fmt != _FORMAT_CHUNKED:
        raise MalformedBlobError(f"unknown sealed-item format {fmt}")
    if len(body) < 2:
        raise MalformedBlobError("the sealed item is truncated")
    (wrapped_len,) = struct.unpack(">H", body[:2])
    wrapped, chunks = body[2 : 2 + wrapped_len], body[2 + wrapped_len :]
    if len(wrapped) != wrapped_len or not chunks:
        raise MalformedBlobError("the sealed item is truncated")
    data_key = hpke_open(
        wrapped, private_key=case_private_key, info=bind(Purpose.FILE_KEY, case_id, item_id, kind)
    )
    aead = ChaCha20Poly1305(data_key)
    step = CHUNK_SIZE + TAG_SIZE
    count = -(-len(chunks) // step)
    out = bytearray()
    for index in range(count):
        sealed = chunks[index * step : (index + 1) * step]
        final = index == count - 1
        try:
            out += aead.decrypt(
                index.to_bytes(NONCE_SIZE, "big"), sealed, _chunk_aad(case_id, item_id, kind, index, final)
            )
        except InvalidTag as exc:
            raise DecryptionError("a chunk of the sealed item is tampered with or missing") from exc
    return bytes(out)


def _chunk_aad(case_id: str, item_id: str, kind: str, index: int, final: bool) -> bytes:
    return bind(Purpose.CHUNK, case_id, item_id, kind, struct.pack(">QB", index, int(final)))


def reporter_keypair(receipt_code: str, *, pepper: bytes) -> KeyPair:
    """The reporter's key pair, derived from the normalised receipt code and stored nowhere.

    Why: messages from the standards team are also sealed to this public key, so the reporter can read
    them again with the receipt (from another account, after wiping the chat) while the server, which
    keeps only an HMAC of the code, cannot.
    """
    # Why the pepper as salt: without it, a database copy alone could test guessed codes against the
    # stored public key; with it, guessing needs the server's key file as well.
    seed = HKDF(
        algorithm=hashes.SHA256(), length=KEY_SIZE, salt=pepper, info=bind(Purpose.REPORTER_KEY)
    ).derive(receipt_code.encode("ascii"))
    private = X25519PrivateKey.from_private_bytes(seed)
    return KeyPair(private=_raw_private(private), public=_raw_public(private.public_key()))


# --- case key wrapping ---------------------------------------------------------------------------


def wrap_case_key(case_private_key: bytes, *, recipient_public_key: bytes, case_id: str) -> bytes:
    """Wrap a case private key to one recipient, bound to the case and the recipient's key."""
    info = bind(Purpose.CASE_KEY, case_id, fingerprint(recipient_public_key))
    return hpke_seal(case_private_key, public_key=recipient_public_key, info=info)


def unwrap_case_key(wrapped: bytes, *, recipient_private_key: bytes, case_id: str) -> bytes:
    """Unwrap a case private key with the recipient's private key."""
    recipient_public = public_from_private(recipient_private_key)
    info = bind(Purpose.CASE_KEY, case_id, fingerprint(recipient_public))
    return hpke_open(wrapped, private_key=recipient_private_key, info=info)


# --- passphrase-sealed private keys --------------------------------------------------------------


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost; stored with each sealed key so costs can rise without breaking old keys."""

    memory_kib: int
    iterations: int
    lanes: int


_PASSPHRASE_HEADER = struct.Struct(">BIII")
_SALT_SIZE = 16
_MAX_MEMORY_KIB = 4 * 1024 * 1024
_MAX_ITERATIONS = 64
_MAX_LANES = 64


def derive_passphrase_key(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    """Argon2id(passphrase, salt) -> 32-byte key."""
    kdf = Argon2id(
        salt=salt,
        length=KEY_SIZE,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(passphrase.encode("utf-8"))


def seal_with_passphrase(secret: bytes, *, passphrase: str, params: KdfParams, context: str) -> bytes:
    """Seal a secret under Argon2id(passphrase); the context (e.g. the officer's login) is authenticated."""
    salt = os.urandom(_SALT_SIZE)
    nonce = os.urandom(NONCE_SIZE)
    key = derive_passphrase_key(passphrase, salt, params)
    header = _PASSPHRASE_HEADER.pack(_FORMAT_PASSPHRASE, params.memory_kib, params.iterations, params.lanes)
    aad = bind(Purpose.OFFICER_KEY, context, header)
    return header + salt + nonce + ChaCha20Poly1305(key).encrypt(nonce, secret, aad)


def open_with_passphrase(blob: bytes, *, passphrase: str, context: str) -> bytes:
    """Open a passphrase-sealed secret; a wrong passphrase raises InvalidPassphraseError."""
    head = _PASSPHRASE_HEADER.size
    if len(blob) < head + _SALT_SIZE + NONCE_SIZE + TAG_SIZE:
        raise MalformedBlobError("the sealed key is truncated")
    fmt, memory, iterations, lanes = _PASSPHRASE_HEADER.unpack(blob[:head])
    if fmt != _FORMAT_PASSPHRASE:
        raise MalformedBlobError(f"unknown sealed-key format {fmt}")
    salt = blob[head : head + _SALT_SIZE]
    nonce = blob[head + _SALT_SIZE : head + _SALT_SIZE + NONCE_SIZE]
    ciphertext = blob[head + _SALT_SIZE + NONCE_SIZE :]
    if not (
        1 <= lanes <= _MAX_LANES
        and 1 <= iterations <= _MAX_ITERATIONS
        and 8 * lanes <= memory <= _MAX_MEMORY_KIB
    ):
        # Threat: someone who can write the database edits the costs to crash or stall the server.
        raise MalformedBlobError("the sealed key's stored Argon2 costs are out of range")
    key = derive_passphrase_key(passphrase, salt, KdfParams(memory, iterations, lanes))
    try:
        return ChaCha20Poly1305(key).decrypt(
            nonce, ciphertext, bind(Purpose.OFFICER_KEY, context, blob[:head])
        )
    except InvalidTag as exc:
        raise InvalidPassphraseError("wrong passphrase") from exc


# --- symmetric relay sealing ---------------------------------------------------------------------


def relay_seal(plaintext: bytes, *, key: bytes, key_id: str, purpose: str, context: str = "") -> bytes:
    """Seal under a relay key; key id, purpose and context are authenticated so blobs cannot be swapped."""
    nonce = os.urandom(NONCE_SIZE)
    aad = bind(Purpose.RELAY, key_id, purpose, context)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def relay_open(blob: bytes, *, key: bytes, key_id: str, purpose: str, context: str = "") -> bytes:
    """Open a relay-sealed blob; any mismatch raises DecryptionError."""
    if len(blob) < NONCE_SIZE + TAG_SIZE:
        raise MalformedBlobError("the relay-sealed blob is truncated")
    try:
        return ChaCha20Poly1305(key).decrypt(
            blob[:NONCE_SIZE], blob[NONCE_SIZE:], bind(Purpose.RELAY, key_id, purpose, context)
        )
    except InvalidTag as exc:
        raise DecryptionError("the relay-sealed blob does not open") from exc


# --- small helpers -------------------------------------------------------------------------------


def random_key() -> bytes:
    """A fresh 32-byte symmetric key."""
    return os.urandom(KEY_SIZE)


def keyed_hash(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256: receipt digests and lookup tags that must not be reversible without the server key."""
    return _hmac.new(key, message, hashlib.sha256).digest()


# --- desk sign-in: password verifiers and TOTP (RFC 6238) ----------------------------------------

TOTP_SECRET_SIZE = 20  # 160 bits, RFC 4226's recommended length; what authenticator apps expect
TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
_PHC_PREFIX = "$argon2id$"


def hash_password(password: str, *, params: KdfParams) -> str:
    """An Argon2id verifier of a desk password, in PHC string form (costs and salt travel with it)."""
    kdf = Argon2id(
        salt=os.urandom(_SALT_SIZE),
        length=KEY_SIZE,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive_phc_encoded(password.encode("utf-8"))


def verify_password(password: str, encoded: str) -> bool:
    """True if `password` matches the verifier; a malformed or out-of-bounds verifier never matches."""
    if not encoded.startswith(_PHC_PREFIX) or not _phc_costs_in_bounds(encoded):
        return False
    try:
        Argon2id.verify_phc_encoded(password.encode("utf-8"), encoded)
    except (InvalidKey, ValueError):
        return False
    return True


def _phc_costs_in_bounds(encoded: str) -> bool:
    # Threat: someone who can write the database raises the stored costs to stall every sign-in.
    try:
        fields = dict(part.split("=", 1) for part in encoded.split("$")[3].split(","))
        memory, iterations, lanes = int(fields["m"]), int(fields["t"]), int(fields["p"])
    except (IndexError, KeyError, ValueError):
        return False
    return (
        1 <= lanes <= _MAX_LANES
        and 1 <= iterations <= _MAX_ITERATIONS
        and 8 * lanes <= memory <= _MAX_MEMORY_KIB
    )


def new_totp_secret() -> bytes:
    """A fresh TOTP shared secret."""
    return os.urandom(TOTP_SECRET_SIZE)


def _totp(secret: bytes) -> TOTP:
    return TOTP(secret, TOTP_DIGITS, hashes.SHA1(), TOTP_STEP_SECONDS)  # noqa: S303 - RFC 6238's default, what apps use


def totp_code(secret: bytes, *, at: float) -> str:
    """The code for the time step holding `at` (seconds since the epoch)."""
    return _totp(secret).generate(int(at)).decode("ascii")


def totp_match(secret: bytes, code: str, *, at: float, window: int = 1) -> int | None:
    """The time step whose code is `code`, within `window` steps of `at` either way; None if none is.

    Why return the step: the caller refuses a step at or before the last one used, so a code seen over a
    shoulder cannot be replayed within its validity.
    """
    candidate = code.strip().replace(" ", "")
    if len(candidate) != TOTP_DIGITS or not candidate.isdigit():
        return None
    totp = _totp(secret)
    now_step = int(at) // TOTP_STEP_SECONDS
    for step in range(now_step - window, now_step + window + 1):
        try:
            totp.verify(candidate.encode("ascii"), step * TOTP_STEP_SECONDS)
        except InvalidToken:
            continue
        return step
    return None


def totp_uri(secret: bytes, *, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from a QR code."""
    return _totp(secret).get_provisioning_uri(account, issuer)


# --- signatures (Ed25519): audit checkpoints ------------------------------------------------------

SIGNATURE_SIZE = 64
_SIGNING_PREFIX = INFO_PREFIX + b"signature/"


def new_signing_key() -> bytes:
    """A fresh Ed25519 private key (its 32-byte seed)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def signing_public_key(private_key: bytes) -> bytes:
    """The 32-byte Ed25519 public key of a private key."""
    public = _ed25519_private(private_key).public_key()
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _signed_message(message: bytes, context: str) -> bytes:
    # Why a context: a signature made for one purpose (and version) must verify for no other, as the
    # `info` strings do for HPKE. Length-prefixed, so context and message cannot run into each other.
    raw = context.encode("ascii")
    return _SIGNING_PREFIX + struct.pack(">H", len(raw)) + raw + message


def sign(message: bytes, *, private_key: bytes, context: str) -> bytes:
    """An Ed25519 signature over `message`, bound to `context` (such as "audit-checkpoint/v1")."""
    return _ed25519_private(private_key).sign(_signed_message(message, context))


def signature_valid(message: bytes, signature: bytes, *, public_key: bytes, context: str) -> bool:
    """True if `signature` is `public_key`'s Ed25519 signature over `message` in `context`."""
    if len(public_key) != KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, _signed_message(message, context))
    except (InvalidSignature, ValueError):
        return False
    return True


def _ed25519_private(raw: bytes) -> Ed25519PrivateKey:
    if len(raw) != KEY_SIZE:
        raise ValueError("an Ed25519 private key is 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)
