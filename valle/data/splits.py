"""Stage 4 splitting: merge rank shards, filter by duration, assign cuts to train/dev/test.

Cut manifests are read twice as plain JSON lines: a first pass collects (id, duration,
speaker, tokens) to decide filters and splits, a second copies each cut's line unchanged into
its split file. Memory stays proportional to the number of ids, not to the cut contents, and
the copied cuts are exactly what stage 3 wrote. Outputs are gzip files with a zero mtime so
an interrupted run reruns to byte-identical files.
"""
from __future__ import annotations

import contextlib
import gzip
import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

from valle.utils.atomic import atomic_path

SPLITS = ("train", "dev", "test")


@dataclass
class CutInfo:
    """What the split and the report need to know about one cut."""

    id: str
    part: str
    duration: float
    speaker: str
    tokens: List[str] = field(default_factory=list)


def shard_pattern(prefix: str) -> "re.Pattern":
    return re.compile(rf"^{re.escape(prefix)}_cuts_(?P<part>.+?)(?:\.(?P<rank>\d+)-of-(?P<world>\d+))?\.jsonl\.gz$")


def iter_lines(path: Path) -> Iterator[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield line if line.endswith("\n") else line + "\n"


@contextlib.contextmanager
def gzip_writer(path: Path):
    """Atomic, deterministic (mtime 0) gzip text writer."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            yield gz


def merge_shards(tokenized_dir: Path, prefix: str) -> Dict[str, Path]:
    """Find ``<prefix>_cuts_<part>.jsonl.gz`` per part, merging rank shards when they are newer.

    Shards ``<prefix>_cuts_<part>.<rank>-of-<world>.jsonl.gz`` (written by stage 3 under
    torchrun) are concatenated in rank order; a missing rank is an error naming it.
    """
    pat = shard_pattern(prefix)
    whole: Dict[str, Path] = {}
    shards: Dict[str, Dict[Tuple[int, int], Path]] = defaultdict(dict)
    for p in sorted(Path(tokenized_dir).glob(f"{prefix}_cuts_*.jsonl.gz")):
        m = pat.match(p.name)
        if not m:
            continue
        if m["rank"] is None:
            whole[m["part"]] = p
        else:
            shards[m["part"]][(int(m["world"]), int(m["rank"]))] = p
    for part, found in shards.items():
        worlds = {w for w, _ in found}
        if len(worlds) != 1:
            raise ValueError(f"shards of part {part} in {tokenized_dir} come from different world sizes {sorted(worlds)}; "
                             "delete the stale ones and rerun stage 3")
        world = worlds.pop()
        missing = [r for r in range(world) if (world, r) not in found]
        if missing:
            raise ValueError(f"part {part}: shard(s) {', '.join(f'{prefix}_cuts_{part}.{r}-of-{world}.jsonl.gz' for r in missing)} "
                             f"missing in {tokenized_dir}; rerun stage 3 for those ranks")
        target = Path(tokenized_dir) / f"{prefix}_cuts_{part}.jsonl.gz"
        newest = max(p.stat().st_mtime_ns for p in found.values())
        if part not in whole or whole[part].stat().st_mtime_ns < newest:
            with gzip_writer(target) as out:
                for r in range(world):
                    for line in iter_lines(found[(world, r)]):
                        out.write(line.encode("utf-8"))
            print(f"merged {world} shards of part {part} into {target}", flush=True)
        whole[part] = target
    if not whole:
        raise ValueError(f"no {prefix}_cuts_<part>.jsonl.gz in {tokenized_dir}: run stage 3 first (--stage 3)")
    return dict(sorted(whole.items()))


def read_infos(path: Path, part: str) -> List[CutInfo]:
    infos = []
    for line in iter_lines(path):
        d = json.loads(line)
        if "duration" not in d:  # a MixedCut (e.g. padded): let lhotse work out its duration
            from lhotse.serialization import deserialize_item

            cut = deserialize_item(d)
            d = {"id": cut.id, "duration": cut.duration, "supervisions": [s.to_dict() for s in cut.supervisions]}
        sups = d.get("supervisions") or []
        sup = sups[0] if sups else {}
        tokens = (sup.get("custom") or {}).get("text_tokens") or []
        infos.append(CutInfo(d["id"], part, float(d["duration"]), str(sup.get("speaker") or "unknown"), list(tokens)))
    return infos


def duration_filter(infos: List[CutInfo], min_duration: float, max_duration: float):
    """Split ``infos`` into kept ones and removed ``(info, reason)`` pairs."""
    kept, removed = [], []
    for c in infos:
        if c.duration < min_duration:
            removed.append((c, f"too_short: {c.duration:.3f} s < --filter-min-duration {min_duration}"))
        elif c.duration > max_duration:
            removed.append((c, f"too_long: {c.duration:.3f} s > --filter-max-duration {max_duration} (raise it to keep)"))
        else:
            kept.append(c)
    return kept, removed


def parse_size(value: Union[str, float, int]) -> Union[int, float]:
    """``"20"`` -> 20 utterances; ``"0.05"`` -> 5 %. Raises ValueError for anything else."""
    s = str(value).strip()
    try:
        if re.fullmatch(r"\d+", s):
            return int(s)
        f = float(s)
    except ValueError:
        raise ValueError(f"split size {value!r} is neither a count (e.g. 20) nor a fraction (e.g. 0.05)") from None
    if not 0.0 <= f < 1.0:
        raise ValueError(f"split size {value!r}: a fraction must be in [0, 1); use an integer for a count")
    return f


def size_to_count(size: Union[int, float], total: int) -> int:
    if isinstance(size, int):
        return size
    return 0 if size == 0 else max(1, round(size * total))


def _fit_counts(n_dev: int, n_test: int, total: int) -> Tuple[int, int]:
    """Shrink test, then dev, so that at least one unit stays for training."""
    while n_dev + n_test > max(total - 1, 0):
        if n_test > 0:
            n_test -= 1
        else:
            n_dev -= 1
    return n_dev, n_test


def split_custom(infos: List[CutInfo], dev_size, test_size, seed: int, by_speaker: bool = False) -> Dict[str, List[str]]:
    """Random dev/test draw with a fixed seed; with ``by_speaker`` whole speakers are drawn.

    Sizes are counts of utterances or fractions of them (by speaker: the drawn speakers'
    utterances reach at least the requested count). Train always keeps at least one utterance
    (or one speaker).
    """
    dev_size, test_size = parse_size(dev_size), parse_size(test_size)
    rng = random.Random(seed)
    ids = sorted(c.id for c in infos)
    if not by_speaker:
        want = {"dev": size_to_count(dev_size, len(ids)), "test": size_to_count(test_size, len(ids))}
        n_dev, n_test = _fit_counts(want["dev"], want["test"], len(ids))
        refuse_emptied_split(counted(want, dev_size, test_size), {"dev": n_dev, "test": n_test}, len(ids), "utterance")
        rng.shuffle(ids)
        return {"dev": sorted(ids[:n_dev]), "test": sorted(ids[n_dev:n_dev + n_test]), "train": sorted(ids[n_dev + n_test:])}
    by_spk: Dict[str, List[str]] = defaultdict(list)
    for c in infos:
        by_spk[c.speaker].append(c.id)
    speakers = sorted(by_spk)
    rng.shuffle(speakers)
    total = len(ids)
    want = {"dev": size_to_count(dev_size, total), "test": size_to_count(test_size, total)}
    out: Dict[str, List[str]] = {"dev": [], "test": [], "train": []}
    remaining = list(speakers)
    for split in ("dev", "test"):
        while len(out[split]) < want[split] and len(remaining) > 1:
            out[split] += by_spk[remaining.pop(0)]
    for spk in remaining:
        out["train"] += by_spk[spk]
    refuse_emptied_split(counted(want, dev_size, test_size), {k: len(out[k]) for k in ("dev", "test")},
                         len(speakers), "speaker")
    return {k: sorted(v) for k, v in out.items()}


def counted(want: Dict[str, int], dev_size, test_size) -> Dict[str, int]:
    """The requested sizes that were explicit counts (a fraction of a tiny corpus may round to nothing)."""
    return {k: (n if isinstance(size, int) else 0) for (k, n), size in zip(want.items(), (dev_size, test_size))}


def refuse_emptied_split(want: Dict[str, int], got: Dict[str, int], total: int, unit: str) -> None:
    """A dev or test split asked for by count but left empty (the corpus is too small) is an error.

    Train keeps at least one unit, so sizes are shrunk test first; shrinking a requested split to
    nothing used to pass silently and left e.g. cuts_test.jsonl.gz empty.
    """
    for split in ("dev", "test"):
        if want[split] > 0 and got[split] == 0:
            raise ValueError(
                f"--dev-size/--test-size ask for {want['dev']} dev and {want['test']} test utterances, but with "
                f"{total} {unit}(s) and at least one kept for training the {split} split would be empty; "
                f"lower --dev-size/--test-size (counts such as 1) or add recordings"
            )


def split_by_parts(parts: Sequence[str], train_parts: Sequence[str], dev_parts: Sequence[str],
                   test_parts: Sequence[str]) -> Tuple[Dict[str, str], List[str]]:
    """Map each available part to its split; returns (part -> split, notes about unused/missing parts)."""
    notes, mapping = [], {}
    for split, wanted in (("train", train_parts), ("dev", dev_parts), ("test", test_parts)):
        for part in wanted:
            if part in mapping:
                raise ValueError(f"part {part} is assigned to both {mapping[part]} and {split}; fix --{split}-parts")
            if part in parts:
                mapping[part] = split
            else:
                notes.append(f"--{split}-parts names {part}, which was not prepared; the {split} split goes without it")
    for part in parts:
        if part not in mapping:
            notes.append(f"part {part} is in no split (add it to --train-parts, --dev-parts or --test-parts)")
    return mapping, notes


def write_splits(files: Dict[str, Path], assign: Dict[str, str], out_dir: Path) -> Dict[str, int]:
    """Copy each cut's line from the part files into ``cuts_<split>.jsonl.gz`` by ``assign[id]``."""
    counts = {s: 0 for s in SPLITS}
    with contextlib.ExitStack() as stack:
        writers = {s: stack.enter_context(gzip_writer(out_dir / f"cuts_{s}.jsonl.gz")) for s in SPLITS}
        for _, path in files.items():
            for line in iter_lines(path):
                cid = json.loads(line)["id"]
                split: Optional[str] = assign.get(cid)
                if split is not None:
                    writers[split].write(line.encode("utf-8"))
                    counts[split] += 1
    return counts
