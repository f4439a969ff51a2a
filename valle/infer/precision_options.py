"""``--dtype`` and ``--quantize``, the synthesis precision options of valle.bin.infer and valle.bin.serve."""
from __future__ import annotations

from valle.models.quantize import QUANTIZE_CHOICES
from valle.utils.precision import DTYPE_CHOICES


def add_precision_options(group) -> None:
    """Add ``--dtype`` (default auto) and ``--quantize`` (default none) to an argparse group."""
    group.add_argument("--dtype", default="auto", choices=DTYPE_CHOICES,
                       help="AR/NAR compute dtype; auto = bf16 on CUDA and on CPUs with native bf16 where it "
                            "measures faster, else float32; on such a CPU the AR then runs in fp32 when its fp32 "
                            "kernel step applies and its weights fit in the last-level cache (sidecar ar_dtype); "
                            "float32 with --quantize int8 (docs/inference.md)")
    group.add_argument("--quantize", default="none", choices=QUANTIZE_CHOICES,
                       help="int8 = int8 weights for every linear map (CPU; ~4x fewer bytes per AR frame; codes "
                            "close to, not equal to, fp32's: docs/benchmarks.md)")
