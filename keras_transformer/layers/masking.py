"""Padding masks from token ids (id 0 is padding everywhere)."""

import keras
from keras import ops

PAD_ID = 0


@keras.saving.register_keras_serializable(package="keras_transformer")
class PaddingMask(keras.layers.Layer):
    """Returns `ids != 0` as a bool `[batch, length]` mask.

    Example:
    >>> PaddingMask()(keras.ops.convert_to_tensor([[5, 6, 0]]))
    """

    def call(self, ids):
        return ops.not_equal(ids, PAD_ID)

    def compute_output_shape(self, ids_shape):
        return tuple(ids_shape)

    def compute_output_spec(self, ids):
        return keras.KerasTensor(ids.shape, dtype="bool")
