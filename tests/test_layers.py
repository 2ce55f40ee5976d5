"""Layer behaviour on any Keras backend (CI also runs this file with KERAS_BACKEND=jax).

Only keras, keras.ops and numpy here: no TensorFlow imports.
"""

import os

import keras
import numpy as np
import pytest
from conftest import tiny_config
from keras import ops

from keras_transformer import layers as L
from keras_transformer.models import build_seq2seq_model

ATOL = 1e-5


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _ids(rows, length=None):
    length = length or max(len(r) for r in rows)
    out = np.zeros((len(rows), length), np.int32)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


# ---- attention ----------------------------------------------------------

def test_attention_causal_mask_hides_future():
    layer = L.MultiHeadAttention(num_heads=2, key_dim=4)
    x = np.random.normal(size=(2, 6, 8)).astype("float32")
    base = _np(layer(x, causal=True))
    changed = x.copy()
    changed[:, 4:] += 10.0  # change positions 4 and 5
    after = _np(layer(changed, causal=True))
    np.testing.assert_allclose(after[:, :4], base[:, :4], atol=ATOL)
    assert not np.allclose(after[:, 4:], base[:, 4:])


def test_attention_padding_mask_ignores_masked_keys():
    layer = L.MultiHeadAttention(num_heads=2, key_dim=4)
    q = np.random.normal(size=(1, 3, 8)).astype("float32")
    v = np.random.normal(size=(1, 5, 8)).astype("float32")
    mask = np.array([[True, True, True, False, False]])
    base = _np(layer(q, v, key_mask=mask))
    v2 = v.copy()
    v2[:, 3:] = 100.0
    np.testing.assert_allclose(_np(layer(q, v2, key_mask=mask)), base, atol=ATOL)
    # Without the mask the same change does matter (the test can fail).
    assert not np.allclose(_np(layer(q, v2)), _np(layer(q, v)))


def test_attention_returns_weights_that_sum_to_one_and_skip_padding():
    layer = L.MultiHeadAttention(num_heads=2, key_dim=4)
    q = np.random.normal(size=(2, 3, 8)).astype("float32")
    mask = np.array([[True, True, False], [True, True, True]])
    out, weights = layer(q, key_mask=mask, return_attention_scores=True)
    weights = _np(weights)
    assert weights.shape == (2, 2, 3, 3)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert np.all(weights[0, :, :, 2] < 1e-6)


def test_attention_cache_matches_full_causal_attention():
    layer = L.MultiHeadAttention(num_heads2 := 2, key_dim=4)
    x = np.random.normal(size=(2, 5, 8)).astype("float32")
    full = _np(layer(x, causal=True))
    cache = np.zeros((2, 2, 7, num_heads2, 4), "float32")  # [batch, k/v, max_len, heads, dim]
    steps = []
    for t in range(5):
        out, cache = layer(x[:, t:t + 1], cache=cache, cache_update_index=t)
        steps.append(_np(out))
    np.testing.assert_allclose(np.concatenate(steps, 1), full, atol=1e-5)


def test_cross_attention_precomputed_cache_matches():
    layer = L.MultiHeadAttention(num_heads=2, key_dim=4)
    q = np.random.normal(size=(2, 3, 8)).astype("float32")
    memory = np.random.normal(size=(2, 4, 8)).astype("float32")
    mask = np.array([[True] * 4, [True, True, False, False]])
    direct = _np(layer(q, memory, key_mask=mask))
    cache = layer.project_key_value(memory)
    out, _ = layer(q, key_mask=mask, cache=cache)
    np.testing.assert_allclose(_np(out), direct, atol=1e-5)


def test_attention_rejects_bad_sizes():
    with pytest.raises(ValueError, match="num_heads"):
        L.MultiHeadAttention(num_heads=0, key_dim=4)


# ---- embedding, residual, feed-forward -------------------------------------

@pytest.mark.parametrize("position_encoding", ["sinusoidal", "learned"])
def test_embedding_positions_and_tied_projection(position_encoding):
    layer = L.TokenAndPositionEmbedding(12, 8, max_length=16,
                                        position_encoding=position_encoding)
    ids = _ids([[5, 5, 5]])
    out = _np(layer(ids))
    assert out.shape == (1, 3, 8)
    if position_encoding == "sinusoidal":
        assert not np.allclose(out[0, 0], out[0, 1])  # same token, other position
    # Offsetting start_index gives the later positions of a longer sequence.
    longer = _np(layer(_ids([[5, 5, 5, 7]])))
    np.testing.assert_allclose(_np(layer(_ids([[7]]), start_index=3))[0, 0], longer[0, 3],
                               atol=1e-6)
    logits = _np(layer(out, reverse=True))
    assert logits.shape == (1, 3, 12)
    np.testing.assert_allclose(logits, out @ _np(layer.embeddings).T, atol=1e-4)


