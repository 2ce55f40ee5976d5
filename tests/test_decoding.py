"""AT decoding (TensorFlow): cached == uncached, beam 1 == greedy, seeded sampling."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

from keras_transformer.data.pipeline import pad_sequences
from keras_transformer.decoding import Seq2SeqGenerator, length_penalty
from keras_transformer.models import build_seq2seq_model
from keras_transformer.text.vocabulary import EOS_ID


@pytest.fixture(scope="module")
def generator():
    import keras

    keras.utils.set_random_seed(7)
    model = build_seq2seq_model(tiny_config(target_vocab_size=12))
    return Seq2SeqGenerator(model, length_a=3, length_b=1.0)


def _sources(seed=0, batch=6):
    rng = np.random.default_rng(seed)
    return pad_sequences([list(rng.integers(4, 24, rng.integers(1, 9))) for _ in range(batch)])


def _assert_pad_after_eos(ids):
    for row in ids:
        row = list(row)
        if EOS_ID in row:
            assert all(t == 0 for t in row[row.index(EOS_ID) + 1:])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cached_greedy_equals_uncached(generator, seed):
    source = _sources(seed)
    cached = generator.greedy(source).numpy()
    uncached = generator.uncached_greedy(source).numpy()
    np.testing.assert_array_equal(cached, uncached)
    _assert_pad_after_eos(cached)
    assert not np.all(cached == 0)


def test_cached_greedy_equals_uncached_without_eos_stop(generator):
    source = _sources(3)
    np.testing.assert_array_equal(generator.greedy(source, ignore_eos=True).numpy(),
                                  generator.uncached_greedy(source, ignore_eos=True).numpy())


def test_output_length_limit_is_a_plus_b_times_source_length(generator):
    source = _sources(4)
    out = generator.greedy(source, ignore_eos=True).numpy()
    lengths = (source != 0).sum(1)
    produced = (out != 0).sum(1)
    np.testing.assert_array_equal(produced, np.minimum(3 + lengths, out.shape[1]))
    assert out.shape[1] == 3 + source.shape[1]


def test_beam_one_without_penalty_equals_greedy(generator):
    source = _sources(5)
    sequences, scores = generator.beam_search(source, beam_size=1, length_penalty=0.0)
    np.testing.assert_array_equal(sequences.numpy()[:, 0], generator.greedy(source).numpy())
    assert np.all(np.isfinite(scores.numpy()))


def test_beam_returns_sorted_nbest_with_scores(generator):
    source = _sources(6)
    sequences, scores = generator.beam_search(source, beam_size=4, length_penalty=0.6)
    sequences, scores = sequences.numpy(), scores.numpy()
    assert sequences.shape[:2] == (6, 4) and scores.shape == (6, 4)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    _assert_pad_after_eos(sequences.reshape(-1, sequences.shape[-1]))
    # The best beam scores at least as well as greedy under the same model.
    greedy = generator.greedy(source).numpy()
    greedy_scores = _sequence_scores(generator, source, greedy, alpha=0.6)
    assert np.all(scores[:, 0] >= greedy_scores - 1e-4)


def _sequence_scores(generator, source, outputs, alpha):
    """Penalised log-probability of given outputs, by teacher forcing."""
    from keras_transformer.text.vocabulary import BOS_ID

    decoder_input = np.concatenate([np.full((len(outputs), 1), BOS_ID), outputs[:, :-1]], 1)
    logits = generator.fns.full_logits(source, decoder_input.astype(np.int32)).numpy()
    log_probs = tf.nn.log_softmax(logits).numpy()
    scores = []
    for row, out in zip(log_probs, outputs):
        length = int((out != 0).sum())
        total = sum(row[t, out[t]] for t in range(length))
        scores.append(total / float(length_penalty(length, alpha)))
    return np.array(scores)


def test_length_penalty_formula():
    assert float(length_penalty(7, 0.6)) == pytest.approx(((5 + 7) / 6) ** 0.6)
    assert float(length_penalty(3, 0.0)) == 1.0


def test_sampling_is_reproducible_and_seed_dependent(generator):
    source = _sources(7, batch=16)
    a = generator.sample(source, seed=11, temperature=1.5).numpy()
    b = generator.sample(source, seed=11, temperature=1.5).numpy()
    c = generator.sample(source, seed=12, temperature=1.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    _assert_pad_after_eos(a)


def test_top_k_one_equals_greedy(generator):
    source = _sources(8)
    np.testing.assert_array_equal(generator.sample(source, seed=3, top_k=1).numpy(),
                                  generator.greedy(source).numpy())


def test_tiny_top_p_equals_greedy(generator):
    source = _sources(9)
    np.testing.assert_array_equal(generator.sample(source, seed=3, top_p=1e-6).numpy(),
                                  generator.greedy(source).numpy())


def test_never_emits_pad_or_bos(generator):
    out = generator.sample(_sources(10, batch=32), seed=0, temperature=5.0).numpy()
    first = out[:, 0]
    assert np.all(first >= 2)


def test_dynamic_batch_and_length_share_one_trace(generator):
    generator.greedy(_sources(11, batch=2))
    fn = generator._functions[("greedy", False)]
    for batch in (1, 5, 9):
        for length in (2, 7, 12):
            source = pad_sequences([[5] * length] * batch)
            assert generator.greedy(source).shape[0] == batch
    assert len(fn._list_all_concrete_functions()) == 1


def test_batched_equals_one_by_one(generator):
    source = _sources(12)
    batched = generator.greedy(source).numpy()
    for i, row in enumerate(source):
        single = generator.greedy(row[None, :(row != 0).sum()]).numpy()[0]
        np.testing.assert_array_equal(single[:len(batched[i])][:single.shape[0]],
                                      batched[i][:single.shape[0]])
        assert np.all(batched[i][single.shape[0]:] == 0)


def test_bad_inputs_are_rejected_clearly(generator):
    with pytest.raises(TypeError, match="integer"):
        generator.greedy(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"\[batch, length\]"):
        generator.greedy(np.zeros((3,), np.int32))
    with pytest.raises(ValueError, match="beam_size"):
        generator.beam_search(_sources(), beam_size=0)
    with pytest.raises(ValueError, match="temperature"):
        generator.sample(_sources(), temperature=0.0)
