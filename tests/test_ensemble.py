"""Ensemble decoding: averaged probabilities, cached == uncached, beam 1 == greedy."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

from keras_transformer.data.pipeline import pad_sequences
from keras_transformer.decoding import EnsembleDecodingFns, Seq2SeqGenerator
from keras_transformer.models import build_seq2seq_model


def _model(seed, **overrides):
    import keras

    keras.utils.set_random_seed(seed)
    return build_seq2seq_model(tiny_config(target_vocab_size=12, **overrides))


@pytest.fixture(scope="module")
def models():
    # Different depths and widths: members only have to share vocabularies.
    return [_model(1), _model(2, d_model=48, num_decoder_layers=1, num_encoder_layers=3)]


@pytest.fixture(scope="module")
def ensemble(models):
    return Seq2SeqGenerator(models, length_a=3, length_b=1.0)


def _sources(seed=0, batch=6):
    rng = np.random.default_rng(seed)
    return pad_sequences([list(rng.integers(4, 24, rng.integers(1, 9))) for _ in range(batch)])


def _teacher_forced(source, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    return rng.integers(3, 12, (len(source), 5)).astype(np.int32)


def test_scores_are_the_log_of_the_mean_member_probability(models, ensemble):
    source = _sources(0)
    prefix = _teacher_forced(source)
    got = ensemble.fns.full_logits(source, prefix).numpy()
    probs = [tf.nn.softmax(Seq2SeqGenerator(m).fns.full_logits(source, prefix)).numpy()
             for m in models]
    with np.errstate(divide="ignore"):  # PAD and BOS have probability 0
        expected = np.log(np.mean(probs, axis=0))
    usable = slice(2, None)  # PAD and BOS are masked out, not averaged
    np.testing.assert_allclose(got[..., usable], expected[..., usable], atol=1e-5)
    assert np.all(got[..., :2] < -1e8)
    # Already normalised: the probabilities sum to 1.
    np.testing.assert_allclose(np.exp(got).sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("seed", [1, 2])
def test_cached_ensemble_greedy_equals_uncached(ensemble, seed):
    source = _sources(seed)
    cached = ensemble.greedy(source).numpy()
    np.testing.assert_array_equal(cached, ensemble.uncached_greedy(source).numpy())
    assert not np.all(cached == 0)


def test_ensemble_beam_one_equals_greedy(ensemble):
    source = _sources(3)
    sequences, scores = ensemble.beam_search(source, beam_size=1, length_penalty=0.0)
    np.testing.assert_array_equal(sequences.numpy()[:, 0], ensemble.greedy(source).numpy())
    assert np.all(np.isfinite(scores.numpy()))


def test_ensemble_beam_search_runs_with_several_hypotheses(ensemble):
    sequences, scores = ensemble.beam_search(_sources(4), beam_size=3, length_penalty=0.6)
    assert sequences.shape[:2] == (6, 3)
    assert np.all(np.diff(scores.numpy(), axis=1) <= 1e-6)


def test_a_model_ensembled_with_itself_decodes_like_the_model(models):
    source = _sources(5)
    alone = Seq2SeqGenerator(models[0], length_a=3, length_b=1.0)
    twice = Seq2SeqGenerator([models[0], models[0]], length_a=3, length_b=1.0)
    np.testing.assert_array_equal(twice.greedy(source).numpy(), alone.greedy(source).numpy())
    seq_a, score_a = alone.beam_search(source, beam_size=3)
    seq_b, score_b = twice.beam_search(source, beam_size=3)
    np.testing.assert_array_equal(seq_a.numpy(), seq_b.numpy())
    np.testing.assert_allclose(score_a.numpy(), score_b.numpy(), atol=1e-4)


def test_seeded_ensemble_sampling_is_reproducible(ensemble):
    source = _sources(6, batch=16)
    a = ensemble.sample(source, seed=4, temperature=1.5).numpy()
    np.testing.assert_array_equal(a, ensemble.sample(source, seed=4, temperature=1.5).numpy())


def test_a_list_of_one_model_is_that_model(models):
    single = Seq2SeqGenerator([models[0]])
    assert not isinstance(single.fns, EnsembleDecodingFns)


def test_members_must_share_vocabularies(models):
    with pytest.raises(ValueError, match="share vocabularies"):
        EnsembleDecodingFns([models[0], build_seq2seq_model(tiny_config(target_vocab_size=13))])
    with pytest.raises(ValueError, match="at least 2"):
        EnsembleDecodingFns(models[:1])
