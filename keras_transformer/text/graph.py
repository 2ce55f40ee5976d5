"""In-graph (TensorFlow) tokenization with a `Vocabulary`'s lookup table.

Used by `tf.data` pipelines and by exported SavedModels, so text never has to
leave the graph.
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
