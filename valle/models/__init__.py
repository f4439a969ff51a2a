"""VALL-E / VALL-E X models: configuration presets, the AR + NAR model, checkpoint import."""
from .config import NUM_AUDIO_TOKENS, PRESETS, ModelConfig, get_preset
from .valle import VALLE

__all__ = ["NUM_AUDIO_TOKENS", "PRESETS", "ModelConfig", "get_preset", "VALLE"]
