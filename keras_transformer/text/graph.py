"""In-graph (TensorFlow) tokenization: a `Vocabulary`'s lookup table, or a
`WordPieceVocabulary`'s tensorflow-text WordPiece tokenizer.

Used by `tf.data` pipelines and by exported SavedModels, so text never has to
leave the graph. A SavedModel with WordPiece inside needs `import
tensorflow_text` before `tf.saved_model.load` (its ops live there).
"""

import tensorflow as tf

from keras_transformer.text.vocabulary import RESERVED_TOKENS, UNK_ID, Vocabulary


class GraphTokenizer(tf.Module):
    """String tensors to ragged int32 ids and back, inside a TF graph.

    Args:
        vocabulary: a `Vocabulary`.

    Example:
    >>> tokenizer = GraphTokenizer(vocab)
    >>> tokenizer.tokenize(tf.constant(["cab"]))  # RaggedTensor [[6, 4, 5]]
    """

    def __init__(self, vocabulary: Vocabulary, name=None):
        super().__init__(name=name)
        self.split = vocabulary.split
        self.lowercase = vocabulary.lowercase
        tokens = vocabulary.id_to_token
        # int64 values: string->int32 hash tables need Flex ops in TFLite.
        self.token_to_id = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(tokens), tf.range(len(tokens), dtype=tf.int64)),
            default_value=UNK_ID)
        self.id_to_token = tf.constant(tokens)
        self.num_reserved = len(RESERVED_TOKENS)

    @property
    def tables(self):
        """Lookup tables an exporter must track."""
        return [self.token_to_id]

    def split_tokens(self, texts):
        texts = tf.strings.strip(texts)
        if self.lowercase:
            texts = tf.strings.lower(texts, encoding="utf-8")
        if self.split == "char":
            return tf.strings.unicode_split(texts, "UTF-8")
        return tf.strings.split(texts)

    def tokenize(self, texts):
        """`[batch]` strings -> `[batch, (tokens)]` int32 ragged ids."""
        pieces = self.split_tokens(texts)
        return tf.cast(pieces.with_flat_values(self.token_to_id.lookup(pieces.flat_values)),
                       tf.int32)

    def detokenize(self, ids):
        """`[batch, length]` ids (dense, cut after EOS already) -> `[batch]` strings.

        Reserved ids (PAD, BOS, EOS) are dropped; UNK shows as `<unk>`.
        """
        ids = tf.convert_to_tensor(ids)
        keep = tf.logical_or(ids >= self.num_reserved, tf.equal(ids, UNK_ID))
        tokens = tf.ragged.boolean_mask(tf.gather(self.id_to_token, ids), keep)
        separator = "" if self.split == "char" else " "
        return tf.strings.reduce_join(tokens, axis=-1, separator=separator)


class WordPieceGraphTokenizer(tf.Module):
    """`GraphTokenizer`'s interface over a `WordPieceVocabulary`.

    Wraps the vocabulary's keras-hub `WordPieceTokenizer` (tensorflow-text
    `FastWordpieceTokenizer` underneath) so that exported models split text
    exactly as training did.

    Args:
        vocabulary: a `WordPieceVocabulary`.

    Example:
    >>> tokenizer = WordPieceGraphTokenizer(vocab)
    >>> tokenizer.detokenize(tokenizer.tokenize(tf.constant(["Es war Zufall."])).to_tensor())
    """

    split = "wordpiece"

    def __init__(self, vocabulary, name=None):
        super().__init__(name=name)
        self.wordpiece = vocabulary.tokenizer
        self.num_reserved = len(RESERVED_TOKENS)

    @property
    def tables(self):
        # The WordPiece model is a constant captured by the traced functions.
        return []

    def tokenize(self, texts):
        """`[batch]` strings -> `[batch, (tokens)]` int32 ragged ids."""
        ids = self.wordpiece(tf.strings.strip(texts))
        if isinstance(ids, list):  # keras-hub answers eager calls in Python
            return tf.ragged.constant(ids, dtype=tf.int32, ragged_rank=1)
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(ids)
        return tf.cast(ids, tf.int32)

    def detokenize(self, ids):
        """`[batch, length]` ids (cut after EOS already) -> `[batch]` strings."""
        ids = tf.convert_to_tensor(ids)
        keep = tf.logical_or(ids >= self.num_reserved, tf.equal(ids, UNK_ID))
        kept = tf.ragged.boolean_mask(ids, keep)
        texts = self.wordpiece.detokenize(kept)
        if isinstance(texts, list):
            texts = tf.constant(texts, dtype=tf.string)
        from keras_transformer.text.wordpiece import SPACING_RULES

        for _, pattern, replacement in SPACING_RULES:  # as `normalize_spacing`, in RE2
            texts = tf.strings.regex_replace(texts, pattern, replacement)
        return tf.strings.strip(texts)


def graph_tokenizer(vocabulary):
    """The in-graph tokenizer for any of our vocabularies."""
    if getattr(vocabulary, "split", None) == "wordpiece":
        return WordPieceGraphTokenizer(vocabulary)
    return GraphTokenizer(vocabulary)
