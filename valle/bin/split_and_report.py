"""Stage 4 of prepare.sh: merge shards, filter by duration, write train/dev/test and a report.

    python -m valle.bin.split_and_report --tokenized-dir data/tokenized --manifests-dir data/manifests \
        --prefix custom --corpus custom --dev-size 0.05 --test-size 20

LibriTTS splits by part (train = train-* parts, dev = dev-clean, test = test-clean, changeable);
a custom corpus draws dev and test at random (counts or fractions, fixed ``--seed``, optionally
whole speakers). Cuts removed by the duration filter are listed in the report, never dropped
silently. Skipped when a parameter stamp says the same inputs were split with the same options.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from valle.data.duration_limits import add_duration_limit_options
from valle.data.report import write_report
from valle.data.splits import SPLITS, duration_filter, merge_shards, parse_size, read_infos, split_by_parts, split_custom, write_splits
from valle.utils.cli import str2bool
from valle.utils.logging_setup import setup_logging
from valle.utils.stage_stamp import StageStamp, fingerprint_files

log = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m valle.bin.split_and_report",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--tokenized-dir", default="data/tokenized", help="stage-3 cuts in, splits and report/ out")
    p.add_argument("--manifests-dir", default="data/manifests", help="where stage 1 wrote rejects.tsv")
    p.add_argument("--prefix", default="custom", help="cut file prefix: <prefix>_cuts_<part>.jsonl.gz")
    p.add_argument("--corpus", choices=("libritts", "custom"), default="custom", help="split by parts (libritts) or at random (custom)")
    add_duration_limit_options(p, "drop (and list)")
    p.add_argument("--dev-size", default="0.05", help="custom: dev utterances, a count (20) or a fraction (0.05)")
    p.add_argument("--test-size", default="0.05", help="custom: test utterances, a count or a fraction")
    p.add_argument("--seed", type=int, default=42, help="custom: seed of the dev/test draw")
    p.add_argument("--split-by-speaker", type=str2bool, default=False, help="custom: draw whole speakers for dev/test")
    p.add_argument("--train-parts", default="train-clean-100 train-clean-360 train-other-500", help="libritts: train parts")
    p.add_argument("--dev-parts", default="dev-clean", help="libritts: dev parts")
    p.add_argument("--test-parts", default="test-clean", help="libritts: test parts")
    return p


def _names(s: str) -> List[str]:
    return s.replace(",", " ").split()


def run(args) -> None:
    tok = Path(args.tokenized_dir)
    if not tok.is_dir():
        raise ValueError(f"--tokenized-dir {tok} does not exist: run stages 2 and 3 first")
    parse_size(args.dev_size), parse_size(args.test_size)  # fail early on a bad size
    files = merge_shards(tok, args.prefix)
    side_inputs = [p for p in (Path(args.manifests_dir) / "rejects.tsv", tok / "text_rejects.tsv",
                               tok / "unique_text_tokens.k2symbols", tok / "text_tokens_report.json",
                               Path(args.manifests_dir) / "long_summary.json") if p.is_file()]
    params = {k: v for k, v in vars(args).items()}
    params["inputs"] = fingerprint_files(list(files.values()) + side_inputs)
    report_dir = tok / "report"
    outputs = [tok / f"cuts_{s}.jsonl.gz" for s in SPLITS] + [report_dir / n for n in ("report.txt", "report.json", "durations.png")]
    stamp = StageStamp(tok, f"stage4_{args.prefix}", legacy=[tok / f".stage4_{args.prefix}.params.json"])
    why = stamp.stale_reason(params, outputs)
    if not why:
        log.info("stage 4: splits and report in %s are up to date for these parameters and inputs; skipping "
                 "(delete %s to force)", tok, stamp.path)
        return
    log.info("stage 4: splitting %s (%s)", tok, why)
    stamp.clear()
    for stale in list(tok.glob(".tmp-*")) + list(report_dir.glob(".tmp-*")):  # left by a killed earlier run
        stale.unlink(missing_ok=True)

    infos = [c for part, path in files.items() for c in read_infos(path, part)]
    kept, filtered = duration_filter(infos, args.min_duration, args.max_duration)
    notes: List[str] = []
    if args.corpus == "libritts":
        mapping, notes = split_by_parts(list(files), _names(args.train_parts), _names(args.dev_parts), _names(args.test_parts))
        assign = {c.id: mapping[c.part] for c in kept if c.part in mapping}
    else:
        ids = split_custom(kept, args.dev_size, args.test_size, args.seed, args.split_by_speaker)
        assign = {cid: split for split, members in ids.items() for cid in members}
    for n in notes:
        log.info("note: %s", n)
    counts = write_splits(files, assign, tok)
    by_split = {s: [c for c in kept if assign.get(c.id) == s] for s in SPLITS}
    write_report(report_dir, by_split, filtered, Path(args.manifests_dir), tok, notes)
    stamp.write(params)
    log.info("stage 4: %s; %d removed by the duration filter; report in %s",
             ", ".join(f"{s} {counts[s]} cuts" for s in SPLITS), len(filtered), report_dir / "report.txt")
    if counts["train"] == 0:
        log.warning("the train split is empty (see the report)")


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    try:
        run(args)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
