"""Model hyper-parameters and the named presets.

A checkpoint stores ``ModelConfig.to_dict()`` so that the exact architecture can be rebuilt
without the command line that trained it. The ``vallex`` preset reproduces the published
VALL-E X layout (tests/assets/reference/vallex_state_dict_layout.json) so its checkpoint loads
with ``strict=True``; ``valle`` is the lifeiteng-style VALL-E layout (512 text rows, no
language tables, no BOS row in the AR audio table).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any, Dict

from valle.codec import CodecError, code_space, facts_of

NUM_AUDIO_TOKENS = 1024  # Encodec codebook size; id 1024 is EOS (AR) / padding (NAR)


@dataclass
class ModelConfig:
    d_model: int = 1024
    nhead: int = 16
    num_layers: int = 12
    dim_feedforward: int = 4096
    dropout: float = 0.1  # residual, FFN and positional-embedding dropout
    # Dropout on attention probabilities. 0 keeps SDPA on its fused CPU kernel; > 0 forces the
    # unfused path that materialises [B, H, L, L] probabilities (about 2x slower training on CPU).
    attention_dropout: float = 0.0
    norm_first: bool = True
    num_quantizers: int = 8
    text_vocab_size: int = 512
    num_audio_tokens: int = NUM_AUDIO_TOKENS  # the codec's codebook size (EOS = this id)
    codec: str = "encodec"  # the code space the model reads and writes: encodec, codec2 or codec2:1200 (valle.codec)
    num_languages: int = 0  # 0 = no language embeddings (plain VALL-E)
    prepend_bos: bool = False
    share_embedding: bool = True
    # NAR in one pass: codebooks 1..Q-1 predicted together from codebook 0 (and the prompt's every
    # codebook), one forward per batch instead of one per codebook (docs/models.md, "One-pass NAR").
    # False is VALL-E's NAR: codebook j from the sum of codebooks 0..j-1, stage by stage.
    nar_parallel: bool = False
    nar_scale_factor: float = 1.0
    prefix_mode: int = 1  # NAR acoustic prompt in training: 0 none, 1 prefix, 2 random segment, 4 other utterance
    max_prefix_frames: int = 225  # 3 s of Encodec frames, the prompt cap for prefix modes 1 and 2
    preset: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        problems = []
        if self.d_model % self.nhead:
            problems.append(f"d_model ({self.d_model}) must be divisible by nhead ({self.nhead})")
        if self.nar_d_model % self.nhead:
            problems.append(
                f"the NAR width d_model*nar_scale_factor ({self.nar_d_model}) must be divisible by nhead ({self.nhead})"
            )
        if self.prefix_mode not in (0, 1, 2, 4):
            problems.append(f"prefix_mode must be 0, 1, 2 or 4, got {self.prefix_mode}")
        if not 2 <= self.num_quantizers <= 8:
            problems.append(f"num_quantizers must be in 2..8, got {self.num_quantizers}")
        try:
            space = code_space(self.codec)
        except CodecError:
            space = None
        if space != self.codec:
            problems.append(f"codec must be encodec, codec2 or codec2:1200, got {self.codec!r}")
        elif self.num_audio_tokens != facts_of(self.codec)["codebook_size"]:
            problems.append(f"num_audio_tokens ({self.num_audio_tokens}) must be {self.codec}'s codebook size "
                            f"({facts_of(self.codec)['codebook_size']})")
        if self.num_layers < 1 or self.text_vocab_size < 1 or self.num_languages < 0:
            problems.append("num_layers and text_vocab_size must be >= 1 and num_languages >= 0")
        if problems:
            raise ValueError("invalid ModelConfig: " + "; ".join(problems))

    # Derived sizes -----------------------------------------------------------------------
    @property
    def eos_id(self) -> int:
        return self.num_audio_tokens

    @property
    def bos_id(self) -> int:
        return self.num_audio_tokens + 1

    @property
    def ar_audio_rows(self) -> int:
        """Codes + EOS, + BOS when ``prepend_bos`` (1026 for VALL-E X, 1025 for VALL-E)."""
        return self.num_audio_tokens + (2 if self.prepend_bos else 1)

    @property
    def nar_d_model(self) -> int:
        return int(self.d_model * self.nar_scale_factor)

    @property
    def nar_dim_feedforward(self) -> int:
        return int(self.dim_feedforward * self.nar_scale_factor)

    # Serialisation -----------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig fields {unknown}; known: {sorted(known)}")
        return cls(**d)


PRESETS: Dict[str, Dict[str, Any]] = {
    # Tiny: unit tests and plumbing runs.
    "nano": dict(d_model=64, nhead=2, num_layers=2, dim_feedforward=128, dropout=0.0,
                 text_vocab_size=128, num_languages=3, prepend_bos=True),
    # Fits a laptop / a few hours of fine-tuning data from scratch.
    "small": dict(d_model=256, nhead=4, num_layers=4, dim_feedforward=1024,
                  text_vocab_size=512, num_languages=0, prepend_bos=False),
    # lifeiteng/vall-e's published recipe size.
    "valle": dict(d_model=1024, nhead=16, num_layers=12, dim_feedforward=4096,
                  text_vocab_size=512, num_languages=0, prepend_bos=False),
    # The published VALL-E X checkpoint (Plachtaa/VALL-E-X).
    "vallex": dict(d_model=1024, nhead=16, num_layers=12, dim_feedforward=4096,
                   text_vocab_size=2048, num_languages=3, prepend_bos=True),
}


def for_codec(cfg: ModelConfig, codec: str) -> ModelConfig:
    """``cfg`` for the codes of ``codec`` (a spec): its code space, codebook size (the AR/NAR
    vocabularies) and at most its number of codebooks (codec2:1200 has 5)."""
    facts = facts_of(codec)
    return ModelConfig.from_dict({**cfg.to_dict(), "codec": code_space(codec), "num_audio_tokens": facts["codebook_size"],
                                  "num_quantizers": min(cfg.num_quantizers, int(facts["num_quantizers"]))})


def get_preset(name: str, **overrides: Any) -> ModelConfig:
    """Return the preset ``name`` with ``overrides`` applied.

    Changing ``d_model`` without ``dim_feedforward`` keeps the 4x FFN ratio of the preset,
    so ``get_preset("vallex", d_model=256, nhead=4, num_layers=2)`` is the layout of
    ``reference/vallex_small.pt``.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of {sorted(PRESETS)}")
    params = dict(PRESETS[name])
    if "d_model" in overrides and "dim_feedforward" not in overrides:
        params["dim_feedforward"] = 4 * overrides["d_model"]
    params.update({k: v for k, v in overrides.items() if v is not None})
    params["preset"] = name
    try:
        return ModelConfig(**params)
    except TypeError as e:
        known = sorted(f.name for f in fields(ModelConfig))
        raise ValueError(f"bad override for preset {name!r} ({e}); known fields: {known}") from None
