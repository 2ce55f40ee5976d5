"""Sentence translation: the Ding reader, WordPiece on German, a tiny model that overfits
50 sentence pairs through the whole text path (and its SavedModel), and the plots."""

import json
import os
import struct
import subprocess
import sys

import pytest
from conftest import tiny_config

from keras_transformer.data.ding import (DEFAULT_DING_PATH, clean_text, parse_ding_lines,
                                         read_ding, split_ding)
from keras_transformer.tasks import DataConfig, load_task_data

FIXTURE = [
    "# Version :: a comment, not an entry",
    "Aal {m} [cook.] | Aale {pl} :: eel | eels",
    "blank {adj} | Es war purer Zufall. :: sheer | It was sheer/pure coincidence.",
    "a line without the separator",
    "eins | zwei :: one",
    "Das ist reine Rhetorik. :: This is pure / arrant rhetoric.",
    "Noch ist nicht aller Tage Abend.; Man soll den Tag nicht vor dem Abend loben. :: "
    "It's not over until it's over.",
    "Abholung {f} (von jdm./etw.) <Abholen> | zur Abholung bereit :: "
    "collection (of sb./sth.) | ready for collection",
    "Wie geht's?; Wie geht es dir? :: How are you?; How are you doing?",
    "Herzinfarkt {m} /HI/ [med.] :: myocardial infarction /MI/",
]


def test_ding_reader_cleans_markup_aligns_sub_entries_and_counts_skips():
    corpus = parse_ding_lines(FIXTURE, content="all")
    pairs = set(corpus.pairs)
    assert ("Aal", "eel") in pairs and ("Aale", "eels") in pairs
    assert ("Es war purer Zufall.", "It was sheer coincidence.") in pairs
    assert ("Abholung", "collection") in pairs
    assert ("zur Abholung bereit", "ready for collection") in pairs
    assert ("Herzinfarkt", "myocardial infarction") in pairs
    # Equal numbers of alternatives pair up by position, others take the first English one.
    assert ("Wie geht's?", "How are you?") in pairs
    assert ("Wie geht es dir?", "How are you doing?") in pairs
    assert ("Man soll den Tag nicht vor dem Abend loben.", "It's not over until it's over.") \
        in pairs
    # Nothing is ever paired across sub-entries or lines.
    assert ("blank", "It was sheer coincidence.") not in pairs
    assert all("{" not in g + e and "[" not in g + e and "<" not in g + e for g, e in pairs)
    assert corpus.stats["malformed_lines"] == 1
    assert corpus.stats["misaligned_lines"] == 1
    assert corpus.stats["ambiguous_slash"] == 1
    assert not any("eins" in g or "zwei" in g or "Rhetorik" in g for g, _ in pairs)

    sentences = parse_ding_lines(FIXTURE, content="sentences")
    assert set(sentences.pairs) == {p for p, s in zip(corpus.pairs, corpus.is_sentence) if s}
    assert ("Es war purer Zufall.", "It was sheer coincidence.") in sentences.pairs
    assert all(flag for flag in sentences.is_sentence)
    assert ("Aal", "eel") not in sentences.pairs


def test_clean_text_rules():
    assert clean_text("Abholung {f} (von jdm./etw.) [transp.] <Abholen>") == "Abholung"
    assert clean_text("It was sheer/pure coincidence.") == "It was sheer coincidence."
    assert clean_text("heart attack [coll.] (of sb.) .") == "heart attack."
    assert clean_text("{f} [med.]") == ""


