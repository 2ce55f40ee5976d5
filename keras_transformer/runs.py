"""Training runs on disk: config, vocabularies, a checkpoint per epoch, resumable.

A run directory holds::

    run.yaml            TransformerConfig fields plus the `data:` mapping
    source_vocab.json   target_vocab.json
    checkpoint.keras    the model (with optimizer state) after the last epoch
    state.json          {"epoch": n} of that checkpoint
    history.csv         per-epoch loss, accuracy, learning rate
    epochs/             epoch_NNN.weights.h5 of the last epochs, when asked
                        (`keep_checkpoints`), for checkpoint averaging
    tensorboard/        when asked
"""

import json
import os
import time

from keras_transformer.config import ConfigError, TransformerConfig, load_mapping
from keras_transformer.tasks import DataConfig

RUN_CONFIG = "run.yaml"
CHECKPOINT = "checkpoint.keras"
STATE = "state.json"


# Fields that shape the model's weights; a resumed run must keep them.
MODEL_FIELDS = ("source_vocab_size", "target_vocab_size", "d_model", "num_heads",
                "num_encoder_layers", "num_decoder_layers", "ff_dim", "encoder_mixer",
                "conv_kernel_size", "rnn_cell", "position_encoding", "max_source_length",
                "max_target_length", "tie_output_embedding", "share_embeddings", "norm_position",
                "activation", "model_type", "nat_decoder_input", "length_prediction",
                "max_length_offset", "ctc_upsample")


class RunError(RuntimeError):
    """A missing or corrupt run directory or checkpoint."""


def split_run_mapping(values):
    """A run mapping -> `(TransformerConfig, DataConfig)`."""
    values = dict(values)
    data = DataConfig.from_dict(values.pop("data", {}))
    return TransformerConfig.from_dict(values), data


def save_run_config(run_dir, config, data_config):
    import yaml

    with open(os.path.join(run_dir, RUN_CONFIG), "w", encoding="utf-8") as f:
        yaml.safe_dump({**config.to_dict(), "data": data_config.to_dict()}, f, sort_keys=False)


def load_run(run_dir, compile=False):
    """Loads `(model, config, data_config, source_vocab, target_vocab)` from a run.

    Raises:
        RunError: the directory, its config, vocabularies or checkpoint are
            missing or unreadable.
    """
    import keras

    from keras_transformer.text import load_vocabulary

    if not os.path.isdir(run_dir):
        raise RunError(f"run directory not found: {run_dir}")
    try:
        config, data_config = split_run_mapping(load_mapping(os.path.join(run_dir, RUN_CONFIG)))
        source_vocab = load_vocabulary(os.path.join(run_dir, "source_vocab.json"))
        target_vocab = load_vocabulary(os.path.join(run_dir, "target_vocab.json"))
    except (ConfigError, FileNotFoundError, ValueError) as error:
        raise RunError(f"cannot read run {run_dir}: {error}") from None
    path = os.path.join(run_dir, CHECKPOINT)
    if not os.path.exists(path):
        raise RunError(f"no checkpoint in {run_dir} (train it first)")
    import keras_transformer.layers  # noqa: F401  (registers our layers)
    import keras_transformer.training  # noqa: F401
    from keras_transformer.models.seq2seq import dtype_policy_scope

    try:
        # Sublayers made in `__init__` take the global policy, so load under
        # the run's policy: a resumed bf16 run keeps training in bf16.
        with dtype_policy_scope(config.dtype_policy):
            model = keras.models.load_model(path, compile=compile)
    except Exception as error:  # zip, h5 and deserialisation errors vary
        raise RunError(f"corrupt checkpoint {path}: {type(error).__name__}: {error}") from None
    return model, config, data_config, source_vocab, target_vocab


EPOCHS_DIR = "epochs"


def epoch_weight_files(run_dir):
    """The run's kept per-epoch weight files, oldest first."""
    folder = os.path.join(run_dir, EPOCHS_DIR)
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                  if name.startswith("epoch_") and name.endswith(".weights.h5"))


