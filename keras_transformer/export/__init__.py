"""Export for serving (SavedModel) and devices (TFLite); TensorFlow only."""

from keras_transformer.export.saved_model import ExportError, export_run, export_saved_model

__all__ = ["ExportError", "export_run", "export_saved_model"]
