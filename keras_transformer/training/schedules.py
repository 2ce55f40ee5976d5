"""Inverse-square-root learning-rate schedule with linear warm-up and an optional cool-down."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_transformer")
class InverseSqrtSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`peak * min(step / warmup, sqrt(warmup / step))` (Vaswani et al. 2017, rescaled).

    The rate rises linearly to `peak_learning_rate` at `warmup_steps`, then
    decays as the inverse square root of the step. With `cooldown_steps`, it is
    also multiplied by a factor that falls linearly from 1 at `cooldown_start`
    to 0 at `cooldown_start + cooldown_steps` (and stays 0 after): ending a run
    with a short linear cool-down gains much of what longer training would,
    because the inverse square root alone never gets small.

    Args:
        peak_learning_rate: rate reached at the end of warm-up.
        warmup_steps: length of the linear warm-up; 0 starts at the peak.
        cooldown_start: step at which the cool-down begins.
        cooldown_steps: length of the cool-down; 0 (the default) has none.

    Example:
    >>> schedule = InverseSqrtSchedule(1e-3, warmup_steps=100)
    >>> float(schedule(100))
    0.001
    """

    def __init__(self, peak_learning_rate, warmup_steps, cooldown_start=0, cooldown_steps=0):
        if peak_learning_rate <= 0:
            raise ValueError(f"peak_learning_rate must be positive, got {peak_learning_rate}")
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be non-negative, got {warmup_steps}")
        if cooldown_start < 0 or cooldown_steps < 0:
            raise ValueError(f"cooldown_start and cooldown_steps must be non-negative, got "
                             f"{cooldown_start} and {cooldown_steps}")
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps
        self.cooldown_start = int(cooldown_start)
        self.cooldown_steps = int(cooldown_steps)

    def __call__(self, step):
        step = ops.maximum(ops.cast(step, "float32") + 1.0, 1.0)
        warmup = float(max(self.warmup_steps, 1))
        factor = ops.minimum(step / warmup, ops.sqrt(warmup / step))
        if self.cooldown_steps:
            remaining = float(self.cooldown_start + self.cooldown_steps) - (step - 1.0)
            factor = factor * ops.clip(remaining / float(self.cooldown_steps), 0.0, 1.0)
        return self.peak_learning_rate * factor

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate,
                "warmup_steps": self.warmup_steps,
                "cooldown_start": self.cooldown_start,
                "cooldown_steps": self.cooldown_steps}
