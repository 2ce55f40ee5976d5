"""Self-contained string-in/string-out SavedModels (TensorFlow only).

`export_saved_model` writes a SavedModel whose signatures take a batch of
strings and return strings: the vocabulary, tokenizer, decoding loop and
detokenizer are all inside the graph, so `tf.saved_model.load` in a process
with only TensorFlow installed runs it.

Signatures (`text`: tf.string `[None]`):

- AT models: `translate_greedy`, `translate_beam` (`outputs` `[batch, n]`
  strings and `scores`), `translate_sample` (`text`, `seed`, `temperature`);
- NAT/CTC models: `translate_nat` (the export-time iterations and length beam;
  with a `rescorer`, an AT model inside the same file ranks the length-beam
  candidates in one teacher-forced pass);
- `serving_default`: the decoder chosen at export time;
- `*_ids` twins (`source_ids`: int32 `[None, None]`, 0-padded, in; int32 ids
  in the AT layout out) for clients that tokenize themselves.

Input rules inside the graph (documented in the README): empty or blank
strings give empty strings; unknown characters become UNK; an input longer
than `max_source_length` tokens is cut to its first `max_source_length`
tokens. A wrong dtype or shape is refused by the signature itself.

The variables are tracked through `keras.export.ExportArchive`, so the files
(and TFLite conversions made from them) hold the weights.
"""

import os

import tensorflow as tf

from keras_transformer.data.pipeline import bucketed_source_width
from keras_transformer.text.vocabulary import EOS_ID, PAD_ID

# Unknown-rank specs on purpose: a loaded signature does not check shapes, so
# the functions check the rank at run time and fail with a clear message
# instead of running on a scalar or a matrix of strings.
TEXT_SPEC = tf.TensorSpec(None, tf.string, name="text")
IDS_SPEC = tf.TensorSpec(None, tf.int32, name="source_ids")


def checked_text(text):
    """`text` as a `[batch]` string tensor, or an InvalidArgumentError naming the rule."""
    check = tf.debugging.assert_rank(text, 1,
                                     message="text must be a 1-D batch of strings, [batch]")
    # A reshape, not tf.ensure_shape: grappler specialises functions to the
    # fed shapes and would fail inside ensure_shape before the assert runs.
    with tf.control_dependencies([check]):
        return tf.reshape(text, [-1])


def checked_ids(source_ids):
    """`source_ids` as `[batch, length]` int32, or an InvalidArgumentError naming the rule."""
    check = tf.debugging.assert_rank(
        source_ids, 2, message="source_ids must be int32 [batch, length], 0-padded")
    with tf.control_dependencies([check]):
        return tf.reshape(source_ids, [tf.shape(source_ids)[0], -1])


AT_OPTIONS = ("beam_size", "length_penalty", "top_k", "top_p")
NAT_OPTIONS = ("iterations", "length_beam", "token_variants", "rescore_nat_weight")


class ExportError(RuntimeError):
    """An export that cannot be made (unsupported tokenizer, unknown decoder...)."""


class TextCodec(tf.Module):
    """In-graph tokenization with the max-length rule, and detokenization.

    Args:
        source_vocab, target_vocab: the run's vocabularies (`Vocabulary` or
            `WordPieceVocabulary`; a SavedModel with WordPiece inside needs
            `import tensorflow_text` before loading).
        max_source_length: longer inputs are cut to this many tokens.
    """

    def __init__(self, source_vocab, target_vocab, max_source_length):
        super().__init__()
        from keras_transformer.text.graph import graph_tokenizer

        self.source = graph_tokenizer(source_vocab)
        self.target = graph_tokenizer(target_vocab)
        self.max_source_length = max_source_length

    def encode(self, texts):
        """`[batch]` strings -> int32 `[batch, length]` ids (0-padded, at least 1 column)."""
        ragged = self.source.tokenize(texts)[:, :self.max_source_length]
        ids = ragged.to_tensor(default_value=PAD_ID)
        # Bucketed like the in-process Translator: a server sees few shapes,
        # so the XLA loops compile a few programs instead of one per length.
        width = bucketed_source_width(tf.maximum(tf.shape(ids)[1], 1), self.max_source_length)
        return tf.pad(ids, [[0, 0], [0, width - tf.shape(ids)[1]]])

    def decode(self, ids, source_ids):
        """AT-layout ids -> strings; rows whose source was empty give ""."""
        ids = tf.cast(ids, tf.int32)
        after_eos = tf.cumsum(tf.cast(tf.equal(ids, EOS_ID), tf.int32), axis=-1) > 0
        ids = tf.where(after_eos, PAD_ID, ids)
        shape = tf.shape(ids)
        flat = tf.reshape(ids, [-1, shape[-1]])
        texts = tf.reshape(self.target.detokenize(flat), shape[:-1])
        empty = tf.reduce_all(tf.equal(source_ids, PAD_ID), axis=1)
        empty = tf.reshape(empty, tf.concat([[-1], tf.ones_like(shape[1:-1])], 0))
        return tf.where(empty, tf.constant(""), texts)


