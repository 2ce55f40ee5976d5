"""Multi-head attention with padding and causal masks and a key/value cache."""

import math

import keras
from keras import ops


def _expand_padding_mask(mask):
    """[batch, key_len] bool -> [batch, 1, 1, key_len] (no strided slices: TFLite)."""
    mask = ops.cast(mask, "bool")
    return ops.expand_dims(ops.expand_dims(mask, 1), 1)


@keras.saving.register_keras_serializable(package="keras_transformer")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head scaled dot-product attention written with `keras.ops`.

    Queries come from `query`; keys and values from `value` (self-attention
    when `value` is `query`). Padding positions of the keys are never attended.
    For incremental decoding the layer reads and writes a fixed-size cache of
    projected keys and values, so each step projects one position only.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head; `d_model // num_heads` is usual.
        dropout: dropout rate on the attention weights.
        use_bias: whether the projections have biases.
        kernel_initializer: initializer of the projection kernels.

    Call arguments:
        query: `[batch, query_len, d_model]`.
        value: `[batch, key_len, d_model]`; defaults to `query`.
        key_mask: optional `[batch, key_len]` bool, `True` for real tokens.
        causal: if `True`, query position `i` sees key positions `<= i`
            (offset by `cache_update_index` when decoding with a cache).
        cache: optional `[batch, 2, cache_len, num_heads, key_dim]` holding
            projected keys (index 0) and values (index 1). With
            `cache_update_index` the new keys/values are written at that
            index and attention runs over the whole cache (positions after
            the written ones are masked); without it the cache is used as is
            (precomputed cross-attention keys/values) and `value` is ignored.
        cache_update_index: int scalar, position of the first query.
        return_attention_scores: also return `[batch, heads, q_len, k_len]`
            attention weights.
        training: whether dropout is active.

    Returns:
        `[batch, query_len, d_model]`, then the attention weights if asked,
        then the updated cache if a cache was given.

    Example:
    >>> layer = MultiHeadAttention(num_heads=2, key_dim=8)
    >>> x = keras.random.normal((3, 5, 16))
    >>> layer(x, causal=True).shape
    (3, 5, 16)
    """

    def __init__(self, num_heads, key_dim, dropout=0.0, use_bias=True,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if num_heads <= 0 or key_dim <= 0:
            raise ValueError(
                f"num_heads and key_dim must be positive, got {num_heads}, {key_dim}")
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._dropout_layer = keras.layers.Dropout(dropout)

    def _projection(self, name, input_dim, heads_out):
        equation = "btd,dhk->bthk" if heads_out else "bthk,hkd->btd"
        output_shape = (None, self.num_heads, self.key_dim) if heads_out else (None, input_dim)
        layer = keras.layers.EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes="hk" if (heads_out and self.use_bias) else ("d" if self.use_bias else None),
            kernel_initializer=self.kernel_initializer,
            name=name,
        )
        return layer

    def build(self, query_shape, value_shape=None, **kwargs):
        query_shape = tuple(query_shape)
        value_shape = tuple(value_shape) if value_shape is not None else query_shape
        d_model = query_shape[-1]
        self.query_dense = self._projection("query", d_model, True)
        self.query_dense.build(query_shape)
        self.key_dense = self._projection("key", value_shape[-1], True)
        self.key_dense.build(value_shape)
        self.value_dense = self._projection("value", value_shape[-1], True)
        self.value_dense.build(value_shape)
        self.output_dense = self._projection("attention_output", d_model, False)
        self.output_dense.build(query_shape[:-1] + (self.num_heads, self.key_dim))
        self.built = True

    def project_key_value(self, value):
        """Returns `[batch, 2, key_len, heads, key_dim]`: a cross-attention cache."""
        key = self.key_dense(value)
        value = self.value_dense(value)
        return ops.stack([key, value], axis=1)

    def call(self, query, value=None, key_mask=None, causal=False, cache=None,
             cache_update_index=None, return_attention_scores=False, training=None):
        if value is None:
            value = query
        q = self.query_dense(query)  # [b, q, h, k]
        if cache is not None and cache_update_index is None:
            # Precomputed keys/values (cross-attention while decoding).
            k, v = cache[:, 0, ...], cache[:, 1, ...]
        else:
            k = self.key_dense(value)
            v = self.value_dense(value)
            if cache is not None:
                # One in-place slice update of the whole cache: XLA then keeps
                # the loop-carried buffer instead of copying it every step.
                zero = ops.zeros((), dtype="int32")
                start = [zero, zero, ops.cast(cache_update_index, "int32"), zero, zero]
                update = ops.cast(ops.stack([k, v], axis=1), cache.dtype)
                cache = ops.slice_update(cache, start, update)
                k, v = cache[:, 0, ...], cache[:, 1, ...]

        q = q * ops.cast(1.0 / math.sqrt(self.key_dim), q.dtype)
        scores = ops.einsum("bqhk,bthk->bhqt", q, k)  # [b, h, q, t]

        mask = None
        if key_mask is not None:
            mask = _expand_padding_mask(key_mask)
        q_len = ops.shape(q)[1]
        k_len = ops.shape(k)[1]
        if causal or (cache is not None and cache_update_index is not None):
            offset = 0 if cache_update_index is None else ops.cast(cache_update_index, "int32")
            q_pos = ops.arange(q_len, dtype="int32") + offset
            k_pos = ops.arange(k_len, dtype="int32")
            # [q, t]: a query sees keys at or before its own position; with a
            # cache this also hides the not-yet-written cache slots.
            allowed = ops.expand_dims(q_pos, 1) >= ops.expand_dims(k_pos, 0)
            allowed = ops.expand_dims(ops.expand_dims(allowed, 0), 0)
            mask = allowed if mask is None else ops.logical_and(mask, allowed)
        if mask is not None:
            # A large negative (not -inf) keeps fully masked rows finite.
            big_negative = ops.cast(-1e9 if scores.dtype == "float32" else -3e4, scores.dtype)
            scores = ops.where(mask, scores, big_negative)
        weights = ops.softmax(ops.cast(scores, "float32"), axis=-1)
        weights = ops.cast(weights, q.dtype)
        dropped = self._dropout_layer(weights, training=training)
        context = ops.einsum("bhqt,bthk->bqhk", dropped, v)
        output = self.output_dense(context)

        results = [output]
        if return_attention_scores:
            results.append(weights)
        if cache is not None:
            results.append(cache)
        return results[0] if len(results) == 1 else tuple(results)


    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        })
        return config
