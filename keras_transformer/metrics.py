"""Evaluation metrics: WER/PER with several references, BLEU and chrF via sacrebleu."""


def edit_distance(a, b):
    """Levenshtein distance between two sequences (lists of tokens)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def wer_per(predictions, references):
    """Word and phoneme error rates for G2P with several references per word.

    A word is right if its prediction equals any reference. Its phoneme errors
    are the edit distance to the closest reference; PER divides the summed
    errors by the summed lengths of those closest references.

    Args:
        predictions: list of predicted phoneme strings (space-separated).
        references: list of lists of reference strings, one list per word.

    Returns:
        `(wer, per)` as fractions in [0, 1] (PER can exceed 1 for long garbage).

    Example:
    >>> wer_per(["K AE T"], [["K AE T", "K AA T"]])
    (0.0, 0.0)
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} reference lists")
    if not predictions:
        raise ValueError("nothing to score")
    wrong = errors = length = 0
    for prediction, refs in zip(predictions, references):
        if not refs:
            raise ValueError("every word needs at least one reference")
        hyp = prediction.split()
        best = min(((edit_distance(hyp, r.split()), len(r.split())) for r in refs),
                   key=lambda pair: (pair[0], -pair[1]))
        wrong += best[0] != 0
        errors += best[0]
        length += best[1]
    return wrong / len(predictions), errors / max(length, 1)


def bleu_chrf(hypotheses, references):
    """Corpus BLEU and chrF (sacrebleu) for one reference per hypothesis.

    Returns:
        `{"bleu": float, "chrf": float}` on sacrebleu's 0-100 scale.
    """
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    return {"bleu": sacrebleu.corpus_bleu(hypotheses, [references]).score,
            "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score}
