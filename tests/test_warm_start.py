"""`train --init-from`: a new run starts from another run's matching layers."""

import json

import numpy as np
import pytest
from conftest import tiny_config, train_tiny_g2p_run
from test_cli import DICTIONARY, assert_one_line_error, run_cli

from keras_transformer.models import build_model
from keras_transformer.runs import RunError, load_run, train_run
from keras_transformer.warm_start import WarmStartError, copy_matching_layers, warm_start


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    root = tmp_path_factory.mktemp("warm")
    config, data, _ = train_tiny_g2p_run(root, DICTIONARY * 10, name="teacher", batch_size=8,
                                         epochs=1, num_decoder_layers=2)
    return root, config, data


def _weights(layer):
    return [np.asarray(w) for w in layer.get_weights()]


def test_a_nat_student_copies_the_teachers_encoder_and_decoder(teacher):
    root, config, _ = teacher
    trained, saved, _, source_vocab, target_vocab = load_run(str(root / "teacher"))
    student = build_model(saved.replace(model_type="nat"))
    before = _weights(student.get_layer("length_predictor"))
    run_dir = root / "student_dir"
    run_dir.mkdir()
    copied = warm_start(student, str(run_dir), str(root / "teacher"), source_vocab, target_vocab)
    assert {"source_embedding", "encoder", "decoder"} <= set(copied)
    for name in ("encoder", "decoder", "source_embedding"):
        for mine, theirs in zip(_weights(student.get_layer(name)),
                                _weights(trained.get_layer(name))):
            np.testing.assert_array_equal(mine, theirs)
    # A layer the teacher does not have keeps its fresh initialisation.
    for mine, fresh in zip(_weights(student.get_layer("length_predictor")), before):
        np.testing.assert_array_equal(mine, fresh)
    record = json.loads((run_dir / "init_from.json").read_text())
    assert record["copied"] == copied


def test_layers_of_other_shapes_are_skipped_not_forced(teacher):
    root, _, _ = teacher
    trained, saved, _, _, _ = load_run(str(root / "teacher"))
    wider = build_model(saved.replace(ff_dim=saved.ff_dim * 2))
    before = _weights(wider.get_layer("decoder"))
    copied, skipped = copy_matching_layers(wider, trained)
    assert skipped == ["decoder", "encoder"]
    assert "encoder" not in copied and not any(name.startswith("decoder") for name in copied)
    for mine, fresh in zip(_weights(wider.get_layer("decoder")), before):
        np.testing.assert_array_equal(mine, fresh)


@pytest.mark.parametrize("depth", [1, 3])
def test_a_stack_of_another_depth_copies_its_leading_blocks(teacher, depth):
    root, _, _ = teacher
    trained, saved, _, _, _ = load_run(str(root / "teacher"))
    student = build_model(saved.replace(model_type="nat", num_decoder_layers=depth))
    fresh = [_weights(block) for block in student.get_layer("decoder").blocks]
    copied, skipped = copy_matching_layers(student, trained)
    shared = min(depth, 2)
    assert f"decoder[blocks 0-{shared - 1} of 2]" in copied and "decoder" not in skipped
    theirs = trained.get_layer("decoder").blocks
    for i, block in enumerate(student.get_layer("decoder").blocks):
        expected = _weights(theirs[i]) if i < shared else fresh[i]
        for mine, other in zip(_weights(block), expected):
            np.testing.assert_array_equal(mine, other)
    # The shallower student is a working model with the teacher's first block.
    ids = np.array([[3, 4, 5, 0]])
    outputs = student({"source_ids": ids, "decoder_input_ids": np.array([[1, 1, 1]])})
    assert np.isfinite(np.asarray(outputs["logits"])).all()


def test_a_pre_norm_stack_copies_its_final_norm_with_its_blocks():
    config = tiny_config(norm_position="pre", num_encoder_layers=3)
    deep = build_model(config)
    final_norm = deep.get_layer("encoder").final_norm
    final_norm.set_weights([w + 0.5 for w in final_norm.get_weights()])  # not the init value
    shallow = build_model(config.replace(num_encoder_layers=1))
    copied, _ = copy_matching_layers(shallow, deep)
    assert "encoder[blocks 0-0 of 3]" in copied
    for mine, theirs in zip(_weights(shallow.get_layer("encoder").final_norm),
                            _weights(final_norm)):
        np.testing.assert_array_equal(mine, theirs)
    # A post-norm stack has no final norm: its blocks do not fit a pre-norm one's.
    post = build_model(config.replace(norm_position="post", num_encoder_layers=1))
    copied, skipped = copy_matching_layers(post, deep)
    assert "encoder" in skipped and not any(n.startswith("encoder") for n in copied)


def test_other_vocabularies_are_refused(teacher, tmp_path):
    root, _, _ = teacher
    _, saved, _, source_vocab, target_vocab = load_run(str(root / "teacher"))
    from keras_transformer.text.vocabulary import Vocabulary

    other = Vocabulary(list("xyz"))
    with pytest.raises(WarmStartError, match="vocab_from"):
        warm_start(build_model(saved), str(tmp_path), str(root / "teacher"), other,
                   target_vocab)


def test_init_from_cannot_resume_and_must_exist(teacher):
    root, config, data = teacher
    with pytest.raises(RunError, match="new run"):
        train_run(config, data, str(root / "teacher"), resume=True,
                  init_from=str(root / "teacher"), verbose=0)
    with pytest.raises(RunError, match="not found"):
        train_run(config, data, str(root / "x"), init_from=str(root / "nowhere"), verbose=0)


def test_train_init_from_on_the_command_line(teacher):
    root, _, data = teacher
    student = root / "cli_student"
    result = run_cli("train", "--run", str(student), "--init-from", str(root / "teacher"),
                     "--set", "model_type=nat", "--set", "d_model=16", "--set", "num_heads=2",
                     "--set", "ff_dim=32", "--set", "num_encoder_layers=1",
                     "--set", "num_decoder_layers=1", "--set", "epochs=1",
                     "--set", "max_source_length=12", "--set", "max_target_length=12",
                     "--set", "batch_size=8", "--set", f"data.train={data.train}",
                     "--set", "data.dev_fraction=0.0",
                     "--set", f"data.vocab_from={root / 'teacher'}", "--verbose", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "encoder" in json.loads((student / "init_from.json").read_text())["copied"]
    mismatched = run_cli("train", "--run", str(root / "cli_bad"), "--init-from",
                         str(root / "teacher"), "--set", f"data.train={data.train}",
                         "--set", "data.dev_fraction=0.0", "--set", "max_source_length=12",
                         "--set", "max_target_length=12", "--verbose", "0")
    assert_one_line_error(mismatched, "no layer has the same name and shapes")
