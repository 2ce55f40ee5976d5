"""WER, PER, latency and size of the files in saved_models/, on the standard CMUdict test split.

Reads the test words from ../shared/data/cmudict (never shipped). SavedModels
run through their string signature; .tflite files through ai-edge-litert
with the vocabulary files next to them (as `run_tflite.py` does).

    python benchmarks/eval_shipped.py
    python benchmarks/eval_shipped.py --test ../shared/data/cmudict/cmudict-0.7b.test
    python benchmarks/eval_shipped.py --dir /tmp/candidates  # exports not (yet) shipped
"""

import argparse
import json
import os
import random
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(REPO, "saved_models")
DEFAULT_TEST = os.path.join(REPO, "..", "shared", "data", "cmudict", "cmudict-0.7b.test")


def size_mb(path):
    if os.path.isfile(path):
        return os.path.getsize(path) / 1e6
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs) / 1e6


def saved_model_decoder(path):
    import tensorflow as tf

    signature = tf.saved_model.load(path).signatures["serving_default"]
    return lambda words: [o.decode("utf-8") for o in
                          signature(text=tf.constant(words))["output"].numpy()]


def tflite_decoder(path):
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    folder = os.path.dirname(path)
    meta = json.load(open(os.path.join(folder, "tflite_meta.json")))
    source = {t: i for i, t in enumerate(open(os.path.join(folder, "source_vocab.txt"),
                                              encoding="utf-8").read().split("\n")[:-1])}
    target = open(os.path.join(folder, "target_vocab.txt"), encoding="utf-8").read().split("\n")
    runner = Interpreter(model_path=path).get_signature_runner(meta["signature"])

    def decode(words):
        cased = [w.lower() if meta["lowercase_source"] else w for w in words]
        rows = [[source.get(c, meta["unk_id"]) for c in w][:meta["max_source_length"]]
                for w in cased]
        ids = np.zeros((len(rows), max(1, max(len(r) for r in rows))), np.int32)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = row
        outputs = []
        for row in runner(source_ids=ids)["output_ids"]:
            row = list(row)
            row = row[:row.index(meta["eos_id"])] if meta["eos_id"] in row else row
            outputs.append(" ".join(target[i] for i in row if i > meta["eos_id"]))
        return outputs

    return decode


def evaluate(name, decode, words, references, singles):
    from keras_transformer.metrics import wer_per

    outputs = []
    for start in range(0, len(words), 256):
        outputs += decode(words[start:start + 256])
    wer, per = wer_per(outputs, [references[w] for w in words])
    for word in singles[:5]:
        decode([word])
    times = []
    for word in singles:
        start = time.perf_counter()
        decode([word])
        times.append(1000 * (time.perf_counter() - start))
    return name, 100 * wer, 100 * per, statistics.median(times)


def main():
    from keras_transformer.data.cmudict import read_cmudict

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", default=DEFAULT_TEST)
    parser.add_argument("--single", type=int, default=100)
    parser.add_argument("--limit", type=int, default=0, help="first N test words (0 = all)")
    parser.add_argument("--dir", default=SHIPPED,
                        help="folder of exports laid out like saved_models/ (default: it)")
    args = parser.parse_args()
    references = read_cmudict(args.test)
    words = sorted(references)
    if args.limit:
        words = words[:args.limit]
    singles = random.Random(0).sample(words, args.single)
    rows = []
    for entry in sorted(os.listdir(args.dir)):
        path = os.path.join(args.dir, entry)
        if os.path.exists(os.path.join(path, "saved_model.pb")):
            rows.append((evaluate(f"`{entry}/` (SavedModel, serving_default)",
                                  saved_model_decoder(path), words, references, singles),
                         size_mb(path)))
        elif os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                if name.endswith(".tflite"):
                    file = os.path.join(path, name)
                    rows.append((evaluate(f"`{entry}/{name}`", tflite_decoder(file), words,
                                          references, singles), size_mb(file)))
    print(f"test words: {len(words)} ({args.test}); batch-1 latency: median over "
          f"{len(singles)} words")
    print("| file | WER % | PER % | batch 1 (ms) | size (MB) |")
    print("|---|---|---|---|---|")
    total = 0.0
    for (name, wer, per, ms), mb in rows:
        total += mb
        print(f"| {name} | {wer:.2f} | {per:.2f} | {ms:.1f} | {mb:.1f} |")
    print(f"total size of {args.dir}: {size_mb(args.dir):.1f} MB")


if __name__ == "__main__":
    main()
