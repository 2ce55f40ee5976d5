"""NAT against AT: decoding latency on a synthetic task, and quality + latency on G2P.

Synthetic (`--part synthetic`): untrained models of one size (d_model 256,
4 heads, ff 1024, 3+3 layers, vocabulary 64), 30-token sources, every decoder
made to produce 30 tokens (AT ignores EOS; NAT decodes `0 + 1 * source_len`
positions), so each does exactly the work of a 30-token output. Quality is
irrelevant here, only the amount of work.

G2P (`--part g2p --at-run R [--nat-run R] [--ctc-run R]`): WER/PER on the
standard test split and latency at batch 1 (median over single words, after
compiling every padded length) and batch 256 (whole test set, per batch).

    python benchmarks/bench_nat.py --part synthetic
    python benchmarks/bench_nat.py --part g2p --at-run runs/g2p_full \\
        --nat-run runs/g2p_nat --ctc-run runs/g2p_ctc
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

D_MODEL, HEADS, FF, LAYERS, VOCAB, LENGTH = 256, 4, 1024, 3, 64, 30


def median_ms(fn, repeats):
    fn()  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def part_synthetic(repeats):
    import numpy as np

    from keras_transformer import TransformerConfig
    from keras_transformer.decoding import NATGenerator, Seq2SeqGenerator
    from keras_transformer.models import build_model

    base = dict(source_vocab_size=VOCAB, target_vocab_size=VOCAB, d_model=D_MODEL,
                num_heads=HEADS, ff_dim=FF, num_encoder_layers=LAYERS, num_decoder_layers=LAYERS,
                max_source_length=64, max_target_length=64, decode_length_a=0,
                decode_length_b=1.0)
    rng = np.random.default_rng(0)
    rows = []
    at = build_model(TransformerConfig(**base))
    at_gen = Seq2SeqGenerator(at, 0, 1.0)
    nat_config = TransformerConfig(**base, model_type="nat", length_prediction="none")
    nat_gen = NATGenerator(build_model(nat_config), nat_config)
    ctc_config = TransformerConfig(**base, model_type="ctc", ctc_upsample=2)
    ctc_gen = NATGenerator(build_model(ctc_config), ctc_config)
    for batch in (1, 256):
        source = rng.integers(4, VOCAB, size=(batch, LENGTH)).astype("int32")
        n = repeats if batch == 1 else max(3, repeats // 10)
        at_ms = median_ms(lambda: at_gen.greedy(source, ignore_eos=True).numpy(), n)
        assert at_gen.greedy(source, ignore_eos=True).shape[1] == LENGTH
        results = {"AT greedy (cached, XLA)": at_ms}
        for iterations in (0, 4, 10):
            results[f"NAT mask-predict, {iterations} refinements"] = median_ms(
                lambda: nat_gen.decode(source, iterations=iterations).numpy(), n)
        results["CTC NAT (2x upsampling, 60 frames)"] = median_ms(
            lambda: ctc_gen.decode(source).numpy(), n)
        for name, ms in results.items():
            rows.append((batch, name, ms, at_ms / ms))
    print("| batch | decoder (30 output positions) | ms | faster than AT greedy |")
    print("|---|---|---|---|")
    for batch, name, ms, ratio in rows:
        print(f"| {batch} | {name} | {ms:.1f} | {ratio:.1f}x |")


def g2p_rows(name, translator, words, references, decode_kwargs, single_words):
    from keras_transformer.metrics import wer_per

    # Batch 256 over the whole test set (compiles first on a warm-up pass).
    translator.translate(words[:512], batch_size=256, truncate=True, **decode_kwargs)
    start = time.perf_counter()
    outputs = translator.translate(words, batch_size=256, truncate=True, **decode_kwargs)
    batches = -(-len(words) // 256)
    batch_ms = 1000 * (time.perf_counter() - start) / batches
    wer, per = wer_per(outputs, [references[w] for w in words])
    # Batch 1: compile every padded length first, then time single words.
    lengths = sorted({len(w) for w in words})
    for length in lengths:
        word = next(w for w in words if len(w) == length)
        translator.translate([word], truncate=True, **decode_kwargs)
    times = []
    for word in single_words:
        start = time.perf_counter()
        translator.translate([word], truncate=True, **decode_kwargs)
        times.append(1000 * (time.perf_counter() - start))
    return (name, 100 * wer, 100 * per, statistics.median(times), batch_ms)


def part_g2p(args):
    import random

    from keras_transformer.runs import load_run
    from keras_transformer.tasks import load_task_data
    from keras_transformer.translator import Translator

    _, _, data_config, _, _ = load_run(args.at_run)
    references = load_task_data(data_config).test_references
    words = sorted(references)
    if args.limit:
        words = words[:args.limit]
    single_words = random.Random(0).sample(words, min(args.single, len(words)))
    rows = []
    at = Translator.from_run(args.at_run)
    rows.append(g2p_rows("AT greedy", at, words, references, {"decoder": "greedy"},
                         single_words))
    rows.append(g2p_rows("AT beam 4", at, words, references,
                         {"decoder": "beam", "beam_size": 4}, single_words))
    if args.nat_run:
        nat = Translator.from_run(args.nat_run, rescore_run=args.at_run)
        settings = [("NAT one pass", {}),
                    ("NAT length beam 3", {"length_beam": 3}),
                    ("NAT length beam 3, AT rescoring", {"length_beam": 3, "rescore": True}),
                    ("NAT mask-predict 4", {"iterations": 4}),
                    ("NAT mask-predict 10", {"iterations": 10}),
                    ("NAT mask-predict 4, length beam 3", {"iterations": 4, "length_beam": 3})]
        for name, kwargs in settings:
            kwargs = {"iterations": 0, "length_beam": 1, **kwargs}
            rows.append(g2p_rows(name, nat, words, references, kwargs, single_words))
    if args.ctc_run:
        rows.append(g2p_rows("CTC NAT", Translator.from_run(args.ctc_run), words, references,
                             {}, single_words))
    at_b1 = rows[0][3]
    print(f"test words: {len(words)}; batch-1 latency: median over {len(single_words)} words")
    print("| decoder | WER % | PER % | batch 1 (ms) | batch 256 (ms/batch) "
          "| b1 speed-up vs AT greedy |")
    print("|---|---|---|---|---|---|")
    for name, wer, per, b1, b256 in rows:
        print(f"| {name} | {wer:.2f} | {per:.2f} | {b1:.1f} | {b256:.0f} | {at_b1 / b1:.1f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["synthetic", "g2p"], required=True)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--at-run")
    parser.add_argument("--nat-run")
    parser.add_argument("--ctc-run")
    parser.add_argument("--limit", type=int, default=0, help="first N test words")
    parser.add_argument("--single", type=int, default=200, help="words timed at batch 1")
    args = parser.parse_args()
    if args.part == "synthetic":
        part_synthetic(args.repeats)
    else:
        if not args.at_run:
            parser.error("--part g2p needs --at-run")
        part_g2p(args)


if __name__ == "__main__":
    main()
