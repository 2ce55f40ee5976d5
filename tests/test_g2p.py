"""G2P end to end: a small model trained for a few minutes on CMUdict pronounces new words."""

import os

import pytest

from keras_transformer.cli import _load_run_spec, _time_budget_callback
from keras_transformer.runs import train_run
from keras_transformer.tasks import load_task_data
from keras_transformer.translator import Translator, evaluate_g2p

DEMO_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "keras_transformer", "configs", "g2p_demo.yaml")


@pytest.fixture(scope="module")
def g2p_run(tmp_path_factory):
    run = str(tmp_path_factory.mktemp("g2p") / "run")
    config, data_config = _load_run_spec(DEMO_CONFIG, [])
    train_run(config, data_config, run, verbose=0,
              extra_callbacks=[_time_budget_callback(2.5)])
    return run, data_config


def test_small_g2p_model_is_far_better_than_chance(g2p_run):
    run, data_config = g2p_run
    translator = Translator.from_run(run)
    references = load_task_data(data_config).test_references
    result = evaluate_g2p(translator, references, limit=500)
    print(f"G2P after ~2.5 minutes: WER {result['wer']:.3f}, PER {result['per']:.3f}")
    # Chance is a WER of ~100 % and a PER near 100 %; a few minutes of
    # training get most phonemes right.
    assert result["wer"] < 0.75
    assert result["per"] < 0.25
    assert translator.translate(["cat"]) == ["K AE T"]
    beam = evaluate_g2p(translator, references, limit=200, decoder="beam", beam_size=4)
    assert beam["wer"] < 0.75
