"""Core benchmarks: training step time and greedy decoding latency against keras-hub.

Same model size for every contender (d_model 256, 4 heads, ff 1024, 3+3
layers, vocabulary 64), float32, CPU. Each part runs in its own subprocess
so its peak RSS is its own.

    python benchmarks/bench_core.py              # all parts, prints a Markdown table
    python benchmarks/bench_core.py --part train # one part
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

D_MODEL, HEADS, FF, LAYERS, VOCAB = 256, 4, 1024, 3, 64
SOURCE_LEN, TARGET_LEN, TRAIN_BATCH = 12, 12, 128
DECODE_STEPS = 64
BOS = 1


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def our_config():
    from keras_transformer import TransformerConfig

    return TransformerConfig(source_vocab_size=VOCAB, target_vocab_size=VOCAB, d_model=D_MODEL,
                             num_heads=HEADS, ff_dim=FF, num_encoder_layers=LAYERS,
                             num_decoder_layers=LAYERS, dropout=0.1,
                             max_source_length=64, max_target_length=DECODE_STEPS + 8,
                             tie_output_embedding=False, position_encoding="learned")


def keras_hub_model():
    """The same architecture from keras-hub layers (learned positions, untied output)."""
    import keras
    import keras_hub

    class KerasHubSeq2Seq(keras.Model):
        def __init__(self):
            super().__init__()
            self.source_embedding = keras_hub.layers.TokenAndPositionEmbedding(
                VOCAB, 64, D_MODEL)
            self.target_embedding = keras_hub.layers.TokenAndPositionEmbedding(
                VOCAB, DECODE_STEPS + 8, D_MODEL)
            self.encoders = [keras_hub.layers.TransformerEncoder(FF, HEADS, dropout=0.1)
                             for _ in range(LAYERS)]
            self.decoders = [keras_hub.layers.TransformerDecoder(FF, HEADS, dropout=0.1)
                             for _ in range(LAYERS)]
            self.projection = keras.layers.Dense(VOCAB)

        def encode(self, source_ids, training=False):
            mask = keras.ops.not_equal(source_ids, 0)
            x = self.source_embedding(source_ids)
            for layer in self.encoders:
                x = layer(x, padding_mask=mask, training=training)
            return x, mask

        def call(self, inputs, training=False):
            memory, mask = self.encode(inputs["source_ids"], training)
            y = self.target_embedding(inputs["decoder_input_ids"])
            for layer in self.decoders:
                y = layer(y, memory, encoder_padding_mask=mask, training=training)
            return self.projection(y)

    return KerasHubSeq2Seq()


def random_batch(batch, source_len, target_len, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    inputs = {"source_ids": rng.integers(4, VOCAB, (batch, source_len)).astype("int32"),
              "decoder_input_ids": rng.integers(4, VOCAB, (batch, target_len)).astype("int32")}
    labels = rng.integers(4, VOCAB, (batch, target_len)).astype("int32")
    return inputs, labels


def time_fit(model, steps=30):
    import tensorflow as tf

    inputs, labels = random_batch(TRAIN_BATCH, SOURCE_LEN, TARGET_LEN)
    data = tf.data.Dataset.from_tensors((inputs, labels))
    model.fit(data.repeat(5), verbose=0)  # trace and warm up
    start = time.perf_counter()
    model.fit(data.repeat(steps), verbose=0)
    return (time.perf_counter() - start) / steps


def part_train():
    import keras

    from keras_transformer import build_seq2seq_model, compile_model
    from keras_transformer.training import MaskedSparseCrossEntropy, make_optimizer

    config = our_config()
    keras.utils.set_random_seed(0)
    ours = compile_model(build_seq2seq_model(config), config)
    hub = keras_hub_model()
    hub.compile(optimizer=make_optimizer(config), loss=MaskedSparseCrossEntropy())
    hub(random_batch(2, SOURCE_LEN, TARGET_LEN)[0])
    result = {"ours_step_s": time_fit(ours), "keras_hub_step_s": time_fit(hub),
              "ours_params": ours.count_params(), "keras_hub_params": hub.count_params()}
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def hub_greedy_fn(model):
    """keras-hub's cached TransformerDecoder driven by its GreedySampler, XLA-compiled."""
    import keras_hub
    import tensorflow as tf

    sampler = keras_hub.samplers.GreedySampler()
    head_dim = D_MODEL // HEADS

    @tf.function(jit_compile=True)
    def generate(source_ids):
        batch = tf.shape(source_ids)[0]
        memory, mask = model.encode(source_ids)
        length = DECODE_STEPS + 1
        prompt = tf.concat([tf.fill([batch, 1], BOS), tf.zeros([batch, DECODE_STEPS], tf.int32)], 1)
        # Prefill at index 0: fills the self-attention slot of BOS and computes
        # every layer's cross-attention cache once.
        x = model.target_embedding(prompt[:, :1])
        self_caches, cross_caches = [], []
        for layer in model.decoders:
            x, self_cache, cross_cache = layer(
                x, memory, encoder_padding_mask=mask,
                self_attention_cache=tf.zeros([batch, 2, length, HEADS, head_dim]),
                self_attention_cache_update_index=0,
                cross_attention_cache=tf.zeros([batch, 2, tf.shape(memory)[1], HEADS, head_dim]),
                cross_attention_cache_update_index=0)
            self_caches.append(self_cache)
            cross_caches.append(cross_cache)
        cache = tf.stack(self_caches, 1)

        def next_fn(prompt, cache, index):
            token = prompt[:, index - 1:index]
            positions = model.target_embedding.position_embedding(
                model.target_embedding.token_embedding(token), start_index=index - 1)
            y = model.target_embedding.token_embedding(token) + positions
            new = []
            for i, layer in enumerate(model.decoders):
                y, layer_cache, _ = layer(
                    y, memory, encoder_padding_mask=mask, self_attention_cache=cache[:, i],
                    self_attention_cache_update_index=index - 1,
                    cross_attention_cache=cross_caches[i],
                    cross_attention_cache_update_index=None)
                new.append(layer_cache)
            return model.projection(y)[:, 0, :], y, tf.stack(new, 1)

        return sampler(next_fn, prompt, cache=cache, index=1)

    return generate


