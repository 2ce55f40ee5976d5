"""Keras callbacks for training runs."""

import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stops `model.fit` after the batch that crosses a wall-clock budget.

    Args:
        minutes: training time allowed, counted from the start of `fit`.

    Example:
    >>> model.fit(dataset, epochs=100, callbacks=[TimeBudget(minutes=5)])
    """

    def __init__(self, minutes):
        super().__init__()
        if minutes <= 0:
            raise ValueError(f"minutes must be positive, got {minutes}")
        self.minutes = minutes

    def on_train_begin(self, logs=None):
        self.start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if time.time() - self.start > self.minutes * 60:
            self.model.stop_training = True
