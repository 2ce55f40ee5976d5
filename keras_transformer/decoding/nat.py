"""Non-autoregressive decoding (TensorFlow): one pass, length beam, mask-predict, CTC.

Every variant runs the same steps on one decoding state, so they share code:

1. `NATDecodingFns.encode` once per source;
2. candidate lengths: the top-`l` classes of the length predictor (length
   beam), or `a + b * source_len` positions when the model has no predictor;
3. `_predict`: one parallel decoder pass over masked positions, giving
   tokens and their log-probabilities;
4. mask-predict (Ghazvininejad et al. 2019): refinement pass `r` of `R`
   re-masks the `L * (R + 1 - r) / (R + 1)` least confident tokens and
   predicts them again; a sentence stops once a pass changes nothing;
5. with an AT rescorer, each one-pass candidate may also bring its most
   probable variants (`token_variants`: runner-up tokens swapped in at its
   least confident positions), a k-best list without another pass;
6. the candidate with the best mean log-probability (or the best AT score,
   when an AT model rescores them in one teacher-forced pass, optionally
   plus a weight times the NAT's own) is kept.

The encoder and the length choice (`nat_plan`) and the parallel passes
(`nat_fill`) are separate stages: the decoder spans only the longest predicted
length of the batch (rounded up to `WIDTH_BUCKET`), which is known after the
first stage, and each stage compiles under XLA once per shape.

Outputs use the AT layout: tokens, then EOS, then 0.
"""

import itertools

import tensorflow as tf

from keras_transformer.config import VARIANT_POSITIONS
from keras_transformer.decoding.lengths import decode_capacity, per_sequence_limits
from keras_transformer.models import nat as nat_lib
from keras_transformer.models import seq2seq
from keras_transformer.text.vocabulary import BOS_ID, EOS_ID, PAD_ID

_NEG = -1e9


class NATDecodingFns:
    """The pieces of a trained NAT or CTC model that the decoding loops call.

    Args:
        model: a model from `build_nat_model` or `build_ctc_model`.
        config: its `TransformerConfig` (for the length classes).

    Example:
    >>> fns = NATDecodingFns(model, config)
    >>> state = fns.encode(source_ids)
    >>> logits = fns.decoder_logits(state, decoder_input_ids)
    """

    def __init__(self, model, config):
        if config.model_type not in ("nat", "ctc"):
            raise ValueError(f"NAT decoding needs a NAT or CTC model, got {config.model_type!r}")
        self.model = model
        self.config = config
        try:
            self.source_embedding = model.get_layer(seq2seq.SOURCE_EMBEDDING)
            self.encoder = model.get_layer(seq2seq.ENCODER)
            self.decoder = model.get_layer(seq2seq.DECODER)
        except ValueError as error:
            raise ValueError(f"model {model.name!r} is not a NAT/CTC model: {error}") from None
        names = {layer.name for layer in model.layers}
        self.target_embedding = (model.get_layer(seq2seq.TARGET_EMBEDDING)
                                 if seq2seq.TARGET_EMBEDDING in names else self.source_embedding)
        self.output_projection = (model.get_layer(seq2seq.OUTPUT_PROJECTION)
                                  if seq2seq.OUTPUT_PROJECTION in names else None)
        self.length_predictor = (model.get_layer(nat_lib.LENGTH_PREDICTOR)
                                 if nat_lib.LENGTH_PREDICTOR in names else None)
        self.source_copy = (model.get_layer(nat_lib.SOURCE_COPY)
                            if nat_lib.SOURCE_COPY in names else None)
        self.upsample = (model.get_layer(nat_lib.CTC_UPSAMPLE)
                         if nat_lib.CTC_UPSAMPLE in names else None)
        self.max_target_length = config.max_target_length
        self.vocab_size = config.target_vocab_size

    def encode(self, source_ids):
        """Encoder states, source mask and source embeddings (for copying)."""
        source_mask = tf.not_equal(source_ids, PAD_ID)
        embedded = self.source_embedding(source_ids, training=False)
        states = self.encoder(embedded, padding_mask=source_mask, training=False)
        return {"source_ids": source_ids, "memory": states, "source_mask": source_mask,
                "embedded": embedded}

    def length_logits(self, state):
        return self.length_predictor(state["memory"], state["source_mask"], training=False)

    def _project(self, states):
        if self.output_projection is not None:
            logits = self.output_projection(states)
        else:
            logits = self.target_embedding(states, reverse=True)
        return tf.cast(logits, tf.float32)

    def decoder_logits(self, state, decoder_input_ids):
        """float32 logits `[batch, len, vocab]` of one parallel pass."""
        x = self.target_embedding(decoder_input_ids, training=False)
        if self.source_copy is not None:
            x = x + self.source_copy(state["embedded"], state["source_mask"], decoder_input_ids)
        states = self.decoder(x, state["memory"], encoder_padding_mask=state["source_mask"],
                              padding_mask=tf.not_equal(decoder_input_ids, PAD_ID),
                              training=False)
        return self._project(states)

    def ctc_logits(self, state):
        """CTC frame logits `[batch, frames, vocab]` and the frame mask."""
        states, frame_mask = self.upsample(state["memory"], state["source_mask"])
        states = self.decoder(states, state["memory"], encoder_padding_mask=state["source_mask"],
                              padding_mask=frame_mask, training=False)
        return self._project(states), frame_mask


