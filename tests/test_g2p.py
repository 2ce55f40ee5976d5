"""G2P end to end: a small model trained for a few minutes on CMUdict pronounces new words."""

import os

import pytest

from keras_transformer.cli import _load_run_spec
from keras_transformer.runs import train_run
from keras_transformer.tasks import load_task_data
from keras_transformer.translator import Translator, evaluate_g2p

# Minutes of training on CMUdict: run with `pytest -m slow` (CI runs both suites).
pytestmark = pytest.mark.slow

DEMO_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "keras_transformer", "configs", "g2p_demo.yaml")


@pytest.fixture(scope="module")
def g2p_run(tmp_path_factory):
    run = str(tmp_path_factory.mktemp("g2p") / "run")
    # Two epochs (about 2,000 steps, 3 minutes on 2 quiet cores), not a time
    # budget: the result must not depend on how busy the machine is.
    config, data_config = _load_run_spec(DEMO_CONFIG, ["epochs=2"])
    train_run(config, data_config, run, verbose=0)
    return run, data_config


def test_small_g2p_model_is_far_better_than_chance(g2p_run):
    run, data_config = g2p_run
    translator = Translator.from_run(run)
    references = load_task_data(data_config).test_references
    result = evaluate_g2p(translator, references, limit=500)
    beam = evaluate_g2p(translator, references, limit=500, decoder="beam", beam_size=4)
    print(f"G2P after 2 epochs: greedy WER {result['wer']:.3f} PER {result['per']:.3f}; "
          f"beam 4 WER {beam['wer']:.3f} PER {beam['per']:.3f}")
    # Chance is a WER of ~100 % and a PER near 100 %; two epochs get most
    # phonemes right (measured: WER ~0.6, PER ~0.17).
    assert result["wer"] < 0.72
    assert result["per"] < 0.22
    assert beam["wer"] < result["wer"] + 0.05
    assert translator.translate(["cat"]) == ["K AE T"]


def test_int8_tflite_pronounces_as_well_as_float32(g2p_run, tmp_path):
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from keras_transformer.data.pipeline import pad_sequences
    from keras_transformer.export.tflite import export_tflite_run
    from keras_transformer.metrics import wer_per

    run, data_config = g2p_run
    translator = Translator.from_run(run)
    references = load_task_data(data_config).test_references
    words = sorted(references)[:500]
    batch = pad_sequences(translator.encode(words, truncate=True))
    wer = {}
    for quantization in ("none", "int8"):
        path = export_tflite_run(run, str(tmp_path / quantization), quantization=quantization)[0]
        runner = Interpreter(model_path=path).get_signature_runner("serving_ids")
        outputs = runner(source_ids=batch)["output_ids"]
        if quantization == "none":
            np.testing.assert_array_equal(outputs, translator.generator.greedy(batch).numpy())
        texts = [translator.target_vocab.decode(row) for row in outputs]
        wer[quantization] = wer_per(texts, [references[w] for w in words])[0]
    print(f"G2P after 2 epochs, 500 test words: WER fp32 {wer['none']:.4f}, "
          f"int8 {wer['int8']:.4f}")
    assert abs(wer["int8"] - wer["none"]) <= 0.01
