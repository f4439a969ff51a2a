"""Synthesis: text -> ids -> prompt codes -> AR/NAR -> Encodec decode (see docs/inference.md)."""
from valle.infer.synthesizer import SamplingOptions, SynthesisResult, Synthesizer

__all__ = ["SamplingOptions", "SynthesisResult", "Synthesizer"]
