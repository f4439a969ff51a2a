"""Model speed on this machine: training-step and AR-decoding throughput, printed as one JSON object.

    .venv/bin/python bench/model.py [--quick] [--fp32-only]

Training: forward + backward + AdamW step (fused, as ``valle.bin.train --optimizer adamw``) of a d256/4-head/4-layer model on a batch of
4 x 300 frames x 8 codebooks with 60 text tokens, fp32 and bf16 autocast, train stages 1, 2, 0
(audio frames per second = 1200 / step time), plus stage 0 with the trainer's default ScaledAdam
(``stage0_fp32_scaled_adam``: the model step ``valle.bin.train`` runs). Decoding: AR frames/s with and without the KV
cache (greedy, EOS disabled so every run makes exactly the requested frames). The fp32 matmul
FLOP/s measured in the same run tells how fast the machine was while the numbers were taken, and
with the step's matrix-product FLOPs (``stage1_step_gflop``) gives the fp32 ceiling: the stage-1
frames/s at that rate with no other cost (``stage1_fp32_ceiling_frames_per_s``, at start and end;
``stage1_fp32_share_of_ceiling`` against the faster of the two). With ``--open-impl``,
``stage1_fp32_speedup_at_the_ceiling`` is the ceiling over the open implementation's frames/s: the
largest ratio over it that a step doing all of the counted products could reach in that run. (Our
last decoder layer skips the text rows no loss reads, ~3 % of the counted products: the share slightly
overstates how close to the arithmetic we are.)

Side by side: ``--open-impl DIR[:DIR...]`` also times the widely used open implementation
(lifeiteng/vall-e, not part of this repository: a local checkout, with whatever its model imports
on the same path list, e.g. a folder providing ``icefall.utils.make_pad_mask`` and torchmetrics)
on the same batch, model size and AdamW step, in a child process whose ``PYTHONPATH`` is that list
(both packages are called ``valle``). Its model is built by its own ``add_model_arguments`` and
``get_model`` as its recipe does (``--model-name valle``, prefix mode 1, pre-norm, no prenet).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from valle.models import VALLE, get_preset  # noqa: E402
from valle.models.decoding import ar_decode  # noqa: E402
from valle.models.eos_suppression import suppress_eos  # noqa: E402
from valle.train.optim import ScaledAdam  # noqa: E402


def log(*parts) -> None:
    """Progress on stderr; stdout stays one JSON object."""
    print(*parts, file=sys.stderr, flush=True)


def matmul_flops(n: int = 1024, seconds: float = 1.0) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    return 2 * n ** 3 * reps / (time.perf_counter() - t0)


def ar_step_flops(B=4, T=300, S=60, d=256, ff=1024, layers=4, vocab=1025) -> float:
    """Floating-point operations of one stage-1 training step (forward + backward = 3x forward),
    counting only matrix products: the layers' linear maps, attention scores and values over the
    S + T positions, and the output layer on the T audio positions."""
    tokens, length = B * (S + T), S + T
    linear = tokens * (4 * d * d + 2 * d * ff) * layers
    attention = 2 * B * length * length * d * layers
    output = B * T * d * vocab
    return 2 * 3 * (linear + attention + output)


def stage1_fp32_ceiling(matmul_gflops: float) -> float:
    """Stage-1 frames/s if every matrix product of the step ran at ``matmul_gflops`` and nothing else
    took time (the batch of ``make_batch``: 4 x 300 frames)."""
    return 4 * 300 * matmul_gflops * 1e9 / ar_step_flops()


def make_adamw(params):
    """AdamW as ``valle.bin.train --optimizer adamw`` builds it (and as the open recipe sets it up),
    with the fused kernel our trainer uses."""
    return torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=1e-2, fused=True)


def make_batch(B=4, T=300, S=60, vocab=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        text_tokens=torch.randint(0, vocab, (B, S), generator=g),
        text_lens=torch.full((B,), S, dtype=torch.long),
        text_langs=torch.zeros(B, S, dtype=torch.long),
        audio_codes=torch.randint(0, 1024, (B, T, 8), generator=g),
        audio_lens=torch.full((B,), T, dtype=torch.long),
    )


def train_fps(stage: int, bf16: bool, steps: int, warmup: int = 1, scaled_adam: bool = False) -> float:
    torch.manual_seed(0)
    model = VALLE(get_preset("small", d_model=256, nhead=4, num_layers=4, dim_feedforward=1024))
    model.train()
    opt = ScaledAdam(model.parameters(), lr=0.05) if scaled_adam else make_adamw(model.parameters())
    batch = make_batch()
    frames = int(batch["audio_lens"].sum())

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(batch, stage)
        out["loss"].backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return frames * steps / (time.perf_counter() - t0)


# Runs in a child process with only the open implementation's folders on the path.
OPEN_IMPL_CHILD = r"""
import argparse, contextlib, json, sys, time
import torch
from valle.models import add_model_arguments, get_model
stage, steps, threads, bf16 = (int(a) for a in sys.argv[1:5])
torch.set_num_threads(threads)
parser = argparse.ArgumentParser()
add_model_arguments(parser)
params = parser.parse_args(["--model-name", "valle", "--decoder-dim", "256", "--nhead", "4",
                            "--num-decoder-layers", "4", "--norm-first", "true", "--add-prenet", "false",
                            "--prefix-mode", "1", "--share-embedding", "true", "--scale-factor", "1.0"])
