"""Beam search with the GNMT length penalty, alive and finished hypotheses kept apart.

Written here rather than taken from keras-hub because keras-hub's
`BeamSampler` has no length penalty, no finished-hypothesis set and no
n-best output. The layout follows the classic alive/finished formulation
(Wu et al. 2016; TF Model Garden): at each step the `2 * beam` best
extensions are scored; those among the best `beam` that end in EOS (or at
the length limit) compete for the finished set by
`log_prob / ((5 + len) / 6) ** alpha`, and the best `beam` that do not end
form the next alive beam. Decoding stops for a source once no alive
hypothesis can beat its worst finished one.
"""

import tensorflow as tf

from keras_transformer.decoding.lengths import decode_capacity, per_sequence_limits

NEG_INF = -1e9


def length_penalty(length, alpha):
    """GNMT length penalty `((5 + length) / 6) ** alpha`."""
    return tf.pow((5.0 + tf.cast(length, tf.float32)) / 6.0, alpha)


def _merge_beams(x, batch, beam):
    """[batch * beam, ...] -> [batch, beam, ...]."""
    return tf.reshape(x, tf.concat([[batch, beam], tf.shape(x)[1:]], 0))


def _flatten_beams(x):
    """[batch, beam, ...] -> [batch * beam, ...]."""
    return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))


def _tile_beams(x, beam):
    """[batch, ...] -> [batch * beam, ...], each item repeated `beam` times."""
    return tf.repeat(x, beam, axis=0)


