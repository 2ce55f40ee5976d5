"""Encoder block (mixer + feed-forward, each residual-normed) and the encoder stack."""

import keras

from keras_transformer.layers.feed_forward import FeedForward
from keras_transformer.layers.mixers import ConvMixer, RNNMixer, SelfAttentionMixer
from keras_transformer.layers.residual import ResidualNorm


def make_mixer(mixer, d_model, num_heads, attention_dropout=0.0, conv_kernel_size=3,
               rnn_cell="gru", name="mixer"):
    """Builds the sequence mixer named by `mixer` ("attention", "conv" or "rnn")."""
    if mixer == "attention":
        return SelfAttentionMixer(num_heads=num_heads, key_dim=d_model // num_heads,
                                  dropout=attention_dropout, name=name)
    if mixer == "conv":
        return ConvMixer(kernel_size=conv_kernel_size, name=name)
    if mixer == "rnn":
        return RNNMixer(cell=rnn_cell, name=name)
    raise ValueError(f"mixer must be 'attention', 'conv' or 'rnn', got {mixer!r}")


@keras.saving.register_keras_serializable(package="keras_transformer")
class EncoderBlock(keras.layers.Layer):
    """One encoder block: sequence mixer, then feed-forward, each in `ResidualNorm`.

    Args:
        d_model: hidden size.
        num_heads: heads of the attention mixer.
        ff_dim: feed-forward inner size.
        mixer: `"attention"` (default), `"conv"` or `"rnn"`.
        dropout: residual dropout.
        attention_dropout: dropout on attention weights.
        activation: feed-forward activation.
        norm_position: `"post"` or `"pre"`.
        epsilon: layer norm epsilon.
        conv_kernel_size: width of the conv mixer.
        rnn_cell: `"gru"` or `"lstm"` for the rnn mixer.

    Call arguments:
        inputs: `[batch, length, d_model]`.
        padding_mask: `[batch, length]` bool, `True` for real tokens.
        training: whether dropout is active.

    Example:
    >>> block = EncoderBlock(d_model=16, num_heads=2, ff_dim=32)
    >>> block(keras.ops.ones((2, 5, 16))).shape
    (2, 5, 16)
    """

    def __init__(self, d_model, num_heads, ff_dim, mixer="attention", dropout=0.0,
                 attention_dropout=0.0, activation="relu", norm_position="post",
                 epsilon=1e-5, conv_kernel_size=3, rnn_cell="gru", **kwargs):
        super().__init__(**kwargs)
        self.d_model = d_model
        self.num_heads = num_heads
        self.ff_dim = ff_dim
        self.mixer = mixer
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = activation
        self.norm_position = norm_position
        self.epsilon = epsilon
        self.conv_kernel_size = conv_kernel_size
        self.rnn_cell = rnn_cell
        self.mixer_block = ResidualNorm(
            make_mixer(mixer, d_model, num_heads, attention_dropout, conv_kernel_size, rnn_cell),
            norm_position=norm_position, dropout=dropout, epsilon=epsilon, name="mixer_block")
        self.ff_block = ResidualNorm(
            FeedForward(ff_dim, activation=activation, dropout=dropout, name="feed_forward"),
            norm_position=norm_position, dropout=dropout, epsilon=epsilon, name="ff_block")

    def build(self, inputs_shape, padding_mask_shape=None):
        self.mixer_block.build(inputs_shape)
        self.mixer_block.sublayer.build(inputs_shape)
        self.ff_block.build(inputs_shape)
        self.ff_block.sublayer.build(inputs_shape)
        self.built = True

    def call(self, inputs, padding_mask=None, training=None):
        x = self.mixer_block(inputs, padding_mask=padding_mask, training=training)
        return self.ff_block(x, training=training)


    def get_config(self):
        config = super().get_config()
        config.update({
            "d_model": self.d_model, "num_heads": self.num_heads, "ff_dim": self.ff_dim,
            "mixer": self.mixer, "dropout": self.dropout,
            "attention_dropout": self.attention_dropout, "activation": self.activation,
            "norm_position": self.norm_position, "epsilon": self.epsilon,
            "conv_kernel_size": self.conv_kernel_size, "rnn_cell": self.rnn_cell,
        })
        return config


@keras.saving.register_keras_serializable(package="keras_transformer")
class TransformerEncoder(keras.layers.Layer):
    """A stack of `EncoderBlock`s (plus a final norm for pre-norm stacks).

    Args:
        num_layers: number of blocks.
        **block_kwargs: arguments of `EncoderBlock` (`d_model`, `num_heads`,
            `ff_dim`, `mixer`, ...).

    Call arguments:
        inputs: embedded source `[batch, length, d_model]`.
        padding_mask: `[batch, length]` bool, `True` for real tokens.

    Example:
    >>> encoder = TransformerEncoder(2, d_model=16, num_heads=2, ff_dim=32)
    >>> encoder(keras.ops.ones((2, 5, 16))).shape
    (2, 5, 16)
    """

    def __init__(self, num_layers, d_model, num_heads, ff_dim, mixer="attention",
                 dropout=0.0, attention_dropout=0.0, activation="relu",
                 norm_position="post", epsilon=1e-5, conv_kernel_size=3, rnn_cell="gru",
                 **kwargs):
        super().__init__(**kwargs)
        self.num_layers = num_layers
        self.block_config = dict(
            d_model=d_model, num_heads=num_heads, ff_dim=ff_dim, mixer=mixer,
            dropout=dropout, attention_dropout=attention_dropout, activation=activation,
            norm_position=norm_position, epsilon=epsilon,
            conv_kernel_size=conv_kernel_size, rnn_cell=rnn_cell)
        self.blocks = [EncoderBlock(**self.block_config, name=f"block_{i}")
                       for i in range(num_layers)]
        self.final_norm = (keras.layers.LayerNormalization(epsilon=epsilon, name="final_norm")
                           if norm_position == "pre" else None)

    def build(self, inputs_shape, padding_mask_shape=None):
        for block in self.blocks:
            block.build(inputs_shape)
        if self.final_norm is not None:
            self.final_norm.build(inputs_shape)
        self.built = True

    def call(self, inputs, padding_mask=None, training=None):
        x = inputs
        for block in self.blocks:
            x = block(x, padding_mask=padding_mask, training=training)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return x


    def get_config(self):
        config = super().get_config()
        config.update({"num_layers": self.num_layers, **self.block_config})
        return config
