"""A case's contact handle: the reporter's chat and the language they read, sealed together.

The handle is the only link between a chat and a case (promise 1): sealed under the relay keyring, bound to
the case id, opened only to deliver, and shredded when the case no longer needs its reporter. The language
rides inside the same sealed blob.

Threat: a language is identifying in a small force (the few officers who report in Welsh). Why sealed with
the handle rather than anywhere in clear: it then shares the handle's key, context and lifetime, so
shredding the handle shreds the language, and a relay-key rotation re-seals both. Why padded to a fixed
width: the sealed blob's length must not tell a Welsh reporter from an English one.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.errors import InputError
from storage.keyring import RelayKeyring
from storage.models import ContactHandle
from storage.vault import Vault

CONTACT_PURPOSE = "contact"
# A handle sealed before languages were kept is the chat alone; one sealed since starts with this mark (a
# NUL, which no chat reference holds) and the language, padded to LANGUAGE_WIDTH bytes.
_MARK = b"\x00c1"
LANGUAGE_WIDTH = 8


@dataclass(frozen=True)
class Contact:
    """Where a case's reporter is reached, and the language they chose (None: not known)."""

    chat: str
    language: str | None = None


def seal(relay: RelayKeyring, *, case_id: str, chat: str, language: str | None) -> tuple[str, bytes]:
    """The key id and sealed blob of a case's contact handle."""
    code = (language or "").encode("ascii") if _plain(language) else b"-" * (LANGUAGE_WIDTH + 1)
    if len(code) > LANGUAGE_WIDTH or "\x00" in chat:
        raise InputError("a contact handle needs a chat reference and a short language code")
    plaintext = _MARK + code.ljust(LANGUAGE_WIDTH, b" ") + chat.encode("utf-8")
    return relay.seal(plaintext, purpose=CONTACT_PURPOSE, context=case_id)


def open_row(relay: RelayKeyring, row: ContactHandle) -> Contact:
    """A stored handle, opened (DecryptionError if this keyring cannot open it)."""
    plain = relay.open(row.key_id, row.sealed, purpose=CONTACT_PURPOSE, context=row.case_id)
    if not plain.startswith(_MARK):
        return Contact(plain.decode("utf-8"))
    rest = plain[len(_MARK) :]
    language = rest[:LANGUAGE_WIDTH].decode("ascii").strip() or None
    return Contact(rest[LANGUAGE_WIDTH:].decode("utf-8"), language)


async def read(vault: Vault, *, case_id: str) -> Contact | None:
    """A case's contact handle, opened for delivery (None once shredded)."""
    async with vault.db.reading() as session:
        row = await session.get(ContactHandle, case_id)
    return None if row is None else open_row(vault.keys.relay, row)


def _plain(language: str | None) -> bool:
    """A language as the bot names its catalogues (`cy`, `en`, `pt-br`): letters and hyphens, or none."""
    return language is None or (language.isascii() and language.replace("-", "").isalpha())