def test_sinusoidal_positions_differ_and_are_bounded():
    enc = _np(L.sinusoidal_positions(ops.arange(50), 16))
    assert enc.shape == (50, 16)
    assert np.abs(enc).max() <= 1.0 + 1e-6
    assert len({tuple(np.round(r, 4)) for r in enc}) == 50


@pytest.mark.parametrize("norm_position", ["post", "pre"])
def test_residual_norm_arrangement(norm_position):
    sub = keras.layers.Dense(8, kernel_initializer="ones")
    block = L.ResidualNorm(sub, norm_position=norm_position)
    x = np.random.normal(size=(2, 3, 8)).astype("float32") * 3 + 1
    out = _np(block(x))
    norm = block.norm
    if norm_position == "post":
        expected = _np(norm(x + _np(sub(x))))
        np.testing.assert_allclose(out.mean(-1), 0.0, atol=1e-4)
    else:
        expected = x + _np(sub(_np(norm(x))))
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_residual_norm_rejects_unknown_position():
    with pytest.raises(ValueError, match="norm_position"):
        L.ResidualNorm(keras.layers.Dense(4), norm_position="middle")


def test_feed_forward_is_position_wise():
    ff = L.FeedForward(16, activation="gelu")
    x = np.random.normal(size=(1, 4, 8)).astype("float32")
    out = _np(ff(x))
    np.testing.assert_allclose(_np(ff(x[:, 2:3]))[0, 0], out[0, 2], atol=1e-5)


# ---- encoder and decoder ---------------------------------------------------

@pytest.mark.parametrize("mixer", ["attention", "conv", "rnn"])
def test_encoder_mixers_ignore_padding(mixer):
    encoder = L.TransformerEncoder(2, d_model=16, num_heads=2, ff_dim=32, mixer=mixer)
    x = np.random.normal(size=(2, 6, 16)).astype("float32")
    mask = np.array([[True] * 4 + [False] * 2, [True] * 6])
    base = _np(encoder(x, padding_mask=mask))
    x2 = x.copy()
    x2[0, 4:] = np.random.normal(size=(2, 16)) * 50
    after = _np(encoder(x2, padding_mask=mask))
    np.testing.assert_allclose(after[0, :4], base[0, :4], atol=1e-4)
    np.testing.assert_allclose(after[1], base[1], atol=1e-5)
    assert base.shape == (2, 6, 16)


def test_encoder_mixer_name_is_checked():
    with pytest.raises(ValueError, match="mixer"):
        L.EncoderBlock(16, 2, 32, mixer="transformer-xl")


def test_decoder_block_is_causal_and_cache_equals_full():
    decoder = L.TransformerDecoder(2, d_model=16, num_heads=2, ff_dim=32)
    x = np.random.normal(size=(2, 5, 16)).astype("float32")
    memory = np.random.normal(size=(2, 4, 16)).astype("float32")
    mask = np.array([[True] * 4, [True, True, True, False]])
    full = _np(decoder(x, memory, encoder_padding_mask=mask))
    x2 = x.copy()
    x2[:, 3:] += 5
    np.testing.assert_allclose(_np(decoder(x2, memory, encoder_padding_mask=mask))[:, :3],
                               full[:, :3], atol=1e-5)
    cache = decoder.empty_self_attention_cache(2, 8)
    cross = decoder.compute_cross_attention_cache(memory)
    steps = []
    for t in range(5):
        out, cache = decoder(x[:, t:t + 1], encoder_padding_mask=mask, self_attention_cache=cache,
                             cache_update_index=t, cross_attention_cache=cross)
        steps.append(_np(out))
    np.testing.assert_allclose(np.concatenate(steps, 1), full, atol=1e-4)


def test_non_causal_decoder_sees_the_future():
    decoder = L.TransformerDecoder(1, d_model=16, num_heads=2, ff_dim=32, causal=False)
    x = np.random.normal(size=(1, 5, 16)).astype("float32")
    memory = np.random.normal(size=(1, 4, 16)).astype("float32")
    x2 = x.copy()
    x2[:, 4] += 5
    assert not np.allclose(_np(decoder(x, memory))[:, 0], _np(decoder(x2, memory))[:, 0])


def test_decoder_returns_attention_weights_per_layer():
    decoder = L.TransformerDecoder(2, d_model=16, num_heads=2, ff_dim=32)
    x = np.random.normal(size=(1, 3, 16)).astype("float32")
    memory = np.random.normal(size=(1, 4, 16)).astype("float32")
    _, self_w, cross_w = decoder(x, memory, return_attention_scores=True)
    assert len(self_w) == 2 and _np(self_w[0]).shape == (1, 2, 3, 3)
    assert _np(cross_w[1]).shape == (1, 2, 3, 4)
    assert np.all(np.triu(_np(self_w[0])[0, 0], 1) < 1e-6)


# ---- the whole model -----------------------------------------------------