torch.manual_seed(0)
model = get_model(params).train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=1e-2, fused=True)
B, T, S = 4, 300, 60
g = torch.Generator().manual_seed(0)
text = torch.randint(0, 512, (B, S), generator=g)
codes = torch.randint(0, 1024, (B, T, 8), generator=g).float()  # as its lhotse collation delivers them
text_lens, code_lens = torch.full((B,), S, dtype=torch.int32), torch.full((B,), T, dtype=torch.int32)
def step():
    with contextlib.redirect_stdout(sys.stderr), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(bf16)):
        _, loss, _ = model(x=text, x_lens=text_lens, y=codes, y_lens=code_lens, train_stage=stage)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
print("OPEN " + json.dumps({"frames_per_s": B * T * steps / (time.perf_counter() - t0),
                            "parameters": sum(p.numel() for p in model.parameters())}))
"""


def open_impl_fps(paths: str, stage: int, steps: int, bf16: bool = False) -> dict:
    """The open implementation's training step (AdamW; fp32 or bf16 autocast) on the same batch, in a child process."""
    env = dict(os.environ, PYTHONPATH=paths)
    with tempfile.TemporaryDirectory() as cwd:  # not the repository: its ``valle`` must not be found
        proc = subprocess.run([sys.executable, "-c", OPEN_IMPL_CHILD, str(stage), str(steps),
                               str(torch.get_num_threads()), str(int(bf16))], cwd=cwd, env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("OPEN ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"--open-impl {paths}: the open implementation did not run:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1][len("OPEN "):])


