"""Vocabularies and tokenizers. `graph` (TensorFlow) is imported on demand."""

from keras_transformer.text.vocabulary import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    RESERVED_TOKENS,
    UNK_ID,
    Vocabulary,
)
from keras_transformer.text.wordpiece import WordPieceVocabulary, load_vocabulary

__all__ = ["BOS_ID", "EOS_ID", "PAD_ID", "RESERVED_TOKENS", "UNK_ID", "Vocabulary",
           "WordPieceVocabulary", "load_vocabulary"]
