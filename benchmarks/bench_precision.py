"""Training step time under float32 against mixed_bfloat16 for one model size.

    python benchmarks/bench_precision.py                     # d_model 256, 3+3 layers, batch 256
    python benchmarks/bench_precision.py --d-model 128 --layers 2

Each policy runs in its own process (the dtype policy is global in Keras).
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def measure(policy, d_model, layers, batch, steps=40):
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_transformer import TransformerConfig, build_seq2seq_model, compile_model
    from keras_transformer.data.pipeline import teacher_forcing_batch

    config = TransformerConfig(source_vocab_size=32, target_vocab_size=44, d_model=d_model,
                               num_heads=4, ff_dim=4 * d_model, num_encoder_layers=layers,
                               num_decoder_layers=layers, batch_size=batch, dtype_policy=policy)
    keras.utils.set_random_seed(0)
    model = compile_model(build_seq2seq_model(config), config)
    rng = np.random.default_rng(0)
    # G2P-like lengths: 10 letters in, 9 phonemes out.
    inputs, labels = teacher_forcing_batch([list(rng.integers(4, 32, 10)) for _ in range(batch)],
                                           [list(rng.integers(4, 44, 9)) for _ in range(batch)])
    data = tf.data.Dataset.from_tensors((inputs, labels))
    model.fit(data.repeat(5), verbose=0)
    start = time.perf_counter()
    model.fit(data.repeat(steps), verbose=0)
    return (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--policy")
    args = parser.parse_args()
    if args.policy:
        print(json.dumps(measure(args.policy, args.d_model, args.layers, args.batch)))
        return
    seconds = {}
    for policy in ("float32", "mixed_bfloat16"):
        out = subprocess.run([sys.executable, __file__, "--policy", policy, "--d-model",
                              str(args.d_model), "--layers", str(args.layers), "--batch",
                              str(args.batch)], capture_output=True, text=True, check=True)
        seconds[policy] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"| policy (d_model {args.d_model}, {args.layers}+{args.layers} layers, batch "
          f"{args.batch}, 10+9 tokens) | ms/step | speed-up |\n|---|---|---|")
    for policy, s in seconds.items():
        print(f"| {policy} | {1000 * s:.0f} | {seconds['float32'] / s:.2f}x |")


if __name__ == "__main__":
    main()
