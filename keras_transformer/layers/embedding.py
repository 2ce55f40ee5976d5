"""Token embedding scaled by sqrt(d_model) plus positions, with a tied output projection."""

import math

import keras
from keras import ops


def sinusoidal_positions(positions, d_model, dtype="float32"):
    """Sinusoidal encodings (Vaswani et al. 2017) for integer `positions`.

    Args:
        positions: int tensor of any shape.
        d_model: encoding size.

    Returns:
        `positions.shape + (d_model,)`: sines in the first half of the
        features, cosines in the second half.
    """
    half = d_model // 2
    exponent = ops.arange(half, dtype="float32") / max(half - 1, 1)
    inv_freq = ops.exp(-math.log(10000.0) * exponent)
    angles = ops.expand_dims(ops.cast(positions, "float32"), -1) * inv_freq
    encoding = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)
    if d_model % 2:
        encoding = ops.pad(encoding, [[0, 0]] * (len(encoding.shape) - 1) + [[0, 1]])
    return ops.cast(encoding, dtype)


@keras.saving.register_keras_serializable(package="keras_transformer")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding times sqrt(d_model), plus a position encoding.

    The same layer projects hidden states back to vocabulary logits with its
    transposed embedding matrix (`reverse=True`), which ties input and output
    embeddings as in Press & Wolf (2017).

    Args:
        vocab_size: number of token ids.
        d_model: embedding size.
        max_length: longest sequence the learned positions cover (also a
            bound checked for sinusoidal positions).
        position_encoding: `"sinusoidal"` (default) or `"learned"`.
        dropout: dropout on the summed embedding.

    Call arguments:
        inputs: int `[batch, length]` token ids, or `[batch, length, d_model]`
            states when `reverse=True`.
        start_index: position of the first token (for cached decoding).
        reverse: project states to logits instead of embedding ids.
        training: whether dropout is active.

    Example:
    >>> layer = TokenAndPositionEmbedding(vocab_size=10, d_model=8, max_length=16)
    >>> states = layer(keras.ops.ones((2, 5), dtype="int32"))
    >>> layer(states, reverse=True).shape
    (2, 5, 10)
    """

    def __init__(self, vocab_size, d_model, max_length, position_encoding="sinusoidal",
                 dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if position_encoding not in ("sinusoidal", "learned"):
            raise ValueError(
                f"position_encoding must be 'sinusoidal' or 'learned', got {position_encoding!r}")
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.max_length = max_length
        self.position_encoding = position_encoding
        self.dropout = dropout
        self._dropout_layer = keras.layers.Dropout(dropout)

    def build(self, inputs_shape=None):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.vocab_size, self.d_model),
            initializer=keras.initializers.RandomNormal(stddev=self.d_model ** -0.5))
        if self.position_encoding == "learned":
            self.position_embeddings = self.add_weight(
                name="position_embeddings", shape=(self.max_length, self.d_model),
                initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.built = True

    def call(self, inputs, start_index=0, reverse=False, training=None):
        if reverse:
            kernel = ops.cast(self.embeddings, inputs.dtype)
            return ops.matmul(inputs, ops.transpose(kernel))
        tokens = ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0)
        tokens = tokens * ops.cast(math.sqrt(self.d_model), tokens.dtype)
        length = ops.shape(inputs)[1]
        positions = ops.arange(length, dtype="int32") + ops.cast(start_index, "int32")
        if self.position_encoding == "learned":
            encoding = ops.take(self.position_embeddings, positions, axis=0)
        else:
            encoding = sinusoidal_positions(positions, self.d_model)
        outputs = tokens + ops.cast(ops.expand_dims(encoding, 0), tokens.dtype)
        return self._dropout_layer(outputs, training=training)


    def get_config(self):
        config = super().get_config()
        config.update({
            "vocab_size": self.vocab_size,
            "d_model": self.d_model,
            "max_length": self.max_length,
            "position_encoding": self.position_encoding,
            "dropout": self.dropout,
        })
        return config
