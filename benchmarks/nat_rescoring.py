"""Where a G2P NAT student's errors come from, and the AT-rescoring knobs chosen on validation words.

`--part gold-length`: the student's one pass at its predicted length and at
the gold length (the reference length closest to the prediction), on the
test words: how much of its WER a perfect length predictor would remove.

`--part grid`: on the validation words held out of the teacher's training
set (never the test words), the candidate pool of length beam 5 x 16 token
variants is built once with the library's own decoding functions; then
every (length beam, token variants, NAT weight) setting is a choice within
that pool: the top-l lengths and the top-k variants of each are prefixes of
it, so the grid costs one pass of decoding.

    python benchmarks/nat_rescoring.py --part gold-length --nat-run runs/g2p_glat \\
        --at-run runs/g2p_full
    python benchmarks/nat_rescoring.py --part grid --nat-run runs/g2p_glat --at-run runs/g2p_full
"""

import argparse
import collections
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

LENGTH_BEAMS, VARIANTS, NAT_WEIGHTS = (1, 3, 5), (1, 4, 8, 16), (0.0, 0.1, 0.2, 0.3, 0.5)


def load(args, split):
    """The NAT translator (with its rescorer) and `{word: [references]}` of `split`."""
    from keras_transformer.runs import load_run
    from keras_transformer.tasks import load_task_data
    from keras_transformer.translator import Translator

    _, _, data_config, _, _ = load_run(args.at_run)
    data = load_task_data(data_config)
    if split == "test":
        references = data.test_references
    else:
        references = collections.defaultdict(list)
        for word, pronunciation in data.dev:
            references[word].append(pronunciation)
    translator = Translator.from_run(args.nat_run, rescore_run=args.at_run)
    return translator, dict(references)


def batches(translator, words, size):
    import tensorflow as tf

    from keras_transformer.data.pipeline import pad_sequences

    encoded = translator.encode(words, truncate=True)
    for start in range(0, len(words), size):
        yield start, tf.constant(pad_sequences(encoded[start:start + size]), tf.int32)


def part_gold_length(args):
    import numpy as np
    import tensorflow as tf

    from keras_transformer.decoding import nat
    from keras_transformer.metrics import wer_per

    translator, references = load(args, "test")
    fns, config = translator.generator.fns, translator.config
    plan = tf.function(lambda ids: nat.nat_plan(fns, ids, 1, config.decode_length_a,
                                                config.decode_length_b), jit_compile=True)
    fill = tf.function(lambda state, lengths, valid: nat.nat_fill(fns, state, lengths, valid),
                       jit_compile=True)
    words = sorted(references)
    outputs = {"predicted": [], "gold": []}
    right = 0
    for start, ids in batches(translator, words, 256):
        state, lengths = plan(ids)
        gold = []
        for word, length in zip(words[start:start + 256], lengths.numpy()[:, 0]):
            candidates = [len(reference.split()) for reference in references[word]]
            right += int(length in candidates)
            gold.append(min(candidates, key=lambda c: abs(c - length)))
        gold = tf.constant(np.array(gold, np.int32)[:, None])
        for name, chosen in (("predicted", lengths), ("gold", gold)):
            valid = nat.length_mask(chosen, nat.decode_width(chosen))
            outputs[name] += [translator.target_vocab.decode(row)
                              for row in fill(state, chosen, valid).numpy()]
    print(f"test words: {len(words)}; predicted length is a reference length for "
          f"{100 * right / len(words):.1f} %")
    for name, texts in outputs.items():
        wer, per = wer_per(texts, [references[w] for w in words])
        print(f"| one pass at the {name} length | {100 * wer:.2f} | {100 * per:.2f} |")


def candidate_pool(translator, words, length_beam, variants):
    """`[(texts [l][k], at_means [l, k], nat_means [l, k])]` per word."""
    import tensorflow as tf

    from keras_transformer.decoding import nat
    from keras_transformer.models.nat import MASK_ID
    from keras_transformer.text.vocabulary import BOS_ID, EOS_ID, PAD_ID

    generator = translator.generator
    fns, at_fns, config = generator.fns, generator.at_fns, translator.config
    plan = tf.function(lambda ids: nat.nat_plan(fns, ids, length_beam, config.decode_length_a,
                                                config.decode_length_b), jit_compile=True)

    @tf.function(jit_compile=True)
    def fill(state, lengths, valid):
        flat_state = nat._repeat_state(state, length_beam)
        ids = tf.where(valid, MASK_ID, PAD_ID)
        top2 = nat._predict_top2(fns, flat_state, ids, [PAD_ID, BOS_ID, EOS_ID])
        tokens, sums = nat.token_variants(*top2, valid, variants)
        flat_lengths = tf.repeat(tf.reshape(lengths, [-1]), variants)
        candidates = nat._with_eos(tf.reshape(tokens, [-1, tf.shape(valid)[1]]), flat_lengths)
        at_means = nat.at_sequence_scores(at_fns, state["source_ids"], candidates,
                                          copies=length_beam * variants)
        nat_means = tf.reshape(sums, [-1]) / tf.cast(tf.maximum(flat_lengths, 1), tf.float32)
        shape = [-1, length_beam, variants]
        return (tf.reshape(candidates, shape + [tf.shape(candidates)[1]]),
                tf.reshape(at_means, shape), tf.reshape(nat_means, shape))

    pool = []
    for _, ids in batches(translator, words, 128):
        state, lengths = plan(ids)
        candidates, at_means, nat_means = fill(
            state, lengths, nat.length_mask(lengths, nat.decode_width(lengths)))
        for rows, at_row, nat_row in zip(candidates.numpy(), at_means.numpy(),
                                         nat_means.numpy()):
            texts = [[translator.target_vocab.decode(row) for row in per_length]
                     for per_length in rows]
            pool.append((texts, at_row, nat_row))
    return pool


def part_grid(args):
    import numpy as np

    from keras_transformer.metrics import wer_per

    translator, references = load(args, "dev")
    words = sorted(references)
    pool = candidate_pool(translator, words, max(LENGTH_BEAMS), max(VARIANTS))
    print(f"validation words: {len(words)}; WER % / PER % of the kept candidate")
    print("| length beam | token variants | " + " | ".join(
        f"NAT weight {w}" for w in NAT_WEIGHTS) + " |")
    print("|---" * (2 + len(NAT_WEIGHTS)) + "|")
    for beam in LENGTH_BEAMS:
        for count in VARIANTS:
            if beam * count == 1:
                continue  # one candidate: nothing to rescore
            cells = []
            for weight in NAT_WEIGHTS:
                kept = []
                for texts, at_means, nat_means in pool:
                    scores = at_means[:beam, :count] + weight * nat_means[:beam, :count]
                    length, variant = np.unravel_index(np.argmax(scores), scores.shape)
                    kept.append(texts[length][variant])
                wer, per = wer_per(kept, [references[w] for w in words])
                cells.append(f"{100 * wer:.2f} / {100 * per:.2f}")
            print(f"| {beam} | {count} | " + " | ".join(cells) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["gold-length", "grid"], required=True)
    parser.add_argument("--nat-run", required=True, help="the NAT student")
    parser.add_argument("--at-run", required=True,
                        help="its AT teacher: rescorer, and the data split")
    args = parser.parse_args()
    {"gold-length": part_gold_length, "grid": part_grid}[args.part](args)


if __name__ == "__main__":
    main()
