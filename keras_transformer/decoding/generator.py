"""`Seq2SeqGenerator`: traced, optionally XLA-compiled AT decoding for a trained model.

Every decoding entry point is a `tf.function` with an input signature of
dynamic batch and length (`[None, None]` int32), so one trace serves every
batch; Python knobs that change shapes (beam size, top-k) key a small cache
of traced functions.
"""

import tensorflow as tf

from keras_transformer.decoding import beam as beam_lib
from keras_transformer.decoding import greedy as greedy_lib
from keras_transformer.decoding.ensemble import EnsembleDecodingFns
from keras_transformer.decoding.model_fns import DecodingFns

IDS_SPEC = tf.TensorSpec([None, None], tf.int32, name="source_ids")


class Seq2SeqGenerator:
    """Greedy, beam and sampling decoders over a trained AT model or an ensemble.

    Args:
        model: a model from `build_seq2seq_model`, or a list of such models
            with the same vocabularies, decoded as an ensemble (their
            next-token probabilities averaged at every step).
        length_a, length_b: outputs are at most `a + b * source_len` tokens.
        jit_compile: compile the loops with XLA (20-35x faster on CPU for
            small models; see BENCHMARKS.md).

    Example:
    >>> generator = Seq2SeqGenerator(model, length_a=5, length_b=1.5)
    >>> ids = generator.greedy(source_ids)            # [batch, capacity]
    >>> seqs, scores = generator.beam_search(source_ids, beam_size=4)
    """

    def __init__(self, model, length_a=10, length_b=2.0, jit_compile=True):
        if isinstance(model, (list, tuple)):
            self.fns = EnsembleDecodingFns(model) if len(model) > 1 else DecodingFns(model[0])
        else:
            self.fns = DecodingFns(model)
        self.length_a = float(length_a)
        self.length_b = float(length_b)
        self.jit_compile = jit_compile
        self._functions = {}

    def _function(self, key, fn, signature, jit_compile=None):
        if key not in self._functions:
            jit = self.jit_compile if jit_compile is None else jit_compile
            self._functions[key] = tf.function(fn, input_signature=signature, jit_compile=jit)
        return self._functions[key]

    @staticmethod
    def _check_ids(source_ids):
        source_ids = tf.convert_to_tensor(source_ids)
        if source_ids.dtype not in (tf.int32, tf.int64):
            raise TypeError(f"source_ids must be integer ids, got {source_ids.dtype.name}")
        if source_ids.shape.rank != 2:
            raise ValueError(f"source_ids must be [batch, length], got shape {source_ids.shape}")
        # An eager cast costs about as much as a small decoder op at batch 1.
        return source_ids if source_ids.dtype == tf.int32 else tf.cast(source_ids, tf.int32)

    def greedy(self, source_ids, ignore_eos=False):
        """Cached greedy decoding: int32 `[batch, capacity]`, 0 after EOS."""
        fn = self._function(("greedy", ignore_eos), lambda ids: greedy_lib.autoregressive_decode(
            self.fns, ids, greedy_lib.greedy_select, self.length_a, self.length_b,
            ignore_eos=ignore_eos), [IDS_SPEC])
        return fn(self._check_ids(source_ids))

    def uncached_greedy(self, source_ids, ignore_eos=False):
        """Greedy decoding that recomputes the whole prefix each step (reference).

        Never XLA-compiled: its growing prefix has no static shape.
        """
        fn = self._function(("uncached", ignore_eos), lambda ids: greedy_lib.uncached_greedy_decode(
            self.fns, ids, self.length_a, self.length_b, ignore_eos=ignore_eos), [IDS_SPEC],
            jit_compile=False)
        return fn(self._check_ids(source_ids))

    def beam_search(self, source_ids, beam_size=4, length_penalty=0.6):
        """Beam search: `([batch, beam, capacity] ids, [batch, beam] scores)`, best first."""
        if not isinstance(beam_size, int) or beam_size < 1:
            raise ValueError(f"beam_size must be a positive int, got {beam_size!r}")
        if length_penalty < 0:
            raise ValueError(f"length_penalty must be >= 0, got {length_penalty}")
        fn = self._function(
            ("beam", beam_size, float(length_penalty)),
            lambda ids: beam_lib.beam_search(self.fns, ids, beam_size, float(length_penalty),
                                             self.length_a, self.length_b), [IDS_SPEC])
        return fn(self._check_ids(source_ids))

    def sample(self, source_ids, seed=0, temperature=1.0, top_k=0, top_p=1.0):
        """Sampling with temperature, top-k and top-p; the same seed gives the same ids."""
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if not isinstance(top_k, int) or top_k < 0:
            raise ValueError(f"top_k must be a non-negative int, got {top_k!r}")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        return self.sampling_function(top_k, top_p)(
            self._check_ids(source_ids), tf.constant(seed, tf.int32),
            tf.constant(temperature, tf.float32))

    def sampling_function(self, top_k=0, top_p=1.0):
        """The traced sampler `(ids, seed int32 scalar, temperature float32 scalar) -> ids`
        for fixed `top_k` / `top_p` (exported signatures call it with tensors)."""
        top_k = min(top_k, self.fns.vocab_size)

        def run(ids, seed, temperature):
            select = greedy_lib.make_sampling_select(seed, temperature, top_k, float(top_p))
            return greedy_lib.autoregressive_decode(self.fns, ids, select, self.length_a,
                                                    self.length_b)

        return self._function(("sample", top_k, float(top_p)), run,
                              [IDS_SPEC, tf.TensorSpec([], tf.int32),
                               tf.TensorSpec([], tf.float32)])
