"""`NATGenerator`: traced, optionally XLA-compiled decoding of NAT and CTC models."""

import tensorflow as tf

from keras_transformer.config import MAX_TOKEN_VARIANTS
from keras_transformer.decoding import nat as nat_lib
from keras_transformer.decoding.generator import IDS_SPEC, Seq2SeqGenerator
from keras_transformer.decoding.lengths import decode_capacity
from keras_transformer.decoding.model_fns import DecodingFns
from keras_transformer.models.nat import num_length_classes


class NATGenerator:
    """Parallel decoders over one trained NAT or CTC model.

    Args:
        model: a model from `build_nat_model` or `build_ctc_model`.
        config: its `TransformerConfig`.
        at_model: optional AT model (same vocabularies) to rescore the
            length-beam candidates.
        jit_compile: compile with XLA.

    Example:
    >>> generator = NATGenerator(model, config)
    >>> ids = generator.decode(source_ids, iterations=4, length_beam=3)
    """

    def __init__(self, model, config, at_model=None, jit_compile=True):
        self.fns = nat_lib.NATDecodingFns(model, config)
        self.config = config
        self.at_fns = DecodingFns(at_model) if at_model is not None else None
        self.jit_compile = jit_compile
        self._functions = {}

    @property
    def is_ctc(self):
        return self.config.model_type == "ctc"

    def decode(self, source_ids, iterations=None, length_beam=None, rescore=False,
               token_variants=None, rescore_nat_weight=None):
        """Decodes a batch: int32 `[batch, width]`, tokens then EOS then 0.

        Args:
            source_ids: int `[batch, source_len]`, 0-padded.
            iterations: mask-predict refinements (default: the config's);
                ignored by CTC models.
            length_beam: candidate lengths (default: the config's).
            rescore: rank length-beam candidates with the AT model given at
                construction.
            token_variants: with `rescore` and `iterations=0`, the most
                probable outputs per candidate length that the AT model
                ranks (default: the config's).
            rescore_nat_weight: with `rescore`, candidates rank by the AT
                mean log-probability plus this weight times the NAT's
                (default: the config's).
        """
        source_ids = Seq2SeqGenerator._check_ids(source_ids)
        if self.is_ctc:
            return self._function(("ctc",), lambda ids: nat_lib.ctc_decode(self.fns, ids))(
                source_ids)
        iterations = self.config.nat_iterations if iterations is None else iterations
        length_beam = self.config.length_beam if length_beam is None else length_beam
        if not isinstance(iterations, int) or iterations < 0:
            raise ValueError(f"iterations must be a non-negative int, got {iterations!r}")
        if not isinstance(length_beam, int) or length_beam < 1:
            raise ValueError(f"length_beam must be a positive int, got {length_beam!r}")
        if self.fns.length_predictor is not None:
            length_beam = min(length_beam, num_length_classes(self.config))
        if rescore and self.at_fns is None:
            raise ValueError("rescore=True needs an AT model (at_model=...)")
        variants = token_variants
        if variants is None:  # the config's value, where it applies
            one_pass = not iterations and self.fns.length_predictor is not None
            variants = self.config.token_variants if one_pass else 1
        nat_weight = (self.config.rescore_nat_weight if rescore_nat_weight is None
                      else rescore_nat_weight)
        if (isinstance(variants, bool) or not isinstance(variants, int)
                or not 1 <= variants <= MAX_TOKEN_VARIANTS):
            raise ValueError(f"token_variants must be an int in [1, {MAX_TOKEN_VARIANTS}], "
                             f"got {variants!r}")
        if not isinstance(nat_weight, (int, float)) or nat_weight < 0:
            raise ValueError(f"rescore_nat_weight must be a non-negative number, "
                             f"got {nat_weight!r}")
        if not rescore:
            if token_variants not in (None, 1):
                raise ValueError("token_variants > 1 needs AT rescoring (rescore=True, "
                                 "--rescore-run): the NAT's own ranking always keeps "
                                 "its argmax")
            variants, nat_weight = 1, 0.0  # the config's rescoring defaults do not apply
        elif variants > 1 and iterations:
            raise ValueError("token_variants > 1 ranks the variants of one pass; "
                             f"it cannot follow {iterations} mask-predict iterations")
        elif variants > 1 and self.fns.length_predictor is None:
            raise ValueError("token_variants > 1 needs a length predictor; this model "
                             "decodes to the maximum length and cuts at EOS")
        at_fns = self.at_fns if rescore else None

        key = ("nat", iterations, length_beam, at_fns is not None, variants, float(nat_weight))
        if key not in self._functions:
            # Two compiled stages joined by plain TF: the decoder width is the
            # batch's longest predicted length, known only after the first.
            plan = tf.function(
                lambda ids: nat_lib.nat_plan(self.fns, ids, length_beam,
                                             self.config.decode_length_a,
                                             self.config.decode_length_b),
                jit_compile=self.jit_compile)
            fill = tf.function(
                lambda state, lengths, valid: nat_lib.nat_fill(
                    self.fns, state, lengths, valid, iterations, at_fns,
                    variants=variants, nat_weight=float(nat_weight)),
                jit_compile=self.jit_compile)

            def run(ids):
                state, lengths = plan(ids)
                capacity = decode_capacity(ids, self.config.decode_length_a,
                                           self.config.decode_length_b,
                                           self.config.max_target_length - 1)
                valid = nat_lib.length_mask(lengths, nat_lib.decode_width(lengths, capacity))
                return fill(state, lengths, valid)

            self._functions[key] = tf.function(run, input_signature=[IDS_SPEC])
        return self._functions[key](source_ids)

    def _function(self, key, fn):
        if key not in self._functions:
            self._functions[key] = tf.function(fn, input_signature=[IDS_SPEC],
                                               jit_compile=self.jit_compile)
        return self._functions[key]
