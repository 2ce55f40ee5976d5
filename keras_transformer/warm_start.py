"""Starting a new run from another run's weights (`train --init-from RUN`).

The common use is a NAT student whose encoder, embeddings and decoder blocks
start from its AT teacher: the builders name these layers alike
(`source_embedding`, `encoder`, `decoder`, ...), so every top-level layer
whose name and weight shapes match is copied, and the rest (a length
predictor, a CTC upsampler, a decoder of another width) keeps its fresh
initialisation. Stacks of another depth (a 1-layer NAT decoder under a
3-layer teacher, the "deep encoder, shallow decoder" recipe of Kasai et al.
2021) get their leading blocks copied: block i from the teacher's block i.
Copied embeddings only mean something with the same vocabularies, so those
must be identical.
"""

import json
import os

INIT_RECORD = "init_from.json"


class WarmStartError(ValueError):
    """The run to start from is missing, incompatible or shares no layer."""


def copy_matching_layers(model, source_model):
    """Copies the weights of every top-level layer of `source_model` whose name
    and weight shapes match a layer of `model`; for encoder and decoder stacks
    of different depth but equal block shapes, copies the leading blocks.

    Args:
        model: the freshly built model to initialise.
        source_model: a trained model.

    Returns:
        `(copied, skipped)`: sorted names of the layers copied (a stack copied
        in part reads e.g. `"decoder[blocks 0-0 of 3]"`), and of those present
        in both models whose weights did not match.

    Example:
    >>> copied, skipped = copy_matching_layers(student, teacher)
    >>> copied
    ['decoder', 'encoder', 'source_embedding', 'target_embedding']
    """
    theirs = {layer.name: layer for layer in source_model.layers}
    copied, skipped = [], []
    for layer in model.layers:
        other = theirs.get(layer.name)
        if other is None or not layer.weights:
            continue
        if _shapes(layer) == _shapes(other):
            layer.set_weights(other.get_weights())
            copied.append(layer.name)
        elif _copy_leading_blocks(layer, other):
            count = min(len(layer.blocks), len(other.blocks))
            copied.append(f"{layer.name}[blocks 0-{count - 1} of {len(other.blocks)}]")
        else:
            skipped.append(layer.name)
    return sorted(copied), sorted(skipped)


def _shapes(layer_or_weights):
    weights = getattr(layer_or_weights, "weights", layer_or_weights)
    return [tuple(w.shape) for w in weights]


def _copy_leading_blocks(layer, other):
    """Copies `other`'s first blocks into `layer`'s when both are stacks
    (`TransformerEncoder` / `TransformerDecoder`) of equally shaped blocks
    that differ only in depth; returns whether it did."""
    mine, their = getattr(layer, "blocks", None), getattr(other, "blocks", None)
    if not mine or not their or len(mine) == len(their):
        return False
    count = min(len(mine), len(their))
    pairs = list(zip(mine[:count], their[:count]))
    # The weights outside the blocks (a pre-norm stack's final norm) must match too.
    rest = [w for w in layer.weights if not any(w is v for b in mine for v in b.weights)]
    their_rest = [w for w in other.weights if not any(w is v for b in their for v in b.weights)]
    if (any(_shapes(a) != _shapes(b) for a, b in pairs)
            or _shapes(rest) != _shapes(their_rest)):
        return False
    for block, source_block in pairs:
        block.set_weights(source_block.get_weights())
    for weight, value in zip(rest, their_rest):
        weight.assign(value)
    return True


def warm_start(model, run_dir, init_run, source_vocab, target_vocab):
    """Initialises `model` from the run `init_run` and records what was copied.

    Args:
        model: the new run's freshly built model.
        run_dir: the new run's directory (gets `init_from.json`).
        init_run: the trained run to copy from.
        source_vocab, target_vocab: the new run's vocabularies; they must
            equal `init_run`'s (train with `--set data.vocab_from=RUN`).

    Returns:
        The names of the copied layers.
    """
    from keras_transformer.runs import load_run

    source_model, _, _, their_source, their_target = load_run(init_run)
    if (their_source.id_to_token != source_vocab.id_to_token
            or their_target.id_to_token != target_vocab.id_to_token):
        raise WarmStartError(
            f"--init-from {init_run}: its vocabularies differ from this run's; train with "
            f"--set data.vocab_from={init_run} so the copied embeddings mean the same ids")
    copied, skipped = copy_matching_layers(model, source_model)
    if not copied:
        raise WarmStartError(f"--init-from {init_run}: no layer has the same name and shapes "
                             f"(mismatched: {', '.join(skipped) or 'none in common'})")
    with open(os.path.join(run_dir, INIT_RECORD), "w") as f:
        json.dump({"init_from": os.path.abspath(init_run), "copied": copied,
                   "shape_mismatch": skipped}, f, indent=1)
    return copied
