"""Non-autoregressive models: structure, decoding invariants, training that learns."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

import keras
from keras_transformer.data.nat_pipeline import ctc_pair_filter, nat_batches
from keras_transformer.data.pipeline import pad_sequences, teacher_forcing_batch
from keras_transformer.data.toy import toy_pairs
from keras_transformer.decoding import NATGenerator
from keras_transformer.decoding import nat as nat_decoding
from keras_transformer.models import build_ctc_model, build_nat_model
from keras_transformer.models.nat import MASK_ID, class_to_length, length_to_class
from keras_transformer.training import CTCLoss, compile_model

EOS = 2


def nat_config(**overrides):
    values = dict(model_type="nat", dropout=0.0, length_prediction="offset", max_length_offset=4,
                  decode_length_a=2, decode_length_b=1.5)
    values.update(overrides)
    return tiny_config(**values)


def at_batches(sources, targets, batch_size=32):
    inputs, labels = teacher_forcing_batch(sources, targets)
    return tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(batch_size)


def strip(row):
    row = list(row)
    return row[:row.index(EOS)] if EOS in row else row


def exact_match(outputs, targets):
    return float(np.mean([strip(o) == t for o, t in zip(outputs, targets)]))


# ---- structure ---------------------------------------------------------------

def test_nat_decoder_is_not_causal_and_ignores_decoder_padding():
    model = build_nat_model(nat_config())
    source = np.array([[5, 6, 7, 8]], np.int32)
    ids = np.array([[MASK_ID, MASK_ID, MASK_ID, MASK_ID]], np.int32)
    base = model({"source_ids": source, "decoder_input_ids": ids})["logits"].numpy()
    later = ids.copy()
    later[0, 3] = 9  # reveal the last position
    changed = model({"source_ids": source, "decoder_input_ids": later})["logits"].numpy()
    # Position 0 sees position 3: a causal decoder would leave it unchanged.
    assert np.abs(changed[0, 0] - base[0, 0]).max() > 1e-4
    padded = np.pad(ids, [[0, 0], [0, 3]])
    with_pad = model({"source_ids": source, "decoder_input_ids": padded})["logits"].numpy()
    np.testing.assert_allclose(with_pad[:, :4], base, atol=1e-5)


@pytest.mark.parametrize("extra", [
    {}, {"nat_decoder_input": "copy"}, {"length_prediction": "absolute"},
    {"length_prediction": "none"}, {"model_type": "ctc"}])
def test_nat_models_survive_save_and_load(tmp_path, extra):
    config = nat_config(**extra)
    model = (build_ctc_model if config.model_type == "ctc" else build_nat_model)(config)
    compile_model(model, config)
    inputs = {"source_ids": np.array([[5, 6, 7, 0], [8, 9, 10, 11]], np.int32)}
    if config.model_type == "nat":
        inputs["decoder_input_ids"] = np.array([[MASK_ID, 5, MASK_ID, 0], [MASK_ID] * 4], np.int32)
    before = model(inputs)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    after = loaded(inputs)
    assert type(loaded) is type(model)
    assert sorted(after) == sorted(before)
    for key in before:
        np.testing.assert_allclose(after[key].numpy(), before[key].numpy(), atol=1e-5)


def test_copy_input_reads_source_embeddings_only_at_masks():
    from keras_transformer.layers import UniformCopy

    source = np.arange(12, dtype="float32").reshape(1, 6, 2)
    mask = np.array([[True, True, True, True, False, False]])
    targets = np.array([[MASK_ID, MASK_ID, 7, MASK_ID, MASK_ID, MASK_ID, MASK_ID, MASK_ID, 0]])
    copied = UniformCopy(copy_id=MASK_ID)(source, mask, targets).numpy()[0]
    # 8 target positions over 4 source positions: sources 0,0,1,1,2,2,3,3.
    expected = source[0, [0, 0, 1, 1, 2, 2, 3, 3], :]
    expected[2] = 0.0  # a known token keeps its own embedding
    np.testing.assert_allclose(copied[:8], expected)
    np.testing.assert_allclose(copied[8], 0.0)


def test_length_classes_round_trip_and_clip():
    offset = nat_config(max_length_offset=3)
    assert int(length_to_class(7, 5, offset)) == 5          # +2 -> class 3 + 2
    assert int(class_to_length(5, 5, offset)) == 7
    assert int(length_to_class(50, 5, offset)) == 6         # clipped to +3
    absolute = nat_config(length_prediction="absolute", max_target_length=10)
    assert int(length_to_class(4, 99, absolute)) == 4
    assert int(class_to_length(0, 3, absolute)) == 1        # never an empty output


# ---- training batches ----------------------------------------------------------

def test_cmlm_batches_mask_a_uniform_count_and_label_only_masked_positions():
    sources, targets = toy_pairs("reverse", 64, vocab_size=20, min_length=2, max_length=9)
    config = nat_config()
    (x, y), = nat_batches(at_batches(sources, targets, 64), config, seed=3).take(1)
    decoder_input, labels = x["decoder_input_ids"].numpy(), y["logits"].numpy()
    counts = []
    for row, target in enumerate(targets):
        n = len(target)
        masked = decoder_input[row, :n] == MASK_ID
        assert 1 <= masked.sum() <= n
        np.testing.assert_array_equal(labels[row, :n][masked], np.array(target)[masked])
        assert (labels[row, :n][~masked] == 0).all()
        np.testing.assert_array_equal(decoder_input[row, :n][~masked], np.array(target)[~masked])
        assert (decoder_input[row, n:] == 0).all()
        counts.append(masked.sum() / n)
    assert 0.3 < np.mean(counts) < 0.8  # uniform over [1, n]: about half on average
    expected = [length_to_class(len(t), len(s), config) for s, t in zip(sources, targets)]
    np.testing.assert_array_equal(y["length_logits"].numpy(), np.array(expected))
    (vx, vy), = nat_batches(at_batches(sources, targets, 64), config, training=False).take(1)
    valid = vy["logits"].numpy() > 0
    assert (vx["decoder_input_ids"].numpy()[valid] == MASK_ID).all()


def test_decode_to_maximum_batches_fill_eos_after_the_target():
    config = nat_config(length_prediction="none", nat_training="vanilla",
                        decode_length_a=2, decode_length_b=1.0)
    (x, y), = nat_batches(at_batches([[5, 6, 7]], [[8, 9]], 1), config).take(1)
    np.testing.assert_array_equal(y["logits"].numpy(), [[8, 9, EOS, EOS, EOS]])
    np.testing.assert_array_equal(x["decoder_input_ids"].numpy(), [[MASK_ID] * 5])


def test_glancing_reveals_a_share_of_the_first_pass_errors():
    config = nat_config(nat_training="glat", glancing_ratio=0.5)
    model = compile_model(build_nat_model(config), config)
    targets = np.array([[5, 6, 7, 8, 9, 10, 0, 0]])
    guess = np.array([[5, 6, 11, 11, 11, 11, 4, 4]])  # 4 wrong of 6
    y_pred = {"logits": tf.one_hot(guess, config.target_vocab_size)}
    x = {"source_ids": np.ones((1, 6), np.int32),
         "decoder_input_ids": np.where(targets > 0, MASK_ID, 0)}
    new_x, new_y = model._glance(x, {"logits": targets}, y_pred)
    revealed = new_x["decoder_input_ids"].numpy()[0] != MASK_ID
    revealed[6:] = False
    assert revealed.sum() == 2  # floor(0.5 * 4)
    np.testing.assert_array_equal(new_x["decoder_input_ids"].numpy()[0][revealed],
                                  targets[0][revealed])
    labels = new_y["logits"].numpy()[0]
    assert (labels[revealed] == 0).all() and (labels[:6][~revealed[:6]] > 0).all()


def test_ctc_loss_equals_the_loss_over_true_lengths():
    logits = np.random.normal(size=(2, 6, 7)).astype("float32")
    labels = np.array([[4, 5, EOS, 0], [6, 6, 4, EOS]])
    short = logits.copy()
    short[0, 4:] = np.where(np.arange(7) == 0, 0.0, -1e4)  # frames 4-5 padded: certain blanks
    per_row = keras.ops.ctc_loss(np.array([[4, 5, 0], [6, 6, 4]]), short,
                                 np.array([2, 3]), np.array([4, 6]), mask_index=0).numpy()
    loss = float(CTCLoss()(labels, short))
    assert loss == pytest.approx(per_row.sum() / 5, rel=1e-4)


def test_ctc_filter_drops_pairs_without_enough_frames():
    keep = ctc_pair_filter(nat_config(model_type="ctc", ctc_upsample=2))
    assert bool(keep(tf.constant([5, 6]), tf.constant([7, 8, 9, 10])))
    assert not bool(keep(tf.constant([5, 6]), tf.constant([7, 7, 7, 7])))  # needs 7 frames
    assert not bool(keep(tf.constant([5]), tf.constant([7, 8, 9])))


def test_ctc_collapse_merges_repeats_and_drops_blanks():
    frames = tf.constant([[4, 4, 0, 4, 5, 5, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]])
    out = nat_decoding.ctc_collapse(frames).numpy()
    assert strip(out[0]) == [4, 4, 5] and out[0][3] == EOS and (out[0][4:] == 0).all()
    assert strip(out[1]) == [] and out[1][0] == EOS


# ---- decoding invariants --------------------------------------------------------

@pytest.fixture(scope="module")
def untrained_nat():
    keras.utils.set_random_seed(7)
    config = nat_config()
    return build_nat_model(config), config


def test_outputs_have_the_predicted_length_and_nothing_after_eos(untrained_nat):
    model, config = untrained_nat
    fns = nat_decoding.NATDecodingFns(model, config)
    sources = pad_sequences([[5, 6, 7], [8, 9, 10, 11, 12, 13], [14]])
    for iterations, beam in [(0, 1), (3, 1), (0, 3), (2, 2)]:
        outputs, details = nat_decoding.nat_decode(fns, sources, iterations, beam, 2, 1.5,
                                                   return_details=True)
        outputs = outputs.numpy()
        for row, length in zip(outputs, details["lengths"].numpy()):
            assert len(strip(row)) == length and row[length] == EOS
            assert (row[length + 1:] == 0).all()
            assert (row[:length] > EOS).all()  # no reserved ids inside


def test_batched_decoding_equals_one_by_one(untrained_nat):
    model, config = untrained_nat
    generator = NATGenerator(model, config)
    sources = [[5, 6, 7], [8, 9, 10, 11, 12, 13], [14], [15, 16, 17, 18]]
    batched = generator.decode(pad_sequences(sources), iterations=2, length_beam=2).numpy()
    for source, row in zip(sources, batched):
        alone = generator.decode(pad_sequences([source]), iterations=2, length_beam=2).numpy()[0]
        assert strip(alone) == strip(row)


def test_decoder_spans_the_longest_predicted_length_and_width_never_changes_outputs(
        untrained_nat):
    model, config = untrained_nat
    fns = nat_decoding.NATDecodingFns(model, config)
    generator = NATGenerator(model, config)
    sources = pad_sequences([[5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15, 16, 17], [18]], length=16)
    for iterations, beam in [(0, 1), (2, 2)]:
        state, lengths = nat_decoding.nat_plan(fns, sources, beam, 2, 1.5)
        capacity = int(2 + 1.5 * 16)
        width = int(nat_decoding.decode_width(lengths, capacity))
        longest = int(tf.reduce_max(lengths))
        assert longest <= width < longest + nat_decoding.WIDTH_BUCKET
        assert width % nat_decoding.WIDTH_BUCKET == 0 or width == capacity
        narrow = nat_decoding.nat_fill(fns, state, lengths,
                                       nat_decoding.length_mask(lengths, width), iterations)
        full = nat_decoding.nat_fill(fns, state, lengths,
                                     nat_decoding.length_mask(lengths, capacity), iterations)
        assert narrow.shape[1] == width + 1 < full.shape[1]
        assert [strip(r) for r in narrow.numpy()] == [strip(r) for r in full.numpy()]
        compiled = generator.decode(sources, iterations=iterations, length_beam=beam).numpy()
        assert compiled.shape[1] == width + 1
        assert [strip(r) for r in compiled] == [strip(r) for r in narrow.numpy()]
    # An empty batch still decodes (to nothing).
    assert generator.decode(np.zeros((0, 4), np.int32)).shape[0] == 0


def test_mask_predict_with_no_iterations_is_one_pass_and_beam_one_is_argmax(untrained_nat):
    model, config = untrained_nat
    fns = nat_decoding.NATDecodingFns(model, config)
    sources = pad_sequences([[5, 6, 7], [8, 9, 10, 11, 12]])
    outputs, details = nat_decoding.nat_decode(fns, sources, 0, 1, 2, 1.5, return_details=True)
    length_logits = model({"source_ids": sources,
                           "decoder_input_ids": np.ones((2, 1), np.int32)})["length_logits"]
    source_length = (sources > 0).sum(1)
    argmax_length = class_to_length(np.argmax(length_logits, -1), source_length, config).numpy()
    np.testing.assert_array_equal(details["lengths"].numpy(), argmax_length)
    for row, length in enumerate(argmax_length):
        ids = np.full((1, length), MASK_ID, np.int32)
        logits = model({"source_ids": sources[row:row + 1], "decoder_input_ids": ids})["logits"]
        logits = logits.numpy()[0]
        logits[:, :3] = -np.inf
        assert strip(outputs.numpy()[row]) == list(np.argmax(logits, -1))


def test_bad_decoding_arguments_are_rejected(untrained_nat):
    model, config = untrained_nat
    generator = NATGenerator(model, config)
    with pytest.raises(ValueError, match="iterations"):
        generator.decode(pad_sequences([[5]]), iterations=-1)
    with pytest.raises(ValueError, match="length_beam"):
        generator.decode(pad_sequences([[5]]), length_beam=0)
    with pytest.raises(ValueError, match="AT model"):
        generator.decode(pad_sequences([[5]]), rescore=True)
    with pytest.raises(TypeError, match="integer ids"):
        generator.decode(np.ones((1, 3), np.float32))


def test_token_variants_are_the_most_probable_outputs_of_one_pass():
    import itertools

    rng = np.random.default_rng(3)
    n, width, count = 3, 7, 6
    log_probs = -rng.uniform(0.0, 1.0, (n, width)).astype(np.float32)
    runner_up_log_probs = log_probs - rng.uniform(0.01, 2.0, (n, width)).astype(np.float32)
    tokens = rng.integers(5, 20, (n, width)).astype(np.int32)
    runner_up = tokens + 20
    valid = np.arange(width)[None, :] < np.array([[7], [5], [2]])  # row 2: 2 positions
    variants, sums = nat_decoding.token_variants(
        tf.constant(tokens), tf.constant(log_probs), tf.constant(runner_up),
        tf.constant(runner_up_log_probs), tf.constant(valid), count)
    variants, sums = variants.numpy(), sums.numpy()
    for row in range(n):
        positions = np.flatnonzero(valid[row])
        gaps = log_probs[row] - runner_up_log_probs[row]
        least_confident = positions[np.argsort(gaps[positions])][:4]
        # Brute force: every subset of those positions, best first.
        expected = []
        for size in range(len(least_confident) + 1):
            for subset in itertools.combinations(least_confident, size):
                out = np.where(valid[row], tokens[row], 0)
                out[list(subset)] = runner_up[row, list(subset)]
                expected.append((log_probs[row, positions].sum() - gaps[list(subset)].sum(),
                                 out))
        expected.sort(key=lambda pair: -pair[0])
        real = min(count, len(expected))
        np.testing.assert_array_equal(variants[row, 0], np.where(valid[row], tokens[row], 0))
        for k in range(real):
            np.testing.assert_allclose(sums[row, k], expected[k][0], rtol=1e-5)
            np.testing.assert_array_equal(variants[row, k], expected[k][1])
        assert (sums[row, real:] < -1e8).all()  # 2 positions: only 4 real variants
        assert (variants[row][:, ~valid[row]] == 0).all()


@pytest.fixture(scope="module")
def untrained_at():
    from keras_transformer.models import build_model

    keras.utils.set_random_seed(8)
    return build_model(tiny_config(decode_length_a=2, decode_length_b=1.5))


def test_at_rescoring_scores_are_the_at_models_mean_log_probability(untrained_at):
    from keras_transformer.decoding.model_fns import DecodingFns

    sources = pad_sequences([[5, 6, 7], [8, 9, 10, 11]])
    # Two candidates per source in the AT layout (tokens, EOS, 0); one is empty.
    outputs = np.array([[5, 6, 2, 0], [7, 2, 0, 0], [9, 9, 9, 2], [2, 0, 0, 0]], np.int32)
    scores = nat_decoding.at_sequence_scores(DecodingFns(untrained_at), tf.constant(sources),
                                             tf.constant(outputs), copies=2).numpy()
    for row, output in enumerate(outputs):
        length = list(output).index(EOS) + 1
        decoder_input = np.concatenate([[1], output[:length - 1]])[None].astype(np.int32)
        logits = untrained_at({"source_ids": sources[row // 2][None],
                               "decoder_input_ids": decoder_input}).numpy()[0]
        logits[:, :2] = -1e9  # PAD and BOS are never outputs
        log_probs = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(
            -1, keepdims=True)) - logits.max(-1, keepdims=True)
        expected = log_probs[np.arange(length), output[:length]].mean()
        np.testing.assert_allclose(scores[row], expected, rtol=1e-4, atol=1e-5)


def test_token_variants_only_add_candidates_to_at_rescoring(untrained_nat, untrained_at):
    from keras_transformer.decoding.model_fns import DecodingFns

    model, config = untrained_nat
    fns, at_fns = nat_decoding.NATDecodingFns(model, config), DecodingFns(untrained_at)
    sources = pad_sequences([[5, 6, 7], [8, 9, 10, 11, 12, 13], [14], [15, 16, 17, 18]])
    _, plain = nat_decoding.nat_decode(fns, sources, 0, 2, 2, 1.5, at_fns=at_fns,
                                       return_details=True)
    outputs, wide = nat_decoding.nat_decode(fns, sources, 0, 2, 2, 1.5, at_fns=at_fns,
                                            return_details=True, variants=4)
    plain, wide = plain["scores"].numpy(), wide["scores"].numpy()
    assert wide.shape == (4, 2 * 4)
    # Variant 0 of each length is the plain candidate, scored the same...
    np.testing.assert_allclose(wide[:, ::4], plain, rtol=1e-5, atol=1e-6)
    # ...so the kept candidate never scores worse, and here some score better.
    assert (wide.max(1) >= plain.max(1) - 1e-6).all() and (wide.max(1) > plain.max(1)).any()
    # The output is the candidate the AT model scores best.
    best = nat_decoding.at_sequence_scores(at_fns, tf.constant(sources), outputs).numpy()
    np.testing.assert_allclose(best, wide.max(1), rtol=1e-5, atol=1e-6)
    # A NAT weight adds the NAT's mean log-probability to every score.
    _, weighted = nat_decoding.nat_decode(fns, sources, 0, 2, 2, 1.5, at_fns=at_fns,
                                          return_details=True, variants=4, nat_weight=0.5)
    assert (weighted["scores"].numpy() < wide).all()  # log-probabilities are negative
    generator = NATGenerator(model, config, at_model=untrained_at)
    np.testing.assert_array_equal(
        generator.decode(sources, length_beam=2, rescore=True, token_variants=4).numpy(),
        outputs.numpy())


def test_bad_token_variant_arguments_are_rejected(untrained_nat, untrained_at):
    from keras_transformer.config import ConfigError

    model, config = untrained_nat
    generator = NATGenerator(model, config, at_model=untrained_at)
    ids = pad_sequences([[5, 6]])
    with pytest.raises(ValueError, match="needs AT rescoring"):
        generator.decode(ids, token_variants=4)
    with pytest.raises(ValueError, match="cannot follow 2 mask-predict"):
        generator.decode(ids, iterations=2, rescore=True, token_variants=4)
    for bad in (0, 17, 2.0, True):
        with pytest.raises(ValueError, match="token_variants must be"):
            generator.decode(ids, rescore=True, token_variants=bad)
    with pytest.raises(ValueError, match="rescore_nat_weight"):
        generator.decode(ids, rescore=True, rescore_nat_weight=-1.0)
    no_predictor = nat_config(length_prediction="none")
    keras.utils.set_random_seed(9)
    with pytest.raises(ValueError, match="needs a length predictor"):
        NATGenerator(build_nat_model(no_predictor), no_predictor, at_model=untrained_at).decode(
            ids, rescore=True, token_variants=2)
    with pytest.raises(ConfigError, match="token_variants"):
        nat_config(token_variants=17)
    with pytest.raises(ConfigError, match="rescore_nat_weight"):
        nat_config(rescore_nat_weight=-0.1)


# ---- learning ---------------------------------------------------------------------

def train_toy(config, task="reverse", epochs=12, num_pairs=4000):
    sources, targets = toy_pairs(task, num_pairs, vocab_size=16, min_length=2, max_length=8)
    model = compile_model((build_ctc_model if config.model_type == "ctc" else build_nat_model)(
        config), config)
    dataset = at_batches(sources, targets, 32)
    if config.model_type == "ctc":
        dataset = dataset.unbatch().filter(lambda x, y: ctc_pair_filter(config)(
            x["source_ids"][x["source_ids"] > 0], y[y > EOS])).batch(32)
    model.fit(nat_batches(dataset, config, seed=1), epochs=epochs, verbose=0)
    return model


def toy_common():
    return dict(d_model=64, ff_dim=128, num_heads=2, source_vocab_size=16, target_vocab_size=16,
                learning_rate=2e-3, warmup_steps=200, label_smoothing=0.0)


@pytest.mark.parametrize("training", ["cmlm", pytest.param("glat", marks=pytest.mark.slow)])
def test_tiny_nat_learns_to_reverse_in_one_pass(training):
    config = nat_config(nat_training=training, **toy_common())
    # 12 epochs gave 91.7-100 % one-pass depending on thread scheduling; 20 give 100 %.
    model = train_toy(config, epochs=20)
    test_sources, test_targets = toy_pairs("reverse", 300, vocab_size=16, min_length=2,
                                           max_length=8, seed=99)
    generator = NATGenerator(model, config)
    outputs, details = nat_decoding.nat_decode(generator.fns, pad_sequences(test_sources), 0, 1,
                                               config.decode_length_a, config.decode_length_b,
                                               return_details=True)
    length_accuracy = float(np.mean(details["lengths"].numpy()
                                    == np.array([len(t) for t in test_targets])))
    accuracy = exact_match(outputs.numpy(), test_targets)
    refined = exact_match(generator.decode(pad_sequences(test_sources), iterations=4).numpy(),
                          test_targets)
    print(f"NAT {training} reverse: one pass {accuracy:.3f}, mask-predict 4 {refined:.3f}, "
          f"length accuracy {length_accuracy:.3f}")
    assert length_accuracy >= 0.98
    assert accuracy >= 0.95
    if training == "cmlm":
        # Only CMLM trains on partly revealed inputs like refinement feeds it;
        # a GLAT model sees few revealed tokens once its first pass is good.
        assert refined >= 0.95


def test_tiny_ctc_model_learns_to_reverse():
    config = nat_config(model_type="ctc", ctc_upsample=2, **toy_common())
    model = train_toy(config)
    test_sources, test_targets = toy_pairs("reverse", 300, vocab_size=16, min_length=2,
                                           max_length=8, seed=99)
    outputs = NATGenerator(model, config).decode(pad_sequences(test_sources)).numpy()
    accuracy = exact_match(outputs, test_targets)
    print(f"CTC reverse: exact match {accuracy:.3f}")
    assert accuracy >= 0.95
