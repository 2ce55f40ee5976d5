"""Functional model builders."""

from keras_transformer.models.seq2seq import build_seq2seq_model

__all__ = ["build_seq2seq_model"]
