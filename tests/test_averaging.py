"""Checkpoint averaging: kept epoch weights, the averaged run, and its errors."""

import json
import os

import numpy as np
import pytest
from conftest import train_tiny_g2p_run

from keras_transformer.averaging import average_checkpoints, average_weights
from keras_transformer.runs import RunError, load_run, train_run

WORDS = "CAT  K AE T\nBAT  B AE T\nTAB  T AE B\nACT  AE K T\nTACK  T AE K\nBACK  B AE K\n"


@pytest.fixture(scope="module")
def run_with_epochs(tmp_path_factory):
    root = tmp_path_factory.mktemp("averaging")
    config, data, run = train_tiny_g2p_run(root, WORDS * 20, keep_checkpoints=3, batch_size=16,
                                           epochs=4, learning_rate=5e-3, warmup_steps=10)
    return root, config, data, run


def test_training_keeps_the_last_n_epoch_weights(run_with_epochs):
    _, _, _, run = run_with_epochs
    assert sorted(os.listdir(os.path.join(run, "epochs"))) == [
        "epoch_002.weights.h5", "epoch_003.weights.h5", "epoch_004.weights.h5"]


def test_averaged_run_holds_the_mean_of_the_kept_weights_and_translates(run_with_epochs):
    from keras_transformer.models import build_model
    from keras_transformer.translator import Translator

    root, _, _, run = run_with_epochs
    output = str(root / "avg")
    paths = average_checkpoints(run, output, last=2)
    assert [os.path.basename(p) for p in paths] == ["epoch_003.weights.h5",
                                                     "epoch_004.weights.h5"]
    averaged, config, _, _, _ = load_run(output)
    assert config.dtype_policy == "float32"
    model = build_model(config)
    expected = []
    for path in paths:
        model.load_weights(path)
        expected.append(model.get_weights())
    for got, a, b in zip(averaged.get_weights(), *expected):
        np.testing.assert_allclose(got, (a + b) / 2, rtol=1e-6, atol=1e-7)
    assert any(not np.allclose(a, b) for a, b in zip(*expected))  # epochs did differ
    outputs = Translator.from_run(output).translate(["cat", "tab"])
    assert all(isinstance(o, str) for o in outputs)
    state = json.load(open(os.path.join(output, "state.json")))
    assert len(state["averaged_from"]) == 2


def test_averaging_errors_are_clear(run_with_epochs, tmp_path):
    from keras_transformer.cli import main

    root, config, data, run = run_with_epochs
    average_checkpoints(run, str(tmp_path / "once"), last=1)
    with pytest.raises(RunError, match="already holds"):
        average_checkpoints(run, str(tmp_path / "once"), last=1)
    with pytest.raises(ValueError, match="new run directory"):
        average_checkpoints(run, run)
    with pytest.raises(FileNotFoundError, match="not found"):
        average_checkpoints(run, str(tmp_path / "a"), paths=[str(tmp_path / "nope.weights.h5")])
    plain = str(tmp_path / "plain")
    train_run(config.replace(epochs=1), data, plain, verbose=0)
    with pytest.raises(RunError, match="--keep-checkpoints"):
        average_checkpoints(plain, str(tmp_path / "b"))
    # An averaged run has no optimizer state: it refuses to resume.
    averaged = str(tmp_path / "c")
    average_checkpoints(run, averaged, last=2)
    with pytest.raises(RunError, match="averaged"):
        train_run(config.replace(epochs=6), data, averaged, resume=True, verbose=0)
    assert main(["average", "--run", plain, "--output", str(tmp_path / "d")]) == 2
    with pytest.raises(ValueError, match="different models"):
        average_weights([[np.zeros(3)], [np.zeros(4)]])
