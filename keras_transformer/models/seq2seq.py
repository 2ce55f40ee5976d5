"""Functional builder of the autoregressive (AT) sequence-to-sequence Transformer."""

import contextlib

import keras

from keras_transformer.config import TransformerConfig
from keras_transformer.layers import (
    PaddingMask,
    TokenAndPositionEmbedding,
    TransformerDecoder,
    TransformerEncoder,
)

# Layer names the decoding code looks up; keep them stable across versions so
# old checkpoints keep working.
SOURCE_EMBEDDING = "source_embedding"
TARGET_EMBEDDING = "target_embedding"
ENCODER = "encoder"
DECODER = "decoder"
OUTPUT_PROJECTION = "output_projection"


def _source_embedding(config, name):
    return TokenAndPositionEmbedding(
        config.source_vocab_size, config.d_model, config.max_source_length,
        position_encoding=config.position_encoding, dropout=config.dropout, name=name)


def build_encoder_side(config, source_ids):
    """Embeds and encodes `source_ids`; returns `(encoder_outputs, source_mask, embedding)`."""
    source_mask = PaddingMask(name="source_mask")(source_ids)
    embedding = _source_embedding(config, SOURCE_EMBEDDING)
    encoder = TransformerEncoder(
        config.num_encoder_layers, config.d_model, config.num_heads, config.ff_dim,
        mixer=config.encoder_mixer, dropout=config.dropout,
        attention_dropout=config.attention_dropout, activation=config.activation,
        norm_position=config.norm_position, epsilon=config.layer_norm_epsilon,
        conv_kernel_size=config.conv_kernel_size, rnn_cell=config.rnn_cell, name=ENCODER)
    x = embedding(source_ids)
    return encoder(x, padding_mask=source_mask), source_mask, embedding


@contextlib.contextmanager
def dtype_policy_scope(policy):
    """Builds layers under `policy` (sublayers read the global policy), then restores it."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_seq2seq_model(config: TransformerConfig):
    """Builds the AT Transformer as a functional `keras.Model`.

    Inputs are a dict with int32 `source_ids` `[batch, source_len]` and
    `decoder_input_ids` `[batch, target_len]` (BOS + target, teacher forcing);
    the output is float32 logits `[batch, target_len, target_vocab_size]`.
    Id 0 is padding on both sides.

    Args:
        config: a `TransformerConfig`.

    Example:
    >>> config = TransformerConfig(source_vocab_size=30, target_vocab_size=40,
    ...                            d_model=32, num_heads=2, ff_dim=64)
    >>> model = build_seq2seq_model(config)
    >>> model.compile(optimizer="adam", loss=MaskedSparseCrossEntropy())
    """
    if not isinstance(config, TransformerConfig):
        raise TypeError(f"config must be a TransformerConfig, got {type(config).__name__}")
    with dtype_policy_scope(config.dtype_policy):
        return _build_seq2seq_model(config)


def _build_seq2seq_model(config):
    source_ids = keras.Input((None,), dtype="int32", name="source_ids")
    decoder_input_ids = keras.Input((None,), dtype="int32", name="decoder_input_ids")
    if config.num_encoder_layers == 0:
        raise ValueError("num_encoder_layers must be positive for a seq2seq model")

    encoder_outputs, source_mask, source_embedding = build_encoder_side(config, source_ids)
    if config.share_embeddings:
        target_embedding = source_embedding
    else:
        target_embedding = TokenAndPositionEmbedding(
            config.target_vocab_size, config.d_model, config.max_target_length,
            position_encoding=config.position_encoding, dropout=config.dropout,
            name=TARGET_EMBEDDING)
    decoder = TransformerDecoder(
        config.num_decoder_layers, config.d_model, config.num_heads, config.ff_dim,
        causal=True, dropout=config.dropout, attention_dropout=config.attention_dropout,
        activation=config.activation, norm_position=config.norm_position,
        epsilon=config.layer_norm_epsilon, name=DECODER)
    states = decoder(target_embedding(decoder_input_ids), encoder_outputs,
                     encoder_padding_mask=source_mask)
    if config.tie_output_embedding:
        logits = target_embedding(states, reverse=True)
    else:
        logits = keras.layers.Dense(config.target_vocab_size, name=OUTPUT_PROJECTION)(states)
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
    return keras.Model({"source_ids": source_ids, "decoder_input_ids": decoder_input_ids},
                       logits, name="seq2seq_transformer")
