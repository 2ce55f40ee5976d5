"""Subword (WordPiece) tokenization for sentences, on keras-hub / tensorflow-text.

We do not write our own subword learner: `keras_hub.tokenizers.
compute_word_piece_vocabulary` learns the vocabulary and
`keras_hub.tokenizers.WordPieceTokenizer` applies it. This module pins the
reserved ids to our convention (PAD=0, BOS=1, EOS=2, UNK=3) and gives the
tokenizer the same `encode` / `decode` / `save` surface as `Vocabulary`.
"""

import json
import os
import re

from keras_transformer.text.vocabulary import BOS_ID, EOS_ID, PAD_ID, RESERVED_TOKENS, UNK

# WordPiece splits punctuation off words and detokenizes with spaces around
# it; these rules undo that, in order. Each is (Python pattern, RE2 pattern
# for the in-graph twin in text/graph.py, replacement): RE2's \w is ASCII-only.
SPACING_RULES = (
    # Apostrophes inside words: "It ’ s" -> "It’s", "don ' t" -> "don't".
    (r"([^\W_]) ([’']) ([^\W_])", r"([\pL\pN]) ([’']) ([\pL\pN])", r"\1\2\3"),
    # No space before closing punctuation, none after opening brackets/quotes.
    (r" ([.,!?;:%)\]}\"»”])", r" ([.,!?;:%)\]}\"»”])", r"\1"),
    (r"([(\[{«„]) ", r"([(\[{«„]) ", r"\1"),
    # Decimal and thousands separators: "3, 50" -> "3,50".
    (r"(\d)([.,]) (\d)", r"([0-9])([.,]) ([0-9])", r"\1\2\3"),
    # A German closing “ before punctuation or the end: "Gott “," -> "Gott“,".
    (r" “([.,!?;:]|$)", r" “([.,!?;:]|$)", r"“\1"),
)
_PY_SPACING_RULES = tuple((re.compile(py), replacement) for py, _, replacement in SPACING_RULES)


class WordPieceVocabulary:
    """A WordPiece vocabulary whose first ids are PAD, BOS, EOS, UNK.

    Args:
        tokens: the full vocabulary, reserved tokens first.
        lowercase: lower-case input text.

    Example:
    >>> vocab = WordPieceVocabulary.learn(["Es war purer Zufall."], vocab_size=60)
    >>> vocab.decode(vocab.encode("Es war Zufall."))
    'Es war Zufall.'
    """

    split = "wordpiece"

    def __init__(self, tokens, lowercase=False):
        tokens = list(tokens)
        if tuple(tokens[:len(RESERVED_TOKENS)]) != RESERVED_TOKENS:
            raise ValueError(f"a WordPiece vocabulary must start with {RESERVED_TOKENS}")
        self.id_to_token = tokens
        self.lowercase = lowercase
        self._tokenizer = None

    @classmethod
    def learn(cls, texts, vocab_size=8000, lowercase=False):
        """Learns a vocabulary from `texts` with keras-hub's WordPiece learner."""
        import keras_hub
        import tensorflow as tf

        learned = keras_hub.tokenizers.compute_word_piece_vocabulary(
            tf.data.Dataset.from_tensor_slices(list(texts)).batch(1000),
            vocabulary_size=vocab_size, lowercase=lowercase, strip_accents=False,
            reserved_tokens=list(RESERVED_TOKENS))
        return cls(learned, lowercase=lowercase)

    @property
    def size(self):
        return len(self.id_to_token)

    def __len__(self):
        return self.size

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            import keras_hub

            self._tokenizer = keras_hub.tokenizers.WordPieceTokenizer(
                vocabulary=self.id_to_token, lowercase=self.lowercase, strip_accents=False,
                oov_token=UNK, dtype="int32")
        return self._tokenizer

    def encode(self, text):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text.strip():
            return []
        import numpy as np

        return [int(i) for i in np.asarray(self.tokenizer(text))]

    def decode(self, ids):
        ids = [int(i) for i in ids]
        if EOS_ID in ids:
            ids = ids[:ids.index(EOS_ID)]
        ids = [i for i in ids if i not in (PAD_ID, BOS_ID)]
        if not ids:
            return ""
        text = self.tokenizer.detokenize(ids)
        text = text.numpy() if hasattr(text, "numpy") else text
        text = text.decode("utf-8") if isinstance(text, bytes) else str(text)
        return normalize_spacing(text)

    def to_dict(self):
        return {"type": "wordpiece", "lowercase": self.lowercase, "tokens": self.id_to_token}

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, ensure_ascii=False, indent=0)

    @classmethod
    def from_dict(cls, values):
        return cls(values["tokens"], lowercase=values.get("lowercase", False))


def normalize_spacing(text):
    """Removes the spaces WordPiece puts around punctuation: 'Zufall .' -> 'Zufall.'.

    Example:
    >>> normalize_spacing("It ’ s 3 , 50 € ( netto ) .")
    'It’s 3,50 € (netto).'
    """
    for pattern, replacement in _PY_SPACING_RULES:
        text = pattern.sub(replacement, text)
    return text.strip()


def load_vocabulary(path):
    """Loads a `Vocabulary` or `WordPieceVocabulary` saved as JSON."""
    from keras_transformer.text.vocabulary import Vocabulary

    if not os.path.exists(path):
        raise FileNotFoundError(f"vocabulary file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            values = json.load(f)
        if values.get("type") == "wordpiece":
            return WordPieceVocabulary.from_dict(values)
        return Vocabulary.from_dict(values)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"corrupt vocabulary file {path}: {error}") from None


__all__ = ["WordPieceVocabulary", "load_vocabulary", "normalize_spacing"]
