"""Losses, metrics, schedules and compile helpers for `model.fit`."""

from keras_transformer.training.callbacks import TimeBudget
from keras_transformer.training.compile import compile_model, make_optimizer
from keras_transformer.training.losses import CTCLoss, MaskedAccuracy, MaskedSparseCrossEntropy
from keras_transformer.training.schedules import InverseSqrtSchedule

__all__ = ["CTCLoss", "InverseSqrtSchedule", "TimeBudget", "MaskedAccuracy",
           "MaskedSparseCrossEntropy",
           "compile_model", "make_optimizer"]
