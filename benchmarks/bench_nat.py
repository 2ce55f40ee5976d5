"""NAT against AT: decoding latency on a synthetic task, and quality + latency on G2P.

Synthetic (`--part synthetic`): untrained models of one size (d_model 256,
4 heads, ff 1024, 3+3 layers, vocabulary 64; extra rows with a 1-layer
decoder, AT and NAT), 30-token sources, every decoder made to produce 30
tokens (AT ignores EOS; NAT decodes `0 + 1 * source_len` positions), so each
does exactly the work of a 30-token output. Quality is irrelevant here, only
the amount of work.

G2P (`--part g2p --at-run R [--nat-run R] [--ctc-run R]`): WER/PER on the
standard test split and latency at batch 1 (median over single words of 7-8
letters, after compiling) and batch 256 (whole test set, per batch). Each
setting runs in its own process.

    python benchmarks/bench_nat.py --part synthetic
    python benchmarks/bench_nat.py --part synthetic-tflite   # the same in LiteRT
    python benchmarks/bench_nat.py --part g2p-profile --at-run R --nat-run R  # batch-1 costs
    python benchmarks/bench_nat.py --part g2p --at-run runs/g2p_full \\
        --nat-run runs/g2p_nat --ctc-run runs/g2p_ctc
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

D_MODEL, HEADS, FF, LAYERS, VOCAB, LENGTH = 256, 4, 1024, 3, 64, 30
# "Deep encoder, shallow decoder" (Kasai et al. 2021): the decoder depth of the
# extra rows, which show what a 1-layer decoder buys NAT and, at the same
# depth, AT.
SHALLOW = 1


def median_ms(fn, repeats):
    fn()  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def _synthetic_config():
    """The AT config both synthetic parts start from: outputs of exactly the
    source length (`a = 0`, `b = 1`)."""
    from keras_transformer import TransformerConfig

    return TransformerConfig(
        source_vocab_size=VOCAB, target_vocab_size=VOCAB, d_model=D_MODEL, num_heads=HEADS,
        ff_dim=FF, num_encoder_layers=LAYERS, num_decoder_layers=LAYERS, max_source_length=64,
        max_target_length=64, decode_length_a=0, decode_length_b=1.0)


def part_synthetic(repeats):
    import numpy as np

    from keras_transformer.decoding import NATGenerator, Seq2SeqGenerator
    from keras_transformer.models import build_model

    base = _synthetic_config()
    rng = np.random.default_rng(0)
    rows = []
    at = build_model(base)
    at_gen = Seq2SeqGenerator(at, 0, 1.0)
    nat_config = base.replace(model_type="nat", length_prediction="none")
    nat_gen = NATGenerator(build_model(nat_config), nat_config)
    ctc_config = base.replace(model_type="ctc", ctc_upsample=2)
    ctc_gen = NATGenerator(build_model(ctc_config), ctc_config)
    shallow_nat_config = nat_config.replace(num_decoder_layers=SHALLOW)
    shallow_nat_gen = NATGenerator(build_model(shallow_nat_config), shallow_nat_config)
    shallow_at_gen = Seq2SeqGenerator(build_model(base.replace(num_decoder_layers=SHALLOW)),
                                      0, 1.0)
    for batch in (1, 256):
        source = rng.integers(4, VOCAB, size=(batch, LENGTH)).astype("int32")
        n = repeats if batch == 1 else max(3, repeats // 10)
        at_ms = median_ms(lambda: at_gen.greedy(source, ignore_eos=True).numpy(), n)
        assert at_gen.greedy(source, ignore_eos=True).shape[1] == LENGTH
        results = {"AT greedy (cached, XLA)": at_ms}
        for iterations in (0, 4, 10):
            name = ("NAT one pass" if iterations == 0
                    else f"NAT mask-predict, {iterations} refinements")
            results[name] = median_ms(
                lambda: nat_gen.decode(source, iterations=iterations).numpy(), n)
        results["CTC NAT (2x upsampling, 60 frames)"] = median_ms(
            lambda: ctc_gen.decode(source).numpy(), n)
        results[f"NAT one pass, {SHALLOW}-layer decoder"] = median_ms(
            lambda: shallow_nat_gen.decode(source, iterations=0).numpy(), n)
        # The same-depth reference: a shallow decoder speeds AT greedy up too.
        results[f"AT greedy, {SHALLOW}-layer decoder"] = median_ms(
            lambda: shallow_at_gen.greedy(source, ignore_eos=True).numpy(), n)
        for name, ms in results.items():
            rows.append((batch, name, ms, at_ms / ms))
    print("| batch | decoder (30 output positions) | ms | faster than AT greedy |")
    print("|---|---|---|---|")
    for batch, name, ms, ratio in rows:
        print(f"| {batch} | {name} | {ms:.1f} | {ratio:.1f}x |")


def part_synthetic_tflite(repeats):
    """The synthetic comparison in the device runtime: the same untrained models
    exported the way `export --format tflite` does (float32, builtin ops, no
    XLA) and timed at batch 1 in LiteRT's interpreter."""
    import tempfile

    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from keras_transformer.decoding import NATGenerator, Seq2SeqGenerator
    from keras_transformer.export.tflite import SIGNATURE, _convert_in_subprocess, _ids_saved_model
    from keras_transformer.models import build_model

    at_config = _synthetic_config()
    at = build_model(at_config)
    at_gen = Seq2SeqGenerator(at, 0, 1.0, jit_compile=False)
    nat_config = at_config.replace(model_type="nat", length_prediction="none")
    nat = build_model(nat_config)
    nat_gen = NATGenerator(nat, nat_config, jit_compile=False)
    shallow_at_config = at_config.replace(num_decoder_layers=SHALLOW)
    shallow_at = build_model(shallow_at_config)
    shallow_at_gen = Seq2SeqGenerator(shallow_at, 0, 1.0, jit_compile=False)
    shallow_nat_config = nat_config.replace(num_decoder_layers=SHALLOW)
    shallow_nat = build_model(shallow_nat_config)
    shallow_nat_gen = NATGenerator(shallow_nat, shallow_nat_config, jit_compile=False)
    decoders = {"AT greedy (cached, TFLite)": (at, at_config,
                                               lambda ids: at_gen.greedy(ids, ignore_eos=True)),
                "NAT one pass (TFLite)": (nat, nat_config,
                                          lambda ids: nat_gen.decode(ids, iterations=0)),
                f"NAT one pass, {SHALLOW}-layer decoder (TFLite)": (
                    shallow_nat, shallow_nat_config,
                    lambda ids: shallow_nat_gen.decode(ids, iterations=0)),
                f"AT greedy, {SHALLOW}-layer decoder (cached, TFLite)": (
                    shallow_at, shallow_at_config,
                    lambda ids: shallow_at_gen.greedy(ids, ignore_eos=True))}
    source = np.random.default_rng(0).integers(4, VOCAB, size=(1, LENGTH)).astype("int32")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, config, decode) in decoders.items():
            saved, path = os.path.join(tmp, "saved"), os.path.join(tmp, "model.tflite")
            _ids_saved_model(model, config, saved, decode)
            _convert_in_subprocess(saved, SIGNATURE, path, "none")
            runner = Interpreter(model_path=path).get_signature_runner(SIGNATURE)
            out = runner(source_ids=source)["output_ids"]
            assert out.shape[1] >= LENGTH, out.shape  # NAT leaves room for EOS
            results[name] = median_ms(lambda: runner(source_ids=source), repeats)
    at_ms = results["AT greedy (cached, TFLite)"]
    print("| batch | decoder (30 output positions) | ms | faster than AT greedy |")
    print("|---|---|---|---|")
    for name, ms in results.items():
        print(f"| 1 | {name} | {ms:.2f} | {at_ms / ms:.1f}x |")


