"""The command line end to end: tiny runs, resume, translate, and one-line errors."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DICTIONARY = """CAT  K AE T
BAT  B AE T
TAB  T AE B
ACT  AE K T
CAB  K AE B
TACT  T AE K T
"""


def run_cli(*args, stdin=None, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "keras_transformer.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)


def assert_one_line_error(result, fragment):
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr[-2000:]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    dictionary = root / "tiny.dict"
    dictionary.write_text(DICTIONARY * 10)
    config = root / "tiny.yaml"
    config.write_text(
        "d_model: 16\nnum_heads: 2\nff_dim: 32\nnum_encoder_layers: 1\nnum_decoder_layers: 1\n"
        "batch_size: 8\nepochs: 1\nmax_source_length: 12\nmax_target_length: 12\n"
        f"data:\n  task: g2p\n  train: {dictionary}\n  test: {dictionary}\n  dev_fraction: 0.0\n")
    run = root / "run"
    result = run_cli("train", "--config", str(config), "--run", str(run), "--verbose", "0",
                     "--tensorboard", "--set", "learning_rate=0.005")
    assert result.returncode == 0, result.stderr[-3000:]
    return root, config, run


def test_train_writes_a_complete_run(tiny_run):
    _, _, run = tiny_run
    for name in ("run.yaml", "source_vocab.json", "target_vocab.json", "checkpoint.keras",
                 "state.json", "history.csv"):
        assert (run / name).exists(), name
    assert json.loads((run / "state.json").read_text())["epoch"] == 1
    assert "learning_rate" in (run / "history.csv").read_text().splitlines()[0]
    assert any((run / "tensorboard").iterdir())
    assert "learning_rate: 0.005" in (run / "run.yaml").read_text()


def test_resume_continues_from_the_last_epoch(tiny_run):
    _, config, run = tiny_run
    result = run_cli("train", "--config", str(config), "--run", str(run), "--resume",
                     "--epochs", "2", "--verbose", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((run / "state.json").read_text())["epoch"] == 2
    assert len((run / "history.csv").read_text().strip().splitlines()) == 3
    # Without --config the run continues from its own run.yaml.
    before = (run / "run.yaml").read_text()
    result = run_cli("train", "--run", str(run), "--resume", "--epochs", "3", "--verbose", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((run / "state.json").read_text())["epoch"] == 3
    assert (run / "run.yaml").read_text() == before.replace("epochs: 2", "epochs: 3")
    changed = run_cli("train", "--run", str(run), "--resume", "--epochs", "4",
                      "--set", "d_model=32", "--verbose", "0")
    assert_one_line_error(changed, "d_model is 16 in the run, 32 now")
    again = run_cli("train", "--config", str(config), "--run", str(run), "--verbose", "0")
    assert_one_line_error(again, "--resume")


def test_translate_arguments_stdin_and_awkward_inputs(tiny_run):
    _, _, run = tiny_run
    result = run_cli("translate", "--run", str(run), "cat", "", "C@T")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.rstrip("\n").split("\n")
    assert len(lines) == 3
    assert lines[1] == "\t"  # empty input -> empty output
    piped = run_cli("translate", "--run", str(run), "--decoder", "beam", "--nbest", "2",
                    stdin="cat\ntab\n")
    assert piped.returncode == 0, piped.stderr[-3000:]
    assert len(piped.stdout.strip().splitlines()) == 2 and " | " in piped.stdout
    too_long = run_cli("translate", "--run", str(run), "a" * 40)
    assert_one_line_error(too_long, "max_source_length")
    assert run_cli("translate", "--run", str(run), "--truncate", "a" * 40).returncode == 0


def test_evaluate_reports_wer_and_per(tiny_run):
    _, _, run = tiny_run
    result = run_cli("evaluate", "--run", str(run), "--decoder", "beam", "--beam-size", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "WER:" in result.stdout and "PER:" in result.stdout


def test_a_run_ensembled_with_itself_translates_like_the_run(tiny_run):
    _, _, run = tiny_run
    alone = run_cli("translate", "--run", str(run), "cat", "tab", "bat")
    together = run_cli("translate", "--run", str(run), "--ensemble", str(run), "--",
                       "cat", "tab", "bat")
    assert alone.returncode == 0 and together.returncode == 0, together.stderr[-3000:]
    assert together.stdout == alone.stdout
    assert_one_line_error(run_cli("translate", "--model", "saved_models/g2p_at", "--ensemble",
                                  str(run), "--", "cat"), "--ensemble")
    assert_one_line_error(run_cli("translate", "--run", str(run), "--ensemble", "nowhere",
                                  "--", "cat"), "run directory not found")


def test_bad_inputs_give_one_line_errors(tiny_run, tmp_path):
    root, config, run = tiny_run
    assert_one_line_error(run_cli("train", "--run", "x", "--bogus"), "unrecognized arguments")
    assert_one_line_error(run_cli("frobnicate"), "invalid choice")
    assert_one_line_error(run_cli("train", "--config", "missing.yaml", "--run", str(tmp_path)),
                          "config file not found")
    assert_one_line_error(
        run_cli("train", "--config", str(config), "--run", str(tmp_path / "r"),
                "--set", "num_heads=3"), "num_heads")
    assert_one_line_error(
        run_cli("train", "--config", str(config), "--run", str(tmp_path / "r"),
                "--set", "dropout=1.5"), "dropout")
    assert_one_line_error(
        run_cli("train", "--config", str(config), "--run", str(tmp_path / "r"),
                "--set", "colour=blue"), "unknown config field")
    bad_dict = tmp_path / "bad.dict"
    bad_dict.write_text("CAT  K AE T\nDOG\n")
    assert_one_line_error(
        run_cli("train", "--config", str(config), "--run", str(tmp_path / "r2"),
                "--set", f"data.train={bad_dict}"), "bad.dict:2")
    assert_one_line_error(run_cli("translate", "--run", str(tmp_path / "nowhere"), "cat"),
                          "run directory not found")
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("run.yaml", "source_vocab.json", "target_vocab.json"):
        (broken / name).write_text((run / name).read_text())
    (broken / "checkpoint.keras").write_bytes(b"not a zip file")
    assert_one_line_error(run_cli("translate", "--run", str(broken), "cat"), "corrupt checkpoint")


@pytest.mark.parametrize("script", ["toy_reverse.py", "g2p.py"])
def test_examples_run_in_quick_mode(script):
    result = subprocess.run([sys.executable, os.path.join(REPO, "examples", script), "--quick"],
                            capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "exact match" in result.stdout or "WER" in result.stdout


@pytest.mark.slow
def test_demo_command_end_to_end(tmp_path):
    """The README's first command, minus installation: train a few minutes, then pronounce."""
    result = run_cli("demo", "--train", "--run", str(tmp_path / "demo"), "--minutes", "3",
                     "--verbose", "0", timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "WER:" in result.stdout
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()
             if line.startswith("  ")}
    assert lines["keras"][0] == "K"
    # Second run reuses the trained model instead of training again.
    again = run_cli("demo", "--run", str(tmp_path / "demo"), "--verbose", "0")
    assert again.returncode == 0 and "training" not in again.stdout


