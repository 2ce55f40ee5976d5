"""The Ding German-English dictionary as parallel text (Debian `trans-de-en`).

Debian ships the dictionary (GPL-2+) as `/usr/share/trans/de-en`; we read it
from the system and never copy it. One line is one entry::

    blank {adj} | Es war purer Zufall. | ... :: sheer; pure | It was sheer/pure coincidence. | ...

The two sides of ` :: ` hold the same number of ` | `-separated sub-entries,
aligned by position; a sub-entry lists alternatives separated by `; `. About
19,000 sub-entries are full example sentences on both sides, the rest are
words and phrases.

Cleaning removes what a translator would not output: grammar tags `{f}`,
subject labels `[techn.]`, search keys `<...>`, abbreviation tags `/MI/` and
parenthesised notes `(an etw.)`. An unspaced slash between two words lists
alternatives (`sheer/pure`): we keep the first. A spaced slash
(`It's not / It isn't over`) leaves the alternatives' extent ambiguous, so such
sub-entries are skipped and counted rather than guessed.

Example:
>>> corpus = read_ding("/usr/share/trans/de-en", content="sentences")
>>> len(corpus.pairs), corpus.stats["misaligned_lines"]   # Debian's 2023 file
(21649, 1)
>>> train, dev, test = split_ding(corpus)                  # 19446 / 451 / 1752
"""

import dataclasses
import os
import re

DEFAULT_DING_PATH = "/usr/share/trans/de-en"
CONTENTS = ("sentences", "all")

_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_ANGLES = re.compile(r"<[^<>]*>")
_PARENS = re.compile(r"\([^()]*\)")
_ABBREVIATION = re.compile(r"(?<!\S)/[^/\s][^/]*?/(?!\S)")
_WORD_SLASH = re.compile(r"\b([^\W\d_][\w'’-]*)/[^\W\d_][\w'’-]*\b")
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,!?;:])")
_SENTENCE_END = re.compile(r"[.!?…][\"'“”‘’»«]?$")
_SENTENCE_START = re.compile(r"^[\"'„“‘»«(]?[A-ZÄÖÜ0-9]")


@dataclasses.dataclass
class DingCorpus:
    """Aligned pairs read from a Ding file.

    Attributes:
        pairs: `(german, english)` pairs in file order, duplicates removed.
        is_sentence: parallel list of booleans: both sides are full sentences.
        stats: counts of lines read, entries, pairs kept and of what was
            skipped and why (`malformed_lines`, `misaligned_lines`,
            `ambiguous_slash`, `empty_after_cleaning`, `duplicates`).
    """

    pairs: list
    is_sentence: list
    stats: dict

    @property
    def sentence_pairs(self):
        return [p for p, s in zip(self.pairs, self.is_sentence) if s]


def clean_text(text):
    """Removes Ding markup from one alternative; returns "" if nothing is left.

    Example:
    >>> clean_text("Abholung {f} (von jdm./etw.) [transp.] <Abholen>")
    'Abholung'
    >>> clean_text("It was sheer/pure coincidence.")
    'It was sheer coincidence.'
    """
    text = _BRACES.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    text = _ANGLES.sub(" ", text)
    previous = None
    while previous != text:  # nested parentheses
        previous, text = text, _PARENS.sub(" ", text)
    text = _ABBREVIATION.sub(" ", text)
    text = _WORD_SLASH.sub(r"\1", text)
    text = _SPACES.sub(" ", text).strip()
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return text.strip(" ;,")


def is_sentence(text):
    """A full sentence: starts with a capital (or digit/quote), ends with . ! ? and has two words."""
    return (bool(_SENTENCE_START.match(text)) and bool(_SENTENCE_END.search(text))
            and len(text.split()) >= 2)


