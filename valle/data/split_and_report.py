"""Stage 4 of prepare.sh (driven by ``python -m valle.bin.split_and_report``): merge the stage-3
shards, filter by duration, write train/dev/test and the report.

LibriTTS splits by part (valle.data.splits.split_by_parts), a custom corpus at random
(split_custom); the report (valle.data.report) lists what the duration filter removed. Skipped
when its stage stamp (valle.utils.stage_stamp) says the same inputs were split with the same options.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import List

from valle.data.report import write_report
from valle.data.splits import SPLITS, duration_filter, merge_shards, parse_size, read_infos, split_by_parts, split_custom, write_splits
from valle.utils.stage_stamp import StageStamp, fingerprint_files

log = logging.getLogger(__name__)


def _names(s: str) -> List[str]:
    return s.replace(",", " ").split()


def split_and_report(args) -> None:
    """Stage 4 for ``args`` (valle.bin.split_and_report's options), unless its stage stamp says it is current."""
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
    # the splits and the report carry no prefix: another --prefix's stage 4 in this folder replaces them, so the
    # stamp records their digests and a rerun redoes the work instead of calling another corpus's files current
    shared = [tok / f"cuts_{s}.jsonl.gz" for s in SPLITS] + [report_dir / n for n in ("report.txt", "report.json")]
    outputs = [report_dir / "durations.png"]
    stamp = StageStamp(tok, f"stage4_{args.prefix}", legacy=[tok / f".stage4_{args.prefix}.params.json"])
    if stamp.up_to_date(params, outputs, shared, what=f"stage 4: splits and report in {tok}"):
        return
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
    stamp.write(params, shared)
    log.info("stage 4: %s; %d removed by the duration filter; report in %s",
             ", ".join(f"{s} {counts[s]} cuts" for s in SPLITS), len(filtered), report_dir / "report.txt")
    if counts["train"] == 0:
        log.warning("the train split is empty (see the report)")
