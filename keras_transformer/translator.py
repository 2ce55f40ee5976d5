"""`Translator`: text in, text out, over a trained run (the Python face of the CLI)."""

import time

from keras_transformer.data.pipeline import SOURCE_LENGTH_BUCKET, bucketed_source_width, pad_sequences

AT_DECODERS = ("greedy", "beam", "sample")
DECODERS = AT_DECODERS + ("nat",)


class InputTooLongError(ValueError):
    """An input has more tokens than the model's `max_source_length`."""


class Translator:
    """Tokenizes, batches, decodes and detokenizes with a trained model.

    AT models decode with `greedy`, `beam` or `sample`; NAT and CTC models
    with `nat` (their default), whose knobs are `iterations` (mask-predict
    refinements), `length_beam` and `rescore` (rank length candidates with an
    AT model loaded beside it).

    Rules for awkward input (tested): an empty or blank string gives an empty
    output; characters outside the source vocabulary map to UNK (`<unk>`);
    an input longer than `max_source_length` tokens raises
    `InputTooLongError` unless `truncate=True`, which keeps its first
    `max_source_length` tokens.

    Args:
        model: a trained model from `build_model` (AT, NAT or CTC).
        config: its `TransformerConfig`.
        source_vocab, target_vocab: the run's vocabularies.
        jit_compile: XLA-compile the decoding loops.
        rescorer: optional AT model with the same vocabularies, to rescore
            a NAT model's length-beam candidates.
        ensemble: more AT models with the same vocabularies, decoded
            together with `model` (next-token probabilities averaged).

    Example:
    >>> translator = Translator.from_run("runs/g2p")
    >>> translator.translate(["pronunciation"])
    ['P R OW N AH N S IY EY SH AH N']
    """

    def __init__(self, model, config, source_vocab, target_vocab, jit_compile=True,
                 rescorer=None, ensemble=()):
        self.model = model
        self.config = config
        self.source_vocab = source_vocab
        self.target_vocab = target_vocab
        if ensemble and config.model_type != "at":
            raise ValueError("only AT models decode as an ensemble")
        if config.model_type == "at":
            from keras_transformer.decoding import Seq2SeqGenerator

            self.generator = Seq2SeqGenerator([model, *ensemble], config.decode_length_a,
                                              config.decode_length_b, jit_compile=jit_compile)
        else:
            from keras_transformer.decoding.nat_generator import NATGenerator

            self.generator = NATGenerator(model, config, at_model=rescorer,
                                          jit_compile=jit_compile)

    @property
    def default_decoder(self):
        return "greedy" if self.config.model_type == "at" else "nat"

    @classmethod
    def from_run(cls, run_dir, jit_compile=True, rescore_run=None, ensemble_runs=()):
        """Loads a run for inference, in float32 whatever policy it trained under.

        Args:
            run_dir: the run directory.
            jit_compile: XLA-compile decoding.
            rescore_run: an AT run with the same vocabularies whose model
                rescores a NAT model's length-beam candidates.
            ensemble_runs: more AT runs with the same vocabularies, decoded
                as an ensemble with `run_dir` (its config sets the length
                limits and decoding defaults).
        """
        model, config, source_vocab, target_vocab = load_float32_run(run_dir)
        rescorer = None
        if rescore_run:
            if config.model_type != "nat":
                raise ValueError("rescoring needs a NAT model with a length predictor")
            rescorer = load_companion_at_run(rescore_run, source_vocab, target_vocab,
                                              "rescoring")
        ensemble = [load_companion_at_run(other, source_vocab, target_vocab, "ensemble")
                    for other in ensemble_runs]
        return cls(model, config, source_vocab, target_vocab, jit_compile=jit_compile,
                   rescorer=rescorer, ensemble=ensemble)

    LENGTH_BUCKET = SOURCE_LENGTH_BUCKET  # see data/pipeline.py

    def _bucket_width(self, chunk, encoded):
        longest = max(len(encoded[i]) for i in chunk)
        return bucketed_source_width(longest, self.config.max_source_length, self.LENGTH_BUCKET)

    def encode(self, texts, truncate=False):
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not one string")
        ids = []
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"every input must be a str, got {type(text).__name__}")
            encoded = self.source_vocab.encode(text)
            if len(encoded) > self.config.max_source_length:
                if not truncate:
                    raise InputTooLongError(
                        f"input of {len(encoded)} tokens is longer than the model's "
                        f"max_source_length ({self.config.max_source_length}): {text[:40]!r}")
                encoded = encoded[:self.config.max_source_length]
            ids.append(encoded)
        return ids

    def translate(self, texts, decoder=None, beam_size=None, length_penalty=None,
                  num_return=1, seed=0, temperature=1.0, top_k=0, top_p=1.0, batch_size=256,
                  truncate=False, iterations=None, length_beam=None, rescore=False,
                  token_variants=None, rescore_nat_weight=None):
        """Translates a list of strings.

        Args:
            texts: list of strings.
            decoder: `greedy`, `beam`, `sample` (AT) or `nat` (NAT/CTC);
                default: the model's natural one.
            beam_size, length_penalty, num_return: beam search.
            seed, temperature, top_k, top_p: sampling.
            batch_size: sources per decoding call.
            truncate: cut over-long inputs instead of raising.
            iterations, length_beam, rescore, token_variants,
                rescore_nat_weight: NAT decoding (see `NATGenerator.decode`).

        Returns:
            A list of strings, or of lists of `num_return` `(string, score)`
            pairs for beam search when `num_return > 1`.
        """
        decoder = decoder or self.default_decoder
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)}; got {decoder!r}")
        if (decoder == "nat") != (self.config.model_type != "at"):
            raise ValueError(f"a {self.config.model_type.upper()} model cannot decode with "
                             f"{decoder!r}; use {self.default_decoder!r}")
        beam_size = beam_size or self.config.beam_size
        if num_return > 1 and (decoder != "beam" or num_return > beam_size):
            raise ValueError("num_return > 1 needs decoder='beam' and num_return <= beam_size")
        length_penalty = self.config.length_penalty if length_penalty is None else length_penalty
        encoded = self.encode(list(texts), truncate=truncate)
        results = [None] * len(encoded)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        for index in order:  # empty inputs need no model
            if not encoded[index]:
                results[index] = "" if num_return == 1 else [("", 0.0)] * num_return
        order = [i for i in order if results[i] is None]
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            source_ids = pad_sequences([encoded[i] for i in chunk],
                                       length=self._bucket_width(chunk, encoded))
            if decoder == "nat":
                outputs = [[row] for row in self.generator.decode(
                    source_ids, iterations=iterations, length_beam=length_beam,
                    rescore=rescore, token_variants=token_variants,
                    rescore_nat_weight=rescore_nat_weight).numpy()]
            elif decoder == "greedy":
                outputs = [[row] for row in self.generator.greedy(source_ids).numpy()]
            elif decoder == "sample":
                outputs = [[row] for row in self.generator.sample(
                    source_ids, seed=seed, temperature=temperature, top_k=top_k,
                    top_p=top_p).numpy()]
            else:
                seqs, scores = self.generator.beam_search(source_ids, beam_size, length_penalty)
                outputs, scores = seqs.numpy(), scores.numpy()
            for row, index in enumerate(chunk):
                if num_return == 1:
                    results[index] = self.target_vocab.decode(outputs[row][0])
                else:
                    results[index] = [(self.target_vocab.decode(outputs[row][k]),
                                       float(scores[row][k])) for k in range(num_return)]
        return results


