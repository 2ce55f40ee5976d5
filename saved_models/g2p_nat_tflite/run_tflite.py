"""Runs an exported keras-transformer .tflite file: text -> ids -> decode -> text.

    python run_tflite.py greedy.tflite pronunciation transformer

Needs only numpy and ai-edge-litert (pip install ai-edge-litert). A device
app does the same: look each character (or space-separated token) up in
source_vocab.txt (unknown -> id 3), cut to max_source_length, pad with 0,
run the "serving_ids" signature, read ids up to EOS (2), map them through
target_vocab.txt.
"""

import json
import os
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter

HERE = os.path.dirname(os.path.abspath(__file__))


def load_vocab(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


def main(model_file, texts):
    meta = json.load(open(os.path.join(HERE, "tflite_meta.json")))
    source = {token: i for i, token in enumerate(load_vocab("source_vocab.txt"))}
    target = load_vocab("target_vocab.txt")
    rows = []
    for text in texts:
        text = text.strip().lower() if meta["lowercase_source"] else text.strip()
        tokens = list(text) if meta["split_source"] == "char" else text.split()
        rows.append([source.get(t, meta["unk_id"]) for t in tokens][:meta["max_source_length"]])
    ids = np.zeros((len(rows), max(1, max(len(r) for r in rows))), np.int32)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = row
    runner = Interpreter(model_path=model_file).get_signature_runner(meta["signature"])
    outputs = runner(source_ids=ids)["output_ids"]
    separator = "" if meta["split_target"] == "char" else " "
    for text, row, out in zip(texts, rows, outputs):
        out = list(out)
        out = out[:out.index(meta["eos_id"])] if meta["eos_id"] in out else out
        words = [target[i] for i in out if i > meta["eos_id"] or i == meta["unk_id"]]
        print(text + "\t" + (separator.join(words) if row else ""))


if __name__ == "__main__":
    main(os.path.join(HERE, sys.argv[1]) if not os.path.exists(sys.argv[1]) else sys.argv[1],
         sys.argv[2:])
