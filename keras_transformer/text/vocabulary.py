"""Character and symbol vocabularies with reserved PAD=0, BOS, EOS, UNK.

Pure Python, no TensorFlow: the same object tokenizes in scripts and writes
the lookup tables that `keras_transformer.text.graph` builds into graphs.
"""

import collections
import json
import os

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
RESERVED_TOKENS = (PAD, BOS, EOS, UNK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
SPLITS = ("char", "space")


class Vocabulary:
    """Maps tokens to ids; tokens are characters (`split="char"`) or
    whitespace-separated symbols (`split="space"`, e.g. phonemes).

    Tokens never seen when the vocabulary was built map to UNK; decoding
    stops at EOS and drops PAD and BOS.

    Args:
        tokens: the ordinary tokens, in id order (ids start at 4).
        split: `"char"` or `"space"`.
        lowercase: lower-case text before splitting (G2P sources).

    Example:
    >>> vocab = Vocabulary.build(["abc", "cab"], split="char")
    >>> vocab.encode("cab")
    [6, 4, 5]
    >>> vocab.decode([6, 4, 5, 2, 4])
    'cab'
    """

    def __init__(self, tokens, split="char", lowercase=False):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        tokens = list(tokens)
        reserved = [t for t in tokens if t in RESERVED_TOKENS]
        if reserved:
            raise ValueError(f"tokens must not contain reserved tokens {reserved}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("tokens must be unique")
        if split == "char" and any(len(t) != 1 for t in tokens):
            raise ValueError("a char vocabulary holds single characters only")
        if split == "space" and any((not t) or any(c.isspace() for c in t) for t in tokens):
            raise ValueError("a space vocabulary's tokens must be non-empty and hold no spaces")
        self.split = split
        self.lowercase = lowercase
        self.id_to_token = list(RESERVED_TOKENS) + tokens
        self.token_to_id = {t: i for i, t in enumerate(self.id_to_token)}

    @classmethod
    def build(cls, texts, split="char", lowercase=False, min_count=1):
        """Collects the tokens of `texts` (sorted, so the ids are deterministic)."""
        counts = collections.Counter()
        probe = cls([], split=split, lowercase=lowercase)
        for text in texts:
            counts.update(probe.tokenize(text))
        tokens = sorted(t for t, c in counts.items() if c >= min_count)
        return cls(tokens, split=split, lowercase=lowercase)

    def __len__(self):
        return len(self.id_to_token)

    @property
    def size(self):
        return len(self.id_to_token)

    def tokenize(self, text):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if self.lowercase:
            text = text.lower()
        return list(text.strip()) if self.split == "char" else text.split()

    def detokenize(self, tokens):
        return ("" if self.split == "char" else " ").join(tokens)

    def encode(self, text):
        """Text -> ids (no BOS/EOS); unknown tokens become UNK (id 3)."""
        return [self.token_to_id.get(t, UNK_ID) for t in self.tokenize(text)]

    def decode(self, ids):
        """Ids -> text; stops at the first EOS, skips PAD and BOS, shows UNK as `<unk>`."""
        tokens = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i in (PAD_ID, BOS_ID):
                continue
            tokens.append(self.id_to_token[i] if 0 <= i < len(self.id_to_token) else UNK)
        return self.detokenize(tokens)

    def unknown_tokens(self, text):
        """The tokens of `text` that this vocabulary does not hold."""
        return [t for t in self.tokenize(text) if t not in self.token_to_id]

    # ---- persistence ---------------------------------------------------
    def to_dict(self):
        return {"type": "vocabulary", "split": self.split, "lowercase": self.lowercase,
                "tokens": self.id_to_token[len(RESERVED_TOKENS):]}

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, ensure_ascii=False, indent=1)

    @classmethod
    def from_dict(cls, values):
        return cls(values["tokens"], split=values["split"],
                   lowercase=values.get("lowercase", False))

    @classmethod
    def load(cls, path):
        if not os.path.exists(path):
            raise FileNotFoundError(f"vocabulary file not found: {path}")
        try:
            with open(path, encoding="utf-8") as f:
                values = json.load(f)
            return cls.from_dict(values)
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"corrupt vocabulary file {path}: {error}") from None

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return f"Vocabulary(size={self.size}, split={self.split!r}, lowercase={self.lowercase})"