def _repeat_state(state, times):
    return {key: tf.repeat(value, times, axis=0) for key, value in state.items()}


def _forbid(logits, ids):
    vocab = tf.shape(logits)[-1]
    forbidden = tf.reduce_any(tf.equal(tf.range(vocab)[:, None], tf.constant(ids)[None, :]), 1)
    return tf.where(forbidden, tf.constant(_NEG, logits.dtype), logits)


def _pass_log_probs(fns, state, decoder_input_ids, forbidden):
    """One parallel pass: log-probabilities `[n, width, vocab]`, `forbidden` ids excluded."""
    logits = _forbid(fns.decoder_logits(state, decoder_input_ids), forbidden)
    return tf.nn.log_softmax(logits, axis=-1)


def _predict(fns, state, decoder_input_ids, forbidden):
    """One parallel pass: best token and its log-probability at every position."""
    log_probs = _pass_log_probs(fns, state, decoder_input_ids, forbidden)
    return tf.cast(tf.argmax(log_probs, axis=-1), tf.int32), tf.reduce_max(log_probs, axis=-1)


def _predict_top2(fns, state, decoder_input_ids, forbidden):
    """One parallel pass: the best and runner-up token at every position,
    `(tokens, log_probs, runner_up, runner_up_log_probs)`."""
    top = tf.math.top_k(_pass_log_probs(fns, state, decoder_input_ids, forbidden), k=2)
    tokens, runner_up = tf.unstack(top.indices, axis=2)
    log_probs, runner_up_log_probs = tf.unstack(top.values, axis=2)
    return tokens, log_probs, runner_up, runner_up_log_probs