def load_companion_at_run(run_dir, source_vocab, target_vocab, role, dtype_policy="float32"):
    """The float32 (or `dtype_policy`) model of an AT run that must share a main
    run's vocabularies."""
    model, config, other_source, other_target = load_float32_run(run_dir, dtype_policy)
    if config.model_type != "at":
        raise ValueError(f"the {role} run {run_dir} is not an AT model")
    if (other_source.id_to_token != source_vocab.id_to_token
            or other_target.id_to_token != target_vocab.id_to_token):
        raise ValueError(f"the {role} run {run_dir} has other vocabularies")
    return model


def load_float32_run(run_dir, dtype_policy="float32"):
    """`(model, config, source_vocab, target_vocab)` of a run, rebuilt in float32
    (or in `dtype_policy`, e.g. `"bfloat16"` for half-size exports)."""
    from keras_transformer.models import build_model
    from keras_transformer.runs import load_run

    trained, config, _, source_vocab, target_vocab = load_run(run_dir)
    if config.dtype_policy == dtype_policy:
        return trained, config, source_vocab, target_vocab
    config = config.replace(dtype_policy=dtype_policy)
    model = build_model(config)
    model.set_weights(trained.get_weights())
    return model, config, source_vocab, target_vocab


def evaluate_g2p(translator, references, limit=0, **kwargs):
    """WER/PER of a G2P translator on `{word: [pronunciations]}`."""
    from keras_transformer.metrics import wer_per

    words = sorted(references)
    if limit:
        words = words[:limit]
    start = time.perf_counter()
    predictions = translator.translate(words, truncate=True, **kwargs)
    seconds = time.perf_counter() - start
    wer, per = wer_per(predictions, [references[w] for w in words])
    return {"words": len(words), "wer": wer, "per": per, "seconds": seconds,
            "examples": list(zip(words[:10], predictions[:10]))}


def evaluate_text(translator, pairs, limit=0, **kwargs):
    """BLEU/chrF of a text translator on `(source, reference)` pairs."""
    from keras_transformer.metrics import bleu_chrf

    pairs = pairs[:limit] if limit else pairs
    start = time.perf_counter()
    hypotheses = translator.translate([s for s, _ in pairs], truncate=True, **kwargs)
    seconds = time.perf_counter() - start
    scores = bleu_chrf(hypotheses, [t for _, t in pairs])
    return {"sentences": len(pairs), **scores, "seconds": seconds,
            "examples": list(zip([s for s, _ in pairs][:10], hypotheses[:10]))}




def measure_latency(translator, sources, batch_size=1, repeats=1, **kwargs):
    """Steady-state decoding latency, compilation excluded.

    XLA compiles once per input shape, so every batch is decoded once to
    warm up and then timed `repeats` more times.

    Args:
        translator: a `Translator`.
        sources: the inputs to time (one batch of `batch_size` at a time).
        batch_size: sources per decoding call.
        repeats: timed passes per batch (the median is kept).
        **kwargs: decoding options of `Translator.translate`.

    Returns:
        `{"ms_per_batch": median ms per call, "ms_per_sentence": that over
        the batch size, "batches": calls timed}`.
    """
    import statistics

    batches = [sources[i:i + batch_size] for i in range(0, len(sources), batch_size)]
    batches = [b for b in batches if len(b) == batch_size] or batches[:1]
    if not batches:
        raise ValueError("no sources to time")
    times = []
    for batch in batches:
        translator.translate(batch, batch_size=batch_size, truncate=True, **kwargs)
        for _ in range(repeats):
            start = time.perf_counter()
            translator.translate(batch, batch_size=batch_size, truncate=True, **kwargs)
            times.append(1000 * (time.perf_counter() - start))
    ms = statistics.median(times)
    return {"ms_per_batch": ms, "ms_per_sentence": ms / len(batches[0]), "batches": len(batches)}
