"""The ``long`` corpus layout: recordings of any length, segmented at pauses (Silero VAD), aligned to
their transcript or transcribed (pocketsphinx), as ordinary stage-1 manifests (docs/data.md)."""
