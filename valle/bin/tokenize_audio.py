"""Stage 3 CLI: codec codes (Encodec or codec2) for the tokenized supervisions of every part.

    python -m valle.bin.tokenize_audio --manifests-dir data/manifests --tokenized-dir data/tokenized \\
        --prefix libritts --codec encodec --device cpu --nj 2

Under ``torchrun`` each rank (RANK/WORLD_SIZE) encodes its shard on ``cuda:LOCAL_RANK`` and writes
``<prefix>_cuts_<part>.<rank>-of-<world>.jsonl.gz``; stage 4 merges the shards.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from valle.data.tokenize_audio import CPU_ENCODERS, TokenizeOptions, distributed_rank, tokenize_audio
from valle.codec import CodecError, split_spec
from valle.codec.options import add_codec_option
from valle.utils.logging_setup import setup_logging


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m valle.bin.tokenize_audio",
        description="Stage 3: encode each tokenized supervision's audio with the codec (Encodec 24 kHz at "
        "6 kbps: codes [frames, 8] of 1024; codec2 3200: [frames, 8] of 256), store the codes as int16 in "
        "HDF5 archives, write lhotse cuts with those features and <tokenized-dir>/codec.json.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--manifests-dir", type=Path, default=Path("data/manifests"),
                        help="stage-1 output: <prefix>_recordings_<part>.jsonl.gz")
    parser.add_argument("--tokenized-dir", type=Path, default=Path("data/tokenized"),
                        help="stage-2 supervisions are read and the cuts and codes/ written here")
    parser.add_argument("--prefix", required=True, help="corpus name at the start of the manifest file names")
    parser.add_argument("--parts", nargs="*", default=None,
                        help="parts to encode; none given = every <prefix>_supervisions_<part>.jsonl.gz found")
    add_codec_option(parser, default="encodec")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (cuda:LOCAL_RANK under torchrun)")
    parser.add_argument("--nj", type=int, default=1,
                        help="CPU: worker processes (one torch thread each); GPU: audio loading threads")
    parser.add_argument("--cpu-encoder", default="fast", choices=CPU_ENCODERS,
                        help="CPU, --codec encodec: 'fast' encodes groups of cuts with valle's CPU arrangement of Encodec "
                        "(codes equal encodec's up to float ties); 'encodec' calls encodec's model.encode once "
                        "per cut (the package's exact codes, ~1.8x slower)")
    parser.add_argument("--batch-duration", type=float, default=200.0,
                        help="GPU only (--codec encodec): seconds of audio per padded Encodec batch")
    parser.add_argument("--chunk-size", type=int, default=200,
                        help="cuts per archive; each finished chunk survives a killed run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    if args.nj < 1:
        get_parser().error(f"--nj must be >= 1, got {args.nj}")
    if args.chunk_size < 1:
        get_parser().error(f"--chunk-size must be >= 1, got {args.chunk_size}")
    if args.batch_duration <= 0:
        get_parser().error(f"--batch-duration must be > 0, got {args.batch_duration}")
    rank, world_size, local_rank = distributed_rank()
    device = args.device
    if device == "cuda" and world_size > 1:
        device = f"cuda:{local_rank}"
    if device.startswith("cuda"):
        if args.cpu_encoder != "fast":
            get_parser().error(f"--cpu-encoder {args.cpu_encoder} applies to --device cpu only (the GPU path encodes "
                               "padded batches); drop --cpu-encoder or use --device cpu")
        import torch

        if not torch.cuda.is_available():
            get_parser().error("--device cuda: no CUDA device is available here; use --device cpu --nj N")
    try:
        name, _ = split_spec(args.codec)
    except CodecError as e:
        get_parser().error(str(e))
    if name == "codec2" and device.startswith("cuda"):
        get_parser().error("--codec codec2 encodes on the CPU only: use --device cpu --nj N")
    opts = TokenizeOptions(
        manifests_dir=args.manifests_dir, tokenized_dir=args.tokenized_dir, prefix=args.prefix,
        parts=args.parts or None, codec=args.codec, device=device, nj=args.nj,
        batch_duration=args.batch_duration, chunk_size=args.chunk_size, cpu_encoder=args.cpu_encoder, rank=rank,
        world_size=world_size, progress=not args.no_progress,
    )
    try:
        tokenize_audio(opts)
    except (CodecError, OSError, ValueError) as e:
        raise SystemExit(f"error: {e}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