def token_variants(tokens, log_probs, runner_up, runner_up_log_probs, valid, count):
    """The `count` most probable outputs of one NAT pass at a fixed length.

    A NAT pass scores positions independently, so an output's log-probability
    is the argmax's minus the gaps `log p(best) - log p(runner-up)` of the
    positions where it takes the runner-up instead. Among the outputs that
    swap any subset of the `VARIANT_POSITIONS` smallest-gap (least confident)
    positions, the `count` best are exactly the subsets with the smallest
    summed gaps; they are found by ranking all `2 ** VARIANT_POSITIONS`
    subsets, which stays a few fixed-shape ops (XLA and TFLite friendly).

    Unlike mask-predict, this needs no extra decoder pass: it turns one pass
    into a k-best list for an AT model to rescore, the "noisy parallel
    decoding" idea of Gu et al. (2018) without sampling.

    Args:
        tokens, log_probs: `[n, width]` best tokens and log-probabilities.
        runner_up, runner_up_log_probs: `[n, width]` second-best ones.
        valid: bool `[n, width]`, the positions inside the candidate length.
        count: variants per row, at most `2 ** VARIANT_POSITIONS`; the first
            is `tokens` itself.

    Returns:
        `(variants [n, count, width], log_prob_sums [n, count])`, most
        probable first; 0 and log-probability 0 off `valid`. When a row has
        fewer than `VARIANT_POSITIONS` valid positions, the surplus variants
        repeat earlier ones with a log-probability near -1e9.

    Example:
    >>> variants, scores = token_variants(t, lp, t2, lp2, valid, count=4)
    """
    width = tf.shape(tokens)[1]
    no_swap = tf.constant(-_NEG, log_probs.dtype)  # swapping off `valid` costs ~1e9
    gaps = tf.where(valid, log_probs - runner_up_log_probs, no_swap)
    gaps = tf.pad(gaps, [[0, 0], [0, VARIANT_POSITIONS]], constant_values=-_NEG)
    least_confident = tf.argsort(gaps, axis=1, stable=True)[:, :VARIANT_POSITIONS]
    smallest_gaps = tf.gather(gaps, least_confident, batch_dims=1)  # [n, P]
    # Every subset of the P positions, as rows of bits; subset 0 swaps nothing.
    subsets = tf.constant(list(itertools.product([0, 1], repeat=VARIANT_POSITIONS)),
                          log_probs.dtype)
    costs = tf.matmul(smallest_gaps, subsets, transpose_b=True)  # [n, 2 ** P]
    best = tf.math.top_k(-costs, k=count)
    chosen_bits = tf.gather(subsets, best.indices) > 0.5  # [n, count, P]
    # Positions past `width` (padding added above) one-hot to all zeros.
    at_position = tf.one_hot(least_confident, width, on_value=True, off_value=False,
                             dtype=tf.bool)  # [n, P, width]
    # expand_dims, not `[:, None]` slicing, which TFLite cannot convert here.
    swap = tf.reduce_any(tf.logical_and(tf.expand_dims(chosen_bits, 3),
                                        tf.expand_dims(at_position, 1)), axis=2)
    row_valid = tf.expand_dims(valid, 1)
    swap = tf.logical_and(swap, row_valid)
    variants = tf.where(swap, tf.expand_dims(runner_up, 1), tf.expand_dims(tokens, 1))
    variants = tf.where(row_valid, variants, PAD_ID)
    total = tf.reduce_sum(tf.where(valid, log_probs, 0.0), axis=1, keepdims=True)
    return variants, total + best.values


def candidate_lengths(fns, state, length_beam, capacity):
    """`[batch, length_beam]` int32 lengths: the top classes, best first, at most `capacity`."""
    logits = fns.length_logits(state)
    classes = tf.math.top_k(logits, k=length_beam).indices
    source_length = tf.reduce_sum(tf.cast(state["source_mask"], tf.int32), axis=1)
    lengths = nat_lib.class_to_length(classes, source_length[:, None], fns.config)
    return tf.minimum(tf.cast(lengths, tf.int32), capacity)


def mask_predict(fns, state, valid, iterations, forbidden):
    """One pass plus `iterations` mask-predict refinements over the `valid` positions.

    Returns:
        `(tokens [n, width], log_probs [n, width], passes [n])`: 0 and 0.0 off
        `valid`; `passes` counts the passes that changed each sentence.
    """
    ids = tf.where(valid, nat_lib.MASK_ID, PAD_ID)
    tokens, log_probs = _predict(fns, state, ids, forbidden)
    tokens = tf.where(valid, tokens, PAD_ID)
    log_probs = tf.where(valid, log_probs, 0.0)
    length = tf.reduce_sum(tf.cast(valid, tf.int32), axis=1)
    passes = tf.ones_like(length)
    if iterations == 0:
        return tokens, log_probs, passes
    total = iterations + 1
    done = tf.zeros_like(length, tf.bool)

    def cond(r, tokens, log_probs, done, passes):
        return tf.logical_and(r <= iterations, tf.logical_not(tf.reduce_all(done)))

    def body(r, tokens, log_probs, done, passes):
        count = (length * (total - r)) // total
        confidence = tf.where(valid, log_probs, 1.0)  # off-length positions rank last
        rank = tf.argsort(tf.argsort(confidence, axis=1, stable=True), axis=1, stable=True)
        remask = tf.logical_and(valid, rank < count[:, None])
        new_tokens, new_log_probs = _predict(fns, state, tf.where(remask, nat_lib.MASK_ID, tokens),
                                             forbidden)
        new_tokens = tf.where(remask, new_tokens, tokens)
        new_log_probs = tf.where(remask, new_log_probs, log_probs)
        changed = tf.reduce_any(tf.not_equal(new_tokens, tokens), axis=1)
        keep = done[:, None]
        tokens = tf.where(keep, tokens, new_tokens)
        log_probs = tf.where(keep, log_probs, new_log_probs)
        passes = passes + tf.cast(tf.logical_and(tf.logical_not(done), changed), tf.int32)
        return r + 1, tokens, log_probs, tf.logical_or(done, tf.logical_not(changed)), passes

    _, tokens, log_probs, _, passes = tf.while_loop(
        cond, body, (tf.constant(1), tokens, log_probs, done, passes),
        maximum_iterations=iterations)
    return tokens, log_probs, passes


