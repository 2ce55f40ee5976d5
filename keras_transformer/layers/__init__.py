"""Backend-agnostic Keras layers (written with `keras.ops` only)."""

from keras_transformer.layers.attention import MultiHeadAttention
from keras_transformer.layers.decoder import DecoderBlock, TransformerDecoder
from keras_transformer.layers.embedding import TokenAndPositionEmbedding, sinusoidal_positions
from keras_transformer.layers.encoder import EncoderBlock, TransformerEncoder, make_mixer
from keras_transformer.layers.feed_forward import FeedForward
from keras_transformer.layers.masking import PaddingMask
from keras_transformer.layers.nat import CTCUpsample, ForceBlank, LengthPredictor, UniformCopy
from keras_transformer.layers.mixers import ConvMixer, RNNMixer, SelfAttentionMixer
from keras_transformer.layers.residual import ResidualNorm

__all__ = [
    "CTCUpsample", "ForceBlank", "LengthPredictor", "UniformCopy",
    "ConvMixer", "DecoderBlock", "EncoderBlock", "FeedForward", "MultiHeadAttention",
    "PaddingMask", "RNNMixer", "ResidualNorm", "SelfAttentionMixer", "TokenAndPositionEmbedding",
    "TransformerDecoder", "TransformerEncoder", "make_mixer", "sinusoidal_positions",
]
