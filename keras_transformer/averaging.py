"""Checkpoint averaging: the mean of the weights of a run's last epochs.

Averaging the parameters of the last few epochs (Vaswani et al. 2017 average
the last 5-20 checkpoints; fairseq ships `average_checkpoints.py`) smooths
the noise of the final updates and usually gains a little accuracy for free.
Keras has no such tool, so we write the few lines it takes: every file is
loaded into the same float32 model and the weights are averaged in float64.
"""

import json
import os
import shutil


def average_weights(weight_lists):
    """Element-wise mean of several `model.get_weights()` lists (float64 sums)."""
    import numpy as np

    if not weight_lists:
        raise ValueError("nothing to average")
    shapes = [w.shape for w in weight_lists[0]]
    for weights in weight_lists[1:]:
        if [w.shape for w in weights] != shapes:
            raise ValueError("checkpoints of different models cannot be averaged")
    return [(sum(np.asarray(ws[i], np.float64) for ws in weight_lists) / len(weight_lists))
            .astype(weight_lists[0][i].dtype) for i in range(len(shapes))]


def average_checkpoints(run_dir, output_dir, paths=None, last=5):
    """Writes a new run whose model is the average of several checkpoints of `run_dir`.

    Args:
        run_dir: a trained run.
        output_dir: the new run directory (config, vocabularies and history
            are copied; the checkpoint holds the averaged model, without
            optimizer state, so it evaluates, translates and exports but does
            not resume).
        paths: checkpoint files to average: `.weights.h5` (kept with
            `train --keep-checkpoints N`) or `.keras`; default: the run's
            `last` kept epoch files.
        last: how many kept epochs to average when `paths` is not given.

    Returns:
        The list of files averaged.

    Example:
    >>> average_checkpoints("runs/g2p", "runs/g2p_avg5", last=5)
    """
    import keras

    from keras_transformer.models import build_model
    from keras_transformer.runs import (CHECKPOINT, STATE, RunError, epoch_weight_files,
                                        load_run, save_run_config)

    _, config, data_config, _, _ = load_run(run_dir)  # checks the run is complete
    if paths is None:
        if not isinstance(last, int) or last < 1:
            raise ValueError(f"last must be a positive integer, got {last!r}")
        paths = epoch_weight_files(run_dir)[-last:]
        if not paths:
            raise RunError(f"{run_dir} kept no epoch weights: train it with "
                           "--keep-checkpoints N, or name checkpoint files")
    paths = [os.fspath(p) for p in paths]
    if os.path.abspath(output_dir) == os.path.abspath(run_dir):
        raise ValueError("write the averaged model to a new run directory")
    if os.path.exists(os.path.join(output_dir, CHECKPOINT)):
        raise RunError(f"{output_dir} already holds a trained run")
    float_config = config.replace(dtype_policy="float32")
    model = build_model(float_config)
    weight_lists = []
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"checkpoint not found: {path}")
        try:
            if path.endswith(".weights.h5"):
                model.load_weights(path)
                weight_lists.append(model.get_weights())
            else:
                weight_lists.append(keras.models.load_model(path, compile=False).get_weights())
        except Exception as error:  # h5/zip/shape errors vary
            raise RunError(f"cannot read checkpoint {path}: {type(error).__name__}: "
                           f"{error}") from None
    model.set_weights(average_weights(weight_lists))

    os.makedirs(output_dir, exist_ok=True)
    for name in ("source_vocab.json", "target_vocab.json", "history.csv"):
        if os.path.exists(os.path.join(run_dir, name)):
            shutil.copy(os.path.join(run_dir, name), os.path.join(output_dir, name))
    # The averaged model is float32; its config says so, or loading would
    # rebuild it under the training policy.
    save_run_config(output_dir, float_config, data_config)
    model.save(os.path.join(output_dir, CHECKPOINT))
    with open(os.path.join(run_dir, STATE)) as f:
        epoch = json.load(f).get("epoch", 0)
    with open(os.path.join(output_dir, STATE), "w") as f:
        json.dump({"epoch": epoch, "averaged_from": [os.path.abspath(p) for p in paths]}, f)
    return paths


__all__ = ["average_checkpoints", "average_weights"]
