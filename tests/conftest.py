import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(REPO, "..", "shared", "data", "cmudict")


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)
    yield


def tiny_config(**overrides):
    from keras_transformer.config import TransformerConfig

    values = dict(source_vocab_size=24, target_vocab_size=24, d_model=32, num_heads=4,
                  ff_dim=64, num_encoder_layers=2, num_decoder_layers=2, dropout=0.0,
                  max_source_length=32, max_target_length=32)
    values.update(overrides)
    return TransformerConfig(**values)


def python():
    return sys.executable
