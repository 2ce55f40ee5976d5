"""Decoder block (causal self-attention, cross-attention, feed-forward) and the stack."""

import keras
from keras import ops

from keras_transformer.layers.attention import MultiHeadAttention
from keras_transformer.layers.feed_forward import FeedForward
from keras_transformer.layers.residual import ResidualNorm


@keras.saving.register_keras_serializable(package="keras_transformer")
class DecoderBlock(keras.layers.Layer):
    """Self-attention, cross-attention to the encoder, feed-forward; each residual-normed.

    Args:
        d_model: hidden size.
        num_heads: attention heads.
        ff_dim: feed-forward inner size.
        causal: mask self-attention so position `i` sees positions `<= i`
            (autoregressive decoders); `False` for parallel (NAT) decoders.
        dropout, attention_dropout, activation, norm_position, epsilon: as in
            `EncoderBlock`.

    Call arguments:
        inputs: `[batch, target_len, d_model]`.
        encoder_outputs: `[batch, source_len, d_model]` (unused when
            `cross_attention_cache` is given).
        encoder_padding_mask: `[batch, source_len]` bool.
        padding_mask: optional `[batch, target_len]` bool for self-attention keys.
        self_attention_cache: optional `[batch, 2, max_len, heads, head_dim]`.
        cache_update_index: position of the first input when caching.
        cross_attention_cache: optional precomputed `[batch, 2, source_len,
            heads, head_dim]` keys/values of the encoder outputs.
        return_attention_scores: also return self- and cross-attention weights.

    Returns:
        The outputs; then self and cross attention weights if asked; then the
        updated self-attention cache if one was given.

    Example:
    >>> block = DecoderBlock(d_model=16, num_heads=2, ff_dim=32)
    >>> x, memory = keras.ops.ones((2, 4, 16)), keras.ops.ones((2, 6, 16))
    >>> block(x, memory).shape
    (2, 4, 16)
    """

    def __init__(self, d_model, num_heads, ff_dim, causal=True, dropout=0.0,
                 attention_dropout=0.0, activation="relu", norm_position="post",
                 epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.d_model = d_model
        self.num_heads = num_heads
        self.ff_dim = ff_dim
        self.causal = causal
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = activation
        self.norm_position = norm_position
        self.epsilon = epsilon
        key_dim = d_model // num_heads

        def residual(sublayer, name):
            return ResidualNorm(sublayer, norm_position=norm_position, dropout=dropout,
                                epsilon=epsilon, name=name)

        self.self_attention_block = residual(
            MultiHeadAttention(num_heads, key_dim, dropout=attention_dropout,
                               name="self_attention"), "self_attention_block")
        self.cross_attention_block = residual(
            MultiHeadAttention(num_heads, key_dim, dropout=attention_dropout,
                               name="cross_attention"), "cross_attention_block")
        self.ff_block = residual(
            FeedForward(ff_dim, activation=activation, dropout=dropout, name="feed_forward"),
            "ff_block")

    def build(self, inputs_shape, encoder_outputs_shape=None, *args, **kwargs):
        inputs_shape = tuple(inputs_shape)
        memory_shape = tuple(encoder_outputs_shape) if encoder_outputs_shape else inputs_shape
        self.self_attention_block.build(inputs_shape)
        self.self_attention_block.sublayer.build(inputs_shape, inputs_shape)
        self.cross_attention_block.build(inputs_shape)
        self.cross_attention_block.sublayer.build(inputs_shape, memory_shape)
        self.ff_block.build(inputs_shape)
        self.ff_block.sublayer.build(inputs_shape)
        self.built = True

    @property
    def cross_attention(self):
        return self.cross_attention_block.sublayer

    def call(self, inputs, encoder_outputs=None, encoder_padding_mask=None, padding_mask=None,
             self_attention_cache=None, cache_update_index=None, cross_attention_cache=None,
             return_attention_scores=False, training=None):
        # `.call` directly: Keras' `__call__` refuses a **kwargs dict that
        # mixes tensors (masks, caches) with Python flags. Both blocks are
        # built in `build`, so nothing is skipped.
        result = self.self_attention_block.call(
            inputs, key_mask=padding_mask, causal=self.causal, cache=self_attention_cache,
            cache_update_index=cache_update_index,
            return_attention_scores=return_attention_scores, training=training)
        result = list(result) if isinstance(result, tuple) else [result]
        x = result.pop(0)
        self_weights = result.pop(0) if return_attention_scores else None
        new_cache = result.pop(0) if self_attention_cache is not None else None

        cross = self.cross_attention_block.call(
            x, encoder_outputs, key_mask=encoder_padding_mask, cache=cross_attention_cache,
            return_attention_scores=return_attention_scores, training=training)
        cross = list(cross) if isinstance(cross, tuple) else [cross]
        x = cross.pop(0)
        cross_weights = cross.pop(0) if return_attention_scores else None
        # A precomputed cross cache comes back unchanged; drop it.
        x = self.ff_block(x, training=training)

        outputs = [x]
        if return_attention_scores:
            outputs += [self_weights, cross_weights]
        if new_cache is not None:
            outputs.append(new_cache)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


    def get_config(self):
        config = super().get_config()
        config.update({
            "d_model": self.d_model, "num_heads": self.num_heads, "ff_dim": self.ff_dim,
            "causal": self.causal, "dropout": self.dropout,
            "attention_dropout": self.attention_dropout, "activation": self.activation,
            "norm_position": self.norm_position, "epsilon": self.epsilon,
        })
        return config


@keras.saving.register_keras_serializable(package="keras_transformer")
class TransformerDecoder(keras.layers.Layer):
    """A stack of `DecoderBlock`s with stacked caches for incremental decoding.

    Caches are lists with one tensor per layer: self-attention
    `[batch, 2, max_len, heads, head_dim]` and cross-attention
    `[batch, 2, source_len, heads, head_dim]`. Separate buffers (not one
    stacked tensor) let XLA update each in place inside a decoding loop.

    Args:
        num_layers: number of blocks.
        d_model, num_heads, ff_dim, causal, dropout, attention_dropout,
        activation, norm_position, epsilon: as in `DecoderBlock`.

    Call arguments:
        inputs: embedded decoder inputs `[batch, target_len, d_model]`.
        encoder_outputs: `[batch, source_len, d_model]`.
        encoder_padding_mask: `[batch, source_len]` bool.
        padding_mask: optional `[batch, target_len]` bool.
        self_attention_cache, cache_update_index, cross_attention_cache:
            per-layer cache lists (see above) for incremental decoding.
        return_attention_scores: also return lists of per-layer self and
            cross attention weights.

    Example:
    >>> decoder = TransformerDecoder(2, d_model=16, num_heads=2, ff_dim=32)
    >>> decoder(keras.ops.ones((2, 4, 16)), keras.ops.ones((2, 6, 16))).shape
    (2, 4, 16)
    """

    def __init__(self, num_layers, d_model, num_heads, ff_dim, causal=True, dropout=0.0,
                 attention_dropout=0.0, activation="relu", norm_position="post",
                 epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if num_layers <= 0:
            raise ValueError(f"num_layers must be positive, got {num_layers}")
        self.num_layers = num_layers
        self.block_config = dict(
            d_model=d_model, num_heads=num_heads, ff_dim=ff_dim, causal=causal,
            dropout=dropout, attention_dropout=attention_dropout, activation=activation,
            norm_position=norm_position, epsilon=epsilon)
        self.blocks = [DecoderBlock(**self.block_config, name=f"block_{i}")
                       for i in range(num_layers)]
        self.final_norm = (keras.layers.LayerNormalization(epsilon=epsilon, name="final_norm")
                           if norm_position == "pre" else None)

    @property
    def num_heads(self):
        return self.block_config["num_heads"]

    @property
    def head_dim(self):
        return self.block_config["d_model"] // self.block_config["num_heads"]

    def build(self, inputs_shape, encoder_outputs_shape=None, *args, **kwargs):
        for block in self.blocks:
            block.build(inputs_shape, encoder_outputs_shape)
        if self.final_norm is not None:
            self.final_norm.build(inputs_shape)
        self.built = True

    def compute_cross_attention_cache(self, encoder_outputs):
        """Projects encoder outputs once: per layer `[batch, 2, source_len, heads, head_dim]`."""
        return [block.cross_attention.project_key_value(encoder_outputs)
                for block in self.blocks]

    def empty_self_attention_cache(self, batch_size, max_length, dtype="float32"):
        """Per layer, zeros of shape `[batch, 2, max_length, heads, head_dim]`."""
        return [ops.zeros((batch_size, 2, max_length, self.num_heads, self.head_dim),
                          dtype=dtype) for _ in range(self.num_layers)]

    def call(self, inputs, encoder_outputs=None, encoder_padding_mask=None, padding_mask=None,
             self_attention_cache=None, cache_update_index=None, cross_attention_cache=None,
             return_attention_scores=False, training=None):
        x = inputs
        new_caches, self_weights, cross_weights = [], [], []
        for i, block in enumerate(self.blocks):
            result = block(
                x, encoder_outputs, encoder_padding_mask=encoder_padding_mask,
                padding_mask=padding_mask,
                self_attention_cache=(None if self_attention_cache is None
                                      else self_attention_cache[i]),
                cache_update_index=cache_update_index,
                cross_attention_cache=(None if cross_attention_cache is None
                                       else cross_attention_cache[i]),
                return_attention_scores=return_attention_scores, training=training)
            result = list(result) if isinstance(result, tuple) else [result]
            x = result.pop(0)
            if return_attention_scores:
                self_weights.append(result.pop(0))
                cross_weights.append(result.pop(0))
            if self_attention_cache is not None:
                new_caches.append(result.pop(0))
        if self.final_norm is not None:
            x = self.final_norm(x)
        outputs = [x]
        if return_attention_scores:
            outputs += [self_weights, cross_weights]
        if self_attention_cache is not None:
            outputs.append(new_caches)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


    def get_config(self):
        config = super().get_config()
        config.update({"num_layers": self.num_layers, **self.block_config})
        return config
