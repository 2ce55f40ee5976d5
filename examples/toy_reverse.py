"""Learn to reverse digit sequences with the Python API: build, compile, fit, generate.

    python examples/toy_reverse.py            # about a minute on 2 CPU cores
    python examples/toy_reverse.py --quick    # seconds; what the tests run
"""

import argparse

import keras

from keras_transformer import TransformerConfig, build_seq2seq_model, compile_model
from keras_transformer.data.pipeline import pad_sequences, teacher_forcing_batch
from keras_transformer.data.toy import toy_pairs
from keras_transformer.decoding import Seq2SeqGenerator
from keras_transformer.text.vocabulary import EOS_ID


def main(quick=False):
    keras.utils.set_random_seed(0)
    vocab_size = 16  # ids 0-3 are PAD, BOS, EOS, UNK; tokens are 4..15
    config = TransformerConfig(
        source_vocab_size=vocab_size, target_vocab_size=vocab_size, d_model=64, num_heads=2,
        ff_dim=128, num_encoder_layers=2, num_decoder_layers=2, dropout=0.0,
        learning_rate=1e-3, warmup_steps=200, label_smoothing=0.1)
    sources, targets = toy_pairs("reverse", 500 if quick else 5000, vocab_size=vocab_size,
                                 min_length=2, max_length=8)
    inputs, labels = teacher_forcing_batch(sources, targets)

    model = compile_model(build_seq2seq_model(config), config)
    model.fit(inputs, labels, batch_size=32, epochs=1 if quick else 7, verbose=2)

    test_sources, test_targets = toy_pairs("reverse", 200, vocab_size=vocab_size,
                                           min_length=2, max_length=8, seed=1)
    generator = Seq2SeqGenerator(model, length_a=2, length_b=1.0)
    outputs = generator.greedy(pad_sequences(test_sources)).numpy()
    hits = 0
    for output, target in zip(outputs, test_targets):
        output = list(output)
        hits += output[:output.index(EOS_ID)] == target if EOS_ID in output else 0
    print(f"exact match on 200 new sequences: {hits / 200:.1%}")
    print("example:", test_sources[0], "->", [int(t) for t in outputs[0][:len(test_sources[0])]])
    return hits / 200


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
