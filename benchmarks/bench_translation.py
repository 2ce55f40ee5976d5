"""German -> English on the Ding test split: BLEU, chrF and latency of AT and NAT decoding.

Compares, on the same test sentences and in one run: copying the source (the
baseline a translator must beat), AT greedy, AT beam 4, and the NAT student
with one pass, mask-predict refinement and a length beam rescored by the AT
teacher. Latency excludes XLA compilation (every batch shape is decoded once
before it is timed). Ends with ten random test sentences beside their
references.

    python benchmarks/bench_translation.py --at-run runs/de_en --nat-run runs/de_en_nat
"""

import argparse
import os
import random

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--at-run", required=True)
    parser.add_argument("--nat-run", help="NAT student with the AT run's vocabularies")
    parser.add_argument("--limit", type=int, default=0, help="first N test sentences")
    parser.add_argument("--single", type=int, default=50, help="sentences timed at batch 1")
    parser.add_argument("--batches", type=int, default=4, help="batches of 64 timed")
    parser.add_argument("--examples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from keras_transformer.metrics import bleu_chrf
    from keras_transformer.runs import load_run
    from keras_transformer.tasks import load_task_data
    from keras_transformer.translator import Translator, measure_latency

    _, _, data_config, _, _ = load_run(args.at_run)
    test = load_task_data(data_config).test
    if args.limit:
        test = test[:args.limit]
    sources, references = [s for s, _ in test], [t for _, t in test]
    print(f"test sentences: {len(test)} (Ding split of {data_config.train})")

    copy = bleu_chrf(sources, references)
    rows = [("copy the source (baseline)", copy["bleu"], copy["chrf"], None, None)]
    outputs = {}
    at = Translator.from_run(args.at_run)
    settings = [("AT greedy", at, dict(decoder="greedy")),
                ("AT beam 4", at, dict(decoder="beam", beam_size=4))]
    if args.nat_run:
        nat = Translator.from_run(args.nat_run, rescore_run=args.at_run)
        settings += [
            ("NAT one pass", nat, dict(decoder="nat", iterations=0, length_beam=1)),
            ("NAT mask-predict 4", nat, dict(decoder="nat", iterations=4, length_beam=1)),
            ("NAT mask-predict 4, length beam 3", nat,
             dict(decoder="nat", iterations=4, length_beam=3)),
            ("NAT one pass, length beam 3 + AT rescoring", nat,
             dict(decoder="nat", iterations=0, length_beam=3, rescore=True)),
        ]
    for name, translator, options in settings:
        hypotheses = translator.translate(sources, batch_size=64, truncate=True, **options)
        scores = bleu_chrf(hypotheses, references)
        single = measure_latency(translator, sources[:args.single], 1, **options)
        batched = measure_latency(translator, sources[:64 * args.batches], 64, **options)
        rows.append((name, scores["bleu"], scores["chrf"], single["ms_per_sentence"],
                     batched["ms_per_sentence"]))
        outputs[name] = hypotheses
        print(f"{name}: BLEU {scores['bleu']:.2f} chrF {scores['chrf']:.2f} "
              f"b1 {single['ms_per_sentence']:.1f} ms b64 {batched['ms_per_sentence']:.2f} ms",
              flush=True)

    greedy_b1 = next(r[3] for r in rows if r[0] == "AT greedy")
    print("\n| decoding | BLEU | chrF | ms/sentence, batch 1 | ms/sentence, batch 64 | "
          "speed-up vs AT greedy (b1) |")
    print("|---|---|---|---|---|---|")
    for name, bleu, chrf, b1, b64 in rows:
        timing = "| - | - | - |" if b1 is None else \
            f"| {b1:.1f} | {b64:.2f} | {greedy_b1 / b1:.1f}x |"
        print(f"| {name} | {bleu:.2f} | {chrf:.2f} {timing}")

    picked = random.Random(args.seed).sample(range(len(test)), min(args.examples, len(test)))
    shown = [n for n in ("AT beam 4", "NAT mask-predict 4") if n in outputs]
    print(f"\n{len(picked)} random test sentences (seed {args.seed}):\n")
    for i in picked:
        print(f"- DE: {sources[i]}\n  - reference: {references[i]}")
        for name in shown:
            print(f"  - {name}: {outputs[name][i]}")


if __name__ == "__main__":
    main()
