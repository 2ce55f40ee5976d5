"""Training with model.fit: a tiny model learns a toy task; distribution keeps the losses."""

import time

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

from keras_transformer.data.pipeline import pad_sequences, teacher_forcing_batch
from keras_transformer.data.toy import toy_pairs
from keras_transformer.decoding import Seq2SeqGenerator
from keras_transformer.models import build_seq2seq_model
from keras_transformer.training import (
    InverseSqrtSchedule,
    MaskedAccuracy,
    MaskedSparseCrossEntropy,
    compile_model,
)


def exact_match(generator, sources, targets):
    outputs = generator.greedy(pad_sequences(sources)).numpy()
    hits = 0
    for out, target in zip(outputs, targets):
        out = list(out)
        hits += out[:out.index(2)] == target if 2 in out else False
    return hits / len(targets)


def test_tiny_model_learns_to_reverse():
    config = tiny_config(d_model=64, ff_dim=128, num_heads=2, source_vocab_size=16,
                         target_vocab_size=16, learning_rate=1e-3, warmup_steps=200,
                         label_smoothing=0.1)
    sources, targets = toy_pairs("reverse", 5000, vocab_size=16, min_length=2, max_length=8)
    test_sources, test_targets = toy_pairs("reverse", 300, vocab_size=16, min_length=2,
                                           max_length=8, seed=99)
    model = compile_model(build_seq2seq_model(config), config)
    inputs, labels = teacher_forcing_batch(sources, targets)
    start = time.time()
    model.fit(inputs, labels, batch_size=32, epochs=7, verbose=0)
    seconds = time.time() - start
    accuracy = exact_match(Seq2SeqGenerator(model, 2, 1.0), test_sources, test_targets)
    print(f"reverse: exact match {accuracy:.3f} after {seconds:.1f} s of training")
    assert accuracy >= 0.99


def test_loss_ignores_padding_and_smooths():
    loss = MaskedSparseCrossEntropy()
    logits = np.random.normal(size=(2, 4, 6)).astype("float32")
    labels = np.array([[3, 4, 0, 0], [5, 0, 0, 0]])
    changed = logits.copy()
    changed[0, 2:] = 100.0
    changed[1, 1:] = -100.0
    assert float(loss(labels, logits)) == pytest.approx(float(loss(labels, changed)), rel=1e-6)
    log_probs = tf.nn.log_softmax(logits).numpy()
    expected = -np.mean([log_probs[0, 0, 3], log_probs[0, 1, 4], log_probs[1, 0, 5]])
    assert float(loss(labels, logits)) == pytest.approx(expected, rel=1e-5)
    smooth = MaskedSparseCrossEntropy(label_smoothing=0.1)
    assert float(smooth(labels, logits)) != pytest.approx(expected)
    with pytest.raises(ValueError, match="label_smoothing"):
        MaskedSparseCrossEntropy(label_smoothing=1.5)


def test_masked_accuracy_counts_real_tokens_only():
    metric = MaskedAccuracy()
    labels = np.array([[3, 4, 0]])
    logits = np.zeros((1, 3, 6), "float32")
    logits[0, 0, 3] = 1  # right
    logits[0, 1, 5] = 1  # wrong
    logits[0, 2, 1] = 1  # padding: ignored
    metric.update_state(labels, logits)
    assert float(metric.result()) == pytest.approx(0.5)


def test_inverse_sqrt_schedule_shape():
    schedule = InverseSqrtSchedule(1e-3, warmup_steps=100)
    rates = [float(schedule(s)) for s in (0, 49, 99, 399, 9999)]
    assert rates[0] < rates[1] < rates[2] == pytest.approx(1e-3)
    assert rates[3] == pytest.approx(1e-3 * 0.5, rel=1e-3)
    assert rates[4] < rates[3]
    clone = InverseSqrtSchedule.from_config(schedule.get_config())
    assert float(clone(500)) == pytest.approx(float(schedule(500)))


def test_cooldown_falls_linearly_to_zero_and_round_trips():
    plain = InverseSqrtSchedule(1e-3, warmup_steps=100)
    schedule = InverseSqrtSchedule(1e-3, warmup_steps=100, cooldown_start=400,
                                   cooldown_steps=200)
    for step in (0, 99, 399):  # before the cool-down: the plain schedule
        assert float(schedule(step)) == pytest.approx(float(plain(step)))
    # Halfway through it, half the plain rate; at its end and after, zero.
    assert float(schedule(500)) == pytest.approx(0.5 * float(plain(500)), rel=1e-5)
    assert float(schedule(599)) == pytest.approx(0.005 * float(plain(599)), rel=1e-3)
    assert float(schedule(600)) == 0.0 and float(schedule(5000)) == 0.0
    clone = InverseSqrtSchedule.from_config(schedule.get_config())
    assert float(clone(499)) == pytest.approx(float(schedule(499)))
    with pytest.raises(ValueError, match="cooldown"):
        InverseSqrtSchedule(1e-3, 100, cooldown_start=-1, cooldown_steps=10)


def test_mirrored_strategy_matches_one_device():
    """Two logical CPU devices under MirroredStrategy give the losses of one device.

    Tolerance: 1e-4 relative. The gradient all-reduce sums per-replica
    gradients in another order than one big batch does, so the floats are
    not bit-identical.
    """
    import subprocess
    import sys

    code = r'''
import json, keras, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import sys; sys.path.insert(0, "tests")
from conftest import tiny_config
from keras_transformer.data.toy import toy_pairs
from keras_transformer.data.pipeline import teacher_forcing_batch
from keras_transformer.models import build_seq2seq_model
from keras_transformer.training import compile_model
config = tiny_config(learning_rate=1e-3, warmup_steps=10)
sources, targets = toy_pairs("copy", 256, vocab_size=24, min_length=4, max_length=4)
inputs, labels = teacher_forcing_batch(sources, targets)
def run(strategy):
    keras.utils.set_random_seed(3)
    with strategy.scope():
        model = compile_model(build_seq2seq_model(config), config)
    ds = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(64)
    return model.fit(ds, epochs=3, verbose=0).history["loss"]
one = run(tf.distribute.OneDeviceStrategy("/cpu:0"))
two = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
print(json.dumps({"one": one, "two": two}))
'''
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    losses = json.loads(result.stdout.strip().splitlines()[-1])
    print("one device:", losses["one"], "mirrored:", losses["two"])
    np.testing.assert_allclose(losses["two"], losses["one"], rtol=1e-4)
    assert losses["one"][-1] < losses["one"][0]
