"""The stage-4 report's section on long recordings (from stage 1's ``long_summary.json``).

Hours in, hours kept, segments kept of all, and two figures in ``report/``:
``long_segments.png`` (histogram of kept segment lengths) and ``long_confidence.png`` (the
alignment/ASR confidence of every segment, with the ``--min-confidence`` line).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from valle.utils.atomic import atomic_path

SUMMARY_JSON = "long_summary.json"


def _histogram(values: List[float], path: Path, xlabel: str, title: str, bins, line: Optional[float] = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    if values:
        ax.hist(values, bins=bins, color="tab:blue", edgecolor="white")
    if line is not None:
        ax.axvline(line, color="tab:red", linestyle="--", label=f"--min-confidence {line:g}")
        ax.legend()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("segments")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def long_section(manifests_dir: Path, report_dir: Path) -> Tuple[List[str], Optional[Dict]]:
    """Report lines and JSON for long recordings; ([], None) when stage 1 used another layout."""
    path = Path(manifests_dir) / SUMMARY_JSON
    if not path.is_file():
        return [], None
    try:
        s = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return [f"long recordings: {path} is not valid JSON; rerun stage 1"], None
    durs, confs = s.get("durations", []), s.get("confidences", [])
    kinds = "/".join(s.get("confidence_kind", [])) or "-"
    _histogram(durs, Path(report_dir) / "long_segments.png", "segment length (s)",
               f"kept segments of long recordings ({len(durs)})", bins=30)
    _histogram(confs, Path(report_dir) / "long_confidence.png", "confidence (speech explained by the words)",
               f"segment confidence ({kinds}), all {len(confs)} segments", bins=[i / 20 for i in range(21)],
               line=s.get("min_confidence"))
    lines = ["", "Long recordings (stage 1 segmentation)", "--------------------------------------",
             f"hours in {s['hours_in']:.4f}, hours kept {s['hours_kept']:.4f} "
             f"({100 * s['hours_kept'] / max(s['hours_in'], 1e-9):.1f}%), {s['kept']} of {s['segments']} segments kept "
             f"from {s['recordings']} recording(s)",
             "segment lengths: long_segments.png; confidences: long_confidence.png; every segment with its "
             f"text in {Path(manifests_dir) / 'long_segments.tsv'}"]
    if durs:
        lines.append(f"kept segment length: min {min(durs):.2f} s, median {sorted(durs)[len(durs) // 2]:.2f} s, "
                     f"max {max(durs):.2f} s")
    return lines, {k: s[k] for k in ("hours_in", "hours_kept", "recordings", "segments", "kept")}
