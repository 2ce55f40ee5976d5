"""Synthetic transduction tasks (copy, reverse, sort) for tests, examples and benchmarks."""

import numpy as np

TASKS = ("copy", "reverse", "sort")


def toy_pairs(task, num_pairs, vocab_size=20, min_length=3, max_length=10, seed=0):
    """Random id sequences and their transductions, ids in `[4, vocab_size)`.

    Args:
        task: `"copy"`, `"reverse"` or `"sort"`.
        num_pairs: how many pairs.
        vocab_size: ids are drawn from `[4, vocab_size)` (0-3 are reserved).
        min_length, max_length: inclusive length range.
        seed: numpy seed.

    Returns:
        `(sources, targets)`: lists of int lists.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if vocab_size <= 5 or not 1 <= min_length <= max_length:
        raise ValueError("need vocab_size > 5 and 1 <= min_length <= max_length")
    rng = np.random.default_rng(seed)
    sources, targets = [], []
    for _ in range(num_pairs):
        length = int(rng.integers(min_length, max_length + 1))
        source = [int(x) for x in rng.integers(4, vocab_size, length)]
        target = {"copy": source, "reverse": source[::-1], "sort": sorted(source)}[task]
        sources.append(source)
        targets.append(list(target))
    return sources, targets
