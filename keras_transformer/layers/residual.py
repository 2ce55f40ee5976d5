"""Residual connection plus layer norm around any sublayer."""

import keras


@keras.saving.register_keras_serializable(package="keras_transformer")
class ResidualNorm(keras.layers.Layer):
    """Wraps a sublayer as `LayerNorm(x + Dropout(Sublayer(x)))`.

    Post-norm (the default) is the arrangement of the original Transformer and
    of the lecture notes. Pre-norm, `x + Dropout(Sublayer(LayerNorm(x)))`,
    keeps an identity path from input to output and trains deep stacks
    without warm-up tricks; a stack of pre-norm blocks needs a final norm.

    Keras' `__call__` accepts `**kwargs` that are all tensors or all Python
    values; a block that must pass both (masks and flags) calls
    `wrapper.call(...)` from its own `call`, as `DecoderBlock` does.

    If the sublayer returns a tuple (attention weights, a cache), its first
    item is the one wrapped and the rest is returned unchanged after it.

    Args:
        sublayer: a Keras layer mapping `[..., d_model]` to `[..., d_model]`.
        norm_position: `"post"` or `"pre"`.
        dropout: dropout on the sublayer output before the residual sum.
        epsilon: layer norm epsilon.

    Call arguments:
        inputs: `[batch, length, d_model]`.
        *args, **kwargs: passed to the sublayer after its first input.
        training: whether dropout is active (also passed to the sublayer).

    Example:
    >>> block = ResidualNorm(keras.layers.Dense(8))
    >>> block(keras.ops.ones((2, 3, 8))).shape
    (2, 3, 8)
    """

    def __init__(self, sublayer, norm_position="post", dropout=0.0, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if norm_position not in ("post", "pre"):
            raise ValueError(f"norm_position must be 'post' or 'pre', got {norm_position!r}")
        if isinstance(sublayer, dict):
            sublayer = keras.saving.deserialize_keras_object(sublayer)
        self.sublayer = sublayer
        self.norm_position = norm_position
        self.dropout = dropout
        self.epsilon = epsilon
        self.norm = keras.layers.LayerNormalization(epsilon=epsilon, name="norm")
        self._dropout_layer = keras.layers.Dropout(dropout)

    def build(self, inputs_shape, *args, **kwargs):
        self.norm.build(inputs_shape)
        self.built = True

    def call(self, inputs, *args, training=None, **kwargs):
        x = self.norm(inputs) if self.norm_position == "pre" else inputs
        result = self.sublayer(x, *args, training=training, **kwargs)
        extras = ()
        if isinstance(result, (tuple, list)):
            result, extras = result[0], tuple(result[1:])
        outputs = inputs + self._dropout_layer(result, training=training)
        if self.norm_position == "post":
            outputs = self.norm(outputs)
        return (outputs,) + extras if extras else outputs


    def get_config(self):
        config = super().get_config()
        config.update({
            "sublayer": keras.saving.serialize_keras_object(self.sublayer),
            "norm_position": self.norm_position,
            "dropout": self.dropout,
            "epsilon": self.epsilon,
        })
        return config