def test_ding_split_is_deterministic_sentence_only_and_disjoint():
    lines = [f"Wort{i} {{n}} | Satz Nummer {i} ist hier. :: word{i} | Sentence number {i} is "
             "here." for i in range(400)]
    corpus = parse_ding_lines(lines, content="all")
    train, dev, test = split_ding(corpus, test_fraction=0.2, dev_fraction=0.1, seed=3)
    assert (train, dev, test) == split_ding(corpus, test_fraction=0.2, dev_fraction=0.1, seed=3)
    assert 40 < len(test) < 120 and dev
    assert all(g.endswith(".") for g, _ in test + dev)
    assert not {g for g, _ in train} & {g for g, _ in test + dev}
    assert len(train) + len(dev) + len(test) == len(corpus.pairs)
    with pytest.raises(ValueError, match="test sentences"):
        split_ding(corpus, test_fraction=0.01, min_test=1000)


def test_missing_ding_file_says_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_ding(tmp_path / "nope")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(DEFAULT_DING_PATH), reason="apt-get install trans-de-en")
def test_the_real_dictionary_gives_a_test_split_of_at_least_1000_sentences():
    data = load_task_data(DataConfig(task="ding", train=DEFAULT_DING_PATH, test_fraction=0.08,
                                     dev_fraction=0.02))
    assert len(data.test) >= 1000 and len(data.train) > 15000
    assert not {s for s, _ in data.train} & set(data.test_references)


GERMAN = ["Die Straße ist naß und größer als früher.", "Über den Bäumen fliegen Vögel.",
          "Äpfel, Öl und Süßigkeiten kosten 3,50 €!", "Er weiß es nicht: heute oder morgen?",
          "„Grüß Gott“, sagte der Bürgermeister."]


def test_wordpiece_round_trip_on_german_with_umlauts_and_eszett():
    import tensorflow as tf

    from keras_transformer.text import WordPieceVocabulary
    from keras_transformer.text.graph import WordPieceGraphTokenizer

    vocab = WordPieceVocabulary.learn(GERMAN * 3, vocab_size=300)
    graph = WordPieceGraphTokenizer(vocab)
    # Exported models and tf.data run the tensorflow-text ops inside a graph;
    # keras-hub answers eager calls in Python. Both must agree.
    ids = tf.function(graph.tokenize)(tf.constant(GERMAN))
    assert ids.to_list() == graph.tokenize(tf.constant(GERMAN)).to_list()
    for sentence, row in zip(GERMAN, ids.to_list()):
        assert row == vocab.encode(sentence)
        assert 3 not in row  # every character is known: no UNK
        assert vocab.decode(row) == sentence
    texts = tf.function(graph.detokenize)(ids.to_tensor()).numpy()
    assert [t.decode("utf-8") for t in texts] == GERMAN
    assert vocab.decode(vocab.encode("  Straße  ")) == "Straße"


SUBJECTS = [("Der Hund", "The dog"), ("Die Katze", "The cat"), ("Der Bär", "The bear"),
            ("Mein Vater", "My father"), ("Die Ärztin", "The doctor")]
VERBS = [("sieht", "sees"), ("grüßt", "greets"), ("füttert", "feeds"), ("hört", "hears"),
         ("mag", "likes")]
OBJECTS = [("die Straße.", "the street."), ("das Mädchen.", "the girl.")]
PAIRS = [(f"{s} {v} {o}", f"{se} {ve} {oe}") for s, se in SUBJECTS for v, ve in VERBS
         for o, oe in OBJECTS]

FRESH = r'''
import json, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "keras_transformer":
            raise ImportError("keras_transformer must not be needed")
sys.meta_path.insert(0, Block())
import tensorflow as tf
import tensorflow_text  # registers the WordPiece ops the graph uses
model = tf.saved_model.load(sys.argv[1])
out = model.signatures["translate_greedy"](text=tf.constant(json.loads(sys.argv[2])))
print("RESULT" + json.dumps([s.decode("utf-8") for s in out["output"].numpy()]))
'''


