"""`export` and `translate --model` on the command line."""

import os

import pytest
from test_cli import assert_one_line_error, run_cli, tiny_run  # noqa: F401


@pytest.mark.slow  # exports and reloads a SavedModel through the CLI: about a minute
def test_export_then_translate_with_the_saved_model(tiny_run):  # noqa: F811
    root, _, run = tiny_run
    model = root / "exported"
    result = run_cli("export", "--checkpoint", str(run), "--output", str(model),
                     "--options", '{"beam_size": 2}')
    assert result.returncode == 0, result.stderr[-3000:]
    assert "translate_beam" in result.stdout
    from_run = run_cli("translate", "--run", str(run), "cat", "", "tab")
    from_model = run_cli("translate", "--model", str(model), "cat", "", "tab")
    assert from_model.returncode == 0, from_model.stderr[-3000:]
    assert from_model.stdout == from_run.stdout
    nbest = run_cli("translate", "--model", str(model), "--decoder", "beam", "--nbest", "2", "cat")
    assert nbest.returncode == 0 and " | " in nbest.stdout, nbest.stderr[-3000:]
    assert_one_line_error(run_cli("translate", "--model", str(model), "--beam-size", "3", "cat"),
                          "fixed when a model is exported")
    assert_one_line_error(run_cli("translate", "--model", str(model), "--decoder", "nat", "cat"),
                          "no translate_nat signature")
    assert_one_line_error(run_cli("translate", "--model", str(root), "cat"),
                          "not a SavedModel")
    assert_one_line_error(run_cli("translate", "cat"), "one of --run")
    assert_one_line_error(run_cli("export", "--checkpoint", str(run), "--output",
                                  str(root / "x"), "--options", '{"iterations": 2}'),
                          "unknown export option")
    assert_one_line_error(run_cli("export", "--checkpoint", str(run), "--output",
                                  str(root / "x"), "--options", "[1]"), "JSON object")


def test_export_tflite_writes_files_and_a_runner(tiny_run):  # noqa: F811
    root, _, run = tiny_run
    out = root / "tflite"
    result = run_cli("export", "--checkpoint", str(run), "--output", str(out), "--format",
                     "tflite", "--quantize", "int8")
    assert result.returncode == 0, result.stderr[-3000:]
    names = sorted(os.listdir(out))
    assert names == ["greedy_int8.tflite", "run_tflite.py", "source_vocab.txt",
                     "target_vocab.txt", "tflite_meta.json"]