def _epoch_checkpoint_callback(run_dir, keep_checkpoints=0):
    import keras

    class EpochCheckpoint(keras.callbacks.Callback):
        """Saves model + optimizer after every epoch, atomically, and the epoch number;
        with `keep_checkpoints`, also the weights of the last epochs (for averaging)."""

        def on_epoch_end(self, epoch, logs=None):
            tmp = os.path.join(run_dir, "checkpoint.tmp.keras")
            self.model.save(tmp)
            os.replace(tmp, os.path.join(run_dir, CHECKPOINT))
            if keep_checkpoints:
                folder = os.path.join(run_dir, EPOCHS_DIR)
                os.makedirs(folder, exist_ok=True)
                tmp = os.path.join(folder, "tmp.weights.h5")
                self.model.save_weights(tmp)
                os.replace(tmp, os.path.join(folder, f"epoch_{epoch + 1:03d}.weights.h5"))
                for old in epoch_weight_files(run_dir)[:-keep_checkpoints]:
                    os.remove(old)
            with open(os.path.join(run_dir, STATE), "w") as f:
                json.dump({"epoch": epoch + 1, "time": time.time(), "logs": {
                    k: float(v) for k, v in (logs or {}).items()}}, f)

    return EpochCheckpoint()


def _learning_rate_logger():
    import keras

    class LearningRateLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                lr = self.model.optimizer.learning_rate
                logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))

    return LearningRateLogger()


def _saved_epoch(run_dir):
    """The number of epochs a run has finished, from its state file."""
    if not os.path.isdir(run_dir):
        raise RunError(f"run directory not found: {run_dir}")
    try:
        with open(os.path.join(run_dir, STATE)) as f:
            state = json.load(f)
    except FileNotFoundError:
        raise RunError(f"nothing to resume in {run_dir}: no {STATE}") from None
    except ValueError as error:
        raise RunError(f"corrupt {os.path.join(run_dir, STATE)}: {error}") from None
    if "averaged_from" in state:
        raise RunError(f"{run_dir} holds averaged weights without optimizer state; "
                       "resume the run it was averaged from")
    return int(state["epoch"])


def _count_batches(dataset):
    """Batches in one pass over `dataset` (bucketing makes it unknown in advance)."""
    count = 0
    for _ in dataset:
        count += 1
    return count