def beam_search(fns, source_ids, beam_size, alpha, length_a, length_b):
    """Beam search over a trained model's cached `step`.

    Args:
        fns: `DecodingFns` (or `EnsembleDecodingFns`).
        source_ids: int32 `[batch, source_len]`.
        beam_size: Python int, hypotheses kept per source.
        alpha: length-penalty exponent (0 = plain log-probability).
        length_a, length_b: length limit `a + b * source_len`.

    Returns:
        `(sequences, scores)`: int32 `[batch, beam, capacity]` (EOS included,
        0 after it) sorted best first, and float32 `[batch, beam]` penalised
        scores.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    source_ids = tf.convert_to_tensor(source_ids, tf.int32)
    batch = tf.shape(source_ids)[0]
    capacity = decode_capacity(source_ids, length_a, length_b, fns.max_target_length)
    limits = per_sequence_limits(source_ids, length_a, length_b, capacity)  # [b]
    memory, source_mask = fns.encode(source_ids)
    cross_cache = [_tile_beams(c, beam_size) for c in fns.cross_attention_cache(memory)]
    source_mask = _tile_beams(source_mask, beam_size)
    # `memory` is one tensor, or a list of them for an ensemble.
    tiled_memory = tf.nest.map_structure(lambda states: _tile_beams(states, beam_size), memory)
    cache = fns.initial_cache(tiled_memory, capacity)  # per layer [b*k, ...]
    vocab = fns.vocab_size
    eos = tf.constant(fns.eos_id, tf.int32)

    alive_seq = tf.zeros([batch, beam_size, capacity], tf.int32)
    # Only the first beam is live at the start, so the k copies do not repeat.
    alive_log_probs = tf.tile(
        tf.concat([[0.0], tf.fill([beam_size - 1], NEG_INF)], 0)[None, :], [batch, 1])
    finished_seq = tf.zeros_like(alive_seq)
    finished_scores = tf.fill([batch, beam_size], NEG_INF)
    finished_flags = tf.zeros([batch, beam_size], tf.bool)
    max_penalty = length_penalty(capacity, alpha)

    def cond(index, alive_seq, alive_log_probs, cache, finished_seq, finished_scores,
             finished_flags):
        # Best score an alive hypothesis could still reach: log-probs only fall,
        # and the penalty is largest at full length.
        best_alive = alive_log_probs[:, 0] / max_penalty
        worst_finished = tf.reduce_min(
            tf.where(finished_flags, finished_scores, -NEG_INF), axis=1)
        all_filled = tf.reduce_all(finished_flags, axis=1)
        done = tf.logical_and(all_filled, best_alive < worst_finished)
        return tf.logical_and(index < capacity, tf.logical_not(tf.reduce_all(done)))

    def body(index, alive_seq, alive_log_probs, cache, finished_seq, finished_scores,
             finished_flags):
        column = tf.one_hot(index, capacity, on_value=True, off_value=False, dtype=tf.bool)
        previous = tf.where(
            index > 0, tf.gather(alive_seq, tf.maximum(index - 1, 0), axis=2),
            tf.constant(fns.bos_id, tf.int32))  # [b, k]
        logits, cache = fns.step(_flatten_beams(previous)[:, None], index, cache,
                                 cross_cache, source_mask)
        log_probs = tf.nn.log_softmax(logits)  # [b*k, v]
        candidates = alive_log_probs[:, :, None] + _merge_beams(log_probs, batch, beam_size)
        candidates = tf.reshape(candidates, [batch, beam_size * vocab])  # [b, k*v]
        top_log_probs, top_indices = tf.math.top_k(candidates, k=2 * beam_size)  # [b, 2k]
        top_beams = top_indices // vocab
        top_tokens = tf.cast(top_indices % vocab, tf.int32)
        top_seq = tf.gather(alive_seq, top_beams, batch_dims=1)  # [b, 2k, cap]
        top_seq = tf.where(column[None, None, :], top_tokens[:, :, None], top_seq)

        ends = tf.logical_or(tf.equal(top_tokens, eos), (index + 1 >= limits)[:, None])
        # Alive: the best k candidates that do not end here.
        alive_scores = tf.where(ends, NEG_INF, top_log_probs)
        new_alive_log_probs, alive_pick = tf.math.top_k(alive_scores, k=beam_size)
        alive_beams = tf.gather(top_beams, alive_pick, batch_dims=1)  # [b, k]
        new_alive_seq = tf.gather(top_seq, alive_pick, batch_dims=1)
        new_cache = [_flatten_beams(tf.gather(_merge_beams(c, batch, beam_size), alive_beams,
                                              batch_dims=1)) for c in cache]
        # Finished: merge the candidates that end here with the old finished set.
        # Only endings ranked within the top k count (as in fairseq): an EOS that
        # is merely the runner-up of a beam must not finish it, or beam 1 would
        # stop where greedy decoding goes on.
        finalize = tf.logical_and(ends, tf.range(2 * beam_size)[None, :] < beam_size)
        ended_scores = tf.where(finalize, top_log_probs / length_penalty(index + 1, alpha),
                                NEG_INF)
        pool_seq = tf.concat([finished_seq, top_seq], 1)
        pool_scores = tf.concat([finished_scores, ended_scores], 1)
        pool_flags = tf.concat([finished_flags, finalize], 1)
        new_finished_scores, pick = tf.math.top_k(pool_scores, k=beam_size)
        new_finished_seq = tf.gather(pool_seq, pick, batch_dims=1)
        new_finished_flags = tf.gather(pool_flags, pick, batch_dims=1)
        return (index + 1, new_alive_seq, new_alive_log_probs, new_cache, new_finished_seq,
                new_finished_scores, new_finished_flags)

    state = tf.while_loop(
        cond, body,
        (tf.constant(0, tf.int32), alive_seq, alive_log_probs, cache, finished_seq,
         finished_scores, finished_flags),
        maximum_iterations=capacity)
    _, alive_seq, alive_log_probs, _, finished_seq, finished_scores, finished_flags = state
    # A source with no finished hypothesis (cannot happen with limits <= capacity,
    # kept as a guard) falls back to its alive beam.
    any_finished = tf.reduce_any(finished_flags, axis=1)
    sequences = tf.where(any_finished[:, None, None], finished_seq, alive_seq)
    scores = tf.where(any_finished[:, None], finished_scores,
                      alive_log_probs / max_penalty)
    return sequences, scores
