"""How people write an officer's name and staff or collar number, reduced to lookup keys (pure, no database).

The directory side (`directory_keys`) turns one officer's display name and staff number into the keys
stored for them; the report side (`probe_keys`) turns what a reporter typed about one person into every
key it could plausibly mean. A key is a kind letter, a colon and the normalised text:

  n:  every name token, sorted (so "Smith, Dave" == "Dave Smith")        certain
  w:  the whole name as written, its white-space parts sorted (any script)            certain
  #:  a staff or collar number, upper case, separators and a rank prefix removed      certain
  d:  only the digits of a number, leading zeros dropped (3 digits or more)           likely
  i:  first initial and surname ("D. Smith", "Smith, D")                              likely
  s:  surname alone (every active caseworker who shares it)                           likely
  e:  a long surname or one with a letter deleted (one edit apart, checked after)     likely

The report side also reads an e-mail address by its local part ("j.smith@force.police.uk" is J. Smith),
a one-word name as an initial glued to a surname ("JSmith", "SmithJ": likely), digits of any script as
ASCII digits ("PC ١٢٣٤" is 1234), and name particles either way round: joined to the surname ("Jan van der
Berg" also gives "vanderberg") or split off a glued one ("Jan Vanderberg" also gives van der berg), so the
directory keys need not change with these rules.

Why so many variants on the report side: a miss gives the case key to the person reported on, a false
hit only leaves officers out of the key holders (see docs/threat-model.md, promise 3).

Names are read in any script: a name word is a run of letters of any alphabet and the marks written with
them (Devanagari or Thai vowel signs), and invisible characters (a soft hyphen or zero-width space pasted
inside a name) are dropped by the one rule of storage.text. Why the `w:` key besides `n:`: the title,
initial and surname rules model names written in Latin letters; for a name they cannot read at all (a
script newer than this Python's Unicode data, a font's private-use glyphs) the whole name written exactly
must still match, as the exact case-folded match before these rules did.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from storage.text import without_invisible

CERTAIN_KINDS = frozenset({"n", "w", "#"})
NAME_KINDS = frozenset({"n", "w", "i", "s", "e"})
NUMBER_KINDS = frozenset({"#", "d"})
# Strongest first: a match is described by the strongest kind that found it.
KIND_ORDER = ("#", "n", "w", "d", "i", "e", "s")
REASONS = {
    "#": "named: staff number",
    "n": "named: full name",
    "w": "named: full name as written",
    "d": "likely named: number without its prefix or leading zeros",
    "i": "likely named: initial and surname",
    "e": "likely named: surname one letter off",
    "s": "likely named: surname alone",
}
MAX_KEY_CHARS = 200
LONG_SURNAME = 7
MIN_DIGITS = 3

# Titles and ranks never part of a name (after dots are removed: "Insp." -> "insp").
_TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "sir",
        "dame",
        "prof",
        "rev",
        "revd",
        "wpc",
        "pc",
        "pcso",
        "sgt",
        "sergeant",
        "serjeant",
        "dsgt",
        "insp",
        "inspector",
        "dci",
        "dsupt",
        "supt",
        "superintendent",
        "csupt",
        "chsupt",
        "chinsp",
        "cdr",
        "commander",
        "constable",
        "detective",
        "police",
        "officer",
        "chief",
        "temporary",
        "acting",
        "special",
        "staff",
        "community",
        "support",
        "cst",
        "const",
        "dcc",
        "acc",
        "dac",
        "ch",
        "collar",
        "badge",
        "warrant",
        "shoulder",
        "number",
    ]
)
# Ranks that are also plausible initials or names ("Di Smith", "D.S. Jones"): tried both ways.
_AMBIGUOUS = frozenset(["ps", "ds", "dc", "di", "ci", "sc", "det", "con"])
# Letters before a collar number that are a rank, not part of the number ("PC1234" is collar 1234).
_NUMBER_PREFIXES = (
    "PCSO",
    "DSGT",
    "SGT",
    "INSP",
    "SUPT",
    "DCI",
    "WPC",
    "PC",
    "DC",
    "PS",
    "DS",
    "DI",
    "CI",
    "SC",
    "NO",
)
_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i"})
_APOSTROPHES = re.compile(r"[\u2019\u2018\u02bc\u0060\u00b4\u2032]")
_DASHES = re.compile(r"[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]")
# The Arabic and the ideographic comma put a surname first as "," does.
_COMMAS = re.compile(r"[\u060c\u3001]")
_SEPARATORS = re.compile(r"[\s\-/]")
# A number as written: an optional short prefix ("PC", "MP", "collar"), separators, digit groups, a suffix.
_NUMBER = re.compile(
    r"(?<![a-z0-9])(?:([a-z]{1,6})\s?[-/#.:]*\s?)?#?(\d(?:[\d]|[\s\-/](?=\d))*)([a-z]{1,2})?(?![a-z0-9])"
)
_WORD_JOINERS = "'-"
# Name particles: written apart or joined to the surname ("van der Berg", "Vanderberg", "Mac Donald").
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "des", "la", "le", "ten", "ter"}
    | {"st", "mac", "mc", "o", "al", "el", "bin", "ibn", "ap", "dos", "das", "do", "vander", "vanden"}
)
# Particles that a glued surname is split at ("vanderberg" -> van der berg); "o", "al", "el" are left out,
# since too many ordinary surnames begin with them ("Oakley", "Alford"). A split at these alone also gives
# the rest as a surname alone ("Vanderberg" -> berg); at the others ("Delaney" -> de laney) only name and
# initial keys, since ordinary surnames begin with them too.
_SPLIT_PARTICLES = tuple(sorted(_PARTICLES - {"o", "al", "el", "bin", "ibn", "ap", "do", "dos", "das"}))
_STRONG_PARTICLES = frozenset({"van", "von", "der", "den", "vander", "vanden", "ten", "ter", "mac", "mc"})
MIN_SPLIT_REST = 4
# An e-mail address as a reporter may paste it: the local part is how the force writes the name.
_MAIL = re.compile(r"([^\s@<>()\[\],;:]+)@[^\s@<>()\[\],;:]+\.[^\s@<>()\[\],;:]+")


@dataclass(frozen=True)
class Probe:
    """The keys one named person could mean, and the report's surnames behind each fuzzy key."""

    keys: frozenset[str]
    fuzzy: dict[str, frozenset[str]] = field(default_factory=dict, hash=False, compare=False)