def train_run(config, data_config, run_dir, resume=False, tensorboard=False, verbose=1,
              strategy=None, extra_callbacks=(), keep_checkpoints=0, init_from=None):
    """Trains (or resumes) a run with `model.fit`; returns the Keras `History`.

    Args:
        config: `TransformerConfig` (vocabulary sizes are set from the data).
        data_config: `DataConfig`.
        run_dir: directory for the run's files.
        resume: continue from `run_dir`'s last checkpoint and epoch.
        tensorboard: also write TensorBoard logs under `run_dir/tensorboard`.
        verbose: Keras progress-bar verbosity.
        strategy: optional `tf.distribute.Strategy`.
        extra_callbacks: more Keras callbacks (e.g. a time budget).
        keep_checkpoints: also keep the weights of the last N epochs in
            `run_dir/epochs/`, for `average_checkpoints`.
        init_from: a trained run whose matching layers (same name and
            shapes, e.g. an AT teacher's encoder for a NAT student) start
            this new run; the vocabularies must be the same. Recorded in
            `run_dir/init_from.json`.
    """
    import keras

    from keras_transformer.data.pipeline import make_dataset
    from keras_transformer.models import build_model
    from keras_transformer.tasks import build_vocabularies, load_task_data
    from keras_transformer.training import compile_model
    from keras_transformer.training.compile import make_schedule

    if config.dtype_policy == "bfloat16":
        raise ConfigError("dtype_policy 'bfloat16' (bf16 weights) is for exported models; "
                          "train with 'mixed_bfloat16'")
    if isinstance(keep_checkpoints, bool) or not isinstance(keep_checkpoints, int) \
            or keep_checkpoints < 0:
        raise ConfigError(f"keep_checkpoints must be a non-negative integer, "
                          f"got {keep_checkpoints!r}")
    if init_from and resume:
        raise RunError("--init-from starts a new run; a resumed run continues from its own "
                       "checkpoint")
    if init_from and not os.path.isdir(init_from):
        raise RunError(f"--init-from: run directory not found: {init_from}")
    initial_epoch = _saved_epoch(run_dir) if resume else 0
    # A resumed run continues with fresh randomness (shuffle order, dropout
    # masks) rather than replaying those of its first epochs.
    seed = config.seed + initial_epoch
    keras.utils.set_random_seed(seed)
    data_config = data_config.with_absolute_paths()
    data = load_task_data(data_config)
    if resume:
        model, saved, _, source_vocab, target_vocab = load_run(run_dir, compile=True)
        # Training knobs may change on resume (more epochs); the model may not.
        config = config.replace(source_vocab_size=source_vocab.size,
                                target_vocab_size=target_vocab.size)
        changed = [name for name in MODEL_FIELDS
                   if getattr(config, name) != getattr(saved, name)]
        if changed:
            raise RunError(
                f"cannot resume {run_dir} with another model: {changed[0]} is "
                f"{getattr(saved, changed[0])!r} in the run, {getattr(config, changed[0])!r} now")
        save_run_config(run_dir, config, data_config)
        if config.model_type == "nat" and config.nat_training == "glat":
            model.glancing_ratio = float(config.glancing_ratio)  # not saved with the model
    else:
        if os.path.exists(os.path.join(run_dir, CHECKPOINT)):
            raise RunError(
                f"{run_dir} already holds a trained run: pass --resume or another directory")
        os.makedirs(run_dir, exist_ok=True)
        source_vocab, target_vocab = build_vocabularies(data_config, data.train)
        source_vocab.save(os.path.join(run_dir, "source_vocab.json"))
        target_vocab.save(os.path.join(run_dir, "target_vocab.json"))
        config = config.replace(source_vocab_size=source_vocab.size,
                                target_vocab_size=target_vocab.size)
        save_run_config(run_dir, config, data_config)
        if strategy is not None:
            with strategy.scope():
                model = compile_model(build_model(config), config)
        else:
            model = compile_model(build_model(config), config)
        if init_from:
            from keras_transformer.warm_start import warm_start

            copied = warm_start(model, run_dir, init_from, source_vocab, target_vocab)
            if verbose:
                print(f"initialised {', '.join(copied)} from {init_from}")

    def dataset(pairs, shuffle):
        # Validation keeps the config's seed, so its figures compare across resumes.
        data_seed = seed if shuffle else config.seed
        pair_filter = None
        if config.model_type == "ctc":
            from keras_transformer.data.nat_pipeline import ctc_pair_filter

            pair_filter = ctc_pair_filter(config)
        batches = make_dataset([s for s, _ in pairs], [t for _, t in pairs], source_vocab,
                               target_vocab, config.batch_size,
                               max_source_length=config.max_source_length,
                               max_target_length=config.max_target_length,
                               shuffle=shuffle, seed=data_seed, pair_filter=pair_filter)
        if config.model_type == "at":
            return batches
        from keras_transformer.data.nat_pipeline import nat_batches

        return nat_batches(batches, config, training=shuffle, seed=data_seed)

    train_ds = dataset(data.train, True)
    if resume or config.cooldown_epochs:
        # The schedule follows the config, not the checkpoint: a resumed run
        # may change its peak rate, warm-up or cool-down.
        steps = None
        if config.cooldown_epochs:
            # Bucketing makes the batch count unknown to Keras; declaring it
            # also keeps Keras from spending an optimizer step on the probe
            # that finds the end of each epoch, so the count is exact.
            steps = _count_batches(train_ds)
            import tensorflow as tf

            train_ds = train_ds.apply(tf.data.experimental.assert_cardinality(steps))
        model.optimizer.learning_rate = make_schedule(
            config, steps, start_step=int(model.optimizer.iterations.numpy()),
            start_epoch=initial_epoch)
    dev_ds = dataset(data.dev, False) if data.dev else None
    callbacks = [_learning_rate_logger(), _epoch_checkpoint_callback(run_dir, keep_checkpoints),
                 keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=resume)]
    callbacks.extend(extra_callbacks)
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard")))
    if initial_epoch >= config.epochs:
        return None
    return model.fit(train_ds, validation_data=dev_ds, epochs=config.epochs,
                     initial_epoch=initial_epoch, callbacks=callbacks, verbose=verbose)
