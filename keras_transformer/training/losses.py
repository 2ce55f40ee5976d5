"""Masked cross-entropy and token accuracy: padding (id 0) never counts."""

import keras
from keras import ops

PAD_ID = 0
EOS_ID = 2


@keras.saving.register_keras_serializable(package="keras_transformer")
class MaskedSparseCrossEntropy(keras.losses.Loss):
    """Sparse categorical cross-entropy from logits, averaged over non-pad labels.

    Under `tf.distribute`, each replica averages over its own tokens and
    Keras averages the replicas.

    Args:
        label_smoothing: mass spread uniformly over the vocabulary, in [0, 1).

    Example:
    >>> loss = MaskedSparseCrossEntropy(label_smoothing=0.1)
    >>> loss(keras.ops.array([[3, 0]]), keras.random.normal((1, 2, 5)))
    """

    def __init__(self, label_smoothing=0.0, name="masked_cross_entropy", **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name, reduction="sum_over_batch_size", **kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        logits = ops.cast(y_pred, "float32")
        log_probs = ops.log_softmax(logits, axis=-1)
        nll = -ops.squeeze(ops.take_along_axis(log_probs, ops.expand_dims(y_true, -1), axis=-1), -1)
        if self.label_smoothing:
            smooth = -ops.mean(log_probs, axis=-1)
            nll = (1.0 - self.label_smoothing) * nll + self.label_smoothing * smooth
        mask = ops.cast(ops.not_equal(y_true, PAD_ID), "float32")
        # The mean over real tokens of the batch (long sequences weigh by their
        # tokens), returned per position and rescaled so that Keras'
        # "sum_over_batch_size" reduction yields it. Going through that
        # reduction lets Keras scale the loss for tf.distribute replicas.
        positions = ops.cast(ops.size(mask), "float32")
        return nll * mask * (positions / ops.maximum(ops.sum(mask), 1.0))

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        config["label_smoothing"] = self.label_smoothing
        return config


@keras.saving.register_keras_serializable(package="keras_transformer")
class MaskedAccuracy(keras.metrics.Metric):
    """Fraction of non-pad target tokens whose argmax logit is right.

    Example:
    >>> metric = MaskedAccuracy()
    >>> metric.update_state(keras.ops.array([[1, 0]]), keras.random.normal((1, 2, 4)))
    """

    def __init__(self, name="token_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable((), initializer="zeros", name="correct")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        mask = ops.cast(ops.not_equal(y_true, PAD_ID), "float32")
        hits = ops.cast(ops.equal(predicted, y_true), "float32") * mask
        self.correct.assign_add(ops.sum(hits))
        self.count.assign_add(ops.sum(mask))

    def result(self):
        return self.correct / ops.maximum(self.count, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.count.assign(0.0)


@keras.saving.register_keras_serializable(package="keras_transformer")
class CTCLoss(keras.losses.Loss):
    """CTC loss per target token, with id 0 (PAD) as the blank.

    Labels are the usual `target + EOS` rows (0-padded); EOS is dropped, as a
    CTC decoder ends where its frames end. Frames past a source's length must
    be forced to blank (`ForceBlank` does it in `build_ctc_model`), so the
    loss can run over the padded length.

    Example:
    >>> loss = CTCLoss()
    >>> loss(keras.ops.array([[5, 6, 2]]), keras.random.normal((1, 6, 8)))
    """

    def __init__(self, name="ctc", **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name, reduction="sum_over_batch_size", **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        target = ops.where(ops.equal(y_true, EOS_ID), PAD_ID, y_true)
        target_length = ops.sum(ops.cast(ops.not_equal(target, PAD_ID), "int32"), axis=1)
        logits = ops.cast(y_pred, "float32")
        batch = ops.shape(logits)[0]
        frames = ops.full((batch,), ops.shape(logits)[1], dtype="int32")
        losses = ops.ctc_loss(target, logits, target_length, frames, mask_index=PAD_ID)
        # Per-token mean over the batch, through Keras' reduction (see
        # MaskedSparseCrossEntropy for why).
        tokens = ops.maximum(ops.sum(ops.cast(target_length, "float32")), 1.0)
        return losses * (ops.cast(batch, "float32") / tokens)

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        return config
