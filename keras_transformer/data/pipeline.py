"""Teacher-forcing batches: numpy for small jobs, `tf.data` for training runs.

A pair (source, target) becomes inputs `{source_ids, decoder_input_ids =
BOS + target}` and labels `target + EOS`; id 0 pads everything.
"""

import numpy as np

from keras_transformer.text.vocabulary import BOS_ID, EOS_ID, PAD_ID


# XLA compiles a decoding program per input shape. Padding source widths up to
# a multiple of this keeps the programs few for inputs of many lengths (in
# process and inside exported SavedModels); padding never changes an output:
# padded positions are masked and output limits use the true lengths (tested).
SOURCE_LENGTH_BUCKET = 8


def bucketed_source_width(longest, max_source_length, bucket=SOURCE_LENGTH_BUCKET):
    """`longest` rounded up to `bucket`, but not past `max_source_length` (nor below `longest`).

    Works on Python ints and on scalar tensors alike.
    """
    width = (longest + bucket - 1) // bucket * bucket
    if isinstance(longest, int):
        return max(longest, min(width, max_source_length))
    import tensorflow as tf

    return tf.maximum(longest, tf.minimum(width, max_source_length))


def pad_sequences(sequences, length=None):
    """Right-pads int sequences with 0 into an int32 `[batch, length]` array."""
    length = length or max((len(s) for s in sequences), default=0)
    out = np.full((len(sequences), max(length, 1)), PAD_ID, dtype=np.int32)
    for i, s in enumerate(sequences):
        out[i, :len(s)] = s[:length]
    return out


def teacher_forcing_batch(source_ids, target_ids):
    """Lists of id lists -> `({source_ids, decoder_input_ids}, labels)` numpy arrays.

    Example:
    >>> inputs, labels = teacher_forcing_batch([[5, 6]], [[7]])
    >>> inputs["decoder_input_ids"].tolist(), labels.tolist()
    ([[1, 7]], [[7, 2]])
    """
    if len(source_ids) != len(target_ids):
        raise ValueError(f"{len(source_ids)} sources but {len(target_ids)} targets")
    inputs = {
        "source_ids": pad_sequences(source_ids),
        "decoder_input_ids": pad_sequences([[BOS_ID] + list(t) for t in target_ids]),
    }
    labels = pad_sequences([list(t) + [EOS_ID] for t in target_ids])
    return inputs, labels


def make_dataset(sources, targets, source_vocab, target_vocab, batch_size,
                 max_source_length=None, max_target_length=None, shuffle=True, seed=0,
                 bucket_boundaries=None, repeat=False, pair_filter=None):
    """A `tf.data.Dataset` that tokenizes in-graph, buckets by length, pads and shifts.

    Pairs longer than the limits (target + EOS counted) are dropped, so the
    model never sees positions it cannot embed.

    Args:
        sources, targets: lists of strings.
        source_vocab, target_vocab: `Vocabulary` or `WordPieceVocabulary`.
        batch_size: sequences per batch.
        max_source_length, max_target_length: drop longer pairs.
        shuffle: reshuffle every epoch (deterministic under `seed`).
        bucket_boundaries: length boundaries for bucketing; default buckets
            every 4 tokens up to the longest source.
        repeat: repeat forever (then pass `steps_per_epoch` to `fit`).
        pair_filter: optional `(source_ids, target_ids) -> tf.bool` on the
            tokenized pair (no BOS/EOS); pairs where it is False are dropped.

    Returns:
        A dataset of `({"source_ids", "decoder_input_ids"}, labels)` batches.
    """
    import tensorflow as tf

    if len(sources) != len(targets):
        raise ValueError(f"{len(sources)} sources but {len(targets)} targets")
    if not sources:
        raise ValueError("no training pairs")
    source_tok = _graph_tokenizer(source_vocab)
    target_tok = _graph_tokenizer(target_vocab)
    dataset = tf.data.Dataset.from_tensor_slices((list(sources), list(targets)))
    if shuffle:
        dataset = dataset.shuffle(len(sources), seed=seed, reshuffle_each_iteration=True)

    def tokenize(src, tgt):
        return source_tok(src), target_tok(tgt)

    dataset = dataset.map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
    if max_source_length or max_target_length:
        max_s = max_source_length or 1 << 30
        max_t = (max_target_length or 1 << 30) - 1  # room for EOS / BOS

        def short_enough(src, tgt):
            return tf.logical_and(tf.size(src) <= max_s, tf.size(tgt) <= max_t)

        dataset = dataset.filter(short_enough)
    if pair_filter is not None:
        dataset = dataset.filter(pair_filter)

    def shift(src, tgt):
        bos = tf.constant([BOS_ID], tf.int32)
        eos = tf.constant([EOS_ID], tf.int32)
        return {"source_ids": src, "decoder_input_ids": tf.concat([bos, tgt], 0)}, \
            tf.concat([tgt, eos], 0)

    dataset = dataset.map(shift, num_parallel_calls=tf.data.AUTOTUNE)
    if bucket_boundaries is None:
        longest = max_source_length or 64
        bucket_boundaries = list(range(4, longest + 1, 4))
    dataset = dataset.bucket_by_sequence_length(
        lambda inputs, labels: tf.maximum(tf.size(inputs["source_ids"]), tf.size(labels)),
        bucket_boundaries=bucket_boundaries,
        bucket_batch_sizes=[batch_size] * (len(bucket_boundaries) + 1),
        padded_shapes=({"source_ids": [None], "decoder_input_ids": [None]}, [None]),
        padding_values=({"source_ids": PAD_ID, "decoder_input_ids": PAD_ID}, PAD_ID))
    if shuffle:
        # Buckets come out grouped by length; shuffle batches so an epoch does
        # not end with all the long ones.
        dataset = dataset.shuffle(64, seed=seed)
    if repeat:
        dataset = dataset.repeat()
    return dataset.prefetch(tf.data.AUTOTUNE)


def _graph_tokenizer(vocab):
    """A function string scalar -> int32 ids, in-graph."""
    import tensorflow as tf

    if getattr(vocab, "split", None) == "wordpiece":
        tokenizer = vocab.tokenizer
        return lambda text: tf.cast(tokenizer(text), tf.int32)
    from keras_transformer.text.graph import GraphTokenizer

    graph = GraphTokenizer(vocab)
    return lambda text: graph.tokenize(tf.expand_dims(text, 0))[0]
