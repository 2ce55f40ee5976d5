"""Non-autoregressive (NAT) Transformers: a CMLM-style decoder with a length
predictor, and a length-free CTC decoder. Both share the AT model's encoder
side, layers and config.

**NAT (`model_type="nat"`).** Inputs `source_ids` and `decoder_input_ids`:
the target positions to predict hold `MASK_ID`, known tokens (CMLM / GLAT
training, mask-predict refinement) hold their ids, padding holds 0. The
decoder is not causal and never attends to padded positions. Outputs are a
dict: `logits` `[batch, target_len, vocab]` and, unless
`length_prediction="none"`, `length_logits` `[batch, classes]`.

NAT targets are the target tokens without EOS (the length says where they
end); with `length_prediction="none"` the decoder fills `a + b * n`
positions and labels are the target followed by EOS on every later position,
so decoding cuts at the first EOS.

**CTC (`model_type="ctc"`).** Input `source_ids`; output `logits`
`[batch, ctc_upsample * source_len, vocab]` where id 0 (PAD, never a real
token) doubles as the CTC blank.
"""

import keras
from keras import ops

from keras_transformer.config import TransformerConfig
from keras_transformer.layers import (
    PaddingMask,
    TokenAndPositionEmbedding,
    TransformerDecoder,
)
from keras_transformer.layers.nat import CTCUpsample, ForceBlank, LengthPredictor, UniformCopy
from keras_transformer.models.seq2seq import (
    DECODER,
    OUTPUT_PROJECTION,
    TARGET_EMBEDDING,
    build_encoder_side,
    dtype_policy_scope,
)
from keras_transformer.text.vocabulary import BOS_ID, PAD_ID

# The NAT decoder reads BOS's embedding row as its mask token: a NAT model
# never reads or emits BOS otherwise, so the vocabulary needs no new id.
MASK_ID = BOS_ID
LENGTH_PREDICTOR = "length_predictor"
SOURCE_COPY = "source_copy"
CTC_UPSAMPLE = "ctc_upsample"
BLANK_ID = PAD_ID


def num_length_classes(config):
    """Classes of the length predictor (0 when `length_prediction="none"`)."""
    if config.length_prediction == "offset":
        return 2 * config.max_length_offset + 1
    if config.length_prediction == "absolute":
        return config.max_target_length  # target lengths 0..max-1 (EOS takes one slot)
    return 0


def length_to_class(target_length, source_length, config):
    """Target lengths -> length classes (int32), clipped to the class range."""
    target_length = ops.cast(target_length, "int32")
    if config.length_prediction == "offset":
        offset = target_length - ops.cast(source_length, "int32")
        return ops.clip(offset, -config.max_length_offset,
                        config.max_length_offset) + config.max_length_offset
    return ops.clip(target_length, 0, config.max_target_length - 1)


def class_to_length(length_class, source_length, config):
    """Length classes -> target lengths in `[1, max_target_length - 1]` (int32)."""
    length_class = ops.cast(length_class, "int32")
    if config.length_prediction == "offset":
        length = length_class - config.max_length_offset + ops.cast(source_length, "int32")
    else:
        length = length_class
    return ops.clip(length, 1, config.max_target_length - 1)


def _target_embedding(config, source_embedding):
    if config.share_embeddings:
        return source_embedding
    return TokenAndPositionEmbedding(
        config.target_vocab_size, config.d_model, config.max_target_length,
        position_encoding=config.position_encoding, dropout=config.dropout,
        name=TARGET_EMBEDDING)


def _decoder(config):
    return TransformerDecoder(
        config.num_decoder_layers, config.d_model, config.num_heads, config.ff_dim,
        causal=False, dropout=config.dropout, attention_dropout=config.attention_dropout,
        activation=config.activation, norm_position=config.norm_position,
        epsilon=config.layer_norm_epsilon, name=DECODER)


def _project(config, states, target_embedding):
    if config.tie_output_embedding:
        return target_embedding(states, reverse=True)
    return keras.layers.Dense(config.target_vocab_size, name=OUTPUT_PROJECTION)(states)


def _check(config, model_type):
    if not isinstance(config, TransformerConfig):
        raise TypeError(f"config must be a TransformerConfig, got {type(config).__name__}")
    if config.model_type != model_type:
        raise ValueError(f"config.model_type is {config.model_type!r}, expected {model_type!r}")
    if config.num_encoder_layers == 0:
        raise ValueError("num_encoder_layers must be positive for a seq2seq model")


