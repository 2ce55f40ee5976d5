"""Decoding (TensorFlow): AT cached greedy, beam search with length penalty and
sampling (one model or an ensemble); NAT one pass, length beam, mask-predict and CTC."""

from keras_transformer.decoding.beam import beam_search, length_penalty
from keras_transformer.decoding.ensemble import EnsembleDecodingFns
from keras_transformer.decoding.generator import Seq2SeqGenerator
from keras_transformer.decoding.greedy import autoregressive_decode, uncached_greedy_decode
from keras_transformer.decoding.model_fns import DecodingFns
from keras_transformer.decoding.nat import NATDecodingFns, ctc_decode, nat_decode
from keras_transformer.decoding.nat_generator import NATGenerator

__all__ = ["DecodingFns", "EnsembleDecodingFns", "NATDecodingFns", "NATGenerator",
           "Seq2SeqGenerator", "autoregressive_decode", "beam_search", "ctc_decode",
           "length_penalty", "nat_decode", "uncached_greedy_decode"]
