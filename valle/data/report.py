"""Stage 4 report: what the prepared data holds, in ``tokenized/report/``.

``report.txt`` is for a human deciding whether the data is fit to train on: counts and hours
per split, minutes per speaker, the phoneme inventory (from the symbol table and the tokens
actually used), the rejects of stages 1 and 2 by reason, and every cut the duration filter
removed. ``report.json`` holds the same numbers for scripts, ``filtered.tsv`` the removed
cuts, and ``durations.png`` a duration histogram per split. When stage 3 encoded with random
codec weights (its stamps say so), the report, report.json's notes and the figure say it.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from valle.data.corpora.rejects import count_reasons, read_rejects
from valle.data.splits import SPLITS, CutInfo
from valle.utils.atomic import atomic_path, atomic_write_text


def read_symbols(path: Path) -> List[str]:
    """Symbols of a k2 table (``symbol id`` per line), in id order."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            sym, idx = line.rsplit(maxsplit=1)
            pairs.append((int(idx), sym))
    return [s for _, s in sorted(pairs)]


def plot_durations(by_split: Dict[str, List[float]], path: Path, note: str = "") -> Dict[str, List[Tuple[float, float]]]:
    """Duration histogram, the splits' bars side by side in each bin (overlaid bars would hide the
    small dev and test splits behind each other); ``note`` goes under the title. Returns each
    split's drawn bars as (left, right) x-ranges."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.4 if note else 4), dpi=100)
    data = [(s, d) for s, d in by_split.items() if d]
    drawn: Dict[str, List[Tuple[float, float]]] = {}
    if data:
        hi = max(max(d) for _, d in data)
        bins = [hi * i / 40 for i in range(41)] if hi > 0 else 10
        _, _, groups = ax.hist([d for _, d in data], bins=bins, histtype="bar",
                               label=[f"{s} ({len(d)})" for s, d in data])
        groups = groups if len(data) > 1 else [groups]
        for (split, _), bars in zip(data, groups):
            drawn[split] = [(b.get_x(), b.get_x() + b.get_width()) for b in bars if b.get_height() > 0]
        ax.legend()
    ax.set_xlabel("duration (s)")
    ax.set_ylabel("cuts")
    ax.set_title("utterance durations per split" + (f"\n{note}" if note else ""), fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return drawn


def codec_note(tokenized_dir: Path) -> str:
    """A warning when stage 3 encoded with random codec weights, else "": from ``codec.json``
    (``random_weights``), or for older data from the stage-3 stamps (``codec`` ``random`` /
    ``encodec:random``)."""
    from valle.data.codes_archive import read_codec_record

    record = read_codec_record(tokenized_dir)
    if record is not None:
        random_parts = ["codec.json"] if record.get("random_weights") else []
    else:
        random_parts = []
        for stamp in sorted(Path(tokenized_dir).glob(".*_cuts_*.stamp.json")):
            try:
                codec = str(json.loads(stamp.read_text(encoding="utf-8")).get("codec"))
            except ValueError:
                continue
            if codec == "random" or codec.endswith(":random"):
                random_parts.append(stamp.name[1:].split(".jsonl.gz")[0])
    if not random_parts:
        return ""
    return (f"codes from RANDOM codec weights ({', '.join(random_parts)}): plumbing only, "
            "not speech tokens; rerun stage 3 with the real codec weights to train")


def _rejects_section(label: str, path: Path) -> Tuple[List[str], Dict[str, int]]:
    if not path.is_file():
        return [f"{label}: {path} not found"], {}
    rows = read_rejects(path)
    counts = count_reasons(rows)
    lines = [f"{label} ({path}): {len(rows)} files"]
    lines += [f"  {reason:<22} {n:>7}" for reason, n in counts.items()]
    return lines, counts


def write_report(
    report_dir: Path,
    infos_by_split: Dict[str, List[CutInfo]],
    filtered: List[Tuple[CutInfo, str]],
    manifests_dir: Path,
    tokenized_dir: Path,
    notes: Optional[List[str]] = None,
) -> Dict:
    """Write report.txt, report.json, filtered.tsv and durations.png; return the JSON dict."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    summary: Dict = {"splits": {}, "speakers": {}, "filtered": [], "notes": list(notes or [])}
    lines = ["valle data report", "=" * 17, "", "Splits", "------"]
    lines.append(f"{'split':<8} {'cuts':>8} {'hours':>9} {'minutes':>9} {'speakers':>9} {'min s':>7} {'max s':>7}")
    spk_minutes: Dict[str, Dict[str, float]] = defaultdict(lambda: {s: 0.0 for s in SPLITS})
    used = Counter()
    for split in SPLITS:
        infos = infos_by_split.get(split, [])
        durs = [c.duration for c in infos]
        hours = sum(durs) / 3600
        speakers = {c.speaker for c in infos}
        summary["splits"][split] = {"cuts": len(infos), "hours": round(hours, 6), "speakers": len(speakers)}
        lo = f"{min(durs):7.2f}" if durs else f"{'-':>7}"
        hi = f"{max(durs):7.2f}" if durs else f"{'-':>7}"
        lines.append(f"{split:<8} {len(infos):>8} {hours:>9.3f} {hours * 60:>9.2f} {len(speakers):>9} {lo} {hi}")
        for c in infos:
            spk_minutes[c.speaker][split] += c.duration / 60
            used.update(c.tokens)
    lines += ["", "Minutes per speaker", "-------------------", f"{'speaker':<24} " + " ".join(f"{s:>8}" for s in SPLITS)]
    for spk in sorted(spk_minutes):
        row = spk_minutes[spk]
        summary["speakers"][spk] = {s: round(row[s], 4) for s in SPLITS}
        lines.append(f"{spk:<24} " + " ".join(f"{row[s]:>8.2f}" for s in SPLITS))

    lines += ["", "Phoneme inventory", "-----------------"]
    table = Path(tokenized_dir) / "unique_text_tokens.k2symbols"
    if table.is_file():
        symbols = read_symbols(table)
        summary["symbols"] = len(symbols)
        lines.append(f"symbol table {table}: {len(symbols)} symbols (including specials such as <pad>)")
    else:
        lines.append(f"symbol table {table} not found (stage 2 writes it)")
    summary["token_counts"] = dict(sorted(used.items()))
    if used:
        lines.append(f"{len(used)} distinct tokens in the split cuts, {sum(used.values())} in total; by frequency:")
        ranked = used.most_common()
        for i in range(0, len(ranked), 6):
            lines.append("  " + "  ".join(f"{t!r}:{n}" for t, n in ranked[i:i + 6]))
    tok_report = Path(tokenized_dir) / "text_tokens_report.json"
    if tok_report.is_file():
        try:
            summary["text_tokens_report"] = json.loads(tok_report.read_text(encoding="utf-8"))
            lines.append(f"stage-2 report {tok_report} (copied into report.json under text_tokens_report)")
        except ValueError:
            lines.append(f"stage-2 report {tok_report} is not valid JSON")

    lines += ["", "Rejected input", "--------------"]
    rej_lines, rej_counts = _rejects_section("stage 1 rejects", Path(manifests_dir) / "rejects.tsv")
    txt_lines, txt_counts = _rejects_section("stage 2 text rejects", Path(tokenized_dir) / "text_rejects.tsv")
    lines += rej_lines + txt_lines
    summary["rejects"] = {"stage1": rej_counts, "stage2": txt_counts}

    lines += ["", f"Removed by the duration filter ({len(filtered)} cuts; also in filtered.tsv)",
              "-------------------------------"]
    tsv = ["cut_id\tpart\tduration\treason"]
    for c, reason in filtered:
        lines.append(f"  {c.id}  ({c.part}, {c.duration:.3f} s): {reason}")
        tsv.append(f"{c.id}\t{c.part}\t{c.duration:.6f}\t{reason}")
        summary["filtered"].append({"id": c.id, "part": c.part, "duration": c.duration, "reason": reason})
    from valle.data.long.report import long_section

    long_lines, long_summary = long_section(Path(manifests_dir), report_dir)
    lines += long_lines
    if long_summary is not None:
        summary["long"] = long_summary
    random_codec = codec_note(tokenized_dir)
    if random_codec:
        summary["notes"].append(random_codec)
        lines[2:2] = [f"WARNING: {random_codec}", ""]
    if summary["notes"]:
        lines += ["", "Notes", "-----"] + [f"  {n}" for n in summary["notes"]]

    atomic_write_text(report_dir / "filtered.tsv", "\n".join(tsv) + "\n")
    plot_durations({s: [c.duration for c in infos_by_split.get(s, [])] for s in SPLITS}, report_dir / "durations.png",
                   note=random_codec and "codes from RANDOM codec weights: not speech tokens")
    atomic_write_text(report_dir / "report.json", json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    atomic_write_text(report_dir / "report.txt", "\n".join(lines) + "\n")
    return summary