@keras.saving.register_keras_serializable(package="keras_transformer")
class NATModel(keras.Model):
    """The functional NAT model, with glancing training (GLAT) in `compute_loss`.

    Built by `build_nat_model`. With `glancing_ratio` > 0 (set by
    `compile_nat_model` for `nat_training="glat"`), each training step takes
    Keras' first forward pass (all target positions masked), counts its
    errors against the reference, reveals `ratio * errors` random reference
    tokens in the decoder input, runs a second pass and trains on the
    positions still hidden. Written with `keras.ops`.
    """

    glancing_ratio = 0.0

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if training and self.glancing_ratio > 0:
            x, y = self._glance(x, y, y_pred)
            y_pred = self(x, training=True)
        return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                    training=training)

    def _glance(self, x, y, y_pred):
        if not hasattr(self, "_glancing_seed"):
            self._glancing_seed = keras.random.SeedGenerator(0, name="glancing_seed")
        targets = ops.cast(y["logits"], "int32")
        valid = ops.not_equal(targets, PAD_ID)
        guess = ops.cast(ops.argmax(ops.stop_gradient(y_pred["logits"]), axis=-1), "int32")
        wrong = ops.logical_and(valid, ops.not_equal(guess, targets))
        distance = ops.sum(ops.cast(wrong, "float32"), axis=1, keepdims=True)
        reveal_count = ops.cast(ops.floor(self.glancing_ratio * distance), "int32")
        # Random rank of each valid position; reveal the `reveal_count` first.
        noise = keras.random.uniform(ops.shape(targets), seed=self._glancing_seed)
        noise = ops.where(valid, noise, 2.0)
        rank = ops.argsort(ops.argsort(noise, axis=1), axis=1)
        reveal = ops.logical_and(valid, ops.less(ops.cast(rank, "int32"), reveal_count))
        decoder_input = ops.where(reveal, targets, ops.where(valid, MASK_ID, PAD_ID))
        x = {**x, "decoder_input_ids": ops.cast(decoder_input, "int32")}
        y = {**y, "logits": ops.where(reveal, PAD_ID, targets)}
        return x, y


def build_nat_model(config: TransformerConfig):
    """Builds the NAT Transformer (`config.model_type == "nat"`) as a `NATModel`.

    Args:
        config: a `TransformerConfig` with `model_type="nat"`.

    Example:
    >>> config = TransformerConfig(source_vocab_size=30, target_vocab_size=40,
    ...                            d_model=32, num_heads=2, ff_dim=64, model_type="nat")
    >>> model = build_nat_model(config)
    >>> sorted(model.output)
    ['length_logits', 'logits']
    """
    _check(config, "nat")
    with dtype_policy_scope(config.dtype_policy):
        source_ids = keras.Input((None,), dtype="int32", name="source_ids")
        decoder_input_ids = keras.Input((None,), dtype="int32", name="decoder_input_ids")
        encoder_outputs, source_mask, source_embedding = build_encoder_side(config, source_ids)
        target_embedding = _target_embedding(config, source_embedding)
        x = target_embedding(decoder_input_ids)
        if config.nat_decoder_input == "copy":
            # Unknown positions get the uniformly copied source embedding on
            # top of the mask embedding; known tokens keep their own.
            copied = UniformCopy(copy_id=MASK_ID, name=SOURCE_COPY)(
                source_embedding(source_ids), source_mask, decoder_input_ids)
            x = keras.layers.Add(name="decoder_inputs")([x, copied])
        decoder_mask = PaddingMask(name="decoder_mask")(decoder_input_ids)
        states = _decoder(config)(x, encoder_outputs, encoder_padding_mask=source_mask,
                                  padding_mask=decoder_mask)
        logits = keras.layers.Activation("linear", dtype="float32", name="logits")(
            _project(config, states, target_embedding))
        outputs = {"logits": logits}
        if config.length_prediction != "none":
            outputs["length_logits"] = LengthPredictor(
                num_length_classes(config), name=LENGTH_PREDICTOR)(encoder_outputs, source_mask)
        return NATModel({"source_ids": source_ids, "decoder_input_ids": decoder_input_ids},
                        outputs, name="nat_transformer")


def build_ctc_model(config: TransformerConfig):
    """Builds the length-free CTC NAT model (`config.model_type == "ctc"`).

    The encoder output is upsampled `ctc_upsample` times, run through a
    non-causal decoder that also cross-attends to the encoder, and projected
    to the vocabulary; id 0 is the blank.

    Args:
        config: a `TransformerConfig` with `model_type="ctc"`.

    Example:
    >>> config = TransformerConfig(source_vocab_size=30, target_vocab_size=40,
    ...                            d_model=32, num_heads=2, ff_dim=64, model_type="ctc")
    >>> model = build_ctc_model(config)
    """
    _check(config, "ctc")
    with dtype_policy_scope(config.dtype_policy):
        source_ids = keras.Input((None,), dtype="int32", name="source_ids")
        encoder_outputs, source_mask, source_embedding = build_encoder_side(config, source_ids)
        target_embedding = _target_embedding(config, source_embedding)
        states, frame_mask = CTCUpsample(config.ctc_upsample, config.d_model,
                                         name=CTC_UPSAMPLE)(encoder_outputs, source_mask)
        states = _decoder(config)(states, encoder_outputs, encoder_padding_mask=source_mask,
                                  padding_mask=frame_mask)
        if not config.share_embeddings:
            # The tied projection needs the target table built; the CTC model
            # never embeds target ids otherwise.
            target_embedding.build()
        logits = ForceBlank(BLANK_ID, name="logits")(_project(config, states, target_embedding),
                                                     frame_mask)
        return keras.Model({"source_ids": source_ids}, {"logits": logits}, name="ctc_transformer")


def build_model(config: TransformerConfig):
    """The builder `config.model_type` names: AT, NAT or CTC."""
    from keras_transformer.models.seq2seq import build_seq2seq_model

    builders = {"at": build_seq2seq_model, "nat": build_nat_model, "ctc": build_ctc_model}
    return builders[config.model_type](config)
