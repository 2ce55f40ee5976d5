"""TFLite (LiteRT) files that run the whole decode, ids in and ids out, builtin ops only.

`export_tflite_run` writes, for an AT run, `greedy.tflite` (the cached
greedy `while` loop and its caches inside the file) and, for a NAT run,
`nat.tflite` (one parallel pass) and, unless `iterations` is 0,
`nat_refine.tflite` (mask-predict with `iterations` refinements); CTC runs
get `ctc.tflite`. Given an AT `rescore_run`, the NAT files hold that model
too and keep the length-beam candidate it scores best (one teacher-forced
pass, no loop). Next to them:
`source_vocab.txt` / `target_vocab.txt` (the token of id i on line i) and
`run_tflite.py`, a runner a device app can copy (text -> ids -> text).

Every file is converted from a float32 SavedModel made without XLA, with
`TFLITE_BUILTINS` as the only op set, so a file that would need Flex ops
fails to convert instead of failing on the phone. Conversion runs in a
subprocess: the converter leaks memory across models.

Quantization: `float16` (weights stored as float16) or `int8` (dynamic-range:
int8 weights, float activations).
"""

import json
import os
import re
import subprocess
import sys
import tempfile

QUANTIZATIONS = ("none", "float16", "int8")
SIGNATURE = "serving_ids"


def convert_saved_model(saved_model_dir, signature, output, quantization="none"):
    """Converts one signature of a SavedModel to a `.tflite` file (in this process).

    Raises:
        RuntimeError: the conversion failed (for example an op without a
            TFLite builtin kernel); the converter's last message is included.
    """
    import tensorflow as tf

    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {', '.join(QUANTIZATIONS)}")
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir,
                                                         signature_keys=[signature])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    data = converter.convert()
    with open(output, "wb") as f:
        f.write(data)


def _convert_in_subprocess(saved_model_dir, signature, output, quantization):
    code = ("import sys; from keras_transformer.export.tflite import convert_saved_model; "
            "convert_saved_model(*sys.argv[1:])")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, "-c", code, saved_model_dir, signature, output,
                             quantization], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        # The converter's own diagnosis ("... op is neither a custom op nor a
        # flex op") comes before pages of IR dump; the last line is IR.
        errors = [line for line in lines
                  if "error:" in line and not re.match(r"[EIWF]\d{4} ", line)]  # not TF logs
        message = errors[0] if errors else (lines[-1] if lines else "no message")
        raise RuntimeError(f"TFLite conversion of {os.path.basename(output)} failed: "
                           f"{message[:2000]}")


def _ids_saved_model(model, config, path, decode):
    """A SavedModel with one ids-in/ids-out signature, variables tracked, no XLA."""
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    # Not `archive.track(model)`: the archive already saves every variable
    # the endpoints use, and tracking the Keras wrappers too stores each
    # weight twice (Keras 3.15), doubling the files.
    archive.add_endpoint(SIGNATURE, tf.function(
        lambda source_ids: {"output_ids": decode(source_ids)},
        input_signature=[tf.TensorSpec([None, None], tf.int32, name="source_ids")],
        autograph=False))
    archive.write_out(path, verbose=False)


def export_tflite_run(run_dir, output_dir, quantization="none", iterations=4, length_beam=1,
                      rescore_run=None, token_variants=1, rescore_nat_weight=0.0):
    """Writes the `.tflite` files of a run, its vocabularies and a runner; returns the paths.

    Args:
        run_dir: a trained run (AT, NAT or CTC).
        output_dir: folder for the files.
        quantization: `none`, `float16` or `int8` (dynamic range).
        iterations: refinements in `nat_refine.tflite` (0: no such file,
            it would equal `nat.tflite`).
        length_beam: candidate lengths in the NAT files.
        rescore_run: NAT runs only: an AT run (same vocabularies) whose model
            ranks the `length_beam` candidates inside the NAT files.
        token_variants, rescore_nat_weight: with `rescore_run`, variants per
            candidate length in `nat.tflite` (one pass) and the NAT's weight
            in the ranking (see `NATGenerator.decode`).

    Example:
    >>> export_tflite_run("runs/g2p_glat", "out/", quantization="int8",
    ...                   length_beam=5, rescore_run="runs/g2p_full")
    """
    from keras_transformer.decoding import NATGenerator, Seq2SeqGenerator
    from keras_transformer.export.saved_model import check_rescoring
    from keras_transformer.translator import load_companion_at_run, load_float32_run

    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {', '.join(QUANTIZATIONS)}")
    model, config, source_vocab, target_vocab = load_float32_run(run_dir)
    check_rescoring(config, bool(rescore_run), length_beam, token_variants)
    rescorer = (load_companion_at_run(rescore_run, source_vocab, target_vocab, "rescoring")
                if rescore_run else None)
    if getattr(source_vocab, "split", None) not in ("char", "space"):
        raise ValueError("TFLite export supports char and space vocabularies for now")
    os.makedirs(output_dir, exist_ok=True)
    suffix = "" if quantization == "none" else f"_{quantization}"
    if config.model_type == "at":
        generator = Seq2SeqGenerator(model, config.decode_length_a, config.decode_length_b,
                                     jit_compile=False)
        files = {"greedy": lambda ids: generator.greedy(ids)}
    else:
        generator = NATGenerator(model, config, at_model=rescorer, jit_compile=False)
        rescore = rescorer is not None
        if config.model_type == "ctc":
            files = {"ctc": lambda ids: generator.decode(ids)}
        else:
            # check_rescoring refused variants without a rescorer.
            files = {"nat": lambda ids: generator.decode(
                         ids, 0, length_beam, rescore, token_variants=token_variants,
                         rescore_nat_weight=rescore_nat_weight)}
            if iterations:  # 0 would only repeat nat.tflite
                # Variants rank one pass; refinement keeps one output per length.
                files["nat_refine"] = lambda ids: generator.decode(
                    ids, iterations, length_beam, rescore, token_variants=1,
                    rescore_nat_weight=rescore_nat_weight)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, decode in files.items():
            saved = os.path.join(tmp, name)
            _ids_saved_model(model, config, saved, decode)
            path = os.path.join(output_dir, f"{name}{suffix}.tflite")
            _convert_in_subprocess(saved, SIGNATURE, path, quantization)
            written.append(path)
    for side, vocab in (("source", source_vocab), ("target", target_vocab)):
        path = os.path.join(output_dir, f"{side}_vocab.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(vocab.id_to_token) + "\n")
        written.append(path)
    meta = {"model_type": config.model_type, "split_source": source_vocab.split,
            "split_target": target_vocab.split, "lowercase_source": source_vocab.lowercase,
            "max_source_length": config.max_source_length, "signature": SIGNATURE,
            "pad_id": 0, "bos_id": 1, "eos_id": 2, "unk_id": 3}
    with open(os.path.join(output_dir, "tflite_meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    runner = os.path.join(output_dir, "run_tflite.py")
    with open(runner, "w", encoding="utf-8") as f:
        f.write(RUNNER)
    written += [os.path.join(output_dir, "tflite_meta.json"), runner]
    return written


RUNNER = '''"""Runs an exported keras-transformer .tflite file: text -> ids -> decode -> text.

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
        return f.read().split("\\n")[:-1]


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
        print(text + "\\t" + (separator.join(words) if row else ""))


if __name__ == "__main__":
    main(os.path.join(HERE, sys.argv[1]) if not os.path.exists(sys.argv[1]) else sys.argv[1],
         sys.argv[2:])
'''
