"""One call to compile a model with the loss, metric and optimizer of a config."""

import keras

from keras_transformer.training.losses import CTCLoss, MaskedAccuracy, MaskedSparseCrossEntropy
from keras_transformer.training.schedules import InverseSqrtSchedule


def make_schedule(config, steps_per_epoch=None, start_step=0, start_epoch=0):
    """The learning-rate schedule of `config`.

    Args:
        config: `TransformerConfig`.
        steps_per_epoch: batches in one epoch, which places the cool-down of
            `config.cooldown_epochs` at the end of `config.epochs`; without
            it the schedule has no cool-down (`train_run` counts the batches
            and sets the full schedule before `fit`).
        start_step, start_epoch: the optimizer's step count at the start of
            epoch `start_epoch` (a resumed run), so the cool-down is placed
            from where training stands rather than from step 0.
    """
    if not config.cooldown_epochs or not steps_per_epoch:
        return InverseSqrtSchedule(config.learning_rate, config.warmup_steps)
    start = start_step + (config.epochs - config.cooldown_epochs - start_epoch) * steps_per_epoch
    return InverseSqrtSchedule(config.learning_rate, config.warmup_steps,
                               cooldown_start=max(start, 0),
                               cooldown_steps=config.cooldown_epochs * steps_per_epoch)


def make_optimizer(config, steps_per_epoch=None):
    """Adam(W) with beta2 = 0.98 and the learning-rate schedule of `config`."""
    schedule = make_schedule(config, steps_per_epoch)
    kwargs = dict(learning_rate=schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9,
                  clipnorm=config.clipnorm)
    if config.weight_decay:
        return keras.optimizers.AdamW(weight_decay=config.weight_decay, **kwargs)
    return keras.optimizers.Adam(**kwargs)


def compile_model(model, config, **compile_kwargs):
    """Compiles `model` for training as `config` says (AT, NAT or CTC).

    AT: masked label-smoothed cross-entropy and token accuracy. NAT: the same
    on the `logits` output plus `length_loss_weight` times the length
    classifier's cross-entropy (with its accuracy); GLAT switches on glancing.
    CTC: the CTC loss.

    Example:
    >>> model = build_seq2seq_model(config)
    >>> compile_model(model, config)
    >>> model.fit(train_dataset, epochs=config.epochs)
    """
    if config.model_type == "nat":
        return _compile_nat(model, config, **compile_kwargs)
    if config.model_type == "ctc":
        model.compile(optimizer=make_optimizer(config), loss={"logits": CTCLoss()},
                      **compile_kwargs)
        return model
    model.compile(
        optimizer=make_optimizer(config),
        loss=MaskedSparseCrossEntropy(label_smoothing=config.label_smoothing),
        metrics=[MaskedAccuracy()],
        **compile_kwargs)
    return model


def _compile_nat(model, config, **compile_kwargs):
    token_loss = MaskedSparseCrossEntropy(label_smoothing=config.label_smoothing)
    loss, metrics, weights = {"logits": token_loss}, {"logits": [MaskedAccuracy()]}, None
    if config.length_prediction != "none":
        loss["length_logits"] = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics["length_logits"] = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        weights = {"logits": 1.0, "length_logits": config.length_loss_weight}
    if config.nat_training == "glat":
        model.glancing_ratio = float(config.glancing_ratio)
    model.compile(optimizer=make_optimizer(config), loss=loss, loss_weights=weights,
                  metrics=metrics, **compile_kwargs)
    return model