def fold(text: str) -> str:
    """Lower case, accents and special letters folded to ASCII-like letters, decimal digits of every script
    to ASCII digits, apostrophes, dashes and commas unified, invisible characters (storage.text) dropped."""
    if text.isascii() and text.isprintable():
        return text.lower()
    text = without_invisible(unicodedata.normalize("NFKC", text or "")).casefold()
    text = _APOSTROPHES.sub("'", _COMMAS.sub(",", _DASHES.sub("-", text))).translate(_LETTERS)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(_ascii_digit(ch) for ch in decomposed if not unicodedata.combining(ch))


def _ascii_digit(char: str) -> str:
    """A decimal digit of any script as its ASCII digit ("١٢٣٤", "१२३४", "๑๒๓๔" are 1234), other characters
    as they are.

    Threat: a reporter on an Arabic or Devanagari keyboard writes the collar number in its own digits;
    read as letters, it matched nobody and the officer named kept the case key."""
    digit = unicodedata.decimal(char, None)
    return char if digit is None else str(digit)


def number_core(value: str) -> str:
    """A staff or collar number upper-cased, separators and a leading rank prefix removed ("PC-1234" -> "1234")."""
    compact = _SEPARATORS.sub("", fold(value)).replace(".", "").replace("#", "").upper()
    for prefix in _NUMBER_PREFIXES:
        if compact.startswith(prefix) and compact[len(prefix) :][:1].isdigit():
            return compact[len(prefix) :][: MAX_KEY_CHARS - 2]
    return compact[: MAX_KEY_CHARS - 2]


