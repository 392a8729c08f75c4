"""HPKE conformance: Candour's suite against RFC 9180 vectors and an independent implementation.

1. pyhpke (an independent HPKE implementation) reproduces the vendored RFC 9180 vectors for our suite,
   DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305: key derivation, `enc`, every ciphertext
   of the sequence, and every export, from the sender's and from the recipient's side.
2. storage.crypto (which uses cryptography's `hpke`) interoperates with pyhpke in both directions for its
   raw HPKE blobs, single-shot items, chunked items' wrapped data key, and wrapped case keys. This shows
   that what Candour writes is plain RFC 9180 base mode, openable by any conforming implementation
   given the key and the documented `info`.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, OpenError

from storage import crypto
from storage.crypto import Purpose, bind
from storage.errors import DecryptionError

VECTORS_PATH = Path(__file__).parent / "data" / "hpke" / "rfc9180-x25519-sha256-chacha20.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text())
MODE_NAMES = {0: "base", 1: "psk", 2: "auth", 3: "auth_psk"}

OUR_SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.CHACHA20_POLY1305)


def _h(vector: dict[str, Any], field: str) -> bytes:
    return bytes.fromhex(vector.get(field, ""))


def _suite_of(vector: dict[str, Any]) -> CipherSuite:
    return CipherSuite.new(KEMId(vector["kem_id"]), KDFId(vector["kdf_id"]), AEADId(vector["aead_id"]))


# --- the vendored file -------------------------------------------------------------------------


def test_vendored_vectors_cover_our_suite_in_every_mode() -> None:
    assert sorted(v["mode"] for v in VECTORS) == [0, 1, 2, 3]
    for vector in VECTORS:
        assert (vector["kem_id"], vector["kdf_id"], vector["aead_id"]) == (32, 1, 3)
        assert len(vector["encryptions"]) == 10
        assert vector["exports"]


def test_suite_ids_match_the_independent_implementation() -> None:
    pyhpke_ids = {
        "kem_id": KEMId.DHKEM_X25519_HKDF_SHA256.value,
        "kdf_id": KDFId.HKDF_SHA256.value,
        "aead_id": AEADId.CHACHA20_POLY1305.value,
    }
    assert pyhpke_ids == crypto.SUITE_IDS
    assert {(v["kem_id"], v["kdf_id"], v["aead_id"]) for v in VECTORS} == {
        (crypto.SUITE_IDS["kem_id"], crypto.SUITE_IDS["kdf_id"], crypto.SUITE_IDS["aead_id"])
    }


# --- 1. pyhpke passes RFC 9180 ----------------------------------------------------------------


@pytest.fixture(params=VECTORS, ids=lambda v: MODE_NAMES[v["mode"]])
def vector(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.param


def test_vector_key_derivation(vector: dict[str, Any]) -> None:
    suite = _suite_of(vector)
    recipient = suite.kem.derive_key_pair(_h(vector, "ikmR"))
    assert recipient.private_key.to_private_bytes() == _h(vector, "skRm")
    assert recipient.public_key.to_public_bytes() == _h(vector, "pkRm")
    ephemeral = suite.kem.derive_key_pair(_h(vector, "ikmE"))
    assert ephemeral.private_key.to_private_bytes() == _h(vector, "skEm")
    assert ephemeral.public_key.to_public_bytes() == _h(vector, "pkEm") == _h(vector, "enc")
    if "ikmS" in vector:
        sender = suite.kem.derive_key_pair(_h(vector, "ikmS"))
        assert sender.private_key.to_private_bytes() == _h(vector, "skSm")
        assert sender.public_key.to_public_bytes() == _h(vector, "pkSm")
    # The X25519 keys of the vector are what storage.crypto's raw-key helpers expect.
    assert crypto.public_from_private(_h(vector, "skRm")) == _h(vector, "pkRm")


def test_vector_sender_is_deterministic_with_the_vector_ephemeral_key(vector: dict[str, Any]) -> None:
    suite = _suite_of(vector)
    pk_r = suite.kem.deserialize_public_key(_h(vector, "pkRm"))
    eks = suite.kem.derive_key_pair(_h(vector, "ikmE"))
    sks = suite.kem.derive_key_pair(_h(vector, "ikmS")).private_key if "ikmS" in vector else None
    enc, sender = suite.create_sender_context(
        pk_r, info=_h(vector, "info"), sks=sks, psk=_h(vector, "psk"), psk_id=_h(vector, "psk_id"), eks=eks
    )
    assert enc == _h(vector, "enc")
    for encryption in vector["encryptions"]:
        assert sender.seal(_h(encryption, "pt"), aad=_h(encryption, "aad")) == _h(encryption, "ct")
    for export in vector["exports"]:
        assert sender.export(_h(export, "exporter_context"), export["L"]) == _h(export, "exported_value")


def test_vector_recipient_opens_the_sequence(vector: dict[str, Any]) -> None:
    suite = _suite_of(vector)
    sk_r = suite.kem.deserialize_private_key(_h(vector, "skRm"))
    pks = suite.kem.deserialize_public_key(_h(vector, "pkSm")) if "pkSm" in vector else None
    recipient = suite.create_recipient_context(
        _h(vector, "enc"),
        sk_r,
        info=_h(vector, "info"),
        pks=pks,
        psk=_h(vector, "psk"),
        psk_id=_h(vector, "psk_id"),
    )
    for encryption in vector["encryptions"]:
        assert recipient.open(_h(encryption, "ct"), aad=_h(encryption, "aad")) == _h(encryption, "pt")
    for export in vector["exports"]:
        assert recipient.export(_h(export, "exporter_context"), export["L"]) == _h(export, "exported_value")


def test_vector_recipient_rejects_out_of_sequence_ciphertext() -> None:
    """Sanity check that the vector test can fail: the second ciphertext does not open as the first."""
    base = next(v for v in VECTORS if v["mode"] == 0)
    sk_r = OUR_SUITE.kem.deserialize_private_key(_h(base, "skRm"))
    recipient = OUR_SUITE.create_recipient_context(_h(base, "enc"), sk_r, info=_h(base, "info"))
    second = base["encryptions"][1]
    with pytest.raises(OpenError):
        recipient.open(_h(second, "ct"), aad=_h(second, "aad"))


# --- 2. storage.crypto <-> pyhpke interop ----------------------------------------------------


def _pyhpke_seal(plaintext: bytes, *, public_key: bytes, info: bytes) -> bytes:
    """Single-shot base-mode seal with pyhpke, laid out as enc || ct (empty aad), like RFC 9180's API."""
    enc, sender = OUR_SUITE.create_sender_context(OUR_SUITE.kem.deserialize_public_key(public_key), info=info)
    return enc + sender.seal(plaintext)