def _decoder_fns(model, config, options, jit_compile, ensemble=(), rescorer=None):
    """`{name: ids -> outputs}` decoding functions of the model (or ensemble)."""
    fns = {}
    if config.model_type == "at":
        from keras_transformer.decoding import Seq2SeqGenerator

        generator = Seq2SeqGenerator([model, *ensemble], config.decode_length_a,
                                     config.decode_length_b, jit_compile=jit_compile)
        beam_size = options.get("beam_size", config.beam_size)
        alpha = options.get("length_penalty", config.length_penalty)
        top_k, top_p = options.get("top_k", 0), options.get("top_p", 1.0)
        fns["greedy"] = lambda ids: generator.greedy(ids)
        fns["beam"] = lambda ids: generator.beam_search(ids, beam_size, alpha)
        sampler = generator.sampling_function(top_k, top_p)
        # A non-positive temperature would divide by zero: serve it as 1e-3 (near greedy).
        fns["sample"] = lambda ids, seed, temperature: sampler(
            ids, seed, tf.maximum(temperature, 1e-3))
    else:
        from keras_transformer.decoding import NATGenerator

        generator = NATGenerator(model, config, at_model=rescorer, jit_compile=jit_compile)
        iterations = options.get("iterations", config.nat_iterations)
        length_beam = options.get("length_beam", config.length_beam)
        rescoring = {}
        if rescorer is not None:
            rescoring = {"token_variants": options.get("token_variants"),
                         "rescore_nat_weight": options.get("rescore_nat_weight")}
        fns["nat"] = lambda ids: generator.decode(ids, iterations=iterations,
                                                  length_beam=length_beam,
                                                  rescore=rescorer is not None, **rescoring)
    return fns


def export_saved_model(model, config, source_vocab, target_vocab, path, decoder=None,
                       jit_compile=True, ensemble=(), rescorer=None, **options):
    """Writes a self-contained SavedModel of a trained model.

    Args:
        model: a float32 model from `build_model` (AT, NAT or CTC).
        config: its `TransformerConfig`.
        source_vocab, target_vocab: its vocabularies.
        path: output directory.
        decoder: the decoder behind `serving_default`: `greedy`, `beam` or
            `sample` for AT models (default `greedy`), `nat` for NAT/CTC.
        jit_compile: XLA-compile the decoding loops inside the SavedModel.
        ensemble: more AT models with the same vocabularies, decoded together
            with `model` by every signature (next-token probabilities averaged).
        rescorer: NAT models only: an AT model with the same vocabularies,
            stored in the file, that ranks the candidates (needs 2 or more:
            `length_beam` x `token_variants`, from `options` or the config).
        **options: `beam_size`, `length_penalty`, `top_k`, `top_p` (AT) or
            `iterations`, `length_beam`, `token_variants`,
            `rescore_nat_weight` (NAT) baked into the signatures.

    Returns:
        The list of signature names written.

    Example:
    >>> export_saved_model(model, config, source_vocab, target_vocab, "saved_models/g2p")
    >>> tf.saved_model.load("saved_models/g2p").signatures["serving_default"](
    ...     text=tf.constant(["speech"]))
    """
    import keras

    allowed = AT_OPTIONS if config.model_type == "at" else NAT_OPTIONS
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ExportError(f"unknown export option(s) for a {config.model_type.upper()} model: "
                          f"{', '.join(unknown)} (allowed: {', '.join(allowed)})")
    if ensemble and config.model_type != "at":
        raise ExportError("only AT models export as an ensemble")
    _check_rescoring_options(config, rescorer is not None, options)
    decoders = _decoder_fns(model, config, options, jit_compile, ensemble, rescorer)
    decoder = decoder or ("greedy" if config.model_type == "at" else "nat")
    if decoder not in decoders:
        raise ExportError(f"a {config.model_type.upper()} model exports decoders "
                          f"{', '.join(sorted(decoders))}; not {decoder!r}")
    codec = TextCodec(source_vocab, target_vocab, config.max_source_length)
    archive = keras.export.ExportArchive()
    # Not `archive.track(model)`: the archive already saves every variable
    # the endpoints use, and tracking the Keras wrappers too stores each
    # weight twice (Keras 3.15), doubling the files.
    for table in codec.source.tables + codec.target.tables:
        archive.track(table)
    archive._tf_trackable.codec = codec  # keeps the id->token constants and tables together

    names = []

    def add(name, fn, signature):
        archive.add_endpoint(name, tf.function(fn, input_signature=signature, autograph=False))
        names.append(name)

    def clip(ids):
        return checked_ids(ids)[:, :config.max_source_length]

    def text_fn(kind):
        def run(text):
            ids = codec.encode(checked_text(text))
            return _text_outputs(kind, decoders[kind](ids), ids, codec)
        return run

    def ids_fn(kind):
        def run(source_ids):
            source_ids = clip(source_ids)
            return _id_outputs(kind, decoders[kind](source_ids), source_ids)
        return run

    for kind in decoders:
        if kind == "sample":
            seed_spec = tf.TensorSpec([], tf.int32, name="seed")
            temperature_spec = tf.TensorSpec([], tf.float32, name="temperature")

            def sample_text(text, seed, temperature):
                ids = codec.encode(checked_text(text))
                return {"output": codec.decode(decoders["sample"](ids, seed, temperature), ids)}

            def sample_ids(source_ids, seed, temperature):
                source_ids = clip(source_ids)
                return _id_outputs("sample", decoders["sample"](source_ids, seed, temperature),
                                   source_ids)

            add("translate_sample", sample_text, [TEXT_SPEC, seed_spec, temperature_spec])
            add("translate_sample_ids", sample_ids, [IDS_SPEC, seed_spec, temperature_spec])
        else:
            add(f"translate_{kind}", text_fn(kind), [TEXT_SPEC])
            add(f"translate_{kind}_ids", ids_fn(kind), [IDS_SPEC])
    if decoder == "sample":
        add("serving_default", lambda text: sample_text(text, tf.constant(0),
                                                        tf.constant(1.0)), [TEXT_SPEC])
    else:
        add("serving_default", text_fn(decoder), [TEXT_SPEC])
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    archive.write_out(path, verbose=False)
    return names


