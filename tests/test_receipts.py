"""Receipt codes: enough randomness, readable groups, and a check character that tells a typo apart."""

from __future__ import annotations

import math

import pytest

from storage import receipts
from storage.errors import ReceiptTypoError


def test_format_and_entropy() -> None:
    code = receipts.generate()
    groups = code.split("-")
    assert [len(g) for g in groups] == [5, 5, 5, 5]
    assert receipts.RANDOM_BITS >= 80
    assert math.log2(len(receipts.ALPHABET)) * receipts.DATA_CHARS == receipts.RANDOM_BITS
    assert len({receipts.generate() for _ in range(2000)}) == 2000


def test_normalisation_is_forgiving() -> None:
    code = receipts.generate()
    canonical = receipts.normalise(code)
    assert receipts.normalise(code.lower()) == canonical
    assert receipts.normalise(" ".join(code.split("-"))) == canonical
    with_letters = canonical.replace("0", "O").replace("1", "l")
    assert receipts.normalise(with_letters) == canonical


def test_every_single_substitution_is_a_typo() -> None:
    for _ in range(20):
        canonical = receipts.normalise(receipts.generate())
        for position in range(len(canonical)):
            for replacement in receipts.ALPHABET:
                if replacement == canonical[position]:
                    continue
                mistyped = canonical[:position] + replacement + canonical[position + 1 :]
                with pytest.raises(ReceiptTypoError):
                    receipts.normalise(mistyped)


def test_most_adjacent_swaps_are_typos() -> None:
    caught = total = 0
    for _ in range(200):
        canonical = receipts.normalise(receipts.generate())
        for i in range(len(canonical) - 1):
            if canonical[i] == canonical[i + 1]:
                continue
            swapped = canonical[:i] + canonical[i + 1] + canonical[i] + canonical[i + 2 :]
            total += 1
            try:
                receipts.normalise(swapped)
            except ReceiptTypoError:
                caught += 1
    assert caught / total > 0.95


@pytest.mark.parametrize("text", ["", "ABCDE", "ABCDE-ABCDE-ABCDE-ABCDE-A", "UUUUU-UUUUU-UUUUU-UUUUU", "!!!"])
def test_malformed_codes_are_typos_with_a_reason(text: str) -> None:
    with pytest.raises(ReceiptTypoError, match="receipt code"):
        receipts.normalise(text)
