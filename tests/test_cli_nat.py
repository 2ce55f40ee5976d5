"""The command line with NAT and CTC runs: train, translate, evaluate, distill."""

import pytest
from test_cli import DICTIONARY, assert_one_line_error, run_cli, tiny_run  # noqa: F401

from keras_transformer.data.cmudict import read_cmudict


def train_tiny(root, config, name, *sets):
    run = root / name
    args = ["train", "--config", str(config), "--run", str(run), "--verbose", "0"]
    for value in sets:
        args += ["--set", value]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    return run


@pytest.mark.parametrize("sets", [
    ("model_type=nat",),
    pytest.param(("model_type=nat", "nat_training=glat", "nat_decoder_input=copy"),
                 marks=pytest.mark.slow),
    pytest.param(("model_type=nat", "length_prediction=none"), marks=pytest.mark.slow),
    ("model_type=ctc",),
])
def test_nat_runs_train_translate_and_evaluate(tiny_run, sets):  # noqa: F811
    root, config, _ = tiny_run
    run = train_tiny(root, config, "_".join(s.replace("=", "-") for s in sets), *sets)
    assert "model_type: " + sets[0].split("=")[1] in (run / "run.yaml").read_text()
    translated = run_cli("translate", "--run", str(run), "cat", "", "tab",
                         "--iterations", "2", "--length-beam", "2")
    assert translated.returncode == 0, translated.stderr[-3000:]
    lines = translated.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["cat", "", "tab"]
    assert lines[1] == "\t"  # an empty input gives an empty output
    evaluated = run_cli("evaluate", "--run", str(run), "--limit", "4")
    assert evaluated.returncode == 0 and "WER:" in evaluated.stdout, evaluated.stderr[-3000:]
    wrong = run_cli("translate", "--run", str(run), "--decoder", "beam", "cat")
    assert_one_line_error(wrong, "cannot decode with 'beam'")


@pytest.mark.slow  # trains a 40-epoch teacher and a student: over a minute
def test_distill_writes_a_training_set_a_student_trains_on(tiny_run):  # noqa: F811
    root, config, _ = tiny_run
    # A teacher trained long enough to pronounce every training word.
    teacher = train_tiny(root, config, "teacher", "epochs=40", "learning_rate=0.01",
                         "warmup_steps=40", "dropout=0.0")
    distilled = root / "distilled.dict"
    result = run_cli("distill", "--teacher", str(teacher), "--output", str(distilled),
                     "--beam-size", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "skipped 0 empty" in result.stdout
    entries = read_cmudict(distilled)
    # One pronunciation per training word, in the dictionary format.
    assert sorted(entries) == sorted({line.split()[0].lower()
                                      for line in DICTIONARY.splitlines()})
    assert all(len(prons) == 1 for prons in entries.values())
    student = train_tiny(root, config, "student", "model_type=nat",
                         f"data.train={distilled}", f"data.vocab_from={teacher}")
    assert (student / "target_vocab.json").read_text() == \
        (teacher / "target_vocab.json").read_text()
    rescored = run_cli("translate", "--run", str(student), "--rescore-run", str(teacher),
                       "--length-beam", "3", "cat")
    assert rescored.returncode == 0, rescored.stderr[-3000:]
    variants = run_cli("translate", "--run", str(student), "--rescore-run", str(teacher),
                       "--length-beam", "2", "--token-variants", "4",
                       "--rescore-nat-weight", "0.3", "cat", "dog")
    assert variants.returncode == 0, variants.stderr[-3000:]
    assert len(variants.stdout.splitlines()) == 2
    no_rescorer = run_cli("translate", "--run", str(student), "--token-variants", "4", "cat")
    assert_one_line_error(no_rescorer, "needs AT rescoring")
    refused = run_cli("distill", "--teacher", str(student), "--output", str(root / "x.dict"))
    assert_one_line_error(refused, "must be an AT model")
    bad_rescorer = run_cli("translate", "--run", str(student), "--rescore-run", str(student),
                           "cat")
    assert_one_line_error(bad_rescorer, "not an AT model")
