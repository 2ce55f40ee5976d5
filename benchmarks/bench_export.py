"""Exported models against in-process decoding: latency of SavedModel and TFLite files.

For a trained run, times at batch 1 (median over single test words) and
batch 64 (median over batches):

- in-process `Translator` (strings in and out) against the SavedModel's
  string signature loaded with `tf.saved_model.load` (target: within 10 %);
- the SavedModel's ids signature against the TFLite files (fp32 and int8)
  run by `ai_edge_litert`, ids in and out, with their sizes.

    python benchmarks/bench_export.py --run runs/g2p_full
    python benchmarks/bench_export.py --run runs/g2p_nat
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def paired_median_ms(reference, candidate, inputs, repeats=3):
    """Medians of two functions timed alternately on the same inputs.

    Alternating call by call means a background load slows both alike,
    instead of biasing whichever ran second (the machine is often shared).
    """
    for item in inputs:
        reference(item)
        candidate(item)
    times = ([], [])
    for _ in range(repeats):
        for item in inputs:
            for fn, out in zip((reference, candidate), times):
                start = time.perf_counter()
                fn(item)
                out.append(1000 * (time.perf_counter() - start))
    return statistics.median(times[0]), statistics.median(times[1])


def median_ms(fn, inputs):
    # Steady state, as a server sees it: every input shape runs once first, so
    # no XLA compile lands in the timed calls.
    for item in inputs:
        fn(item)
    times = []
    for item in inputs:
        start = time.perf_counter()
        fn(item)
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def main():
    import random

    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from keras_transformer.data.pipeline import pad_sequences
    from keras_transformer.export import export_run
    from keras_transformer.export.tflite import SIGNATURE, export_tflite_run
    from keras_transformer.runs import load_run
    from keras_transformer.tasks import load_task_data
    from keras_transformer.translator import Translator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()

    _, config, data_config, _, _ = load_run(args.run)
    words = sorted(load_task_data(data_config).test_references)
    rng = random.Random(0)
    singles = [[w] for w in rng.sample(words, args.samples)]
    batches = [rng.sample(words, 64) for _ in range(max(5, args.samples // 10))]
    translator = Translator.from_run(args.run)
    kind = "greedy" if config.model_type == "at" else "nat"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        saved = os.path.join(tmp, "saved_model")
        export_run(args.run, saved)
        loaded = tf.saved_model.load(saved)
        signature = loaded.signatures[f"translate_{kind}"]
        ids_signature = loaded.signatures[f"translate_{kind}_ids"]

        def via_saved_model(texts):
            return signature(text=tf.constant(texts))

        for name, inputs in (("batch 1", singles), ("batch 64", batches)):
            ours, exported = paired_median_ms(lambda texts: translator.translate(texts),
                                              via_saved_model, inputs)
            rows.append((f"SavedModel `translate_{kind}` vs in-process, {name}", ours, exported))
        files = {}
        for quantization in ("none", "int8"):
            path = export_tflite_run(args.run, os.path.join(tmp, quantization),
                                     quantization=quantization)[0]
            files[quantization] = (path, os.path.getsize(path))
        for name, inputs in (("batch 1", singles), ("batch 64", batches)):
            id_inputs = [pad_sequences(translator.encode(texts, truncate=True))
                         for texts in inputs]
            served = median_ms(lambda ids: ids_signature(source_ids=tf.constant(ids)), id_inputs)
            for quantization, (path, size) in files.items():
                runner = Interpreter(model_path=path).get_signature_runner(SIGNATURE)
                lite = median_ms(lambda ids: runner(source_ids=ids), id_inputs)
                rows.append((f"TFLite {quantization if quantization != 'none' else 'fp32'} "
                             f"({size / 1e6:.1f} MB) vs SavedModel `translate_{kind}_ids`, "
                             f"{name}", served, lite))
    print(f"run: {args.run} ({config.model_type}); {args.samples} single words, "
          f"{len(batches)} batches of 64")
    print("| comparison | reference (ms) | exported (ms) | exported / reference |")
    print("|---|---|---|---|")
    for name, ours, exported in rows:
        print(f"| {name} | {ours:.1f} | {exported:.1f} | {exported / ours:.2f} |")


if __name__ == "__main__":
    main()