def decode_fps(d_model, nhead, num_layers, prompt_frames, new_frames, use_kv_cache, S=60) -> float:
    torch.manual_seed(0)
    model = VALLE(get_preset("small", d_model=d_model, nhead=nhead, num_layers=num_layers)).eval()
    suppress_eos(model)  # random weights: EOS never chosen, so every run makes new_frames
    g = torch.Generator().manual_seed(0)
    text = torch.randint(0, 512, (1, S), generator=g)
    prompt = torch.randint(0, 1024, (1, prompt_frames), generator=g)
    with torch.no_grad():
        run = lambda n: ar_decode(model, text, torch.tensor([S]), None, prompt,  # noqa: E731
                                  torch.tensor([prompt_frames]), torch.tensor([n]), top_k=1, use_kv_cache=use_kv_cache)
        run(2)  # warm-up: the compiled step's first call loads (or compiles) its kernels
        t0 = time.perf_counter()
        r = run(new_frames)
    dt = time.perf_counter() - t0
    n = len(r.codes[0])
    if n != new_frames:
        raise RuntimeError(f"decoding stopped after {n} of {new_frames} frames")
    return n / dt


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--steps", type=int, default=4, help="timed training steps per configuration")
    p.add_argument("--quick", action="store_true", help="stage-1 training numbers only")
    p.add_argument("--fp32-only", action="store_true",
                   help="no bf16 autocast runs (19x slower than fp32 on a CPU without native bf16); "
                        "with --quick: the stage-1 fp32 step and its ceiling in well under a minute")
    p.add_argument("--open-impl", default=None, metavar="DIR[:DIR...]",
                   help="also time the open implementation (lifeiteng/vall-e checkout and its imports) side by side")
    args = p.parse_args(argv)
    res = {"threads": torch.get_num_threads(), "torch": torch.__version__}
    res["matmul_fp32_gflops"] = round(matmul_flops() / 1e9, 1)
    dtypes = (False,) if args.fp32_only else (False, True)
    train = {}
    for stage in (1,) if args.quick else (1, 2, 0):
        for bf16 in dtypes:
            key = f"stage{stage}_{'bf16' if bf16 else 'fp32'}"
            train[key] = round(train_fps(stage, bf16, args.steps), 1)
            log(key, train[key])
    if not args.quick:
        train["stage0_fp32_scaled_adam"] = round(train_fps(0, False, args.steps, scaled_adam=True), 1)
        log("stage0_fp32_scaled_adam", train["stage0_fp32_scaled_adam"])
    res["train_audio_frames_per_s_d256_h4_l4_b4x300"] = train
    if args.open_impl:
        open_train = {}
        for stage in (1,) if args.quick else (1, 2, 0):
            for bf16 in dtypes:
                key = f"stage{stage}_{'bf16' if bf16 else 'fp32'}"
                run = open_impl_fps(args.open_impl, stage, args.steps, bf16)
                open_train[key] = round(run["frames_per_s"], 1)
                log(f"open implementation {key}", open_train[key])
        res["open_impl_train_audio_frames_per_s_d256_h4_l4_b4x300"] = open_train
        res["open_impl_parameters"] = run["parameters"]
        res["speedup_over_open_impl"] = {k: round(train[k] / v, 2) for k, v in open_train.items()}
    if not args.quick:
        dec = {}
        for prompt in (75, 225):
            for kv in (True, False):
                key = f"d256_l4_prompt{prompt}_new150_{'kv' if kv else 'nokv'}"
                dec[key] = round(decode_fps(256, 4, 4, prompt, 150, kv), 1)
                log(key, dec[key])
        for kv in (True, False):
            key = f"d512_l6_prompt225_new300_{'kv' if kv else 'nokv'}"
            dec[key] = round(decode_fps(512, 8, 6, 225, 300, kv), 1)
            log(key, dec[key])
        dec["kv_speedup_d512_l6"] = round(dec["d512_l6_prompt225_new300_kv"] / dec["d512_l6_prompt225_new300_nokv"], 1)
        res["ar_decode_frames_per_s"] = dec
    res["matmul_fp32_gflops_end"] = round(matmul_flops() / 1e9, 1)
    res["stage1_step_gflop"] = round(ar_step_flops() / 1e9, 1)
    res["stage1_fp32_ceiling_frames_per_s"] = [round(stage1_fp32_ceiling(res[k])) for k in
                                               ("matmul_fp32_gflops", "matmul_fp32_gflops_end")]
    ceiling = max(res["stage1_fp32_ceiling_frames_per_s"])
    if "stage1_fp32" in train:
        res["stage1_fp32_share_of_ceiling"] = round(train["stage1_fp32"] / ceiling, 3)
    if args.open_impl and "stage1_fp32" in open_train:
        theirs = open_train["stage1_fp32"]
        res["open_impl_stage1_fp32_share_of_ceiling"] = round(theirs / ceiling, 3)
        # the largest stage-1 fp32 ratio over the open implementation that a step doing all of the counted
        # matrix products could reach in this run: every product at the measured matmul rate, nothing else
        res["stage1_fp32_speedup_at_the_ceiling"] = round(ceiling / theirs, 2)
    res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
