"""The stage-1 fp32 training step of an earlier commit's models against this checkout's, in one process.

    OMP_NUM_THREADS=1 .venv/bin/python bench/model_ab.py --base 04fb0a9 [--rounds 10] [--steps 3]

``valle/models`` of ``--base`` is extracted (``git archive``) into a temporary folder as the
package ``base_models``, so both versions run on the same machine state: rounds alternate
A/B and B/A, and the fp32 matmul rate is measured before the first and after every round. Prints
one JSON object: frames/s per round, medians, each side's median as a percentage of the median
fp32 ceiling (``bench/model.py``'s ``stage1_fp32_ceiling_frames_per_s``), and the speed-up
(ratio of medians, and the median of the per-round ratios).
Same model, batch and AdamW step as ``bench/model.py``.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
from bench.model import make_adamw, make_batch, matmul_flops, stage1_fp32_ceiling  # noqa: E402


def import_base_models(commit: str, folder: str):
    """``valle/models`` of ``commit`` as the package ``base_models`` (it imports ``valle.codec`` from this checkout)."""
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit, "valle/models"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
    os.rename(os.path.join(folder, "valle", "models"), os.path.join(folder, "base_models"))
    sys.path.insert(0, folder)
    return importlib.import_module("base_models")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--base", required=True, help="commit (or branch) whose valle/models is the baseline")
    p.add_argument("--rounds", type=int, default=10, help="alternating rounds")
    p.add_argument("--steps", type=int, default=3, help="timed steps per side and round")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        sides = {"base": import_base_models(args.base, folder), "new": importlib.import_module("valle.models")}
        batch = make_batch()
        runs = {}
        for name, m in sides.items():
            torch.manual_seed(0)
            model = m.VALLE(m.get_preset("small", d_model=256, nhead=4, num_layers=4, dim_feedforward=1024)).train()
            runs[name] = (model, make_adamw(model.parameters()))

        def step(name):
            model, opt = runs[name]
            model(batch, 1)["loss"].backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        for name in runs:  # warm-up
            step(name)
        fps = {name: [] for name in runs}
        gflops = [matmul_flops() / 1e9]
        for r in range(args.rounds):
            for name in ("base", "new") if r % 2 == 0 else ("new", "base"):
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    step(name)
                fps[name].append(int(batch["audio_lens"].sum()) * args.steps / (time.perf_counter() - t0))
            gflops.append(matmul_flops() / 1e9)
    ceiling = statistics.median(stage1_fp32_ceiling(g) for g in gflops)
    res = {"threads": torch.get_num_threads(), "torch": torch.__version__, "base": args.base,
           "matmul_fp32_gflops": [round(g, 1) for g in gflops], "stage1_fp32_ceiling_median": round(ceiling)}
    for name, values in fps.items():
        res[f"{name}_frames_per_s"] = [round(v) for v in values]
        res[f"{name}_median"] = round(statistics.median(values))
        res[f"{name}_pct_of_ceiling"] = round(100 * statistics.median(values) / ceiling, 1)
    res["speedup"] = round(statistics.median(fps["new"]) / statistics.median(fps["base"]), 3)
    # each round's pair ran back to back: the median of their ratios is less disturbed by load changes
    res["speedup_paired_median"] = round(statistics.median(n / b for n, b in zip(fps["new"], fps["base"])), 3)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
