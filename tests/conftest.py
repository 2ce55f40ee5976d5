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


def train_tiny_g2p_run(root, dictionary_text, name="run", keep_checkpoints=0, **overrides):
    """Trains a 1+1-layer, d_model 16 G2P run on `dictionary_text` (CMUdict lines,
    also its test set) in `root / name`; returns `(config, data_config, run_dir)`."""
    from keras_transformer.runs import train_run
    from keras_transformer.tasks import DataConfig

    dictionary = root / "tiny.dict"
    dictionary.write_text(dictionary_text)
    data = DataConfig(task="g2p", train=str(dictionary), test=str(dictionary), dev_fraction=0.0)
    config = tiny_config(**{**dict(d_model=16, num_heads=2, ff_dim=32, num_encoder_layers=1,
                                   num_decoder_layers=1, max_source_length=12,
                                   max_target_length=12), **overrides})
    run = str(root / name)
    train_run(config, data, run, verbose=0, keep_checkpoints=keep_checkpoints)
    return config, data, run


def python():
    return sys.executable
