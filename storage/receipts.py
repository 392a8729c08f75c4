"""Receipt codes: 95 random bits in Crockford base32, grouped for reading aloud, with a check character.

Why a check character (Luhn mod 32): every single mistyped character and most swapped neighbours are
caught before any lookup, so the reporter is told "check the code" rather than "no such report", and
typos do not count against the throttle as guesses would.
"""

from __future__ import annotations

import secrets

from storage.errors import ReceiptTypoError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INDEX = {ch: i for i, ch in enumerate(ALPHABET)}
# Crockford's decoding leniency: letters people confuse with digits.
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
DATA_CHARS = 19  # 19 x 5 = 95 bits of randomness
CODE_CHARS = DATA_CHARS + 1
GROUP = 5
RANDOM_BITS = DATA_CHARS * 5


def generate() -> str:
    """A new receipt code in its display form, e.g. `7K3MQ-9X2PA-D4HT0-RB8WN`."""
    data = random_chars(DATA_CHARS)
    return display(data + _check_char(data))


def random_chars(count: int) -> str:
    """`count` uniformly random characters of the alphabet (5 bits each) from one draw of the system CSPRNG."""
    bits = secrets.randbits(5 * count)
    return "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(count))


def display(code: str) -> str:
    """Group a normalised code in fives with hyphens."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalise(text: str) -> str:
    """The canonical 20-character form of what a person typed; raises ReceiptTypoError if it cannot be one."""
    cleaned = "".join(ch for ch in text.upper() if ch not in " -_.\t\n").translate(_ALIASES)
    if len(cleaned) != CODE_CHARS:
        raise ReceiptTypoError(
            f"a receipt code has {CODE_CHARS} letters and digits; this one has {len(cleaned)}",
            problem="length",
            length=len(cleaned),
        )
    bad = sorted({ch for ch in cleaned if ch not in _INDEX})
    if bad:
        raise ReceiptTypoError(
            f"a receipt code never contains {', '.join(repr(ch) for ch in bad)}", problem="characters"
        )
    if _check_char(cleaned[:-1]) != cleaned[-1]:
        raise ReceiptTypoError("this receipt code has a typo: please check it character by character")
    return cleaned


def _check_char(data: str) -> str:
    total, factor, base = 0, 2, len(ALPHABET)
    for ch in reversed(data):
        addend = factor * _INDEX[ch]
        total += addend // base + addend % base
        factor = 1 if factor == 2 else 2
    return ALPHABET[(base - total % base) % base]
