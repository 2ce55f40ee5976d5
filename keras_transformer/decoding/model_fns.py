"""The trained model split into the pieces a decoding loop needs.

`DecodingFns` finds the named layers of a model built by
`build_seq2seq_model` and exposes `encode` (once per source) and `step` (one
target position against fixed-size caches). Written with `keras.ops`, so the
pieces run on any backend; the loops around them live in `greedy.py` and
`beam.py` (TensorFlow).
"""

from keras import ops

from keras_transformer.models import seq2seq
from keras_transformer.text.vocabulary import BOS_ID, EOS_ID, PAD_ID


def mask_reserved(logits):
    """Makes PAD and BOS impossible outputs (a decoder must never emit them)."""
    vocab = ops.shape(logits)[-1]
    reserved = ops.logical_or(ops.equal(ops.arange(vocab), PAD_ID),
                              ops.equal(ops.arange(vocab), BOS_ID))
    return ops.where(reserved, ops.cast(-1e9, logits.dtype), logits)


class DecodingFns:
    """`encode` and cached `step` functions of a trained AT model.

    Args:
        model: a model from `build_seq2seq_model` (or loaded from one).

    Example:
    >>> fns = DecodingFns(model)
    >>> memory, source_mask = fns.encode(source_ids)
    >>> cache = fns.initial_cache(memory, max_length=32)
    >>> logits, cache = fns.step(bos_ids, 0, cache, memory, source_mask)
    """

    bos_id = BOS_ID
    eos_id = EOS_ID

    def __init__(self, model):
        try:
            self.source_embedding = model.get_layer(seq2seq.SOURCE_EMBEDDING)
            self.encoder = model.get_layer(seq2seq.ENCODER)
            self.decoder = model.get_layer(seq2seq.DECODER)
        except ValueError as error:
            raise ValueError(
                f"model {model.name!r} was not built by build_seq2seq_model: {error}") from None
        names = {layer.name for layer in model.layers}
        self.target_embedding = (model.get_layer(seq2seq.TARGET_EMBEDDING)
                                 if seq2seq.TARGET_EMBEDDING in names else self.source_embedding)
        self.output_projection = (model.get_layer(seq2seq.OUTPUT_PROJECTION)
                                  if seq2seq.OUTPUT_PROJECTION in names else None)
        self.model = model
        self.max_target_length = self.target_embedding.max_length
        self.vocab_size = self.target_embedding.vocab_size

    def encode(self, source_ids):
        """`[batch, source_len]` ids -> encoder outputs and the bool source mask."""
        source_mask = ops.not_equal(source_ids, 0)
        states = self.encoder(self.source_embedding(source_ids, training=False),
                              padding_mask=source_mask, training=False)
        return states, source_mask

    def cross_attention_cache(self, encoder_outputs):
        """Keys/values of the encoder outputs for every decoder layer, computed once."""
        return self.decoder.compute_cross_attention_cache(encoder_outputs)

    def initial_cache(self, encoder_outputs, max_length):
        """An empty self-attention cache with room for `max_length` positions."""
        batch = ops.shape(encoder_outputs)[0]
        return self.decoder.empty_self_attention_cache(batch, max_length,
                                                       dtype=encoder_outputs.dtype)

    def logits(self, states):
        if self.output_projection is not None:
            logits = self.output_projection(states)
        else:
            logits = self.target_embedding(states, reverse=True)
        return ops.cast(logits, "float32")

    def step(self, token_ids, index, cache, cross_cache, source_mask):
        """Decodes one position.

        Args:
            token_ids: `[batch, 1]` previous tokens (BOS at index 0).
            index: int scalar, the position being decoded.
            cache: per-layer list of `[batch, 2, max_len, heads, head_dim]`.
            cross_cache: from `cross_attention_cache`.
            source_mask: `[batch, source_len]` bool.

        Returns:
            `[batch, vocab]` float32 logits and the updated cache.
        """
        x = self.target_embedding(token_ids, start_index=index, training=False)
        states, cache = self.decoder(
            x, encoder_padding_mask=source_mask, self_attention_cache=cache,
            cache_update_index=index, cross_attention_cache=cross_cache, training=False)
        return mask_reserved(self.logits(states)[:, 0, :]), cache

    def teacher_forced_logits(self, encoder_outputs, source_mask, decoder_input_ids):
        """`full_logits` from encoder outputs computed once by `encode`: scoring
        many candidates of one source need not re-run the encoder for each."""
        states = self.decoder(self.target_embedding(decoder_input_ids, training=False),
                              encoder_outputs, encoder_padding_mask=source_mask,
                              training=False)
        return mask_reserved(self.logits(states))

    def full_logits(self, source_ids, decoder_input_ids):
        """Uncached teacher-forced logits `[batch, target_len, vocab]` (the whole prefix),
        reserved ids masked as in `step`."""
        return mask_reserved(ops.cast(self.model({"source_ids": source_ids,
                                    "decoder_input_ids": decoder_input_ids},
                                   training=False), "float32"))