def _alternatives(sub_entry):
    """`a; b; c` -> ["a", "b", "c"], not splitting inside brackets of any kind."""
    parts, depth, current = [], 0, []
    for char in sub_entry:
        if char in "([{<":
            depth += 1
        elif char in ")]}>":
            depth = max(depth - 1, 0)
        if char == ";" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_ding_lines(lines, content="sentences"):
    """Parses Ding lines (an iterable of strings) into a `DingCorpus`.

    Args:
        lines: the file's lines.
        content: `"sentences"` keeps sub-entries that are full sentences on
            both sides; `"all"` keeps phrases and words too.

    A line without exactly one ` :: `, or whose sides have different numbers
    of sub-entries, is skipped and counted: never paired by guesswork.
    """
    if content not in CONTENTS:
        raise ValueError(f"content must be one of {', '.join(CONTENTS)}; got {content!r}")
    stats = dict(lines=0, entries=0, malformed_lines=0, misaligned_lines=0, ambiguous_slash=0,
                 empty_after_cleaning=0, duplicates=0, phrases_skipped=0, pairs=0, sentences=0)
    pairs, flags, seen = [], [], set()
    for line in lines:
        stats["lines"] += 1
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        sides = line.split(" :: ")
        if len(sides) != 2 or not sides[0].strip() or not sides[1].strip():
            stats["malformed_lines"] += 1
            continue
        german_subs, english_subs = sides[0].split(" | "), sides[1].split(" | ")
        if len(german_subs) != len(english_subs):
            stats["misaligned_lines"] += 1
            continue
        stats["entries"] += 1
        for german_sub, english_sub in zip(german_subs, english_subs):
            if " / " in german_sub or " / " in english_sub:
                stats["ambiguous_slash"] += 1
                continue
            german = [t for t in (clean_text(a) for a in _alternatives(german_sub)) if t]
            english = [t for t in (clean_text(a) for a in _alternatives(english_sub)) if t]
            if not german or not english:
                stats["empty_after_cleaning"] += 1
                continue
            sentence = is_sentence(german[0]) and is_sentence(english[0])
            if content == "sentences" and not sentence:
                stats["phrases_skipped"] += 1
                continue
            # Alternatives pair up by position when both sides list as many;
            # otherwise every German alternative gets the first English one.
            if len(german) == len(english):
                candidates = list(zip(german, english))
            else:
                candidates = [(g, english[0]) for g in german]
            for pair in candidates:
                if pair in seen:
                    stats["duplicates"] += 1
                    continue
                seen.add(pair)
                pair_is_sentence = is_sentence(pair[0]) and is_sentence(pair[1])
                if content == "sentences" and not pair_is_sentence:
                    stats["phrases_skipped"] += 1
                    continue
                pairs.append(pair)
                flags.append(pair_is_sentence)
    stats["pairs"] = len(pairs)
    stats["sentences"] = sum(flags)
    return DingCorpus(pairs, flags, stats)


def read_ding(path=DEFAULT_DING_PATH, content="sentences"):
    """Reads a Ding dictionary file (UTF-8) into a `DingCorpus`.

    Args:
        path: the file; Debian's `trans-de-en` package installs
            `/usr/share/trans/de-en`.
        content: `"sentences"` or `"all"` (see `parse_ding_lines`).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        hint = (" (install it with: apt-get install trans-de-en)"
                if os.path.abspath(path) == DEFAULT_DING_PATH else "")
        raise FileNotFoundError(f"Ding dictionary not found: {path}{hint}")
    with open(path, encoding="utf-8", errors="replace") as f:
        return parse_ding_lines(f, content=content)


def split_ding(corpus, test_fraction=0.08, dev_fraction=0.02, seed=0, min_test=0):
    """Deterministic train / dev / test split by German text.

    Test and dev hold sentence pairs only; every pair whose German side is a
    test or dev sentence stays out of training, so no test sentence is seen
    with another translation. Phrases all go to training.

    Returns:
        `(train, dev, test)` lists of pairs.

    Raises:
        ValueError: fewer than `min_test` test sentences (the full dictionary
            with the default fractions gives about 1,750).
    """
    from keras_transformer.data.cmudict import hash_fraction

    held = {}
    for (german, english), sentence in zip(corpus.pairs, corpus.is_sentence):
        if not sentence or german in held:
            continue
        draw = hash_fraction(german, seed)
        if draw < test_fraction:
            held[german] = "test"
        elif draw < test_fraction + dev_fraction:
            held[german] = "dev"
    train, dev, test = [], [], []
    for pair, sentence in zip(corpus.pairs, corpus.is_sentence):
        side = held.get(pair[0])
        if side is None:
            train.append(pair)
        elif sentence:
            (test if side == "test" else dev).append(pair)
    if test_fraction > 0 and len(test) < min_test:
        raise ValueError(f"only {len(test)} test sentences (< {min_test}); "
                         "raise data.test_fraction or use the full dictionary")
    return train, dev, test


__all__ = ["DEFAULT_DING_PATH", "DingCorpus", "clean_text", "is_sentence", "parse_ding_lines",
           "read_ding", "split_ding"]
