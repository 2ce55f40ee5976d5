"""A run's learning-rate cool-down: placed at the end of the run, added on resume."""

import csv
import os

import pytest
from conftest import tiny_config

from keras_transformer.runs import load_run, train_run
from keras_transformer.tasks import DataConfig
from keras_transformer.training.schedules import InverseSqrtSchedule

WORDS = "CAT  K AE T\nBAT  B AE T\nTAB  T AE B\nACT  AE K T\nTACK  T AE K\nBACK  B AE K\n"


def logged_rates(run):
    with open(os.path.join(run, "history.csv")) as f:
        return [float(row["learning_rate"]) for row in csv.DictReader(f)]


def optimizer_steps(run):
    model = load_run(run, compile=True)[0]
    return int(model.optimizer.iterations.numpy())


@pytest.fixture()
def tiny_setup(tmp_path):
    dictionary = tmp_path / "tiny.dict"
    dictionary.write_text(WORDS * 20)
    data = DataConfig(task="g2p", train=str(dictionary), test=str(dictionary), dev_fraction=0.0)
    config = tiny_config(d_model=16, num_heads=2, ff_dim=32, num_encoder_layers=1,
                         num_decoder_layers=1, batch_size=4, learning_rate=5e-3,
                         warmup_steps=2, max_source_length=12, max_target_length=12)
    return tmp_path, config, data


def test_a_run_with_a_cooldown_ends_at_a_zero_learning_rate(tiny_setup):
    root, config, data = tiny_setup
    run = str(root / "cooled")
    train_run(config.replace(epochs=3, cooldown_epochs=2), data, run, verbose=0)
    steps = optimizer_steps(run) // 3  # batches per epoch, counted exactly
    assert steps >= 2
    plain = InverseSqrtSchedule(5e-3, 2)
    rates = logged_rates(run)
    assert rates[0] == pytest.approx(float(plain(steps)))  # before the cool-down
    assert rates[1] == pytest.approx(float(plain(2 * steps)) / 2, rel=1e-4)  # halfway
    assert rates[2] == 0.0


def test_resume_follows_the_new_schedule(tiny_setup):
    root, config, data = tiny_setup
    run = str(root / "run")
    train_run(config.replace(epochs=2), data, run, verbose=0)
    assert logged_rates(run)[-1] > 0
    # More epochs, now ending with a cool-down: the saved optimizer's schedule
    # gives way to the config's, placed from the step training stands at.
    before = optimizer_steps(run)
    train_run(config.replace(epochs=4, cooldown_epochs=1), data, run, resume=True, verbose=0)
    steps = (optimizer_steps(run) - before) // 2
    rates = logged_rates(run)
    assert len(rates) == 4 and rates[3] == 0.0
    assert rates[2] == pytest.approx(float(InverseSqrtSchedule(5e-3, 2)(before + steps)))
    # A new peak rate on resume takes effect too.
    before = optimizer_steps(run)
    train_run(config.replace(epochs=5, learning_rate=1e-2), data, run, resume=True, verbose=0)
    after = optimizer_steps(run)
    assert after > before
    assert logged_rates(run)[4] == pytest.approx(float(InverseSqrtSchedule(1e-2, 2)(after)))