def time_call(fn, *args, repeats):
    fn(*args)  # trace / compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(*args)
        _ = out.numpy() if hasattr(out, "numpy") else out
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def part_decode(contender):
    import keras

    from keras_transformer import build_seq2seq_model
    from keras_transformer.decoding import Seq2SeqGenerator

    keras.utils.set_random_seed(0)
    result = {}
    for batch in (1, 64):
        source = random_batch(batch, SOURCE_LEN, 1)[0]["source_ids"]
        if contender == "keras_hub":
            model = keras_hub_model()
            model(random_batch(2, SOURCE_LEN, 2)[0])
            fn = hub_greedy_fn(model)
            out = fn(source)
            assert out.shape[1] == DECODE_STEPS + 1
            result[f"batch{batch}_s"] = time_call(fn, source, repeats=5)
        else:
            generator = Seq2SeqGenerator(build_seq2seq_model(our_config()),
                                         length_a=DECODE_STEPS, length_b=0.0,
                                         jit_compile=contender != "ours_no_xla")
            if contender == "uncached":
                fn = lambda s: generator.uncached_greedy(s, ignore_eos=True)  # noqa: E731
                repeats = 3
            else:
                fn = lambda s: generator.greedy(s, ignore_eos=True)  # noqa: E731
                repeats = 20
            out = fn(source)
            produced = int((out.numpy() != 0).sum())
            assert out.shape[1] == DECODE_STEPS and produced == batch * DECODE_STEPS
            result[f"batch{batch}_s"] = time_call(fn, source, repeats=repeats)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


PARTS = ["train", "decode:ours", "decode:ours_no_xla", "decode:uncached", "decode:keras_hub"]


def run_part(name):
    if name == "train":
        return part_train()
    return part_decode(name.split(":", 1)[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=PARTS)
    args = parser.parse_args()
    if args.part:
        print(json.dumps(run_part(args.part)))
        return
    results = {}
    for name in PARTS:
        out = subprocess.run([sys.executable, __file__, "--part", name], capture_output=True,
                             text=True, check=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(name, results[name], file=sys.stderr, flush=True)
    train = results["train"]
    print(f"\n| training step (batch {TRAIN_BATCH}, {SOURCE_LEN}+{TARGET_LEN} tokens) | s/step | "
          "ratio |\n|---|---|---|")
    print(f"| keras-transformer | {train['ours_step_s']:.3f} | 1.00 |")
    print(f"| keras-hub layers | {train['keras_hub_step_s']:.3f} | "
          f"{train['keras_hub_step_s'] / train['ours_step_s']:.2f} |")
    print(f"\nparameters: ours {train['ours_params']:,}, keras-hub {train['keras_hub_params']:,}; "
          f"peak RSS of the training process {train['peak_rss_mb']:.0f} MB\n")
    ours = results["decode:ours"]
    print(f"| greedy, {DECODE_STEPS} tokens | batch 1 (ms) | batch 64 (ms) | "
          "ours faster by (b1 / b64) | peak RSS (MB) |\n|---|---|---|---|---|")
    for name, label in [("decode:ours", "keras-transformer, cached, XLA"),
                        ("decode:ours_no_xla", "keras-transformer, cached, no XLA"),
                        ("decode:uncached", "uncached (recompute prefix)"),
                        ("decode:keras_hub", "keras-hub TransformerDecoder + GreedySampler, XLA")]:
        r = results[name]
        print(f"| {label} | {1000 * r['batch1_s']:.1f} | {1000 * r['batch64_s']:.1f} | "
              f"{r['batch1_s'] / ours['batch1_s']:.2f}x / {r['batch64_s'] / ours['batch64_s']:.2f}x"
              f" | {r['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
