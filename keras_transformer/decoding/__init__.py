"""AT decoding (TensorFlow): cached greedy, beam search with length penalty, sampling."""

from keras_transformer.decoding.beam import beam_search, length_penalty
from keras_transformer.decoding.generator import Seq2SeqGenerator
from keras_transformer.decoding.greedy import autoregressive_decode, uncached_greedy_decode
from keras_transformer.decoding.model_fns import DecodingFns

__all__ = ["DecodingFns", "Seq2SeqGenerator", "autoregressive_decode", "beam_search",
           "length_penalty", "uncached_greedy_decode"]
