"""Decoding with several AT models at once: their next-token distributions averaged.

An ensemble of independently trained models is the most reliable way to buy
accuracy with inference time (for G2P typically a point or two of WER; see
BENCHMARKS.md). `EnsembleDecodingFns` has the interface of `DecodingFns`
(`encode`, `cross_attention_cache`, `initial_cache`, `step`, `full_logits`),
so greedy, beam search, sampling, NAT rescoring and the exported signatures
run over an ensemble unchanged. Each model keeps its own caches; they travel
through the decoding loops as one flat list, and `step` cuts it back into
per-model pieces.

At every step the ensemble's scores are `log(mean_m softmax(logits_m))`:
already normalised log-probabilities, so `argmax`, `log_softmax` (beam
search) and temperature sampling treat them like logits.
"""

import math

from keras import ops

from keras_transformer.decoding.model_fns import DecodingFns, mask_reserved
from keras_transformer.text.vocabulary import BOS_ID, EOS_ID


class EnsembleDecodingFns:
    """Averages the next-token probabilities of several trained AT models.

    The models may differ in size and depth but must read and write the same
    vocabularies (the caller checks the vocabulary files; here the sizes are
    checked).

    Args:
        models: two or more models from `build_seq2seq_model`.

    Example:
    >>> fns = EnsembleDecodingFns([model_a, model_b])
    >>> ids = greedy.autoregressive_decode(fns, source_ids, greedy.greedy_select, 5, 1.5)
    """

    bos_id = BOS_ID
    eos_id = EOS_ID

    def __init__(self, models):
        models = list(models)
        if len(models) < 2:
            raise ValueError(f"an ensemble needs at least 2 models, got {len(models)}")
        self.members = [DecodingFns(model) for model in models]
        sizes = {(m.source_embedding.vocab_size, m.vocab_size) for m in self.members}
        if len(sizes) > 1:
            raise ValueError("ensemble members must share vocabularies; got (source, target) "
                             f"vocabulary sizes {sorted(sizes)}")
        self.vocab_size = self.members[0].vocab_size
        # Outputs must fit every member's position table.
        self.max_target_length = min(m.max_target_length for m in self.members)
        self._layers = [m.decoder.num_layers for m in self.members]
        self._log_members = math.log(len(self.members))

    def _split(self, flat):
        """A flat per-layer list back into one list per member."""
        pieces, start = [], 0
        for count in self._layers:
            pieces.append(list(flat[start:start + count]))
            start += count
        return pieces

    def encode(self, source_ids):
        """Every member's encoder outputs (a list) and the shared bool source mask."""
        outputs = [m.encode(source_ids)[0] for m in self.members]
        return outputs, ops.not_equal(source_ids, 0)

    def cross_attention_cache(self, encoder_outputs):
        return [c for m, states in zip(self.members, encoder_outputs)
                for c in m.cross_attention_cache(states)]

    def initial_cache(self, encoder_outputs, max_length):
        return [c for m, states in zip(self.members, encoder_outputs)
                for c in m.initial_cache(states, max_length)]

    def _average(self, member_logits):
        log_probs = ops.stack([ops.log_softmax(l, axis=-1) for l in member_logits], axis=0)
        return mask_reserved(ops.logsumexp(log_probs, axis=0) - self._log_members)

    def step(self, token_ids, index, cache, cross_cache, source_mask):
        """One position for every member: `([batch, vocab] averaged log-probs, cache)`."""
        member_logits, new_cache = [], []
        for member, own_cache, own_cross in zip(self.members, self._split(cache),
                                                self._split(cross_cache)):
            logits, own_cache = member.step(token_ids, index, own_cache, own_cross, source_mask)
            member_logits.append(logits)
            new_cache.extend(own_cache)
        return self._average(member_logits), new_cache

    def full_logits(self, source_ids, decoder_input_ids):
        """Uncached teacher-forced averaged log-probs `[batch, target_len, vocab]`."""
        return self._average([m.full_logits(source_ids, decoder_input_ids)
                              for m in self.members])