def number_digits(value: str) -> str:
    """Only the digits of a number, leading zeros dropped; empty when fewer than MIN_DIGITS remain."""
    digits = "".join(ch for ch in fold(value) if ch.isdigit()).lstrip("0")
    return digits if len(digits) >= MIN_DIGITS else ""


def _number_keys(core: str, digits: str) -> set[str]:
    return ({f"#:{core}"} if core else set()) | ({f"d:{digits}"} if digits else set())


def numbers_in(text: str) -> set[str]:
    """Every staff-number key a piece of free text could mean (in a name answer or its own field)."""
    keys: set[str] = set()
    folded = fold(text)
    for match in _NUMBER.finditer(folded):
        prefix, run, suffix = match.group(1) or "", match.group(2), match.group(3) or ""
        groups = [g for g in _SEPARATORS.split(run) if g]
        whole = "".join(groups)
        candidates = {whole, prefix + whole, whole + suffix, prefix + whole + suffix}
        if len(groups) > 1:
            candidates.update(groups)
        for candidate in candidates:
            keys |= _number_keys(number_core(candidate), "")
        for candidate in {whole, *groups}:
            keys |= _number_keys("", number_digits(candidate))
    return keys


def _without_numbers(folded: str) -> str:
    """A name answer with its numbers (and brackets holding them) taken out."""
    folded = re.sub(r"[(\[{][^)\]}]*\d[^)\]}]*[)\]}]", " ", folded)
    return _NUMBER.sub(lambda m: f" {m.group(1) or ''} ", folded)


def _in_word(char: str) -> bool:
    """A letter of any script, or a mark written with one (a vowel sign is a mark, not a letter)."""
    return char.isalpha() or unicodedata.category(char).startswith("M")


def _words(text: str) -> list[str]:
    """Name words, in any script: dots, digits and other punctuation split words ("D.J." -> d, j); an inner
    ' or - between letters is kept ("o'brien", "smith-jones")."""
    words: list[str] = []
    word = ""
    for index, char in enumerate(text):
        following = text[index + 1 : index + 2]
        if _in_word(char) or (char in _WORD_JOINERS and word and following and _in_word(following)):
            word += char
        elif word:
            words.append(word)
            word = ""
    return [*words, word] if word else words


def _whole_key(text: str) -> set[str]:
    """The `w:` key: the name folded, its numbers taken out, its parts (split at white space and commas)
    sorted; nothing when no part is left."""
    parts = sorted(_without_numbers(fold(text)).replace(",", " ").split())
    return {f"w:{' '.join(parts)}"[:MAX_KEY_CHARS]} if parts else set()


def _strip_titles(words: list[str], *, ambiguous: bool, keep_if_empty: bool = True) -> list[str]:
    kept = []
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else ""
        if word in _TITLES or (ambiguous and word in _AMBIGUOUS):
            continue
        # "A/Sgt", "T/Insp": acting or temporary rank; the slash became a space.
        if word in {"a", "t"} and (following in _TITLES or following in _AMBIGUOUS):
            continue
        kept.append(word)
    return kept or (words if keep_if_empty else [])


def _joined(word: str) -> str:
    return word.replace("'", "").replace("-", "")


def _parts(word: str) -> list[str]:
    """The parts of a double-barrelled surname ("smith-jones" -> smith, jones; "o'brien" stays whole)."""
    return [_joined(p) for p in word.split("-") if len(_joined(p)) >= 2]


@dataclass(frozen=True)
class _Parsed:
    """One reading of a name. `guessed`: made by splitting a glued surname at a particle that ordinary
    surnames also begin with, so it gives name and initial keys but no surname-alone or near-spelling
    keys (a guess too weak to leave out everyone of a surname it invented: "Alford" is not Ford)."""

    given: tuple[str, ...]
    surname: tuple[str, ...]
    guessed: bool = False


