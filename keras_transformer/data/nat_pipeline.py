"""Teacher-forcing batches turned into NAT and CTC training batches (`tf.data`).

`make_dataset` yields AT batches `({source_ids, decoder_input_ids}, target +
EOS)`; `nat_batches` maps each batch to what the NAT model reads:

- `length_prediction` "offset"/"absolute": decoder inputs are the target's
  positions holding `MASK_ID` (CMLM: a uniformly drawn number of them, the
  others hold the reference token); labels are the reference at masked
  positions (0 elsewhere, so no loss), and the length class.
- "none": the decoder spans `a + b * source_len` positions (at least the
  target and its EOS); labels are the target then EOS on every later position.
- GLAT and vanilla training mask every position (GLAT reveals tokens in the
  model's `compute_loss`); validation batches are always fully masked, so
  the validation accuracy is the one-pass accuracy at the gold length.

CTC batches are `({source_ids}, {logits: target + EOS})`; `ctc_pair_filter`
drops pairs too long for `ctc_upsample * source_len` frames.
"""

import tensorflow as tf

from keras_transformer.models.nat import MASK_ID, length_to_class
from keras_transformer.text.vocabulary import EOS_ID, PAD_ID


def ctc_pair_filter(config):
    """A `make_dataset` pair filter keeping pairs a CTC decoder can emit: target
    tokens plus one blank between repeated tokens fit in the frames."""

    def keep(source_ids, target_ids):
        repeats = tf.reduce_sum(tf.cast(tf.equal(target_ids[1:], target_ids[:-1]), tf.int32))
        needed = tf.size(target_ids) + repeats
        return tf.logical_and(needed <= config.ctc_upsample * tf.size(source_ids),
                              tf.size(target_ids) > 0)

    return keep


def nat_batches(dataset, config, training=True, seed=0):
    """Maps an AT batch dataset to NAT (`model_type="nat"`) or CTC batches.

    Args:
        dataset: batches from `make_dataset`.
        config: the model's `TransformerConfig`.
        training: draw CMLM masks (otherwise every position is masked).
        seed: seed of the mask draws.
    """
    if config.model_type == "ctc":
        return dataset.map(lambda inputs, labels: (
            {"source_ids": inputs["source_ids"]}, {"logits": labels}))
    if config.model_type != "nat":
        raise ValueError(f"nat_batches needs a NAT or CTC config, got {config.model_type!r}")
    cmlm = training and config.nat_training == "cmlm"
    generator = tf.random.Generator.from_seed(seed)

    def convert(inputs, labels):
        source_ids = inputs["source_ids"]
        source_length = tf.reduce_sum(tf.cast(source_ids != PAD_ID, tf.int32), axis=1)
        targets = tf.where(labels == EOS_ID, PAD_ID, labels)
        target_length = tf.reduce_sum(tf.cast(targets != PAD_ID, tf.int32), axis=1)
        if config.length_prediction == "none":
            targets, valid = _eos_filled(targets, source_length, target_length, config)
        else:
            valid = targets != PAD_ID
        if cmlm:
            masked = _cmlm_mask(valid, generator)
            decoder_input = tf.where(masked, MASK_ID, targets)
            token_labels = tf.where(masked, targets, PAD_ID)
        else:
            decoder_input = tf.where(valid, MASK_ID, PAD_ID)
            token_labels = targets
        x = {"source_ids": source_ids, "decoder_input_ids": decoder_input}
        y = {"logits": token_labels}
        if config.length_prediction != "none":
            y["length_logits"] = length_to_class(target_length, source_length, config)
        return x, y

    return dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _cmlm_mask(valid, generator):
    """Masks a uniformly drawn number in [1, length] of each row's valid positions."""
    length = tf.reduce_sum(tf.cast(valid, tf.int32), axis=1)
    draw = generator.uniform(tf.shape(length), dtype=tf.float32)
    count = tf.minimum(tf.cast(tf.floor(draw * tf.cast(length, tf.float32)), tf.int32) + 1, length)
    noise = tf.where(valid, generator.uniform(tf.shape(valid), dtype=tf.float32), 2.0)
    rank = tf.argsort(tf.argsort(noise, axis=1), axis=1)
    return tf.logical_and(valid, rank < count[:, None])


def _eos_filled(targets, source_length, target_length, config):
    """Targets padded with EOS up to `a + b * source_len` (and at least target + 1)."""
    span = tf.cast(tf.floor(config.decode_length_a
                            + config.decode_length_b * tf.cast(source_length, tf.float32)),
                   tf.int32)
    span = tf.clip_by_value(tf.maximum(span, target_length + 1), 1, config.max_target_length)
    width = tf.reduce_max(span)
    targets = tf.pad(targets, [[0, 0], [0, tf.maximum(width - tf.shape(targets)[1], 0)]])
    targets = targets[:, :width]
    positions = tf.range(width)[None, :]
    valid = positions < span[:, None]
    filled = tf.where(tf.logical_and(valid, positions >= target_length[:, None]), EOS_ID, targets)
    return filled, valid
