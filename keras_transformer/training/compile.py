"""One call to compile a model with the loss, metric and optimizer of a config."""

import keras

from keras_transformer.training.losses import MaskedAccuracy, MaskedSparseCrossEntropy
from keras_transformer.training.schedules import InverseSqrtSchedule


def make_optimizer(config):
    """Adam(W) with beta2 = 0.98 and the inverse-square-root schedule of `config`."""
    schedule = InverseSqrtSchedule(config.learning_rate, config.warmup_steps)
    kwargs = dict(learning_rate=schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9,
                  clipnorm=config.clipnorm)
    if config.weight_decay:
        return keras.optimizers.AdamW(weight_decay=config.weight_decay, **kwargs)
    return keras.optimizers.Adam(**kwargs)


def compile_model(model, config, **compile_kwargs):
    """Compiles `model` for teacher-forced training as `config` says.

    Example:
    >>> model = build_seq2seq_model(config)
    >>> compile_model(model, config)
    >>> model.fit(train_dataset, epochs=config.epochs)
    """
    model.compile(
        optimizer=make_optimizer(config),
        loss=MaskedSparseCrossEntropy(label_smoothing=config.label_smoothing),
        metrics=[MaskedAccuracy()],
        **compile_kwargs)
    return model