def _check_rescoring_options(config, rescoring, options):
    # The config's token_variants applies only when an AT model rescores.
    default_variants = config.token_variants if rescoring else 1
    check_rescoring(config, rescoring, options.get("length_beam", config.length_beam),
                    options.get("token_variants", default_variants))


def check_rescoring(config, rescoring, length_beam, token_variants=1):
    """Refuses an AT rescorer that would be dead weight in an exported file,
    and token variants without one."""
    if not rescoring:
        if token_variants not in (None, 1):
            raise ExportError("token_variants > 1 needs an AT rescorer (rescore_run): the "
                              "NAT's own ranking always keeps its argmax")
        return
    if config.model_type != "nat":
        raise ExportError("an AT rescorer ranks the length-beam candidates of a NAT model; "
                          f"this is a {config.model_type.upper()} model")
    counts = (length_beam, token_variants)
    if (not all(isinstance(n, int) and not isinstance(n, bool) for n in counts)
            or length_beam * token_variants < 2):
        raise ExportError("rescoring needs 2 or more candidates (length_beam >= 2 or "
                          f"token_variants >= 2), got length_beam={length_beam!r}, "
                          f"token_variants={token_variants!r}")


def _text_outputs(kind, result, ids, codec):
    if kind == "beam":
        sequences, scores = result
        return {"outputs": codec.decode(sequences, ids), "scores": scores}
    return {"output": codec.decode(result, ids)}


def _id_outputs(kind, result, source_ids):
    """Ids out; a row whose source is all padding gets EOS alone (an empty output)."""
    empty = tf.reduce_all(tf.equal(source_ids, PAD_ID), axis=1)
    if kind == "beam":
        sequences, scores = result
        eos_only = tf.one_hot(0, tf.shape(sequences)[-1], on_value=EOS_ID, dtype=tf.int32)
        sequences = tf.where(empty[:, None, None], eos_only[None, None, :], sequences)
        return {"output_ids": sequences, "scores": scores}
    eos_only = tf.one_hot(0, tf.shape(result)[-1], on_value=EOS_ID, dtype=tf.int32)
    return {"output_ids": tf.where(empty[:, None], eos_only[None, :], result)}


def export_run(run_dir, path, decoder=None, jit_compile=True, precision="float32",
               ensemble_runs=(), rescore_run=None, **options):
    """Exports a training run as a SavedModel; returns the signature names.

    Args:
        run_dir: the trained run.
        path: output directory.
        decoder, jit_compile, **options: see `export_saved_model`.
        precision: `"float32"`, or `"bfloat16"` (weights and compute in
            bfloat16: half the file size; check its quality before shipping).
        ensemble_runs: more AT runs with the same vocabularies to decode
            together with `run_dir` (its config sets lengths and defaults).
        rescore_run: NAT runs only: an AT run with the same vocabularies whose
            model, stored in the file, ranks the length-beam candidates.
    """
    from keras_transformer.translator import load_companion_at_run, load_float32_run

    if precision not in ("float32", "bfloat16"):
        raise ExportError(f"precision must be float32 or bfloat16, got {precision!r}")
    model, config, source_vocab, target_vocab = load_float32_run(run_dir, precision)
    ensemble = [load_companion_at_run(other, source_vocab, target_vocab, "ensemble",
                                       dtype_policy=precision) for other in ensemble_runs]
    rescorer = None
    if rescore_run:
        rescorer = load_companion_at_run(rescore_run, source_vocab, target_vocab, "rescoring",
                                         dtype_policy=precision)
    return export_saved_model(model, config, source_vocab, target_vocab, path, decoder=decoder,
                              jit_compile=jit_compile, ensemble=ensemble, rescorer=rescorer,
                              **options)
