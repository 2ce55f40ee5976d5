"""Sequence mixers for encoder blocks: self-attention's alternatives from the notes.

Each mixer maps `[batch, length, d_model]` plus a `[batch, length]` padding
mask to `[batch, length, d_model]` and never lets padded positions leak into
real ones.
"""

import keras
from keras import ops

from keras_transformer.layers.attention import MultiHeadAttention


def _zero_padding(inputs, padding_mask):
    if padding_mask is None:
        return inputs
    return inputs * ops.cast(ops.expand_dims(padding_mask, -1), inputs.dtype)


@keras.saving.register_keras_serializable(package="keras_transformer")
class SelfAttentionMixer(MultiHeadAttention):
    """Bidirectional self-attention: `MultiHeadAttention(x, x, key_mask=mask)`.

    Args: as `MultiHeadAttention`.

    Example:
    >>> SelfAttentionMixer(num_heads=2, key_dim=4)(keras.ops.ones((1, 3, 8))).shape
    (1, 3, 8)
    """

    def build(self, inputs_shape, padding_mask_shape=None):
        super().build(inputs_shape, inputs_shape)

    def call(self, inputs, padding_mask=None, training=None):
        return super().call(inputs, inputs, key_mask=padding_mask, training=training)


@keras.saving.register_keras_serializable(package="keras_transformer")
class ConvMixer(keras.layers.Layer):
    """A 1-D convolution over positions ("the encoder may use a CNN").

    Padded positions are zeroed before the convolution so their token ids
    cannot reach real positions through the kernel window.

    Args:
        kernel_size: window width (odd keeps outputs centred).
        activation: activation after the convolution.

    Example:
    >>> ConvMixer(kernel_size=3)(keras.ops.ones((1, 5, 8))).shape
    (1, 5, 8)
    """

    def __init__(self, kernel_size=3, activation="relu", **kwargs):
        super().__init__(**kwargs)
        if kernel_size <= 0:
            raise ValueError(f"kernel_size must be positive, got {kernel_size}")
        self.kernel_size = kernel_size
        self.activation = activation

    def build(self, inputs_shape):
        self.conv = keras.layers.Conv1D(
            inputs_shape[-1], self.kernel_size, padding="same",
            activation=self.activation, name="conv")
        self.conv.build(inputs_shape)
        self.built = True

    def call(self, inputs, padding_mask=None, training=None):
        return self.conv(_zero_padding(inputs, padding_mask))

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"kernel_size": self.kernel_size, "activation": self.activation})
        return config


@keras.saving.register_keras_serializable(package="keras_transformer")
class RNNMixer(keras.layers.Layer):
    """A bidirectional GRU or LSTM ("the encoder may use an RNN").

    Each direction has `d_model // 2` units so the concatenation keeps the
    width. The padding mask makes both directions skip padded steps.

    Args:
        cell: `"gru"` or `"lstm"`.

    Example:
    >>> RNNMixer("gru")(keras.ops.ones((1, 5, 8))).shape
    (1, 5, 8)
    """

    def __init__(self, cell="gru", **kwargs):
        super().__init__(**kwargs)
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', got {cell!r}")
        self.cell = cell

    def build(self, inputs_shape):
        units = inputs_shape[-1] // 2
        rnn_class = keras.layers.GRU if self.cell == "gru" else keras.layers.LSTM
        self.rnn = keras.layers.Bidirectional(
            rnn_class(units, return_sequences=True), name="bidirectional")
        self.rnn.build(inputs_shape)
        self.built = True

    def call(self, inputs, padding_mask=None, training=None):
        inputs = _zero_padding(inputs, padding_mask)
        mask = None if padding_mask is None else ops.cast(padding_mask, "bool")
        return self.rnn(inputs, mask=mask, training=training)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"cell": self.cell})
        return config