def _parses(text: str, *, directory: bool) -> list[_Parsed]:
    """The ways of reading a name: a comma puts the surname first; otherwise the last word, or the first
    word when the rest are initials or when there are just two words (the report side tries both)."""
    folded = _without_numbers(fold(text))
    head, comma, tail = folded.partition(",")
    readings: list[_Parsed] = []
    # The directory keeps words that may be a rank or a name ("Di"); a report is read both ways.
    for ambiguous in (False,) if directory else (True, False):
        if comma:
            surname = _strip_titles(_words(head), ambiguous=ambiguous)
            given = _strip_titles(_words(tail), ambiguous=ambiguous, keep_if_empty=False)
            if surname:
                readings.append(_Parsed(tuple(given), tuple(surname)))
            continue
        words = _strip_titles(_words(folded), ambiguous=ambiguous)
        if not words:
            continue
        readings.append(_Parsed(tuple(words[:-1]), (words[-1],)))
        if not directory and len(words) >= 2:
            rest_initials = all(len(w) == 1 for w in words[1:])
            if rest_initials or len(words) == 2:
                readings.append(_Parsed(tuple(words[1:]), (words[0],)))
            # "Dave Smith Jones" may be Dave Smith-Jones.
            readings.append(_Parsed(tuple(words[:-2]), (words[-2], words[-1])))
    if not directory:
        readings += [variant for reading in readings for variant in _particle_readings(reading)]
    return list(dict.fromkeys(readings))


def _particle_readings(reading: _Parsed) -> list[_Parsed]:
    """A report's name read with its particles joined to the surname ("Jan van der Berg" -> surname
    van der berg, keyed also as vanderberg) or a glued surname split at them ("Jan Vanderberg" -> van der
    berg), so either writing meets the other in the directory."""
    variants = []
    given, surname = list(reading.given), list(reading.surname)
    particles = 0
    while particles < len(given) and given[len(given) - 1 - particles] in _PARTICLES:
        particles += 1
    if particles:
        cut = len(given) - particles
        variants.append(_Parsed(tuple(given[:cut]), (*given[cut:], *surname)))
    for split in _particle_splits(surname[-1]):
        weak = not set(split[:-1]) <= _STRONG_PARTICLES
        variants.append(_Parsed(tuple(given), (*surname[:-1], *split), guessed=weak))
    return variants


def _particle_splits(word: str) -> list[tuple[str, ...]]:
    """The ways a glued surname splits into particles and a rest of MIN_SPLIT_REST letters or more."""
    splits: list[tuple[str, ...]] = []
    for particle in _SPLIT_PARTICLES:
        rest = word[len(particle) :]
        if word.startswith(particle) and len(rest) >= MIN_SPLIT_REST:
            splits.append((particle, rest))
            splits += [(particle, *more) for more in _particle_splits(rest)]
    return splits


def _name_keys(reading: _Parsed) -> set[str]:
    words = [*reading.given, *reading.surname]
    joined = [_joined(w) for w in words]
    split = [p for w in words for p in re.split(r"['\-]", w) if p]
    hyphen_split = [_joined(p) for w in words for p in w.split("-") if p]
    spellings = {tuple(joined), tuple(split), tuple(hyphen_split)}
    if len(reading.surname) > 1:
        spellings.add((*(_joined(w) for w in reading.given), "".join(_joined(w) for w in reading.surname)))
    return {f"n:{' '.join(sorted(s))}"[:MAX_KEY_CHARS] for s in spellings if s}


def _surnames(reading: _Parsed, *, report: bool = False) -> set[str]:
    """The surname spellings of a reading; on the report side a particle of a surname of several words
    ("van" of "van der Berg") is not a surname alone."""
    whole = "".join(_joined(w) for w in reading.surname)
    forms = {whole} | {_joined(w) for w in reading.surname} | {p for w in reading.surname for p in _parts(w)}
    if report and len(reading.surname) > 1:
        forms = {whole} | (forms - _PARTICLES)
    return {f for f in forms if len(f) >= 2}