def _with_eos(tokens, length):
    """Tokens cut at `length`, EOS at `length`, 0 after: width + 1 columns."""
    tokens = tf.pad(tokens, [[0, 0], [0, 1]])
    positions = tf.range(tf.shape(tokens)[1])[None, :]
    length = length[:, None]
    return tf.where(positions < length, tokens,
                    tf.where(tf.equal(positions, length), EOS_ID, PAD_ID))


def _cut_at_first_eos(tokens):
    """Keeps tokens up to the first EOS (included); 0 after."""
    is_eos = tf.cast(tf.equal(tokens, EOS_ID), tf.int32)
    after = tf.cumsum(is_eos, axis=1, exclusive=True) > 0
    return tf.where(after, PAD_ID, tokens)


def at_sequence_scores(at_fns, source_ids, outputs, copies=1):
    """Mean log-probability per token (EOS included) of `outputs` under an AT
    model, in one teacher-forced pass. `outputs` use the AT layout and hold
    `copies` consecutive candidates per row of `source_ids`; the AT encoder
    runs once per source, not once per candidate."""
    outputs = tf.cast(outputs, tf.int32)
    memory, source_mask = at_fns.encode(source_ids)
    if copies != 1:
        memory = tf.repeat(memory, copies, axis=0)
        source_mask = tf.repeat(source_mask, copies, axis=0)
    decoder_input = tf.concat([tf.fill([tf.shape(outputs)[0], 1], BOS_ID), outputs[:, :-1]], 1)
    decoder_input = tf.where(tf.equal(decoder_input, EOS_ID), PAD_ID, decoder_input)
    logits = at_fns.teacher_forced_logits(memory, source_mask, decoder_input)
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    picked = tf.gather(log_probs, outputs, batch_dims=2)
    valid = tf.cast(tf.not_equal(outputs, PAD_ID), tf.float32)
    return tf.reduce_sum(picked * valid, 1) / tf.maximum(tf.reduce_sum(valid, 1), 1.0)


WIDTH_BUCKET = 8


def nat_plan(fns, source_ids, length_beam=1, length_a=10.0, length_b=2.0):
    """Stage 1 of NAT decoding: encode and choose the candidate lengths.

    Args:
        fns: `NATDecodingFns` of a NAT model.
        source_ids: int32 `[batch, source_len]`.
        length_beam: candidate lengths per source (1 without a length
            predictor, whose one candidate is `a + b * source_len`).
        length_a, length_b: outputs have at most `a + b * source_len` tokens.

    Returns:
        `(state, lengths)`: the encoder state and int32 `[batch, beam]`
        candidate lengths, best first.
    """
    source_ids = tf.convert_to_tensor(source_ids, tf.int32)
    capacity = decode_capacity(source_ids, length_a, length_b, fns.max_target_length - 1)
    state = fns.encode(source_ids)
    if fns.length_predictor is None:
        return state, per_sequence_limits(source_ids, length_a, length_b, capacity)[:, None]
    return state, candidate_lengths(fns, state, int(length_beam), capacity)


