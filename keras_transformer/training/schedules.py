"""Inverse-square-root learning-rate schedule with linear warm-up."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_transformer")
class InverseSqrtSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`peak * min(step / warmup, sqrt(warmup / step))` (Vaswani et al. 2017, rescaled).

    The rate rises linearly to `peak_learning_rate` at `warmup_steps`, then
    decays as the inverse square root of the step.

    Args:
        peak_learning_rate: rate reached at the end of warm-up.
        warmup_steps: length of the linear warm-up; 0 starts at the peak.

    Example:
    >>> schedule = InverseSqrtSchedule(1e-3, warmup_steps=100)
    >>> float(schedule(100))
    0.001
    """

    def __init__(self, peak_learning_rate, warmup_steps):
        if peak_learning_rate <= 0:
            raise ValueError(f"peak_learning_rate must be positive, got {peak_learning_rate}")
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be non-negative, got {warmup_steps}")
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = ops.maximum(ops.cast(step, "float32") + 1.0, 1.0)
        warmup = float(max(self.warmup_steps, 1))
        factor = ops.minimum(step / warmup, ops.sqrt(warmup / step))
        return self.peak_learning_rate * factor

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate,
                "warmup_steps": self.warmup_steps}