def test_sentence_pairs_train_through_the_wordpiece_path(tmp_path):
    """The same model and CLI train on tab-separated sentences with WordPiece vocabularies."""
    pairs = [("Es war purer Zufall.", "It was sheer coincidence."),
             ("Die Straße ist schön.", "The street is beautiful."),
             ("Das Mädchen läuft.", "The girl runs."),
             ("Wir gehen nach Hause.", "We go home.")] * 30
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{de}\t{en}\n" for de, en in pairs), encoding="utf-8")
    config = tmp_path / "text.yaml"
    config.write_text(
        "d_model: 32\nnum_heads: 2\nff_dim: 64\nnum_encoder_layers: 1\nnum_decoder_layers: 1\n"
        "batch_size: 16\nepochs: 1\ndropout: 0.0\n"
        f"data:\n  task: parallel\n  train: {data}\n  source_tokenizer: wordpiece\n"
        "  target_tokenizer: wordpiece\n  wordpiece_vocab_size: 120\n  dev_fraction: 0.0\n")
    run = tmp_path / "run"
    result = run_cli("train", "--config", str(config), "--run", str(run), "--verbose", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    vocab = json.loads((run / "target_vocab.json").read_text())
    assert vocab["type"] == "wordpiece" and vocab["tokens"][:4] == ["<pad>", "<s>", "</s>", "<unk>"]
    translated = run_cli("translate", "--run", str(run), "Es war purer Zufall.")
    assert translated.returncode == 0, translated.stderr[-3000:]
    evaluated = run_cli("evaluate", "--run", str(run), "--test", str(data), "--limit", "8")
    assert evaluated.returncode == 0 and "BLEU:" in evaluated.stdout, evaluated.stderr[-3000:]
