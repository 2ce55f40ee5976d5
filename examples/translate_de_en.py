"""German -> English sentence translation on the Ding dictionary with the Python API.

Reads the example sentences of Debian's Ding dictionary (`apt-get install
trans-de-en`; read from /usr/share/trans/de-en, never copied), splits them by
German sentence, learns one shared WordPiece vocabulary with keras-hub, trains
with `model.fit` on a bucketed `tf.data` pipeline, then translates held-out
sentences with greedy and beam search and scores them with sacrebleu.

    python examples/translate_de_en.py --minutes 60   # the BENCHMARKS.md model size
    python examples/translate_de_en.py --quick        # a minute; what the tests run
"""

import argparse

import keras

from keras_transformer import TransformerConfig, build_seq2seq_model, compile_model
from keras_transformer.data import ding
from keras_transformer.data.pipeline import make_dataset
from keras_transformer.metrics import bleu_chrf
from keras_transformer.text import WordPieceVocabulary
from keras_transformer.training import TimeBudget
from keras_transformer.translator import Translator


def main(quick=False, minutes=60.0, path=ding.DEFAULT_DING_PATH):
    keras.utils.set_random_seed(0)
    corpus = ding.read_ding(path, content="sentences")
    train, dev, test = ding.split_ding(corpus, test_fraction=0.08, dev_fraction=0.02)
    if quick:
        train, test = train[:2000], test[:50]
    print(f"{len(train)} training pairs, {len(test)} test pairs; skipped: "
          f"{corpus.stats['misaligned_lines']} misaligned lines, "
          f"{corpus.stats['ambiguous_slash']} ambiguous sub-entries")
    german, english = [g for g, _ in train], [e for _, e in train]
    # One vocabulary for both languages: shared (and tied) embeddings.
    vocab = WordPieceVocabulary.learn(german + english, vocab_size=1000 if quick else 8000)

    config = TransformerConfig(
        source_vocab_size=vocab.size, target_vocab_size=vocab.size, share_embeddings=True,
        d_model=32 if quick else 256, num_heads=4, ff_dim=64 if quick else 1024,
        num_encoder_layers=1 if quick else 3, num_decoder_layers=1 if quick else 3,
        norm_position="pre", dropout=0.2, attention_dropout=0.1, batch_size=128,
        learning_rate=1e-3, warmup_steps=1000, max_source_length=64, max_target_length=64,
        decode_length_a=10, decode_length_b=1.5, dtype_policy="mixed_bfloat16")
    dataset = make_dataset(german, english, vocab, vocab, config.batch_size,
                           max_source_length=64, max_target_length=64)
    dev_set = make_dataset([g for g, _ in dev], [e for _, e in dev], vocab, vocab,
                           config.batch_size, max_source_length=64, max_target_length=64,
                           shuffle=False)
    model = compile_model(build_seq2seq_model(config), config)

    model.fit(dataset, validation_data=dev_set, epochs=1 if quick else 100,
              callbacks=[TimeBudget(minutes)], verbose=2)

    translator = Translator(model, config, vocab, vocab)
    sources, references = [g for g, _ in test], [e for _, e in test]
    print(f"copy the source: BLEU {bleu_chrf(sources, references)['bleu']:.2f}")
    for decoder in ("greedy", "beam"):
        hypotheses = translator.translate(sources, decoder=decoder, beam_size=4, batch_size=64)
        scores = bleu_chrf(hypotheses, references)
        print(f"{decoder:6s} BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f} "
              f"on {len(test)} held-out sentences")
    for source, output in zip(sources[:3], translator.translate(sources[:3])):
        print(f"  {source} -> {output}")
    return scores


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--ding", default=ding.DEFAULT_DING_PATH, help="the dictionary file")
    args = parser.parse_args()
    main(args.quick, args.minutes, args.ding)
