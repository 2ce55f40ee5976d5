"""Cached greedy and sampling decoding in one `tf.while_loop` (XLA- and TFLite-friendly).

The self-attention caches are fixed-size buffers updated with one
`dynamic_update_slice` per layer and step, and the output buffer with a
one-hot blend: patterns that compile under XLA and convert to TFLite builtins.
The loop stops as soon as every sequence has produced EOS or reached its
length limit.
"""

import tensorflow as tf

from keras_transformer.decoding.lengths import decode_capacity, per_sequence_limits
from keras_transformer.text.vocabulary import PAD_ID


def autoregressive_decode(fns, source_ids, select_fn, length_a, length_b, ignore_eos=False):
    """Runs the cached decoding loop with a token-selection function.

    Args:
        fns: `DecodingFns` of the model.
        source_ids: int32 `[batch, source_len]`, 0-padded.
        select_fn: `(logits [batch, vocab] float32, step int32) -> [batch] int32`.
        length_a, length_b: outputs have at most `a + b * source_len` tokens.
        ignore_eos: keep decoding after EOS up to the limit (benchmarks).

    Returns:
        int32 `[batch, capacity]`: tokens, EOS included, PAD (0) afterwards.
    """
    source_ids = tf.convert_to_tensor(source_ids, tf.int32)
    batch = tf.shape(source_ids)[0]
    capacity = decode_capacity(source_ids, length_a, length_b, fns.max_target_length)
    limits = per_sequence_limits(source_ids, length_a, length_b, capacity)
    memory, source_mask = fns.encode(source_ids)
    cross_cache = fns.cross_attention_cache(memory)
    cache = fns.initial_cache(memory, capacity)
    outputs = tf.zeros([batch, capacity], tf.int32)
    previous = tf.fill([batch], tf.constant(fns.bos_id, tf.int32))
    finished = tf.zeros([batch], tf.bool)

    def cond(index, previous, finished, cache, outputs):
        return tf.logical_and(index < capacity, tf.logical_not(tf.reduce_all(finished)))

    def body(index, previous, finished, cache, outputs):
        logits, cache = fns.step(previous[:, None], index, cache, cross_cache, source_mask)
        token = tf.cast(select_fn(logits, index), tf.int32)
        token = tf.where(finished, tf.constant(PAD_ID, tf.int32), token)
        # buffer[:, index] = token with a one-hot blend: builtin in TFLite, cheap in XLA.
        column = tf.one_hot(index, capacity, on_value=True, off_value=False, dtype=tf.bool)
        outputs = tf.where(column[None, :], token[:, None], outputs)
        done = index + 1 >= limits
        if not ignore_eos:
            done = tf.logical_or(done, tf.equal(token, fns.eos_id))
        return index + 1, token, tf.logical_or(finished, done), cache, outputs

    _, _, _, _, outputs = tf.while_loop(
        cond, body, (tf.constant(0, tf.int32), previous, finished, cache, outputs),
        maximum_iterations=capacity)
    return outputs


def greedy_select(logits, index):
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def make_sampling_select(seed, temperature=1.0, top_k=0, top_p=1.0):
    """A select function drawing from softmax(logits / temperature) restricted to
    the `top_k` most likely tokens and the smallest set whose mass reaches `top_p`.

    Draws are stateless: the same `seed` gives the same outputs.
    """
    seed = tf.cast(seed, tf.int32)

    def select(logits, index):
        logits = logits / tf.cast(temperature, logits.dtype)
        very_negative = tf.constant(-1e9, logits.dtype)
        if top_k:
            kth = tf.math.top_k(logits, k=top_k).values[:, -1:]
            logits = tf.where(logits < kth, very_negative, logits)
        if top_p < 1.0:
            sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")
            probs = tf.nn.softmax(sorted_logits, axis=-1)
            mass_before = tf.cumsum(probs, axis=-1, exclusive=True)
            # Keep tokens whose preceding mass is below top_p (the top one always).
            kept = tf.where(mass_before < top_p, sorted_logits, -very_negative)
            threshold = tf.reduce_min(kept, axis=-1, keepdims=True)
            logits = tf.where(logits < threshold, very_negative, logits)
        return tf.random.stateless_categorical(
            logits, 1, seed=tf.stack([seed, index]), dtype=tf.int32)[:, 0]

    return select


def uncached_greedy_decode(fns, source_ids, length_a, length_b, ignore_eos=False):
    """Greedy decoding that re-runs the whole model on the prefix at every step.

    The reference for correctness tests and the naive baseline for benchmarks;
    its cost grows with the square of the output length.
    """
    source_ids = tf.convert_to_tensor(source_ids, tf.int32)
    batch = tf.shape(source_ids)[0]
    capacity = decode_capacity(source_ids, length_a, length_b, fns.max_target_length)
    limits = per_sequence_limits(source_ids, length_a, length_b, capacity)
    prefix = tf.fill([batch, 1], tf.constant(fns.bos_id, tf.int32))
    finished = tf.zeros([batch], tf.bool)

    def cond(index, prefix, finished):
        return tf.logical_and(index < capacity, tf.logical_not(tf.reduce_all(finished)))

    def body(index, prefix, finished):
        logits = fns.full_logits(source_ids, prefix)[:, -1, :]
        token = tf.argmax(logits, axis=-1, output_type=tf.int32)
        token = tf.where(finished, tf.constant(PAD_ID, tf.int32), token)
        done = index + 1 >= limits
        if not ignore_eos:
            done = tf.logical_or(done, tf.equal(token, fns.eos_id))
        return index + 1, tf.concat([prefix, token[:, None]], 1), tf.logical_or(finished, done)

    _, prefix, _ = tf.while_loop(
        cond, body, (tf.constant(0, tf.int32), prefix, finished),
        shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, None]),
                          tf.TensorShape([None])))
    outputs = prefix[:, 1:]
    pad = capacity - tf.shape(outputs)[1]
    return tf.pad(outputs, [[0, 0], [0, pad]])
