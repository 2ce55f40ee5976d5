"""keras-transformer: Transformer seq2seq for Keras 3 — layers, model.fit training,
AT and NAT decoding, SavedModel and TFLite export.

Top-level names load lazily so `keras-transformer --help` and config checks
do not pay for importing TensorFlow.
"""

__version__ = "0.1.0"

_LAZY = {
    "ConfigError": "keras_transformer.config",
    "TransformerConfig": "keras_transformer.config",
    "build_seq2seq_model": "keras_transformer.models",
    "build_nat_model": "keras_transformer.models",
    "build_ctc_model": "keras_transformer.models",
    "build_model": "keras_transformer.models",
    "NATGenerator": "keras_transformer.decoding.nat_generator",
    "compile_model": "keras_transformer.training",
    "Seq2SeqGenerator": "keras_transformer.decoding",
    "Translator": "keras_transformer.translator",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras_transformer' has no attribute {name!r}")
