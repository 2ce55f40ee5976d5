"""SavedModel and TFLite export: fresh-process parity, bad inputs, builtin-only files."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import tiny_config

from keras_transformer.data.pipeline import pad_sequences
from keras_transformer.export import ExportError, export_run
from keras_transformer.export.tflite import export_tflite_run
from keras_transformer.runs import train_run
from keras_transformer.tasks import DataConfig
from keras_transformer.translator import Translator

WORDS = ["cat", "", "pronunciation", "keras", "x", "TENSOR", "zebra's", "naïve", "a b",
         "supercalifragilisticexpialidocious-and-more"]

# Runs in a fresh interpreter in which importing our package fails, so the
# SavedModel must carry everything it needs.
FRESH = r'''
import json, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "keras_transformer":
            raise ImportError("keras_transformer must not be needed")
sys.meta_path.insert(0, Block())
import numpy as np, tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
words = json.loads(sys.argv[2])
ids = tf.constant(json.loads(sys.argv[3]), tf.int32)
out = {}
for name, fn in model.signatures.items():
    kwargs = {"source_ids": ids} if name.endswith("_ids") else {"text": tf.constant(words)}
    if "sample" in name:
        kwargs.update(seed=tf.constant(3), temperature=tf.constant(0.8))
    out[name] = {k: v.numpy().tolist() for k, v in fn(**kwargs).items()}
print("RESULT" + json.dumps(out, default=lambda b: b.decode("utf-8")))
assert "keras_transformer" not in sys.modules
'''


def trained_run(root, name, **overrides):
    config = tiny_config(max_source_length=16, max_target_length=24, decode_length_a=3,
                         decode_length_b=1.5, batch_size=64, epochs=2, learning_rate=3e-3,
                         warmup_steps=50, **overrides)
    data = DataConfig(task="g2p", train="package", max_train_pairs=3000, dev_fraction=0.0)
    run = str(root / name)
    train_run(config, data, run, verbose=0)
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    return {"at": trained_run(root, "at"), "nat": trained_run(root, "nat", model_type="nat"),
            "root": root}


def fresh_process_outputs(path, words, ids):
    result = subprocess.run([sys.executable, "-c", FRESH, path, json.dumps(words),
                             json.dumps(ids.tolist())],
                            capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def test_at_saved_model_matches_in_process_decoding_in_a_fresh_process(runs):
    path = str(runs["root"] / "sm_at")
    names = export_run(runs["at"], path, beam_size=3)
    assert {"serving_default", "translate_greedy", "translate_beam", "translate_sample",
            "translate_greedy_ids", "translate_beam_ids", "translate_sample_ids"} <= set(names)
    translator = Translator.from_run(runs["at"])
    words = WORDS + ["word%d" % i for i in range(20)]
    ids = pad_sequences(translator.encode(words[2:], truncate=True))
    out = fresh_process_outputs(path, words, ids)
    generator = translator.generator
    np.testing.assert_array_equal(out["translate_greedy_ids"]["output_ids"],
                                  generator.greedy(ids).numpy())
    sequences, scores = generator.beam_search(ids, 3)
    np.testing.assert_array_equal(out["translate_beam_ids"]["output_ids"], sequences.numpy())
    np.testing.assert_allclose(out["translate_beam_ids"]["scores"], scores.numpy(), rtol=1e-4)
    np.testing.assert_array_equal(out["translate_sample_ids"]["output_ids"],
                                  generator.sample(ids, seed=3, temperature=0.8).numpy())
    greedy = translator.translate(words, truncate=True)
    assert out["translate_greedy"]["output"] == greedy
    assert out["serving_default"]["output"] == greedy
    nbest = translator.translate(words, decoder="beam", beam_size=3, num_return=3, truncate=True)
    assert out["translate_beam"]["outputs"] == [[text for text, _ in row] for row in nbest]
    np.testing.assert_allclose(out["translate_beam"]["scores"][0], [s for _, s in nbest[0]],
                               rtol=1e-4)
    # Random draws depend on the batch layout: sample the signature's own padded batch.
    encoded = translator.encode(words, truncate=True)
    rows = translator.generator.sample(pad_sequences(encoded), seed=3, temperature=0.8).numpy()
    sampled = [translator.target_vocab.decode(row) if ids else ""
               for row, ids in zip(rows, encoded)]
    assert out["translate_sample"]["output"] == sampled
    # The rules for awkward input, through the signature.
    assert greedy[1] == "" and greedy[0] != ""
    long_word = WORDS[-1]
    assert greedy[WORDS.index(long_word)] == translator.translate([long_word[:16]])[0]


def test_nat_saved_model_matches_in_process_decoding_in_a_fresh_process(runs):
    path = str(runs["root"] / "sm_nat")
    names = export_run(runs["nat"], path, iterations=2, length_beam=2)
    assert {"serving_default", "translate_nat", "translate_nat_ids"} <= set(names)
    translator = Translator.from_run(runs["nat"])
    ids = pad_sequences(translator.encode(WORDS[2:], truncate=True))
    out = fresh_process_outputs(path, WORDS, ids)
    np.testing.assert_array_equal(out["translate_nat_ids"]["output_ids"],
                                  translator.generator.decode(ids, iterations=2,
                                                              length_beam=2).numpy())
    expected = translator.translate(WORDS, iterations=2, length_beam=2, truncate=True)
    assert out["translate_nat"]["output"] == expected == out["serving_default"]["output"]


@pytest.mark.slow  # trains a third run and exports it: minutes
def test_ensemble_saved_model_matches_in_process_ensemble_in_a_fresh_process(runs):
    # A second AT run on the same data (same vocabularies), other weights.
    other = trained_run(runs["root"], "at_other", seed=5, d_model=48)
    path = str(runs["root"] / "sm_ensemble")
    export_run(runs["at"], path, ensemble_runs=[other], beam_size=2)
    translator = Translator.from_run(runs["at"], ensemble_runs=[other])
    ids = pad_sequences(translator.encode(WORDS[2:], truncate=True))
    out = fresh_process_outputs(path, WORDS, ids)
    np.testing.assert_array_equal(out["translate_greedy_ids"]["output_ids"],
                                  translator.generator.greedy(ids).numpy())
    sequences, _ = translator.generator.beam_search(ids, 2)
    np.testing.assert_array_equal(out["translate_beam_ids"]["output_ids"], sequences.numpy())
    assert out["serving_default"]["output"] == translator.translate(WORDS, truncate=True)
    with pytest.raises(ValueError, match="not an AT model"):
        export_run(runs["at"], str(runs["root"] / "bad_ensemble"), ensemble_runs=[runs["nat"]])
    with pytest.raises(ExportError, match="only AT"):
        export_run(runs["nat"], str(runs["root"] / "bad_ensemble"), ensemble_runs=[other])


@pytest.mark.slow  # a SavedModel and a TFLite file that each hold two models: minutes
def test_rescored_nat_exports_match_in_process_rescoring(runs, tmp_path):
    translator = Translator.from_run(runs["nat"], rescore_run=runs["at"])
    words = WORDS + ["word%d" % i for i in range(30)]
    ids = pad_sequences(translator.encode(words[2:], truncate=True))
    generator = translator.generator
    knobs = dict(length_beam=2, token_variants=3, rescore_nat_weight=0.2)
    rescored = generator.decode(ids, iterations=0, rescore=True, **knobs).numpy()
    # Otherwise an export that dropped the rescorer would pass unnoticed.
    assert (rescored != generator.decode(ids, iterations=0, length_beam=2).numpy()).any()

    path = str(tmp_path / "sm")
    export_run(runs["nat"], path, rescore_run=runs["at"], iterations=0, **knobs)
    out = fresh_process_outputs(path, words, ids)
    np.testing.assert_array_equal(out["translate_nat_ids"]["output_ids"], rescored)
    assert out["serving_default"]["output"] == translator.translate(
        words, iterations=0, rescore=True, truncate=True, **knobs)

    files = export_tflite_run(runs["nat"], str(tmp_path / "tflite"), iterations=1,
                              rescore_run=runs["at"], **knobs)
    assert b"Flex" not in open(files[0], "rb").read()
    np.testing.assert_array_equal(tflite_ids(files[0], ids), rescored)
    # The refinement file ranks one output per length (variants rank one pass).
    np.testing.assert_array_equal(
        tflite_ids(files[1], ids),
        generator.decode(ids, iterations=1, rescore=True,
                         **dict(knobs, token_variants=1)).numpy())


def test_export_refuses_a_rescorer_it_cannot_use(runs, tmp_path):
    with pytest.raises(ExportError, match="length-beam candidates of a NAT model"):
        export_run(runs["at"], str(tmp_path / "a"), rescore_run=runs["at"])
    with pytest.raises(ExportError, match="2 or more candidates"):
        export_run(runs["nat"], str(tmp_path / "b"), rescore_run=runs["at"], length_beam=1)
    with pytest.raises(ExportError, match="2 or more candidates"):
        export_tflite_run(runs["nat"], str(tmp_path / "c"), rescore_run=runs["at"])
    with pytest.raises(ExportError, match="needs an AT rescorer"):
        export_run(runs["nat"], str(tmp_path / "d"), token_variants=4)
    with pytest.raises(ExportError, match="needs an AT rescorer"):
        export_tflite_run(runs["nat"], str(tmp_path / "e"), token_variants=4)
    with pytest.raises(ValueError, match="not an AT model"):
        export_run(runs["nat"], str(tmp_path / "f"), rescore_run=runs["nat"], length_beam=2)
    assert not any(os.scandir(tmp_path))  # nothing half-written


def test_signatures_reject_wrong_dtypes_and_shapes(runs):
    import tensorflow as tf

    path = str(runs["root"] / "sm_at")
    if not os.path.exists(path):
        export_run(runs["at"], path)
    model = tf.saved_model.load(path)
    greedy = model.signatures["translate_greedy"]
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        greedy(text=tf.constant([1, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="1-D batch of strings"):
        greedy(text=tf.constant("one string, not a batch"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="1-D batch of strings"):
        greedy(text=tf.constant([["a", "b"]]))
    ids = model.signatures["translate_greedy_ids"]
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        ids(source_ids=tf.constant([[1.5, 2.0]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="int32 \\[batch, length\\]"):
        ids(source_ids=tf.constant([5, 6]))
    # Ids past the model's maximum length are cut, not a crash; an all-pad row is empty.
    out = ids(source_ids=tf.constant(np.array([[5] * 40, [0] * 40], np.int32)))["output_ids"]
    assert out.numpy()[1][0] == 2


def test_export_refuses_unknown_options_and_decoders(runs):
    with pytest.raises(ExportError, match="unknown export option"):
        export_run(runs["nat"], str(runs["root"] / "bad"), beam_size=4)
    with pytest.raises(ExportError, match="not 'beam'"):
        export_run(runs["nat"], str(runs["root"] / "bad"), decoder="beam")


def tflite_ids(path, source_ids):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=path).get_signature_runner("serving_ids")
    return runner(source_ids=source_ids)["output_ids"]


def parameter_bytes(run):
    model = Translator.from_run(run).model
    return sum(int(np.prod(w.shape)) for w in model.weights) * 4


@pytest.mark.parametrize("kind", ["at", "nat"])
def test_tflite_files_hold_their_weights_and_match_the_saved_model(runs, kind):
    out_dir = str(runs["root"] / f"tflite_{kind}")
    files = export_tflite_run(runs[kind], out_dir, iterations=2)
    translator = Translator.from_run(runs[kind])
    words = [w for w in json.load(open(os.path.join(runs[kind], "source_vocab.json")))["tokens"]
             if len(w) == 1 and w.isalpha()]
    rng = np.random.default_rng(0)
    inputs = ["".join(rng.choice(words, size=rng.integers(1, 12))) for _ in range(120)]
    encoded = translator.encode(inputs, truncate=True)
    main = files[0]
    data = open(main, "rb").read()
    assert b"Flex" not in data  # builtin ops only
    params = parameter_bytes(runs[kind])
    assert 0.9 * params < len(data) < 1.5 * params + 200_000, (len(data), params)
    generator = translator.generator
    for start in range(0, len(encoded), 40):  # mixed lengths in each batch
        batch = pad_sequences(encoded[start:start + 40])
        expected = (generator.greedy(batch) if kind == "at"
                    else generator.decode(batch, iterations=0, length_beam=1)).numpy()
        np.testing.assert_array_equal(tflite_ids(main, batch), expected)
    if kind == "nat":
        batch = pad_sequences(encoded[:40])
        np.testing.assert_array_equal(tflite_ids(files[1], batch),
                                      generator.decode(batch, iterations=2).numpy())
    runner = subprocess.run([sys.executable, os.path.join(out_dir, "run_tflite.py"),
                             os.path.basename(main), "cat", ""], capture_output=True, text=True)
    assert runner.returncode == 0, runner.stderr[-2000:]
    assert runner.stdout.splitlines() == [f"cat\t{translator.translate(['cat'])[0]}", "\t"]


def test_no_refinement_file_without_refinements(runs, tmp_path):
    files = export_tflite_run(runs["nat"], str(tmp_path), iterations=0)
    assert [os.path.basename(f) for f in files if f.endswith(".tflite")] == ["nat.tflite"]


def test_int8_tflite_is_smaller(runs):
    out_dir = str(runs["root"] / "tflite_int8")
    main = export_tflite_run(runs["at"], out_dir, quantization="int8")[0]
    fp32 = os.path.join(str(runs["root"] / "tflite_at"), "greedy.tflite")
    if not os.path.exists(fp32):
        export_tflite_run(runs["at"], str(runs["root"] / "tflite_at"))
    # Dynamic-range int8 quantizes weight tensors of 1,024+ elements; in this
    # tiny model some stay float32 (the full-size G2P file is ~4x smaller).
    assert os.path.getsize(main) < 0.8 * os.path.getsize(fp32)
    # Its WER against float32 is tested on a trained model in test_g2p.py.