def _pyhpke_open(blob: bytes, *, private_key: bytes, info: bytes) -> bytes:
    enc, ct = blob[: crypto.ENC_SIZE], blob[crypto.ENC_SIZE :]
    sk_r = OUR_SUITE.kem.deserialize_private_key(private_key)
    return OUR_SUITE.create_recipient_context(enc, sk_r, info=info).open(ct)


def test_pyhpke_seal_opens_with_storage_hpke_open() -> None:
    pair = crypto.generate_keypair()
    info = bind(Purpose.ITEM, "case-1", "item-1", "report")
    blob = _pyhpke_seal(b"sealed by pyhpke", public_key=pair.public, info=info)
    assert crypto.hpke_open(blob, private_key=pair.private, info=info) == b"sealed by pyhpke"
    # ...and the binding is real: another info does not open it.
    with pytest.raises(DecryptionError):
        crypto.hpke_open(
            blob, private_key=pair.private, info=bind(Purpose.ITEM, "case-2", "item-1", "report")
        )


def test_storage_hpke_seal_opens_with_pyhpke() -> None:
    pair = crypto.generate_keypair()
    info = bind(Purpose.RELAY, "anything")
    blob = crypto.hpke_seal(b"sealed by storage.crypto", public_key=pair.public, info=info)
    assert len(blob) == crypto.ENC_SIZE + len(b"sealed by storage.crypto") + crypto.TAG_SIZE
    assert _pyhpke_open(blob, private_key=pair.private, info=info) == b"sealed by storage.crypto"
    with pytest.raises(OpenError):
        _pyhpke_open(blob, private_key=pair.private, info=info + b"x")