def decode_width(lengths, capacity=None, bucket=WIDTH_BUCKET):
    """Decoder positions for a batch: its longest candidate, rounded up to `bucket`
    (but not beyond `capacity`, the most any source of the batch may need).

    Decoding the `a + b * padded_source_len` positions every source could need
    did 2-3 times the work of the lengths actually predicted (G2P outputs are
    about 8 phonemes; the capacity of a 10-letter word is 20); rounding up
    keeps the number of XLA programs small. Never 0, so an empty batch works.
    """
    longest = tf.maximum(tf.reduce_max(tf.concat([tf.reshape(lengths, [-1]), [1]], 0)), 1)
    width = (longest + bucket - 1) // bucket * bucket
    return width if capacity is None else tf.maximum(tf.minimum(width, capacity), longest)


def length_mask(lengths, width):
    """bool `[batch * beam, width]`: position < candidate length, row-major over the beam."""
    flat_lengths = tf.reshape(lengths, [-1])
    return tf.range(width)[None, :] < flat_lengths[:, None]


def nat_fill(fns, state, lengths, valid, iterations=0, at_fns=None, return_details=False,
             variants=1, nat_weight=0.0):
    """Stage 2 of NAT decoding: fill every candidate in parallel, keep the best.

    Args:
        fns: `NATDecodingFns`.
        state, lengths: from `nat_plan`.
        valid: `length_mask(lengths, width)`; its static width is the number
            of decoder positions, so this stage compiles under XLA once per
            (padded source length, width).
        iterations: mask-predict refinement passes after the first pass.
        at_fns: optional AT `DecodingFns` to rank the candidates.
        return_details: also return the chosen lengths, scores and passes.
        variants: with `at_fns` and `iterations == 0`: the most probable
            outputs per candidate length handed to the AT model
            (`token_variants`); 1 keeps the argmax alone.
        nat_weight: with `at_fns`: candidates rank by the AT model's mean
            log-probability plus `nat_weight` times the NAT's.
    """
    beam = tf.shape(lengths)[1]
    batch = tf.shape(lengths)[0]
    if fns.length_predictor is None:
        # Decode the maximum length and cut at the first EOS.
        tokens, log_probs, passes = mask_predict(fns, state, valid, iterations, [PAD_ID, BOS_ID])
        outputs = _cut_at_first_eos(tokens)
        outputs = tf.pad(outputs, [[0, 0], [0, 1]])
        if return_details:
            return outputs, {"lengths": tf.reduce_sum(tf.cast(outputs > EOS_ID, tf.int32), 1),
                             "passes": passes}
        return outputs
    if variants > 1 and (at_fns is None or iterations):
        raise ValueError("token variants need an AT rescorer and iterations=0")
    flat_lengths = tf.reshape(lengths, [-1])
    flat_state = _repeat_state(state, beam)
    forbidden = [PAD_ID, BOS_ID, EOS_ID]
    if variants > 1:
        ids = tf.where(valid, nat_lib.MASK_ID, PAD_ID)
        tokens, log_probs, runner_up, runner_up_log_probs = _predict_top2(
            fns, flat_state, ids, forbidden)
        tokens, nat_sums = token_variants(tokens, log_probs, runner_up, runner_up_log_probs,
                                          valid, variants)
        # Row-major over (source, length candidate, variant).
        tokens = tf.reshape(tokens, [-1, tf.shape(valid)[1]])
        nat_sums = tf.reshape(nat_sums, [-1])
        flat_lengths = tf.repeat(flat_lengths, variants)
        passes = tf.ones_like(flat_lengths)
        beam = beam * variants
    else:
        tokens, log_probs, passes = mask_predict(fns, flat_state, valid, iterations, forbidden)
        nat_sums = tf.reduce_sum(log_probs, 1)
    candidates = _with_eos(tokens, flat_lengths)
    nat_means = nat_sums / tf.cast(tf.maximum(flat_lengths, 1), tf.float32)
    if at_fns is not None and lengths.shape[1] * variants != 1:  # one candidate: nothing to rank
        scores = at_sequence_scores(at_fns, state["source_ids"], candidates,
                                    copies=lengths.shape[1] * variants)
        if nat_weight:
            scores = scores + nat_weight * nat_means
    else:
        scores = nat_means
    scores = tf.reshape(scores, [batch, beam])
    best = tf.argmax(scores, axis=1, output_type=tf.int32)
    pick = tf.range(batch) * beam + best
    outputs = tf.gather(candidates, pick)
    if return_details:
        return outputs, {"lengths": tf.gather(flat_lengths, pick), "scores": scores,
                         "passes": tf.gather(passes, pick)}
    return outputs


