"""Aggregate per-utterance records into per-system summaries and write them out.

Outputs in ``<exp-dir>/eval/<name>/``: ``utterances.jsonl`` (one record per system and utterance),
``summary.json``, ``summary.md`` (one table, a row per system, deltas against the first system when
there are several), ``summary.png`` (per-utterance WER and similarity distributions) and
TensorBoard scalars under ``tensorboard/``.  Corpus WER is summed edits over summed reference
words; the other metrics are means over the utterances that have them.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from valle.utils.atomic import atomic_path, atomic_write_text

METRICS = ("wer", "sim_prompt", "sim_reference", "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "duration_ratio")
HIGHER_IS_BETTER = {"wer": False, "duration_ratio": None}
LABELS = {"wer": "WER", "sim_prompt": "SIM-prompt", "sim_reference": "SIM-ref", "dnsmos_sig": "SIG",
          "dnsmos_bak": "BAK", "dnsmos_ovrl": "OVRL", "duration_ratio": "dur ratio"}


def _mean(values: List[float]) -> Optional[float]:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return round(sum(values) / len(values), 4) if values else None


def summarize(records: Sequence[dict]) -> Dict[str, dict]:
    """``{system: {n, scored, failed, wer (corpus), ..., flags, notes}}`` in first-seen order."""
    systems: Dict[str, List[dict]] = {}
    for r in records:
        systems.setdefault(r["system"], []).append(r)
    out = {}
    for system, recs in systems.items():
        scored = [r for r in recs if r["status"] != "failed"]
        with_wer = [r for r in scored if r.get("wer") is not None]
        edits = sum(r["edits"]["sub"] + r["edits"]["del"] + r["edits"]["ins"] for r in with_wer)
        ref = sum(r["edits"]["ref"] for r in with_wer)
        units = sorted({r["wer_unit"] for r in with_wer})
        summary = {
            "utterances": len(recs),
            "scored": len(scored),
            "failed": len(recs) - len(scored),
            "wer": round(edits / ref, 4) if ref else None,
            "wer_unit": "+".join(units) if units else None,
            "wer_utterances": len(with_wer),
            "wer_mean_of_utterances": _mean([r["wer"] for r in with_wer]),
        }
        for key in METRICS[1:]:
            summary[key] = _mean([r.get(key) for r in scored])
        summary["flags"] = dict(Counter(f for r in scored for f in r["flags"]))
        summary["problems"] = [f"{r['id']} ({r['status']}): {e}" for r in recs for e in r["errors"]]
        out[system] = summary
    return out


def _fmt(value, key: str) -> str:
    if value is None:
        return "-"
    if key == "wer":
        return f"{100 * value:.1f}%"
    return f"{value:.3f}"


def _delta(a, b, key: str) -> str:
    if a is None or b is None:
        return "-"
    d = b - a
    return f"{100 * d:+.1f}" if key == "wer" else f"{d:+.3f}"


def markdown_table(summaries: Dict[str, dict], backends: Dict[str, Optional[str]], title: str = "") -> str:
    """A table with a row per system; with several systems, a delta row of each against the first."""
    head = ["system", "n", "failed"] + [LABELS[k] for k in METRICS] + ["flags"]
    lines = [f"# {title}" if title else "", "",
             "Backends: " + ", ".join(f"{k} = {v}" for k, v in backends.items() if v), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    names = list(summaries)
    for name in names:
        s = summaries[name]
        flags = ", ".join(f"{k} {v}" for k, v in sorted(s["flags"].items())) or "-"
        lines.append("| " + " | ".join([name, str(s["utterances"]), str(s["failed"])]
                                       + [_fmt(s[k], k) for k in METRICS] + [flags]) + " |")
    models = [n for n in names if n not in ("ground_truth", "codec_resynthesis")]
    if len(models) >= 2:
        base = models[0]
        for name in models[1:]:
            lines.append("| " + " | ".join([f"Δ {name} − {base}", "", ""]
                                           + [_delta(summaries[base][k], summaries[name][k], k) for k in METRICS]
                                           + [""]) + " |")
    units = {s["wer_unit"] for s in summaries.values() if s["wer_unit"]}
    if "char" in units:
        lines += ["", "WER is a character error rate (CER) for Chinese/Japanese utterances."]
    problems = [(n, p) for n, s in summaries.items() for p in s["problems"]]
    if problems:
        lines += ["", "Not scored:"] + [f"- {n}: {p}" for n, p in problems]
    return "\n".join(lines).lstrip("\n") + "\n"


def plot(records: Sequence[dict], path: Path) -> None:
    """Per-utterance WER and similarity-to-prompt distributions per system (one PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(dict.fromkeys(r["system"] for r in records))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, label in ((axes[0], "wer", "per-utterance WER"), (axes[1], "sim_prompt", "similarity to prompt")):
        data = [[r[key] for r in records if r["system"] == s and r.get(key) is not None] for s in systems]
        if any(data):
            ax.boxplot([d if d else [float("nan")] for d in data], showmeans=True)
            ax.set_xticks(range(1, len(systems) + 1), systems, rotation=20, fontsize=8)
        ax.set_title(label)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def write_tensorboard(summaries: Dict[str, dict], log_dir: Path, step: int = 0, prefix: str = "eval") -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(log_dir)) as tb:
        for system, s in summaries.items():
            for key in METRICS:
                if s.get(key) is not None:
                    tb.add_scalar(f"{prefix}/{system}/{key}", s[key], step)


def write_outputs(out_dir: Path, records: Sequence[dict], summaries: Dict[str, dict],
                  backends: Dict[str, Optional[str]], meta: dict) -> str:
    """Write every output; returns the markdown table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "utterances.jsonl",
                      "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    atomic_write_text(out_dir / "summary.json", json.dumps(
        {"backends": backends, "systems": summaries, **meta}, indent=1, ensure_ascii=False) + "\n")
    table = markdown_table(summaries, backends, title=f"Evaluation {out_dir.name}")
    atomic_write_text(out_dir / "summary.md", table)
    plot(records, out_dir / "summary.png")
    write_tensorboard(summaries, out_dir / "tensorboard")
    return table