@pytest.fixture(scope="module")
def overfit_run(tmp_path_factory):
    from keras_transformer.runs import train_run

    root = tmp_path_factory.mktemp("translation")
    ding = root / "tiny.ding"
    ding.write_text("\n".join(f"Satz {{m}} | {g} :: sentence | {e}" for g, e in PAIRS) + "\n",
                    encoding="utf-8")
    config = tiny_config(d_model=64, ff_dim=128, num_heads=4, dropout=0.0, label_smoothing=0.0,
                         batch_size=10, epochs=60, learning_rate=3e-3, warmup_steps=40,
                         share_embeddings=True, max_source_length=24, max_target_length=24,
                         decode_length_a=4, decode_length_b=1.5)
    data = DataConfig(task="ding", train=str(ding), ding_content="sentences", test_fraction=0.0,
                      dev_fraction=0.0, source_tokenizer="wordpiece",
                      target_tokenizer="wordpiece", shared_vocab=True, wordpiece_vocab_size=200)
    run = str(root / "run")
    train_run(config, data, run, verbose=0)
    return run


def test_tiny_model_overfits_50_sentence_pairs_and_its_saved_model_agrees(overfit_run, tmp_path,
                                                                          capsys):
    from keras_transformer.export import export_run
    from keras_transformer.translator import Translator, evaluate_text

    assert len(PAIRS) == 50
    translator = Translator.from_run(overfit_run)
    result = evaluate_text(translator, PAIRS)
    print(f"BLEU {result['bleu']:.1f} chrF {result['chrf']:.1f}")
    assert result["bleu"] > 90, result["examples"]

    path = str(tmp_path / "saved")
    export_run(overfit_run, path)
    sources = [g for g, _ in PAIRS[:20]] + ["", "Der Hund mag die Ärztin.", "Xylophon ñ"]
    expected = translator.translate(sources)
    process = subprocess.run([sys.executable, "-c", FRESH, path, json.dumps(sources)],
                             capture_output=True, text=True, timeout=600,
                             env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert process.returncode == 0, process.stderr[-3000:]
    line = next(line for line in process.stdout.splitlines() if line.startswith("RESULT"))
    assert json.loads(line[len("RESULT"):]) == expected
    assert expected[20] == ""

    from keras_transformer.cli import main

    capsys.readouterr()
    assert main(["translate", "--model", path, sources[0], sources[1]]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [row.split("\t")[-1] for row in printed] == expected[:2]


def _png_size(path):
    with open(path, "rb") as f:
        header = f.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_plot_command_writes_pngs_that_grow_with_the_input(overfit_run, tmp_path):
    from keras_transformer.cli import main

    short, long = tmp_path / "short", tmp_path / "long"
    assert main(["plot", "--run", overfit_run, "--text", "Der Hund sieht die Straße.",
                 "--output", str(short)]) == 0
    assert main(["plot", "--run", overfit_run, "--text",
                 "Der Hund sieht die Straße und die Katze grüßt das Mädchen.",
                 "--output", str(long)]) == 0
    names = {"cross_attention.png", "decoder_self_attention.png", "encoder_self_attention.png",
             "training_curves.png"}
    assert set(os.listdir(short)) == names == set(os.listdir(long))
    for name in names:
        assert os.path.getsize(short / name) > 1000
    # Source tokens are the columns of both plots; the encoder's rows too.
    for name in ("cross_attention.png", "encoder_self_attention.png"):
        (w1, h1), (w2, h2) = _png_size(short / name), _png_size(long / name)
        assert w2 > w1 and h2 >= h1
    (w1, h1), (w2, h2) = (_png_size(short / "encoder_self_attention.png"),
                          _png_size(long / "encoder_self_attention.png"))
    assert h2 > h1
    assert _png_size(short / "training_curves.png") == _png_size(long / "training_curves.png")
    assert main(["plot", "--run", overfit_run, "--output", str(tmp_path / "none")]) == 2


def test_distilled_pairs_replace_training_pairs_but_not_dev_or_test(overfit_run, tmp_path):
    from keras_transformer.data.distill import distill_run
    from keras_transformer.runs import load_run

    output = str(tmp_path / "distilled.tsv")
    written, skipped = distill_run(overfit_run, output, decoder="greedy", verbose=0)
    assert written + skipped == 50 and written >= 45
    lines = open(output, encoding="utf-8").read().splitlines()
    assert len(lines) == written and all(line.count("\t") == 1 for line in lines)

    _, _, data_config, _, _ = load_run(overfit_run)
    values = dict(data_config.to_dict(), test_fraction=0.2, distilled=output)
    data = load_task_data(DataConfig(**values))
    real = load_task_data(DataConfig(**dict(values, distilled="")))
    assert data.test == real.test and data.dev == real.dev and data.test
    held = {s for s, _ in data.test + data.dev}
    assert data.train and not held & {s for s, _ in data.train}
    teacher = dict(line.split("\t") for line in lines)
    assert all(teacher[s] == t for s, t in data.train)
    with pytest.raises(Exception, match="distilled"):
        DataConfig(task="g2p", distilled=output)


def test_evaluate_prints_bleu_chrf_and_latency(overfit_run, tmp_path, capsys):
    from keras_transformer.cli import main

    test_file = tmp_path / "test.ding"
    test_file.write_text("\n".join(f"{g} :: {e}" for g, e in PAIRS[:8]) + "\n", encoding="utf-8")
    assert main(["evaluate", "--run", overfit_run, "--test", str(test_file), "--latency", "2",
                 "--batch-size", "4"]) == 0
    out = capsys.readouterr().out
    assert "sentences: 8  BLEU" in out and "chrF" in out
    assert "latency at batch 1" in out and "latency at batch 4" in out


def test_plot_of_a_missing_run_is_a_one_line_error(tmp_path, capsys):
    from keras_transformer.cli import main

    assert main(["plot", "--run", str(tmp_path / "missing"), "--text", "x",
                 "--output", str(tmp_path / "p")]) == 2
    assert "run directory not found" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(DEFAULT_DING_PATH), reason="apt-get install trans-de-en")
def test_demo_translation_mode_trains_a_small_model_and_translates(tmp_path, capsys):
    from keras_transformer.cli import main

    run = str(tmp_path / "demo_de_en")
    assert main(["demo", "--task", "translation", "--train", "--run", run, "--minutes", "1",
                 "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "held-out sentences: 500  BLEU:" in out
    assert "Es war purer Zufall." in out and "->" in out


def test_ding_data_config_values_are_checked():
    from keras_transformer.config import ConfigError
    from keras_transformer.tasks import build_vocabularies

    with pytest.raises(ConfigError, match="ding_content"):
        DataConfig(task="ding", train="x", ding_content="phrases")
    with pytest.raises(ConfigError, match="shared_vocab"):
        DataConfig(task="ding", train="x", shared_vocab="yes")
    with pytest.raises(ConfigError, match="wordpiece"):
        build_vocabularies(DataConfig(task="ding", train="x", shared_vocab=True), PAIRS)


def test_length_buckets_never_change_outputs(overfit_run):
    import numpy as np

    from keras_transformer.translator import Translator

    translator = Translator.from_run(overfit_run)
    sources = [g for g, _ in PAIRS[:12]] + ["Der Hund", "Straße"]
    bucketed = translator.translate(sources, batch_size=5)
    widths = []
    for source, output in zip(sources, bucketed):
        ids = np.asarray([translator.source_vocab.encode(source)], dtype="int32")
        widths.append(ids.shape[1])
        exact = translator.target_vocab.decode(translator.generator.greedy(ids).numpy()[0])
        assert output == exact
    assert any(width % translator.LENGTH_BUCKET for width in widths)  # padding did happen


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(DEFAULT_DING_PATH), reason="apt-get install trans-de-en")
def test_translation_example_runs_in_quick_mode():
    from conftest import REPO

    result = subprocess.run([sys.executable, os.path.join(REPO, "examples", "translate_de_en.py"),
                             "--quick"], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "greedy BLEU" in result.stdout and "beam   BLEU" in result.stdout
