"""Are two code matrices of the same audio the same up to floating-point ties?

Encodec's residual quantizer codes each frame on its own: stage k picks the codeword nearest to
what stages 0..k-1 left over. Two runs of the same encoder whose floats differ in the last bits
(another kernel, thread count or batch) pick the same codes except where two codewords are equally
near to within that rounding; there the choice flips, and the later stages of that frame follow.
encodec's own ``model.encode`` does this between one and two torch threads.

``code_differences`` finds, for every frame where two code matrices differ, the first stage that
differs and how far apart the two chosen codewords are from the residual, relative to the
residual's energy. A real difference (a bug) shows as a large gap; a tie as one at float32
rounding (~1e-7 relative here).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

import torch

# Relative distance gap below which two codewords count as tied: ~100 float32 ulps.
TIE_TOLERANCE = 1e-5


@dataclass
class CodeDifference:
    frame: int
    stage: int
    relative_gap: float  # |d(a) - d(b)| / |residual|^2 at the first differing stage

    @property
    def is_tie(self) -> bool:
        return self.relative_gap <= TIE_TOLERANCE


def code_differences(model, embeddings: torch.Tensor, codes_a: torch.Tensor, codes_b: torch.Tensor) -> List[CodeDifference]:
    """Every frame where ``codes_a`` and ``codes_b`` (``[frames, K]``) differ, with its tie gap.

    ``embeddings``: the encoder output ``[frames, dimension]`` both codes were computed from (or
    either run's); ``model``: the Encodec model whose quantizer made them.
    """
    if codes_a.shape != codes_b.shape or codes_a.shape[0] != embeddings.shape[0]:
        raise ValueError(f"shapes differ: codes {tuple(codes_a.shape)} and {tuple(codes_b.shape)}, "
                         f"embeddings {tuple(embeddings.shape)}")
    books = [layer._codebook.embed.detach().double() for layer in model.quantizer.vq.layers]
    differences = []
    for frame in torch.nonzero((codes_a != codes_b).any(dim=1)).flatten().tolist():
        stage = int(torch.nonzero(codes_a[frame] != codes_b[frame])[0])
        residual = embeddings[frame].detach().double().clone()
        for j in range(stage):
            residual -= books[j][int(codes_a[frame, j])]
        a = ((residual - books[stage][int(codes_a[frame, stage])]) ** 2).sum()
        b = ((residual - books[stage][int(codes_b[frame, stage])]) ** 2).sum()
        energy = float((residual ** 2).sum().clamp_min(1e-30))
        differences.append(CodeDifference(frame, stage, float((a - b).abs()) / energy))
    return differences
