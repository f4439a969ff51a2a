"""Score synthesized speech: intelligibility (ASR WER/CER), speaker similarity and DNSMOS.

Make a test list from a prepared corpus (VALL-E protocol; an editable TSV, docs/evaluation.md):
    python -m valle.bin.evaluate --cuts data/tokenized/cuts_test.jsonl.gz --mode cross-sentence \
        --num 50 --list exp/valle/eval/test.tsv
Score a checkpoint on it (synthesis, then the metrics; ground-truth and codec-resynthesis rows too):
    python -m valle.bin.evaluate --list exp/valle/eval/test.tsv --checkpoint exp/valle/averaged.pt
Score any folder of wavs named <id>.wav (another TTS system):
    python -m valle.bin.evaluate --list test.tsv --wav-dir other_tts/ --name other
Before/after fine-tuning, one table with deltas:
    python -m valle.bin.evaluate --list test.tsv --compare pretrained.pt exp/ft/averaged.pt

Outputs: <exp-dir>/eval/<name>/{utterances.jsonl, summary.json, summary.md, summary.png, tensorboard/}.
Offline backends by default (pocketsphinx, resemblyzer, speechmos DNSMOS); paper-grade ones with
--asr hubert-large / whisper:<size or dir> and --speaker wavlm-sv[:dir] / ecapa[:dir] when their
weights are on this machine (never downloaded).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional

from valle.codec.options import add_codec_option
from valle.utils.logging_setup import setup_logging

log = logging.getLogger("valle.eval")

REFERENCE_ROWS = ("ground_truth", "codec_resynthesis")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m valle.bin.evaluate", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("test list")
    g.add_argument("--list", type=Path, required=True, help="test list TSV (made by --cuts when it does not exist)")
    g.add_argument("--cuts", type=Path, nargs="+", default=None,
                   help="make --list from these cuts manifests (dev/test split of a prepared corpus)")
    g.add_argument("--mode", default="cross-sentence", choices=["cross-sentence", "continuation"],
                   help="with --cuts: prompt from another utterance of the speaker, or the first 3 s of the same")
    g.add_argument("--num", type=int, default=50, help="with --cuts: utterances in the list")
    g.add_argument("--seed", type=int, default=0, help="with --cuts: which utterances and prompts; also the sampling seed")
    g.add_argument("--min-seconds", type=float, default=4.0, help="with --cuts: shortest utterance")
    g.add_argument("--max-seconds", type=float, default=10.0, help="with --cuts: longest utterance")

    g = p.add_argument_group("systems")
    g.add_argument("--checkpoint", type=Path, default=None, help="synthesize the list with this checkpoint and score it")
    g.add_argument("--wav-dir", type=Path, default=None, help="score <wav-dir>/<id>.wav (any TTS system)")
    g.add_argument("--compare", nargs="+", default=None, metavar="CKPT_OR_DIR",
                   help="several checkpoints (or wav folders) on the same list; the table shows deltas to the first")
    g.add_argument("--reference-rows", default="ground_truth,codec_resynthesis",
                   help="comma-separated reference rows (ground_truth, codec_resynthesis) or 'none'")
    add_codec_option(g, help_suffix="; default: the codec the (first) checkpoint was trained on, else encodec; "
                                    "synthesis and the codec_resynthesis row use it (never downloaded here)")
    g.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    g.add_argument("--top-k", type=int, default=0, help="synthesis: AR top-k (0 = off)")
    g.add_argument("--temperature", type=float, default=1.0, help="synthesis: AR temperature")
    g.add_argument("--max-len-ratio", type=float, default=16.0, help="synthesis: length guard (frames per text token)")
    g.add_argument("--min-len-ratio", type=float, default=0.0, help="synthesis: no end before this many frames per token")

    g = p.add_argument_group("scoring")
    g.add_argument("--asr", default="pocketsphinx",
                   help="pocketsphinx (offline, fast search), pocketsphinx:accurate (its default search, ~3x the CPU), hubert-large, whisper:<size or dir>, or none")
    g.add_argument("--speaker", default="resemblyzer", help="resemblyzer (offline), wavlm-sv[:dir], ecapa[:dir], or none")
    g.add_argument("--dnsmos", default="true", choices=["true", "false"], help="DNSMOS P.835 (speechmos ONNX)")
    g.add_argument("--dnsmos-max-windows", type=int, default=None,
                   help="score at most N of the 9.01 s windows of a clip (default: all, the official protocol; "
                        "1 is up to 9x faster on 4-4.5 s and 8-9 s clips, docs/evaluation.md)")
    g.add_argument("--jobs", type=int, default=1, help="worker processes for scoring (one CPU core each; 2 on 2 cores)")
    g.add_argument("--exp-dir", type=Path, default=Path("exp/valle"), help="outputs go to <exp-dir>/eval/<name>/")
    g.add_argument("--name", default=None, help="evaluation name (default: the list's file stem)")
    g.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


def _system_names(entries: List[str]) -> Dict[str, Path]:
    names: Dict[str, Path] = {}
    for e in entries:
        path = Path(e)
        base = path.name if path.is_dir() else path.stem
        name = base if base not in names and base not in REFERENCE_ROWS else f"{path.parent.name}_{base}"
        while name in names:
            name += "_"
        names[name] = path
    return names


def _ensure_list(args) -> None:
    from valle.eval.testlist import build_test_list, write_test_list
    from valle.utils.stage_stamp import StageStamp

    params = {"cuts": [str(c) for c in args.cuts], "mode": args.mode, "num": args.num, "seed": args.seed,
              "min_seconds": args.min_seconds, "max_seconds": args.max_seconds}
    stamp = StageStamp(args.list.parent, f"testlist_{args.list.name}", legacy=[args.list.with_suffix(".params.json")])
    if stamp.up_to_date(params, [args.list], what=f"test list {args.list}"):
        return
    from lhotse import CutSet, load_manifest

    present = [c for c in args.cuts if c.is_file()]
    if not present:
        raise ValueError(f"--cuts {' '.join(map(str, args.cuts))}: none exists; run prepare.sh first")
    cuts = CutSet.from_cuts(c for path in present for c in load_manifest(path))
    items = build_test_list(cuts, args.list.parent, args.mode, args.num, args.seed, args.min_seconds, args.max_seconds)
    write_test_list(items, args.list)
    stamp.write(params)
    log.info("wrote %s: %d %s utterances", args.list, len(items), args.mode)


def _reference_seconds(items) -> Dict[str, float]:
    import soundfile as sf

    out = {}
    for item in items:
        try:
            out[item.id] = float(sf.info(item.reference_audio).duration) if item.reference_audio else None
        except Exception:  # scored (and reported) as a bad reference later
            out[item.id] = None
    return out


def _wav_sources(args, items, out_dir: Path) -> Dict[str, tuple]:
    """``{system: (wav_dir, {id: error})}`` for every system and reference row."""
    from valle.eval.systems import checkpoint_codec_spec, codec_available, resynthesize, synthesize

    rows = [r for r in args.reference_rows.split(",") if r and r != "none"]
    unknown = [r for r in rows if r not in REFERENCE_ROWS]
    if unknown:
        raise ValueError(f"--reference-rows {','.join(unknown)}: choose from {', '.join(REFERENCE_ROWS)} or none")
    sources: Dict[str, tuple] = {}
    if "ground_truth" in rows:
        sources["ground_truth"] = (None, {})
    entries = list(args.compare or []) + ([str(args.checkpoint)] if args.checkpoint else [])
    if "codec_resynthesis" in rows:
        spec = args.codec or next(filter(None, (checkpoint_codec_spec(Path(e)) for e in entries)), None)
        why = codec_available(spec)
        if why:
            log.warning("codec_resynthesis row skipped: %s", why)
        else:
            sources["codec_resynthesis"] = (out_dir / "codec_resynthesis",
                                            resynthesize(items, out_dir / "codec_resynthesis", spec, args.device))
    if args.wav_dir:
        entries.append(str(args.wav_dir))
    sampling = dict(top_k=args.top_k, temperature=args.temperature, max_len_ratio=args.max_len_ratio,
                    min_len_ratio=args.min_len_ratio)
    for name, path in _system_names(entries).items():
        if path.is_dir():
            sources[args.name if (args.wav_dir and path == args.wav_dir and not args.compare) else name] = (path, {})
        elif path.is_file():
            log.info("synthesizing %d utterances with %s", len(items), path)
            sources[name] = (out_dir / name, synthesize(items, path, out_dir / name, args.device,
                                                        args.codec, args.seed, **sampling))
        else:
            raise ValueError(f"{path} does not exist: pass a checkpoint file or a folder of <id>.wav "
                             "(run.sh stages 1-2 write <exp-dir>/averaged.pt)")
    return sources


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    from valle.eval.backend_errors import BackendUnavailable
    from valle.eval.report import summarize, write_outputs
    from valle.eval.scoring import Scorer
    from valle.eval.testlist import TestListError, read_test_list

    try:
        if args.cuts:
            _ensure_list(args)
        items = read_test_list(args.list)
        name = args.name or args.list.stem
        out_dir = args.exp_dir / "eval" / name
        scorer_kwargs = dict(asr=args.asr, speaker=args.speaker, dnsmos=args.dnsmos == "true", device=args.device,
                             dnsmos_max_windows=args.dnsmos_max_windows)
        scorer = Scorer(**scorer_kwargs)
        sources = _wav_sources(args, items, out_dir)
    except (TestListError, BackendUnavailable, ValueError, OSError, RuntimeError) as e:
        raise SystemExit(f"error: {e}")
    if not sources:
        raise SystemExit("error: nothing to score: pass --checkpoint, --wav-dir, --compare or --reference-rows")
    from valle.eval.parallel import score_all

    ref_seconds = _reference_seconds(items)
    records, jobs, slots = [], [], []
    for system, (wav_dir, failed) in sources.items():
        for item in items:
            if item.id in failed:
                records.append({"system": system, "id": item.id, "mode": item.mode, "language": item.language,
                                "status": "failed", "errors": [failed[item.id]], "flags": []})
                continue
            wav = Path(item.reference_audio) if wav_dir is None else wav_dir / f"{item.id}.wav"
            slots.append(len(records))
            records.append(None)
            jobs.append((item, wav, system, ref_seconds.get(item.id)))
    for slot, rec in zip(slots, score_all(scorer, jobs, args.jobs, scorer_kwargs)):
        records[slot] = rec
    for r in records:
        if r["status"] == "failed":
            log.warning("%s %s failed: %s", r["system"], r["id"], "; ".join(r["errors"]))
    summaries = summarize(records)
    table = write_outputs(out_dir, records, summaries, scorer.backends,
                          {"list": str(args.list), "items": len(items), "name": name})
    print(table, end="")
    print(f"wrote {out_dir}/ (utterances.jsonl, summary.json, summary.md, summary.png, tensorboard/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
