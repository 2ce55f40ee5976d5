"""Layers that non-autoregressive (NAT) decoders need beside the shared blocks.

- `LengthPredictor`: classifies the output length from mean-pooled encoder states.
- `UniformCopy`: copies source embeddings onto target positions uniformly
  (Gu et al. 2018), a better NAT decoder input than a bare mask embedding.
- `CTCUpsample`: stretches encoder states to `k` positions per source token
  for a length-free CTC decoder (Libovický & Helcl 2018).
- `ForceBlank`: makes padded CTC frames certain blanks, so the CTC loss over
  the padded length equals the loss over each sequence's own length.
"""

import keras
from keras import ops

from keras_transformer.layers.embedding import sinusoidal_positions


@keras.saving.register_keras_serializable(package="keras_transformer")
class LengthPredictor(keras.layers.Layer):
    """Length classifier over mean-pooled (non-pad) encoder states.

    Args:
        num_classes: number of length classes (absolute lengths or offsets;
            the mapping lives in `keras_transformer.models.nat`).

    Call args:
        encoder_outputs: `[batch, source_len, d_model]`.
        padding_mask: `[batch, source_len]` bool, True on real tokens.

    Returns:
        float32 logits `[batch, num_classes]`.

    Example:
    >>> layer = LengthPredictor(33)
    >>> layer(keras.ops.ones((2, 7, 16)), keras.ops.ones((2, 7), "bool")).shape
    (2, 33)
    """

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        self.num_classes = num_classes
        # float32 logits even under mixed precision: the softmax is tiny.
        self.classifier = keras.layers.Dense(num_classes, dtype="float32", name="classifier")

    def build(self, encoder_outputs_shape, padding_mask_shape=None):
        self.classifier.build((encoder_outputs_shape[0], encoder_outputs_shape[-1]))
        self.built = True

    def call(self, encoder_outputs, padding_mask):
        weights = ops.cast(ops.expand_dims(padding_mask, -1), encoder_outputs.dtype)
        total = ops.sum(encoder_outputs * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), ops.cast(1.0, weights.dtype))
        return self.classifier(ops.cast(total / count, "float32"))

    def compute_output_shape(self, encoder_outputs_shape, padding_mask_shape=None):
        return (encoder_outputs_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config["num_classes"] = self.num_classes
        return config


@keras.saving.register_keras_serializable(package="keras_transformer")
class UniformCopy(keras.layers.Layer):
    """Copies source embeddings to target positions: target `j` of `T` reads
    source `floor(j * S / T)` of `S` (both counted without padding).

    Args:
        copy_id: copy only onto target positions holding this id (the mask
            id, so revealed tokens keep their own embedding); `None` copies
            onto every non-pad position.

    Call args:
        source_embeddings: `[batch, source_len, d]`.
        source_mask: `[batch, source_len]` bool.
        target_ids: `[batch, target_len]` decoder input ids (0 = padding).

    Returns:
        `[batch, target_len, d]`, zeros on padded target positions.

    Example:
    >>> copy = UniformCopy()
    >>> source = keras.ops.reshape(keras.ops.arange(8.0), (1, 4, 2))
    >>> copy(source, keras.ops.ones((1, 4), "bool"), keras.ops.ones((1, 2), "int32"))
    """

    def __init__(self, copy_id=None, **kwargs):
        super().__init__(**kwargs)
        self.copy_id = copy_id

    def call(self, source_embeddings, source_mask, target_ids):
        source_len = ops.sum(ops.cast(source_mask, "int32"), axis=1, keepdims=True)
        target_valid = ops.not_equal(target_ids, 0)
        target_len = ops.sum(ops.cast(target_valid, "int32"), axis=1, keepdims=True)
        positions = ops.expand_dims(ops.arange(ops.shape(target_ids)[1], dtype="int32"), 0)
        index = (positions * source_len) // ops.maximum(target_len, 1)
        index = ops.clip(index, 0, ops.maximum(source_len - 1, 0))
        copied = ops.take_along_axis(source_embeddings, ops.expand_dims(index, -1), axis=1)
        keep = target_valid if self.copy_id is None else ops.equal(target_ids, self.copy_id)
        return copied * ops.cast(ops.expand_dims(keep, -1), copied.dtype)

    def compute_output_shape(self, source_embeddings_shape, source_mask_shape, target_ids_shape):
        return (target_ids_shape[0], target_ids_shape[1], source_embeddings_shape[-1])

    def get_config(self):
        config = super().get_config()
        config["copy_id"] = self.copy_id
        return config


@keras.saving.register_keras_serializable(package="keras_transformer")
class CTCUpsample(keras.layers.Layer):
    """Projects each encoder state to `factor` states and adds positions.

    Args:
        factor: output positions per source position (>= 1).
        d_model: state width.

    Call args:
        encoder_outputs: `[batch, source_len, d_model]`.
        padding_mask: `[batch, source_len]` bool.

    Returns:
        `(states [batch, factor * source_len, d_model], mask [batch, factor * source_len])`.

    Example:
    >>> states, mask = CTCUpsample(3, 16)(keras.ops.ones((2, 5, 16)),
    ...                                   keras.ops.ones((2, 5), "bool"))
    >>> states.shape
    (2, 15, 16)
    """

    def __init__(self, factor, d_model, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(factor, int) or factor < 1:
            raise ValueError(f"factor must be a positive int, got {factor!r}")
        self.factor = factor
        self.d_model = d_model
        self.projection = keras.layers.Dense(factor * d_model, name="projection")

    def build(self, encoder_outputs_shape, padding_mask_shape=None):
        self.projection.build(encoder_outputs_shape)
        self.built = True

    def call(self, encoder_outputs, padding_mask):
        batch = ops.shape(encoder_outputs)[0]
        length = ops.shape(encoder_outputs)[1] * self.factor
        states = ops.reshape(self.projection(encoder_outputs), (batch, length, self.d_model))
        positions = sinusoidal_positions(ops.arange(length, dtype="int32"), self.d_model)
        states = states + ops.cast(ops.expand_dims(positions, 0), states.dtype)
        return states, ops.repeat(padding_mask, self.factor, axis=1)

    def compute_output_shape(self, encoder_outputs_shape, padding_mask_shape=None):
        length = encoder_outputs_shape[1]
        length = None if length is None else length * self.factor
        return (encoder_outputs_shape[0], length, self.d_model), (encoder_outputs_shape[0], length)

    def compute_output_spec(self, encoder_outputs, padding_mask):
        states_shape, mask_shape = self.compute_output_shape(encoder_outputs.shape)
        return (keras.KerasTensor(states_shape, dtype=self.compute_dtype),
                keras.KerasTensor(mask_shape, dtype="bool"))

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor, "d_model": self.d_model})
        return config


@keras.saving.register_keras_serializable(package="keras_transformer")
class ForceBlank(keras.layers.Layer):
    """Sets padded frames' logits to a certain blank (id `blank_id`).

    A padded frame then adds `log 1 = 0` to every CTC alignment, so the loss
    and the greedy decode over the padded length equal those over each
    sequence's own length: no output lengths need to travel with the logits.

    Example:
    >>> logits = ForceBlank()(keras.ops.zeros((1, 3, 5)),
    ...                       keras.ops.array([[True, True, False]]))
    """

    def __init__(self, blank_id=0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.blank_id = blank_id

    def call(self, logits, mask):
        logits = ops.cast(logits, "float32")
        vocab = ops.shape(logits)[-1]
        blank = ops.where(ops.equal(ops.arange(vocab), self.blank_id), 0.0, -1e4)
        return ops.where(ops.expand_dims(mask, -1), logits, ops.cast(blank, "float32"))

    def compute_output_shape(self, logits_shape, mask_shape=None):
        return tuple(logits_shape)

    def get_config(self):
        config = super().get_config()
        config["blank_id"] = self.blank_id
        return config
