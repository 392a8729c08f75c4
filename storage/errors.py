"""Named domain errors of the vault: each says what went wrong in words fit for an operator or officer."""

from __future__ import annotations


class VaultError(Exception):
    """Base of every error the vault raises on purpose."""


class DecryptionError(VaultError):
    """A sealed blob did not open: wrong key, wrong binding (case, item, kind), tampered or truncated."""


class InvalidPassphraseError(VaultError):
    """The passphrase does not unlock this officer's key."""


class MalformedBlobError(DecryptionError):
    """A sealed blob is not in a format this version understands (truncated or corrupted)."""


class ReceiptTypoError(VaultError):
    """A receipt code fails its checksum: almost certainly mistyped, not merely unknown.

    `problem` says which test failed, so a front door can word it in the reader's language: "length"
    (`length` is how many letters and digits were typed), "characters" (one that a code never holds)
    or "check" (the check character does not match: a letter or digit is wrong).
    """

    def __init__(self, message: str, *, problem: str = "check", length: int = 0) -> None:
        super().__init__(message)
        self.problem, self.length = problem, length


class UnknownReceiptError(VaultError):
    """A well-formed receipt code that matches no case."""


class ThrottledError(VaultError):
    """Too many wrong receipt codes from one chat within the hour."""


class NotFoundError(VaultError):
    """A case, officer, queue or policy version that does not exist."""


class NotEntitledError(VaultError):
    """The officer holds no wrapped key for this case, so cannot open it."""


class NotPermittedError(VaultError):
    """The officer's roles do not allow this action."""


class CannotWorkError(VaultError):
    """Another officer named in a request (an assignee) may not work this case: no key for it, inactive,
    no casework role, or conflicted out. Said to a caller who can open the case, so it may say why."""


class ConflictOfInterestError(VaultError):
    """The action would route a case to its subject's unit or to an officer named as a subject."""


class InvalidTransitionError(VaultError):
    """A status change that the case workflow does not allow from the current status."""


class NoRecipientError(VaultError):
    """No officer (and no recovery key) could receive the case key, so sealing would lose the report."""


class KeyringError(VaultError):
    """Key files are missing, unreadable or inconsistent."""


class NotInitialisedError(VaultError):
    """The data directory or database has not been set up with `candour init`."""


class DatabaseUnavailableError(VaultError):
    """The database cannot be reached or refused the connection."""


class InputError(VaultError):
    """Input that the vault refuses (too long, empty, of the wrong kind); nothing was changed."""
