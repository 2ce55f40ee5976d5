"""Pictures of a trained run: attention weights for one input, and training curves.

`attention_weights` runs the model once (teacher-forced on its own greedy
output) and collects the weights with `keras.ops`; the plotting functions
draw them with matplotlib (`pip install keras-transformer[plot]`) into PNG
files: one grid per attention kind, layers as rows and heads as columns,
tokens on the axes. Figure sizes grow with the token counts so long inputs
stay readable.
"""

import csv
import os

import numpy as np
from keras import ops

from keras_transformer.text.vocabulary import BOS_ID, EOS_ID


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'keras-transformer[plot]'") from None
    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    return plt


def attention_weights(model, source_ids, decoder_input_ids):
    """Attention weights of an AT model for one teacher-forced pass.

    Args:
        model: a model from `build_seq2seq_model`.
        source_ids: int `[1, source_len]` (no padding).
        decoder_input_ids: int `[1, target_len]`, BOS first.

    Returns:
        A dict of numpy arrays `[layers, heads, queries, keys]`:
        `"encoder_self"` (only when the encoder mixes with attention),
        `"decoder_self"` and `"cross"`.

    Example:
    >>> weights = attention_weights(model, [[5, 6, 7]], [[1, 9, 10]])
    >>> weights["cross"].shape
    (3, 4, 3, 3)
    """
    from keras_transformer.decoding.model_fns import DecodingFns
    from keras_transformer.layers.attention import MultiHeadAttention

    fns = DecodingFns(model)
    source_ids = ops.convert_to_tensor(np.asarray(source_ids, dtype="int32"))
    decoder_input_ids = ops.convert_to_tensor(np.asarray(decoder_input_ids, dtype="int32"))
    source_mask = ops.not_equal(source_ids, 0)
    result = {}

    # The encoder stack returns states only, so walk its blocks and ask each
    # attention mixer for its weights on the input it sees.
    x = fns.source_embedding(source_ids, training=False)
    encoder_weights = []
    for block in fns.encoder.blocks:
        mixer_block = block.mixer_block
        if block.mixer == "attention":
            mixer_input = (mixer_block.norm(x) if mixer_block.norm_position == "pre" else x)
            # MultiHeadAttention.call, not the mixer's own call, which has no
            # return_attention_scores.
            _, weights = MultiHeadAttention.call(
                mixer_block.sublayer, mixer_input, mixer_input, key_mask=source_mask, return_attention_scores=True,
                training=False)
            encoder_weights.append(ops.convert_to_numpy(ops.cast(weights[0], "float32")))
        x = block(x, padding_mask=source_mask, training=False)
    if fns.encoder.final_norm is not None:
        x = fns.encoder.final_norm(x)
    if encoder_weights:
        result["encoder_self"] = np.stack(encoder_weights)

    target = fns.target_embedding(decoder_input_ids, training=False)
    _, self_weights, cross_weights = fns.decoder(
        target, x, encoder_padding_mask=source_mask, return_attention_scores=True,
        training=False)
    result["decoder_self"] = np.stack(
        [ops.convert_to_numpy(ops.cast(w[0], "float32")) for w in self_weights])
    result["cross"] = np.stack(
        [ops.convert_to_numpy(ops.cast(w[0], "float32")) for w in cross_weights])
    return result