def test_single_shot_item_is_plain_hpke_with_documented_info() -> None:
    pair = crypto.generate_keypair()
    blob = crypto.seal_item(
        b"the report", case_public_key=pair.public, case_id="c-42", item_id="i-7", kind="report"
    )
    assert blob[0] == 0x01
    info = bind(Purpose.ITEM, "c-42", "i-7", "report")
    assert _pyhpke_open(blob[1:], private_key=pair.private, info=info) == b"the report"


def test_pyhpke_sealed_item_opens_with_open_item() -> None:
    pair = crypto.generate_keypair()
    info = bind(Purpose.ITEM, "c-42", "i-8", "note")
    blob = b"\x01" + _pyhpke_seal(b"a note", public_key=pair.public, info=info)
    opened = crypto.open_item(blob, case_private_key=pair.private, case_id="c-42", item_id="i-8", kind="note")
    assert opened == b"a note"


def test_chunked_item_opens_with_pyhpke_and_a_plain_aead() -> None:
    """The chunked format as documented: HPKE-wrapped data key, then ChaCha20-Poly1305 chunks."""
    pair = crypto.generate_keypair()
    plaintext = bytes(range(256)) * ((crypto.SINGLE_SHOT_LIMIT + 1000) // 256 + 1)
    blob = crypto.seal_item(plaintext, case_public_key=pair.public, case_id="c", item_id="f", kind="evidence")
    assert blob[0] == 0x02
    (wrapped_len,) = struct.unpack(">H", blob[1:3])
    wrapped, chunks = blob[3 : 3 + wrapped_len], blob[3 + wrapped_len :]
    data_key = _pyhpke_open(
        wrapped, private_key=pair.private, info=bind(Purpose.FILE_KEY, "c", "f", "evidence")
    )
    assert len(data_key) == crypto.KEY_SIZE
    aead = ChaCha20Poly1305(data_key)
    step = crypto.CHUNK_SIZE + crypto.TAG_SIZE
    count = -(-len(chunks) // step)
    assert count == -(-len(plaintext) // crypto.CHUNK_SIZE)
    out = b""
    for index in range(count):
        aad = bind(Purpose.CHUNK, "c", "f", "evidence", struct.pack(">QB", index, int(index == count - 1)))
        out += aead.decrypt(index.to_bytes(12, "big"), chunks[index * step : (index + 1) * step], aad)
    assert out == plaintext


def test_wrapped_case_key_opens_with_pyhpke() -> None:
    case = crypto.generate_keypair()
    officer = crypto.generate_keypair()
    wrapped = crypto.wrap_case_key(case.private, recipient_public_key=officer.public, case_id="c-9")
    info = bind(Purpose.CASE_KEY, "c-9", crypto.fingerprint(officer.public))
    assert _pyhpke_open(wrapped, private_key=officer.private, info=info) == case.private


def test_pyhpke_wrapped_case_key_unwraps_with_storage() -> None:
    case = crypto.generate_keypair()
    officer = crypto.generate_keypair()
    info = bind(Purpose.CASE_KEY, "c-9", crypto.fingerprint(officer.public))
    wrapped = _pyhpke_seal(case.private, public_key=officer.public, info=info)
    assert (
        crypto.unwrap_case_key(wrapped, recipient_private_key=officer.private, case_id="c-9") == case.private
    )


def test_storage_opens_rfc9180_keys_derived_by_pyhpke() -> None:
    """The vector's recipient key (derived by RFC 9180's DeriveKeyPair) works as a Candour case key."""
    base = next(v for v in VECTORS if v["mode"] == 0)
    derived = OUR_SUITE.kem.derive_key_pair(_h(base, "ikmR"))
    sk_r, pk_r = derived.private_key.to_private_bytes(), derived.public_key.to_public_bytes()
    blob = crypto.seal_item(b"x", case_public_key=pk_r, case_id="c", item_id="i", kind="k")
    assert crypto.open_item(blob, case_private_key=sk_r, case_id="c", item_id="i", kind="k") == b"x"
    assert _pyhpke_open(blob[1:], private_key=sk_r, info=bind(Purpose.ITEM, "c", "i", "k")) == b"x"
