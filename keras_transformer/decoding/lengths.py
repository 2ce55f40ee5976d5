"""Output length limits: the longest output for a source of n tokens is `a + b * n`."""

import tensorflow as tf


def decode_capacity(source_ids, length_a, length_b, max_target_length):
    """Static-under-XLA buffer size: `a + b * padded_source_len`, capped by the model.

    It depends only on the padded shape, so XLA sees a compile-time constant.
    """
    padded = tf.cast(tf.shape(source_ids)[1], tf.float32)
    capacity = tf.cast(tf.math.floor(length_a + length_b * padded), tf.int32)
    return tf.clip_by_value(capacity, 1, max_target_length)


def per_sequence_limits(source_ids, length_a, length_b, capacity):
    """`[batch]` int32: `a + b * true_source_len`, at most `capacity`, at least 1."""
    lengths = tf.reduce_sum(tf.cast(tf.not_equal(source_ids, 0), tf.float32), axis=1)
    limits = tf.cast(tf.math.floor(length_a + length_b * lengths), tf.int32)
    return tf.clip_by_value(limits, 1, capacity)