def plot_attention_grid(weights, query_labels, key_labels, title, path):
    """Draws `[layers, heads, queries, keys]` weights as a layers x heads grid of heat maps.

    Args:
        weights: numpy array `[layers, heads, queries, keys]`.
        query_labels, key_labels: token strings for the rows and columns.
        title: figure title.
        path: PNG file to write.
    """
    plt = _matplotlib()
    layers, heads, queries, keys = weights.shape
    if queries != len(query_labels) or keys != len(key_labels):
        raise ValueError(f"weights are {queries}x{keys} but labels are "
                         f"{len(query_labels)}x{len(key_labels)}")
    # About a quarter inch per token, so the image grows with the sentence.
    cell_w, cell_h = 1.0 + 0.25 * keys, 1.0 + 0.25 * queries
    fig, axes = plt.subplots(layers, heads, figsize=(heads * cell_w + 1, layers * cell_h + 1),
                             squeeze=False)
    for layer in range(layers):
        for head in range(heads):
            ax = axes[layer][head]
            ax.imshow(weights[layer, head], cmap="viridis", vmin=0.0, vmax=1.0,
                      aspect="auto", interpolation="nearest")
            ax.set_xticks(range(keys))
            ax.set_xticklabels(key_labels, fontsize=7,
                               rotation=90 if max(map(len, key_labels), default=0) > 2 else 0)
            ax.set_yticks(range(queries))
            ax.set_yticklabels(query_labels, fontsize=7)
            ax.set_title(f"layer {layer + 1} head {head + 1}", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def read_history(path):
    """`history.csv` of a run -> `{column: [float per epoch]}`."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no training history at {path} (train the run first)")
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} holds no epochs yet")
    columns = {}
    for row in rows:
        for name, value in row.items():
            try:
                columns.setdefault(name, []).append(float(value))
            except (TypeError, ValueError):
                columns.setdefault(name, []).append(float("nan"))
    return columns


def plot_training_curves(history_path, path, title="training"):
    """Loss, token accuracy and learning rate per epoch from a run's `history.csv`."""
    plt = _matplotlib()
    history = read_history(history_path)
    # Resumed runs append rows; number epochs by row so the x axis stays monotone.
    epochs = np.arange(1, len(next(iter(history.values()))) + 1)
    panels = [("loss", ["loss", "val_loss"]),
              ("token accuracy", ["token_accuracy", "val_token_accuracy"]),
              ("learning rate", ["learning_rate"])]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (label, names) in zip(axes, panels):
        for name in names:
            if name in history:
                ax.plot(epochs, history[name], marker=".", label=name)
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_run(run_dir, text, output_dir, translator=None):
    """Writes attention PNGs for `text` and the training curves of a run.

    Args:
        run_dir: a trained AT run.
        text: the input to translate and draw; empty to draw only the curves.
        output_dir: folder for the PNGs (created).
        translator: an already loaded `Translator` of the run (optional).

    Returns:
        The list of files written.
    """
    os.makedirs(output_dir, exist_ok=True)
    written = []
    history = os.path.join(run_dir, "history.csv")
    if os.path.exists(history):
        written.append(plot_training_curves(history, os.path.join(output_dir,
                                                                  "training_curves.png"),
                                            title=os.path.basename(os.path.normpath(run_dir))))
    if not text:
        if not written:
            raise FileNotFoundError(f"no history.csv in {run_dir} and no text to draw")
        return written
    if translator is None:
        from keras_transformer.translator import Translator

        translator = Translator.from_run(run_dir)
    if translator.config.model_type != "at":
        raise ValueError("attention plots need an AT run (NAT decoders attend in parallel; "
                         "plot its AT teacher)")
    if not text.strip():
        raise ValueError("text to plot is empty")
    source = translator.encode([text], truncate=True)[0]
    output_ids = translator.generator.greedy(np.asarray([source], dtype="int32")).numpy()[0]
    output_ids = [int(i) for i in output_ids]
    if EOS_ID in output_ids:
        output_ids = output_ids[:output_ids.index(EOS_ID)]
    output_ids = [i for i in output_ids if i > EOS_ID]  # drop PAD/BOS; UNK (3) stays
    weights = attention_weights(translator.model, [source], [[BOS_ID] + output_ids])
    source_labels = _token_labels(translator.source_vocab, source)
    target_in = ["<s>"] + _token_labels(translator.target_vocab, output_ids)
    plots = [("cross", "cross_attention.png", target_in, source_labels,
              "cross-attention (rows: decoder input, columns: source)"),
             ("decoder_self", "decoder_self_attention.png", target_in, target_in,
              "decoder self-attention (causal)"),
             ("encoder_self", "encoder_self_attention.png", source_labels, source_labels,
              "encoder self-attention")]
    for key, name, rows, cols, title in plots:
        if key in weights:
            written.append(plot_attention_grid(weights[key], rows, cols, f"{title}\n{text}",
                                               os.path.join(output_dir, name)))
    return written


def _token_labels(vocab, ids):
    return [vocab.id_to_token[i] if 0 <= i < len(vocab.id_to_token) else "?" for i in ids]


__all__ = ["attention_weights", "plot_attention_grid", "plot_run", "plot_training_curves",
           "read_history"]
