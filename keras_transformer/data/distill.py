"""Sequence-level knowledge distillation (Kim & Rush 2016) for NAT students.

A NAT student learns much better from a teacher's outputs than from the
references: they are less varied (one pronunciation per word, one wording
per sentence), which is what a model without dependencies between output
positions can fit. `distill_run` decodes the teacher's training and dev
sources and writes them in the teacher's data format, so a student trains
on the file and keeps the same dev/test split: a G2P student with
`--set data.train=FILE` (the split is by word, and every word keeps its
name), a sentence (`ding` / `parallel`) student with `--set
data.distilled=FILE`, which replaces only the training pairs.
"""

import os


def distill_run(teacher_run, output, decoder="beam", beam_size=None, batch_size=256, limit=0,
                verbose=1):
    """Writes `teacher_run`'s distilled training set to `output`.

    Sources whose output is empty are left out (a dictionary line needs
    phonemes; an empty target teaches nothing) and counted.

    Args:
        teacher_run: a trained AT run directory.
        output: file to write: CMUdict format (`WORD  PH PH ...`) for a g2p
            run, `source<TAB>target` lines for a ding or parallel run.
        decoder: `"beam"` (default, as in the literature) or `"greedy"`.
        beam_size: beam width (default: the teacher's config).
        batch_size: sources per decoding call.
        limit: distil only the first `limit` sources (0 = all).
        verbose: Keras progress-bar verbosity (0 = silent).

    Returns:
        `(written, skipped)`: pairs written and sources left out as empty.
    """
    from keras_transformer.runs import load_run
    from keras_transformer.tasks import load_task_data
    from keras_transformer.translator import Translator

    if decoder not in ("beam", "greedy"):
        raise ValueError(f"decoder must be 'beam' or 'greedy', got {decoder!r}")
    _, config, data_config, _, _ = load_run(teacher_run)
    if config.model_type != "at":
        raise ValueError(f"the teacher {teacher_run} must be an AT model, not {config.model_type}")
    data = load_task_data(data_config)
    # Test sources are never decoded: the student must not see them.
    sources = list(dict.fromkeys(s for s, _ in data.train + data.dev))
    if limit:
        sources = sources[:limit]
    import keras

    translator = Translator.from_run(teacher_run)
    outputs = []
    progress = keras.utils.Progbar(len(sources), unit_name="source", verbose=verbose)
    chunk = 16 * batch_size  # sorted by length inside each chunk
    for start in range(0, len(sources), chunk):
        outputs += translator.translate(sources[start:start + chunk], decoder=decoder,
                                        beam_size=beam_size, batch_size=batch_size,
                                        truncate=True)
        progress.update(len(outputs))
    pairs = [(s, o) for s, o in zip(sources, outputs) if o.strip()]
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    tmp = output + ".tmp"
    if data_config.task == "g2p":
        with open(tmp, "w", encoding="latin-1") as f:
            f.write(f";;; distilled from {os.path.abspath(teacher_run)} ({decoder} search)\n")
            for word, phonemes in pairs:
                f.write(f"{word.upper()}  {phonemes}\n")
    else:
        with open(tmp, "w", encoding="utf-8") as f:
            for source, target in pairs:
                f.write(f"{source}\t{target}\n")
    os.replace(tmp, output)
    return len(pairs), len(sources) - len(pairs)
