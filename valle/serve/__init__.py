"""HTTP serving of a trained model: ``python -m valle.bin.serve`` (docs/serving.md)."""