@pytest.mark.parametrize("norm_position", ["post", "pre"])
def test_model_is_causal_in_the_decoder(norm_position):
    model = build_seq2seq_model(tiny_config(norm_position=norm_position))
    source = _ids([[5, 6, 7, 8], [9, 10, 0, 0]])
    target = _ids([[1, 11, 12, 13, 14], [1, 15, 16, 17, 18]])
    base = _np(model({"source_ids": source, "decoder_input_ids": target}))
    for t in range(1, 5):
        changed = target.copy()
        changed[:, t:] = 20
        after = _np(model({"source_ids": source, "decoder_input_ids": changed}))
        np.testing.assert_allclose(after[:, :t], base[:, :t], atol=1e-5)
        assert not np.allclose(after[:, t:], base[:, t:])


@pytest.mark.parametrize("mixer", ["attention", "conv", "rnn"])
def test_model_output_ignores_source_padding(mixer):
    model = build_seq2seq_model(tiny_config(encoder_mixer=mixer))
    target = _ids([[1, 11, 12], [1, 13, 14]])
    short = _ids([[5, 6, 7], [8, 9, 0]])
    padded = _ids([[5, 6, 7], [8, 9]], length=9)
    a = _np(model({"source_ids": short, "decoder_input_ids": target}))
    b = _np(model({"source_ids": padded, "decoder_input_ids": target}))
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_untied_output_and_shared_embeddings_build():
    model = build_seq2seq_model(tiny_config(tie_output_embedding=False, share_embeddings=True))
    names = {layer.name for layer in model.layers}
    assert "output_projection" in names and "target_embedding" not in names
    out = model({"source_ids": _ids([[5, 6]]), "decoder_input_ids": _ids([[1, 7]])})
    assert tuple(out.shape) == (1, 2, 24)


# ---- serialisation -------------------------------------------------------

LAYER_CASES = [
    (lambda: L.MultiHeadAttention(2, 4, dropout=0.1), (2, 3, 8)),
    (lambda: L.TokenAndPositionEmbedding(10, 8, 16, position_encoding="learned"), None),
    (lambda: L.ResidualNorm(L.FeedForward(16), norm_position="pre", dropout=0.1), (2, 3, 8)),
    (lambda: L.FeedForward(16, activation="gelu"), (2, 3, 8)),
    (lambda: L.ConvMixer(5), (2, 3, 8)),
    (lambda: L.RNNMixer("lstm"), (2, 3, 8)),
    (lambda: L.SelfAttentionMixer(2, 4), (2, 3, 8)),
    (lambda: L.EncoderBlock(8, 2, 16, mixer="conv", norm_position="pre"), (2, 3, 8)),
    (lambda: L.TransformerEncoder(2, 8, 2, 16, mixer="rnn"), (2, 3, 8)),
    (lambda: L.DecoderBlock(8, 2, 16, causal=False), (2, 3, 8)),
    (lambda: L.TransformerDecoder(2, 8, 2, 16, norm_position="pre"), (2, 3, 8)),
    (lambda: L.PaddingMask(), None),
]


@pytest.mark.parametrize("make_layer, input_shape", LAYER_CASES,
                         ids=[f"case{i}" for i in range(len(LAYER_CASES))])
def test_layer_config_round_trip(make_layer, input_shape):
    layer = make_layer()
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config
    # The registered name resolves through Keras' own deserialisation.
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is type(layer)


def _layer_model(layer, input_shape):
    if isinstance(layer, (L.TokenAndPositionEmbedding, L.PaddingMask)):
        inputs = keras.Input((None,), dtype="int32")
        outputs = layer(inputs)
        if isinstance(layer, L.PaddingMask):
            outputs = keras.layers.Activation("linear")(ops.cast(outputs, "float32"))
        return keras.Model(inputs, outputs), np.array([[5, 6, 0]], np.int32)
    inputs = keras.Input(input_shape[1:])
    return keras.Model(inputs, layer(inputs)), \
        np.random.normal(size=input_shape).astype("float32")


@pytest.mark.parametrize("make_layer, input_shape", LAYER_CASES,
                         ids=[f"case{i}" for i in range(len(LAYER_CASES))])
def test_layer_survives_model_save_and_load(make_layer, input_shape, tmp_path):
    model, x = _layer_model(make_layer(), input_shape)
    path = os.path.join(tmp_path, "layer.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)), atol=1e-6)


@pytest.mark.parametrize("overrides", [
    {}, {"encoder_mixer": "conv", "norm_position": "pre", "position_encoding": "learned"},
    {"encoder_mixer": "rnn", "tie_output_embedding": False},
])
def test_full_model_save_and_load(overrides, tmp_path):
    model = build_seq2seq_model(tiny_config(**overrides))
    inputs = {"source_ids": _ids([[5, 6, 7], [8, 0, 0]]),
              "decoder_input_ids": _ids([[1, 9, 10], [1, 11, 0]])}
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(_np(loaded(inputs)), _np(model(inputs)), atol=1e-6)
