"""Position-wise feed-forward network."""

import keras


@keras.saving.register_keras_serializable(package="keras_transformer")
class FeedForward(keras.layers.Layer):
    """`Dense(d_model)(Dropout(activation(Dense(inner_dim)(x))))` at every position.

    Args:
        inner_dim: hidden size (4 * d_model in the paper).
        activation: activation name, e.g. `"relu"` or `"gelu"`.
        dropout: dropout on the hidden activations.

    Example:
    >>> FeedForward(inner_dim=32)(keras.ops.ones((2, 3, 8))).shape
    (2, 3, 8)
    """

    def __init__(self, inner_dim, activation="relu", dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if inner_dim <= 0:
            raise ValueError(f"inner_dim must be positive, got {inner_dim}")
        self.inner_dim = inner_dim
        self.activation = activation
        self.dropout = dropout
        self._dropout_layer = keras.layers.Dropout(dropout)

    def build(self, inputs_shape):
        self.inner = keras.layers.Dense(self.inner_dim, activation=self.activation, name="inner")
        self.inner.build(inputs_shape)
        self.outer = keras.layers.Dense(inputs_shape[-1], name="outer")
        self.outer.build(tuple(inputs_shape[:-1]) + (self.inner_dim,))
        self.built = True

    def call(self, inputs, training=None):
        hidden = self._dropout_layer(self.inner(inputs), training=training)
        return self.outer(hidden)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"inner_dim": self.inner_dim, "activation": self.activation,
                       "dropout": self.dropout})
        return config
