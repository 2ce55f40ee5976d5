"""`TransformerConfig`: every hyper-parameter of a model and its training run.

The config validates itself on creation so that a typo in a YAML file fails
with a message naming the field, before any TensorFlow work starts.
"""

import dataclasses
import json
import os

NORM_POSITIONS = ("post", "pre")
ENCODER_MIXERS = ("attention", "conv", "rnn")
RNN_CELLS = ("gru", "lstm")
POSITION_ENCODINGS = ("sinusoidal", "learned")
ACTIVATIONS = ("relu", "gelu", "silu", "swish", "tanh")
DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16", "bfloat16")
MODEL_TYPES = ("at", "nat", "ctc")
NAT_DECODER_INPUTS = ("mask", "copy")
LENGTH_PREDICTIONS = ("offset", "absolute", "none")
NAT_TRAININGS = ("cmlm", "glat", "vanilla")
# Token variants swap in runner-up tokens at the 4 least confident positions
# of a NAT output: 2 ** 4 subsets of those positions, so at most 16 variants.
VARIANT_POSITIONS = 4
MAX_TOKEN_VARIANTS = 2 ** VARIANT_POSITIONS


class ConfigError(ValueError):
    """An invalid configuration value; the message names the field."""


@dataclasses.dataclass
class TransformerConfig:
    """Hyper-parameters of a sequence-to-sequence Transformer and its training.

    Args:
        source_vocab_size: number of source ids, reserved ids included.
        target_vocab_size: number of target ids, reserved ids included.
        d_model: width of every hidden state.
        num_heads: attention heads; must divide `d_model`.
        num_encoder_layers: encoder blocks.
        num_decoder_layers: decoder blocks.
        ff_dim: inner size of the position-wise feed-forward network.
        activation: feed-forward activation, one of `ACTIVATIONS`.
        dropout: dropout after every sublayer and on embeddings, in [0, 1).
        attention_dropout: dropout on attention weights, in [0, 1).
        norm_position: `"post"` (`LayerNorm(x + f(x))`, as in the paper) or
            `"pre"` (`x + f(LayerNorm(x))`, steadier for deep stacks).
        layer_norm_epsilon: epsilon of every layer norm.
        encoder_mixer: sequence mixer of the encoder blocks: `"attention"`,
            `"conv"` (1-D convolution) or `"rnn"` (bidirectional RNN).
        conv_kernel_size: kernel width of the conv mixer.
        rnn_cell: `"gru"` or `"lstm"` for the rnn mixer.
        position_encoding: `"sinusoidal"` or `"learned"`.
        max_source_length: longest source in tokens the model accepts.
        max_target_length: longest target in tokens, EOS included.
        tie_output_embedding: project decoder states to logits with the
            transposed target embedding matrix.
        share_embeddings: one embedding for source and target (needs one
            shared vocabulary).
        dtype_policy: Keras dtype policy while building the model for
            training; `"mixed_bfloat16"` trains about 1.6x faster on CPUs with
            AVX-512 BF16 (weights stay float32). `"bfloat16"` (weights too)
            halves exported files; it is for inference, not training.
        batch_size, epochs, learning_rate, warmup_steps, label_smoothing,
        weight_decay, clipnorm: training knobs; `learning_rate` is the peak of
            the inverse-square-root schedule reached after `warmup_steps`.
        cooldown_epochs: the learning rate falls linearly to zero over the
            last N of `epochs` (0: no cool-down). A resumed run may add or
            move its cool-down by changing `epochs` and this field.
        decode_length_a, decode_length_b: the longest output generated for a
            source of length n is `a + b * n` tokens.
        beam_size, length_penalty: beam search defaults (GNMT alpha).
        seed: seed for initialisation, shuffling and sampling.
        model_type: `"at"` (autoregressive), `"nat"` (non-autoregressive with
            a length predictor, CMLM style) or `"ctc"` (length-free NAT
            trained with CTC over an upsampled source).
        nat_decoder_input: NAT decoder input at unknown positions: `"mask"`
            (a mask embedding plus positions) or `"copy"` (plus the source
            embeddings copied uniformly, Gu et al. 2018).
        length_prediction: `"offset"` (classify target minus source length),
            `"absolute"` (classify the target length) or `"none"` (decode
            `a + b * n` positions and cut at the first EOS).
        max_length_offset: offsets are clipped to `[-m, m]` (`2m + 1` classes).
        length_loss_weight: weight of the length loss beside the token loss.
        nat_training: `"cmlm"` (mask a uniform number of target tokens, loss
            on them), `"glat"` (glancing: reveal reference tokens in
            proportion to a first pass's errors) or `"vanilla"` (all masked).
        glancing_ratio: fraction of the first pass's Hamming distance that
            GLAT reveals, in (0, 1].
        ctc_upsample: the CTC decoder has `k * source_len` positions.
        nat_iterations: mask-predict refinement passes after the first one.
        length_beam: candidate lengths decoded in parallel per source.
        token_variants: with AT rescoring and one pass: the most probable
            outputs of the NAT at each candidate length (its runner-up
            tokens at its least confident positions) handed to the AT model,
            1 to 16.
        rescore_nat_weight: AT rescoring ranks candidates by the AT model's
            mean log-probability plus this weight times the NAT's.
    """

    source_vocab_size: int = 64
    target_vocab_size: int = 64
    d_model: int = 256
    num_heads: int = 4
    num_encoder_layers: int = 3
    num_decoder_layers: int = 3
    ff_dim: int = 1024
    activation: str = "relu"
    dropout: float = 0.1
    attention_dropout: float = 0.0
    norm_position: str = "post"
    layer_norm_epsilon: float = 1e-5
    encoder_mixer: str = "attention"
    conv_kernel_size: int = 3
    rnn_cell: str = "gru"
    position_encoding: str = "sinusoidal"
    max_source_length: int = 64
    max_target_length: int = 64
    tie_output_embedding: bool = True
    share_embeddings: bool = False
    dtype_policy: str = "float32"
    # Training.
    batch_size: int = 128
    epochs: int = 10
    learning_rate: float = 1e-3
    warmup_steps: int = 1000
    cooldown_epochs: int = 0
    label_smoothing: float = 0.1
    weight_decay: float = 0.0
    clipnorm: float = 1.0
    # Decoding.
    decode_length_a: int = 10
    decode_length_b: float = 2.0
    beam_size: int = 4
    length_penalty: float = 0.6
    seed: int = 1234
    # Non-autoregressive models.
    model_type: str = "at"
    nat_decoder_input: str = "mask"
    length_prediction: str = "offset"
    max_length_offset: int = 16
    length_loss_weight: float = 0.1
    nat_training: str = "cmlm"
    glancing_ratio: float = 0.5
    ctc_upsample: int = 3
    nat_iterations: int = 0
    length_beam: int = 1
    token_variants: int = 1
    rescore_nat_weight: float = 0.0

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Raises `ConfigError` naming the first invalid field."""
        positive_ints = (
            "source_vocab_size", "target_vocab_size", "d_model", "num_heads",
            "ff_dim", "conv_kernel_size", "max_source_length",
            "max_target_length", "batch_size", "epochs", "beam_size",
            "max_length_offset", "ctc_upsample", "length_beam", "token_variants",
        )
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name in ("num_encoder_layers", "num_decoder_layers", "warmup_steps",
                     "decode_length_a", "nat_iterations", "cooldown_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        if self.source_vocab_size < 5 or self.target_vocab_size < 5:
            raise ConfigError(
                "source_vocab_size and target_vocab_size must be at least 5 "
                "(4 reserved ids plus one token)")
        if self.d_model % self.num_heads:
            raise ConfigError(
                f"num_heads ({self.num_heads}) must divide d_model ({self.d_model})")
        for name in ("dropout", "attention_dropout", "label_smoothing", "weight_decay"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {value!r}")
        for name in ("learning_rate", "layer_norm_epsilon", "clipnorm"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{name} must be a positive number, got {value!r}")
        if not 1 <= self.token_variants <= MAX_TOKEN_VARIANTS:
            raise ConfigError(f"token_variants must be in [1, {MAX_TOKEN_VARIANTS}], "
                              f"got {self.token_variants!r}")
        for name in ("decode_length_b", "length_penalty", "length_loss_weight",
                     "rescore_nat_weight"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"{name} must be a non-negative number, got {value!r}")
        choices = {
            "norm_position": NORM_POSITIONS,
            "encoder_mixer": ENCODER_MIXERS,
            "rnn_cell": RNN_CELLS,
            "position_encoding": POSITION_ENCODINGS,
            "activation": ACTIVATIONS,
            "dtype_policy": DTYPE_POLICIES,
            "model_type": MODEL_TYPES,
            "nat_decoder_input": NAT_DECODER_INPUTS,
            "length_prediction": LENGTH_PREDICTIONS,
            "nat_training": NAT_TRAININGS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        if self.encoder_mixer == "rnn" and self.d_model % 2:
            raise ConfigError("d_model must be even with encoder_mixer='rnn'")
        if not isinstance(self.glancing_ratio, (int, float)) or not 0 < self.glancing_ratio <= 1:
            raise ConfigError(f"glancing_ratio must be in (0, 1], got {self.glancing_ratio!r}")
        if self.cooldown_epochs > self.epochs:
            raise ConfigError(f"cooldown_epochs ({self.cooldown_epochs}) must not exceed "
                              f"epochs ({self.epochs})")
        if self.share_embeddings and self.source_vocab_size != self.target_vocab_size:
            raise ConfigError(
                "share_embeddings needs source_vocab_size == target_vocab_size")

    # ---- serialisation -------------------------------------------------
    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Builds a config from a dict, rejecting unknown keys by name."""
        if not isinstance(values, dict):
            raise ConfigError(f"a config must be a mapping, got {type(values).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(unknown)}")
        return cls(**values)

    def replace(self, **changes):
        """Returns a validated copy with `changes` applied."""
        return self.from_dict({**self.to_dict(), **changes})

    def save(self, path):
        """Writes the config as YAML (`.yaml`/`.yml`) or JSON (anything else)."""
        path = os.fspath(path)
        with open(path, "w", encoding="utf-8") as f:
            if path.endswith((".yaml", ".yml")):
                import yaml

                yaml.safe_dump(self.to_dict(), f, sort_keys=False)
            else:
                json.dump(self.to_dict(), f, indent=2)

    @classmethod
    def load(cls, path):
        """Reads a config written by `save` (YAML or JSON by extension)."""
        return cls.from_dict(load_mapping(path))


def load_mapping(path):
    """Reads a YAML or JSON mapping, with a `ConfigError` on bad files."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ConfigError(f"config file not found: {path}")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml

            values = yaml.safe_load(text) or {}
        else:
            values = json.loads(text)
    except Exception as error:  # yaml and json raise unrelated types.
        raise ConfigError(f"cannot parse config file {path}: {error}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping")
    return values


def parse_override(text):
    """Parses `key=value` (value as YAML scalar) into a `(key, value)` pair."""
    if "=" not in text:
        raise ConfigError(f"override must look like key=value, got {text!r}")
    key, raw = text.split("=", 1)
    import yaml

    try:
        value = yaml.safe_load(raw)
    except Exception:
        value = raw
    return key.strip(), value
