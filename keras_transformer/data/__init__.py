"""Data readers (CMUdict, parallel text) and batching pipelines."""

from keras_transformer.data.cmudict import (
    CMUDictFormatError,
    load_packaged_cmudict,
    parse_cmudict_lines,
    read_cmudict,
    split_by_word,
    to_pairs,
)
from keras_transformer.data.parallel import ParallelFormatError, read_parallel
from keras_transformer.data.pipeline import make_dataset, pad_sequences, teacher_forcing_batch

__all__ = ["CMUDictFormatError", "ParallelFormatError", "load_packaged_cmudict", "make_dataset",
           "pad_sequences", "parse_cmudict_lines", "read_cmudict", "read_parallel",
           "split_by_word", "teacher_forcing_batch", "to_pairs"]