G2P_SETTINGS = {
    "AT greedy": ("at", {"decoder": "greedy"}),
    "AT beam 4": ("at", {"decoder": "beam", "beam_size": 4}),
    "NAT one pass": ("nat", {}),
    "NAT length beam 3": ("nat", {"length_beam": 3}),
    "NAT length beam 3, AT rescoring": ("nat", {"length_beam": 3, "rescore": True}),
    "NAT mask-predict 4": ("nat", {"iterations": 4}),
    "NAT mask-predict 10": ("nat", {"iterations": 10}),
    "NAT length beam 5, mask-predict 4, AT rescoring": (
        "nat", {"length_beam": 5, "iterations": 4, "rescore": True}),
    "NAT length beam 5, AT rescoring": ("nat", {"length_beam": 5, "rescore": True}),
    # Weight 0.3 and 8 variants chosen on the 2,067 validation words, not the test.
    "NAT length beam 5 x 8 token variants, AT + 0.3 NAT rescoring": (
        "nat", {"length_beam": 5, "token_variants": 8, "rescore": True,
                "rescore_nat_weight": 0.3}),
    "CTC NAT": ("ctc", {}),
}


def g2p_row(args, name):
    """One setting: WER/PER on the whole test set (batches of 256) and latencies."""
    import random

    from keras_transformer.metrics import wer_per
    from keras_transformer.runs import load_run
    from keras_transformer.tasks import load_task_data
    from keras_transformer.translator import Translator

    kind, kwargs = G2P_SETTINGS[name]
    _, _, data_config, _, _ = load_run(args.at_run)
    references = load_task_data(data_config).test_references
    words = sorted(references)
    if args.limit:
        words = words[:args.limit]
    run = {"at": args.at_run, "nat": args.nat_run, "ctc": args.ctc_run}[kind]
    rescore = args.at_run if kwargs.get("rescore") else None
    translator = Translator.from_run(run, rescore_run=rescore)
    if kind == "nat":
        kwargs = {"iterations": 0, "length_beam": 1, **kwargs}
    translator.translate(words, batch_size=256, truncate=True, **kwargs)  # compile
    start = time.perf_counter()
    outputs = translator.translate(words, batch_size=256, truncate=True, **kwargs)
    batch_ms = 1000 * (time.perf_counter() - start) / -(-len(words) // 256)
    wer, per = wer_per(outputs, [references[w] for w in words])
    # Batch 1: typical words (7 or 8 letters: two compiled shapes), after compiling.
    typical = [w for w in words if len(w) in (7, 8)]
    singles = random.Random(0).sample(typical, min(args.single, len(typical)))
    for word in singles[:20]:
        translator.translate([word], **kwargs)
    times = []
    for word in singles:
        start = time.perf_counter()
        translator.translate([word], **kwargs)
        times.append(1000 * (time.perf_counter() - start))
    print("ROW" + json.dumps([name, 100 * wer, 100 * per, statistics.median(times), batch_ms,
                              len(words)]))


def part_g2p(args):
    """Runs every setting in its own process (XLA programs of one setting never pile up)."""
    import subprocess
    import sys

    rows = []
    for name, (kind, _) in G2P_SETTINGS.items():
        if {"at": args.at_run, "nat": args.nat_run, "ctc": args.ctc_run}[kind] is None:
            continue
        command = [sys.executable, __file__, "--part", "g2p-row", "--row", name,
                   "--at-run", args.at_run, "--limit", str(args.limit),
                   "--single", str(args.single)]
        for flag, value in (("--nat-run", args.nat_run), ("--ctc-run", args.ctc_run)):
            if value:
                command += [flag, value]
        out = subprocess.run(command, capture_output=True, text=True)
        line = [line for line in out.stdout.splitlines() if line.startswith("ROW")]
        if not line:
            raise RuntimeError(f"{name} failed: {out.stderr[-2000:]}")
        rows.append(json.loads(line[0][3:]))
        print(line[0], flush=True)  # progress, and figures survive an interrupted run
    at_b1 = rows[0][3]
    print(f"test words: {rows[0][5]}; batch 1: median over {args.single} words of 7-8 letters")
    print("| decoder | WER % | PER % | batch 1 (ms) | batch 256 (ms/batch) "
          "| b1 speed-up vs AT greedy |")
    print("|---|---|---|---|---|---|")
    for name, wer, per, b1, b256, _ in rows:
        print(f"| {name} | {wer:.2f} | {per:.2f} | {b1:.1f} | {b256:.0f} | {at_b1 / b1:.1f}x |")


def part_g2p_profile(args):
    """Where a NAT one pass spends its time at batch 1 (XLA): the decoder pass
    over 1, 8 and 16 positions against AT greedy and the whole one pass."""
    import tensorflow as tf

    from keras_transformer.data.pipeline import pad_sequences
    from keras_transformer.decoding import nat
    from keras_transformer.translator import Translator

    at, student = Translator.from_run(args.at_run), Translator.from_run(args.nat_run)
    encoded = student.encode(["ABRAHAMS"])  # 8 letters, 7 phonemes
    ids = tf.constant(pad_sequences(encoded, length=student._bucket_width([0], encoded)))
    generator = student.generator
    fns, config = generator.fns, student.config
    state, _ = tf.function(lambda x: nat.nat_plan(fns, x, 1, config.decode_length_a,
                                                  config.decode_length_b),
                           jit_compile=True)(ids)
    decoder_pass = tf.function(fns.decoder_logits, jit_compile=True)
    rows = {"AT greedy (whole decode)": lambda: at.generator.greedy(ids).numpy(),
            "NAT one pass (whole decode)": lambda: generator.decode(ids, 0, 1).numpy()}
    for width in (1, 8, 16):
        mask_ids = tf.fill([1, width], 1)
        rows[f"NAT decoder pass alone, width {width}"] = (
            lambda m=mask_ids: decoder_pass(state, m).numpy())
    print("| batch 1, XLA | ms (median) |")
    print("|---|---|")
    for name, fn in rows.items():
        for _ in range(10):  # compile and warm up
            fn()
        print(f"| {name} | {median_ms(fn, args.repeats * 3):.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["synthetic", "synthetic-tflite", "g2p", "g2p-row",
                                           "g2p-profile"], required=True)
    parser.add_argument("--row", choices=sorted(G2P_SETTINGS), help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--at-run")
    parser.add_argument("--nat-run")
    parser.add_argument("--ctc-run")
    parser.add_argument("--limit", type=int, default=0, help="first N test words")
    parser.add_argument("--single", type=int, default=100, help="words timed at batch 1")
    args = parser.parse_args()
    if args.part == "synthetic":
        part_synthetic(args.repeats)
    elif args.part == "synthetic-tflite":
        part_synthetic_tflite(args.repeats)
    elif not args.at_run:
        parser.error("--part g2p needs --at-run")
    elif args.part == "g2p-row":
        g2p_row(args, args.row)
    elif args.part == "g2p-profile":
        part_g2p_profile(args)
    else:
        part_g2p(args)


if __name__ == "__main__":
    main()
