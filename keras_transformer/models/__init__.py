"""Functional model builders."""

from keras_transformer.models.nat import NATModel, build_ctc_model, build_model, build_nat_model
from keras_transformer.models.seq2seq import build_seq2seq_model

__all__ = ["NATModel", "build_ctc_model", "build_model", "build_nat_model",
           "build_seq2seq_model"]