def nat_decode(fns, source_ids, iterations=0, length_beam=1, length_a=10.0, length_b=2.0,
               at_fns=None, return_details=False, variants=1, nat_weight=0.0):
    """Decodes a NAT model: one pass (`iterations=0`) or mask-predict, over a length beam.

    `nat_plan`, then `nat_fill` over `decode_width` positions. The width
    depends on the predicted lengths, so this composition does not compile
    as one XLA program; `NATGenerator` compiles the two stages separately.

    Args:
        fns: `NATDecodingFns` of a NAT model.
        source_ids: int32 `[batch, source_len]`.
        iterations: mask-predict refinement passes after the first pass.
        length_beam: candidate lengths per source (ignored without a length
            predictor, where the decoder spans `a + b * source_len` positions
            and the output is cut at the first EOS).
        length_a, length_b: outputs have at most `a + b * source_len` tokens.
        at_fns: optional AT `DecodingFns`: rank the candidates by the AT
            model's mean log-probability instead of the NAT's own.
        return_details: also return a dict with the chosen lengths, the
            candidates' scores and the passes used.
        variants, nat_weight: token variants and the NAT's weight in AT
            rescoring (see `nat_fill`).

    Returns:
        int32 `[batch, width + 1]` ids in the AT layout (tokens, EOS, 0...).

    Example:
    >>> ids = nat_decode(NATDecodingFns(model, config), source_ids, iterations=4)
    """
    source_ids = tf.convert_to_tensor(source_ids, tf.int32)
    state, lengths = nat_plan(fns, source_ids, length_beam, length_a, length_b)
    capacity = decode_capacity(source_ids, length_a, length_b, fns.max_target_length - 1)
    valid = length_mask(lengths, decode_width(lengths, capacity))
    return nat_fill(fns, state, lengths, valid, iterations, at_fns, return_details, variants,
                    nat_weight)


def ctc_collapse(frame_ids):
    """Greedy CTC output: merge repeats, drop blanks (0), left-align, append EOS.

    `[batch, frames]` int32 -> `[batch, frames + 1]` in the AT layout. The
    compaction is a one-hot sum rather than a scatter, which XLA and TFLite
    run as plain builtins.
    """
    frame_ids = tf.cast(frame_ids, tf.int32)
    previous = tf.pad(frame_ids[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
    keep = tf.logical_and(tf.not_equal(frame_ids, PAD_ID), tf.not_equal(frame_ids, previous))
    target = tf.cumsum(tf.cast(keep, tf.int32), axis=1) - 1
    frames = tf.shape(frame_ids)[1]
    slots = tf.one_hot(tf.where(keep, target, -1), frames, dtype=tf.int32)  # [b, t, slot]
    compact = tf.reduce_sum(slots * tf.expand_dims(frame_ids, -1), axis=1)
    return _with_eos(compact, tf.reduce_sum(tf.cast(keep, tf.int32), axis=1))


def ctc_decode(fns, source_ids):
    """Greedy CTC decoding of a CTC model: int32 `[batch, frames + 1]`, AT layout."""
    source_ids = tf.convert_to_tensor(source_ids, tf.int32)
    state = fns.encode(source_ids)
    logits, frame_mask = fns.ctc_logits(state)
    # Reserved ids other than the blank are never outputs; padded frames are blank.
    logits = _forbid(logits, [BOS_ID, EOS_ID])
    frame_ids = tf.where(frame_mask, tf.cast(tf.argmax(logits, -1), tf.int32), PAD_ID)
    return ctc_collapse(frame_ids)