def _glued_initial(reading: _Parsed) -> set[str]:
    """A one-word name that may be an initial glued to a surname ("JSmith", "jsmith" of an e-mail
    address, "SmithJ"): the initial-and-surname keys it could mean (likely, never certain)."""
    if reading.given or len(reading.surname) != 1 or len(reading.surname[0]) < 4:
        return set()
    word = _joined(reading.surname[0])
    return {f"i:{word[0]} {word[1:]}", f"i:{word[-1]} {word[:-1]}"}


def _unmailed(text: str) -> str:
    """An e-mail address replaced by its local part read as a name ("j.smith+psd@force.police.uk" ->
    "j smith"): dots and underscores part the words, a "+tag" is dropped."""
    return _MAIL.sub(lambda m: " " + re.sub(r"[._]", " ", m.group(1).split("+")[0]) + " ", text)


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def directory_keys(display_name: str, staff_number: str | None) -> set[str]:
    """The keys stored for one officer of the directory."""
    keys: set[str] = _whole_key(display_name)
    for reading in _parses(display_name, directory=True):
        keys |= _name_keys(reading)
        initial = _joined(reading.given[0])[:1] if reading.given else ""
        for surname in _surnames(reading):
            keys.add(f"s:{surname}")
            if initial:
                keys.add(f"i:{initial} {surname}")
        main = "".join(_joined(w) for w in reading.surname)
        if len(main) >= LONG_SURNAME:
            keys |= {f"e:{v}" for v in {main} | _deletions(main)}
    if staff_number and staff_number.strip():
        keys |= _number_keys(number_core(staff_number), number_digits(staff_number))
    return {k[:MAX_KEY_CHARS] for k in keys}


def probe_keys(name: str, staff_number: str = "") -> Probe:
    """Every key that what a reporter wrote about one person could mean (name answer and number field)."""
    keys: set[str] = _whole_key(name)
    fuzzy: dict[str, set[str]] = {}
    if "@" in name:
        name = _unmailed(name)
        keys |= _whole_key(name)
    for reading in _parses(name, directory=False):
        keys |= _name_keys(reading) | _glued_initial(reading)
        initials = {_joined(reading.given[0])[:1]} if reading.given else set()
        for surname in _surnames(reading, report=True):
            keys |= {f"i:{initial} {surname}" for initial in initials if initial}
            if reading.guessed:
                continue
            keys.add(f"s:{surname}")
            if len(surname) >= LONG_SURNAME - 1:
                for variant in {surname} | _deletions(surname):
                    fuzzy.setdefault(f"e:{variant}"[:MAX_KEY_CHARS], set()).add(surname)
    keys |= numbers_in(name) | numbers_in(staff_number)
    if staff_number.strip():
        keys |= _number_keys(number_core(staff_number), number_digits(staff_number))
    keys |= set(fuzzy)
    return Probe(
        keys=frozenset(k[:MAX_KEY_CHARS] for k in keys), fuzzy={k: frozenset(v) for k, v in fuzzy.items()}
    )


def directory_surnames(display_name: str) -> set[str]:
    """The main surname spellings of a directory name (to check a fuzzy key really is one edit apart)."""
    return {"".join(_joined(w) for w in r.surname) for r in _parses(display_name, directory=True)}


def one_edit_apart(a: str, b: str) -> bool:
    """True when a and b differ by at most one insertion, deletion, substitution or adjacent swap."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diffs) == 1:
            return True
        i, j = ([*diffs, 0, 0])[:2]
        return len(diffs) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def strongest(kinds: Iterable[str]) -> str:
    """The strongest of the kinds that found an officer."""
    found = set(kinds)
    return next(k for k in KIND_ORDER if k in found)
