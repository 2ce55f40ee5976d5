"""Tab-separated parallel text: one `source<TAB>target` pair per line."""

import os


class ParallelFormatError(ValueError):
    """A line without exactly one tab; the message gives file and line."""


def read_parallel(path, skip_malformed=False):
    """Reads `source\\ttarget` lines; blank lines are skipped.

    Args:
        path: file path (UTF-8).
        skip_malformed: skip lines without exactly one tab instead of raising.

    Returns:
        A list of `(source, target)` string pairs.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"parallel text file not found: {path}")
    pairs = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n\r")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
                if skip_malformed:
                    continue
                raise ParallelFormatError(
                    f"{path}:{number}: expected 'source<TAB>target', got {line[:80]!r}")
            pairs.append((fields[0].strip(), fields[1].strip()))
    return pairs
