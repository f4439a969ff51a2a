"""Stage 2 of prepare.sh: text tokens for every supervision of a corpus.

``tokenize_corpus(manifests_dir, output_dir, prefix, tokenizer, lang, nj)`` reads
``<prefix>_supervisions_<part>.jsonl.gz`` and writes, in ``output_dir``:

- ``<prefix>_supervisions_<part>.jsonl.gz``: the supervisions with ``custom["text_tokens"]``
  (and ``custom["text_token_langs"]`` for vallex), ``language`` set to the language used;
- ``unique_text_tokens.k2symbols``: the symbol table (vallex: the fixed published table);
- ``text_tokens_report.json``: per tokenizer that ran, utterances, tokens, the phoneme inventory
  with counts, substituted / dropped characters with counts, and the utterances without tokens;
  under ``script_mismatches`` the utterances with text in a script their language does not write
  (Chinese characters in English text, English words in Chinese, ...: read by the wrong rules,
  ``valle.text.script_check``), counted by kind with examples, also logged as a warning;
- ``text_rejects.tsv`` (rejects.tsv format): one line per supervision that produced no tokens,
  which is left out of the output — never silently;
- ``.stage2_<prefix>.stamp.json`` (valle.utils.stage_stamp): the parameters and input checksums of
  the last run, and checksums of the shared table and report it wrote. A rerun with equal
  parameters and inputs skips; anything changed (or a table since replaced by another corpus)
  redoes the work.

Languages: ``lang="auto"`` reads each supervision's ``language`` (normalised, so lhotse's
``English`` is ``en-us``; ``en-us`` when unset), any other value applies to every supervision.
Parallelism: ``nj`` worker processes tokenize contiguous slices of ``SLICE`` texts (each worker builds
its tokenizer once and phonemizes a slice in one batched call); a progress bar on a terminal counts them.
"""
from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import re
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from valle.text.languages import normalize_language
from valle.text.pinyin import script_mismatch
from valle.text.script_check import script_mismatches
from valle.text.symbol_table import SymbolTable
from valle.text.tokenizer import TOKENIZERS, get_text_tokenizer
from valle.utils.atomic import atomic_save_manifest, atomic_write_text
from valle.utils.digest import file_digest
from valle.utils.process import clean_up_at_worker_exit
from valle.utils.progress import progress
from valle.utils.stage_stamp import StageStamp

log = logging.getLogger("valle.text.stage2")

FORMAT_VERSION = 1  # bump when the outputs change for equal inputs (a new rule, a new field)
SYMBOLS_NAME = "unique_text_tokens.k2symbols"
REPORT_NAME = "text_tokens_report.json"
REJECTS_NAME = "text_rejects.tsv"
REJECTS_HEADER = "path\treason\tdetail"
DEFAULT_LANG = "en-us"


def find_supervision_manifests(manifests_dir: Path, prefix: str) -> Dict[str, Path]:
    """``{part: path}`` of ``<prefix>_supervisions_<part>.jsonl.gz``, sorted by part."""
    pattern = re.compile(r"^%s_supervisions_(.+)\.jsonl\.gz$" % re.escape(prefix))
    found = {}
    for p in sorted(Path(manifests_dir).glob(f"{prefix}_supervisions_*.jsonl.gz")):
        m = pattern.match(p.name)
        if m:
            found[m.group(1)] = p
    return found


NON_PHONEME_TOKENS = frozenset(list(".,!?;:-…~\"«»“”„()[]{}—–¿¡'") + ["_", "ˈ", "ˌ", "[UNK]", "*"])


def has_phonemes(tokens: List[str]) -> bool:
    """False for an empty token list or one of only punctuation, boundaries and stress marks:
    such an utterance has nothing to say, and training on it teaches silence for punctuation."""
    return any(t not in NON_PHONEME_TOKENS for t in tokens)


# worker side ------------------------------------------------------------------------------------
_WORKER_TOKENIZERS: Dict[Tuple[str, Optional[str]], object] = {}


def _tokenize_slice(job: Tuple[str, Optional[str], List[str], List[str]]) -> List[dict]:
    name, default_lang, texts, langs = job
    key = (name, default_lang)
    if key not in _WORKER_TOKENIZERS:
        _WORKER_TOKENIZERS[key] = get_text_tokenizer(name, default_lang)
    tok = _WORKER_TOKENIZERS[key]
    try:
        return [_result(tt) for tt in tok.batch(texts, langs)]
    except ValueError:
        pass
    # One text spoiled the batch (say, an unmatched [EN] tag): tokenize one by one, so that only
    # the bad texts become rejects (tokenize_texts raises when every text of a part fails).
    out = []
    for text, lang in zip(texts, langs):
        try:
            out.append(_result(tok(text, lang)))
        except ValueError as e:
            out.append({"tokens": [], "langs": None, "lang": lang, "tokenizer": name, "substituted": {},
                        "dropped": {}, "error": str(e)})
    return out


def _result(tt) -> dict:
    return {"tokens": tt.tokens, "langs": tt.langs, "lang": tt.lang, "tokenizer": tt.tokenizer,
            "substituted": dict(tt.substituted), "dropped": dict(tt.dropped)}


SLICE = 256  # texts per batched tokenizer call: a progress step, and the work unit of the worker processes


def tokenize_texts(name: str, default_lang: Optional[str], texts: List[str], langs: List[str], nj: int = 1,
                   desc: str = "") -> List[dict]:
    """Tokenize ``texts`` (one language each) with ``nj`` processes; results in input order.

    A progress bar named ``desc`` counts utterances on a terminal. If every text fails (a wrong
    --language), the tokenizer's error is raised instead of rejecting them all."""
    jobs = [(name, default_lang, texts[i:i + SLICE], langs[i:i + SLICE]) for i in range(0, len(texts), SLICE)]
    out: List[dict] = []
    with contextlib.ExitStack() as stack:
        if nj <= 1 or len(jobs) < 2:
            results = map(_tokenize_slice, jobs)
        else:
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=nj, mp_context=multiprocessing.get_context("fork"),
                                                              initializer=clean_up_at_worker_exit))
            results = pool.map(_tokenize_slice, jobs)
        bar = stack.enter_context(progress(total=len(texts), desc=desc, unit="utt"))
        for part in results:
            out.extend(part)
            bar.update(len(part))
    if out and all(r.get("error") for r in out):
        raise ValueError(out[-1]["error"])
    return out


# driver -----------------------------------------------------------------------------------------
def _recording_paths(manifests_dir: Path, prefix: str, part: str) -> Dict[str, str]:
    """recording id -> source path, for naming rejects by their audio file."""
    path = manifests_dir / f"{prefix}_recordings_{part}.jsonl.gz"
    if not path.is_file():
        return {}
    from lhotse import RecordingSet

    return {r.id: str(r.sources[0].source) for r in RecordingSet.from_file(path) if r.sources}


def _update_rejects(path: Path, prefix: str, lines: List[str]) -> None:
    """Replace this corpus's lines in ``text_rejects.tsv`` (other corpora's lines are kept)."""
    kept = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            detail = line.split("\t")[2] if line.count("\t") >= 2 else ""
            if line.strip() and not detail.startswith(f"{prefix}/"):
                kept.append(line)
    atomic_write_text(path, "\n".join([REJECTS_HEADER] + kept + lines) + "\n")


def _tsv_field(text: str) -> str:
    return re.sub(r"[\t\r\n]+", " ", text)


def tokenize_corpus(manifests_dir, output_dir, prefix: str, tokenizer: str = "espeak", lang: str = DEFAULT_LANG,
                    nj: int = 1, force: bool = False) -> dict:
    """Run stage 2 for one corpus; returns the report (also written to ``text_tokens_report.json``)."""
    from lhotse import SupervisionSet

    manifests_dir, output_dir = Path(manifests_dir), Path(output_dir)
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"--text-tokenizer {tokenizer!r} is not one of {', '.join(TOKENIZERS)}")
    per_utterance = lang is None or str(lang).lower() in ("auto", "per-utterance")
    corpus_lang = None if per_utterance else normalize_language(lang)
    inputs = find_supervision_manifests(manifests_dir, prefix)
    if not inputs:
        raise FileNotFoundError(
            f"no {prefix}_supervisions_<part>.jsonl.gz in {manifests_dir}; run stage 1 (manifests) first, "
            "or check --manifests-dir and --prefix"
        )
    params = {
        "format_version": FORMAT_VERSION,
        "prefix": prefix,
        "text_tokenizer": tokenizer,
        "lang": "auto" if per_utterance else corpus_lang,
        "inputs": {part: {"file": p.name, "sha1": file_digest(p, "sha1")} for part, p in inputs.items()},
    }
    stamp = StageStamp(output_dir, f"stage2_{prefix}", legacy=[output_dir / f".{prefix}_text_tokens.params.json"])
    outputs = [output_dir / f"{prefix}_supervisions_{part}.jsonl.gz" for part in inputs]
    shared = [output_dir / SYMBOLS_NAME, output_dir / REPORT_NAME]  # another corpus may have replaced them
    if stamp.up_to_date(params, outputs, digested=shared, force=force,
                        what=f"stage 2: text tokens in {output_dir} ({tokenizer}, lang {params['lang']})"):
        return json.loads((output_dir / REPORT_NAME).read_text(encoding="utf-8"))

    # a run killed mid-write leaves ".tmp-*.<output name>" files beside its outputs: remove ours
    names = {p.name for p in outputs + shared} | {REJECTS_NAME, stamp.path.name}
    for stale in output_dir.glob(".tmp-*"):
        if any(stale.name.endswith("." + n) for n in names):
            stale.unlink(missing_ok=True)
    output_dir.mkdir(parents=True, exist_ok=True)

    stats: Dict[str, dict] = defaultdict(lambda: {"utterances": 0, "tokens": 0, "languages": Counter(),
                                                  "inventory": Counter(), "substituted": Counter(),
                                                  "dropped": Counter(), "no_tokens": []})
    all_tokens: Counter = Counter()
    mismatches = {"utterances": 0, "by_kind": Counter(), "examples": []}
    lines: List[str] = []
    part_counts: Dict[str, dict] = {}
    unset_language = 0
    # one part at a time: memory is bounded by the largest part, not the corpus
    for part, path in inputs.items():
        segs = list(SupervisionSet.from_file(path))
        texts, langs = [], []
        for s in segs:
            if per_utterance:
                if s.language:
                    seg_lang = normalize_language(s.language)
                else:
                    seg_lang, unset_language = DEFAULT_LANG, unset_language + 1
            else:
                seg_lang = corpus_lang
            texts.append(s.text or "")
            langs.append(seg_lang)
        log.info("stage 2: %s: tokenizing %d supervisions with %s, lang %s, nj %d",
                 part, len(texts), tokenizer, params["lang"], nj)
        results = tokenize_texts(tokenizer, corpus_lang, texts, langs, nj=nj, desc=f"stage 2: {part}")
        kept = []
        rec_paths = None
        for s, text, lang, res in zip(segs, texts, langs, results):
            st = stats[res["tokenizer"]]
            st["utterances"] += 1
            st["languages"][res["lang"]] += 1
            st["substituted"].update(res["substituted"])
            st["dropped"].update(res["dropped"])
            mismatch = script_mismatch(res["tokenizer"], text)
            if mismatch or not has_phonemes(res["tokens"]):
                reason = "empty_transcript" if not text.strip() else "no_text_tokens"
                if res.get("error"):
                    reason = "tokenizer_error"
                if mismatch:
                    reason = "wrong_script"
                st["no_tokens"].append({"part": part, "id": s.id, "text": text, "reason": reason})
                if rec_paths is None:
                    rec_paths = _recording_paths(manifests_dir, prefix, part)
                why = mismatch or (f"failed: {res['error']}" if res.get("error") else "produced no phoneme tokens")
                detail = (f"{prefix}/{part} supervision {s.id}: {res['tokenizer']} ({res['lang']}) {why} "
                          f"for text {text!r}; fix or remove the transcript, or check --language")
                lines.append("\t".join([_tsv_field(rec_paths.get(s.recording_id, s.id)), reason, _tsv_field(detail)]))
                continue
            note_mismatches(mismatches, part, s.id, text, lang)  # kept, but read by the wrong rules
            st["tokens"] += len(res["tokens"])
            st["inventory"].update(res["tokens"])
            all_tokens.update(res["tokens"])
            custom = dict(s.custom or {})
            custom["text_tokens"] = res["tokens"]
            if res["langs"] is not None:
                custom["text_token_langs"] = res["langs"]
            kept.append(_with(s, custom, res["lang"]))
        atomic_save_manifest(SupervisionSet.from_segments(kept), output_dir / f"{prefix}_supervisions_{part}.jsonl.gz")
        part_counts[part] = {"supervisions": len(segs), "tokenized": len(kept)}
    if unset_language:
        log.warning("stage 2: %d supervisions have no language; read as %s", unset_language, DEFAULT_LANG)

    total = sum(c["supervisions"] for c in part_counts.values())
    total_kept = sum(c["tokenized"] for c in part_counts.values())
    if total_kept == 0:
        raise RuntimeError(
            f"stage 2: none of the {total} supervisions of {prefix} produced text tokens with {tokenizer} "
            f"(lang {params['lang']}); check the transcripts and --language"
        )
    table = (get_text_tokenizer("vallex").symbol_table() if tokenizer == "vallex"
             else SymbolTable.for_corpus(all_tokens))
    table.to_file(output_dir / SYMBOLS_NAME)
    _update_rejects(output_dir / REJECTS_NAME, prefix, lines)
    report = {
        "prefix": prefix,
        "text_tokenizer": tokenizer,
        "lang": params["lang"],
        "parts": part_counts,
        "symbols": len(table),
        "rejected": len(lines),
        "tokenizers": {name: _jsonable(st) for name, st in sorted(stats.items())},
        "script_mismatches": {**mismatches, "by_kind": dict(mismatches["by_kind"].most_common())},
    }
    atomic_write_text(output_dir / REPORT_NAME, json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    stamp.write(params, digested=shared)
    log.info("stage 2: %d of %d supervisions tokenized, %d rejected (see %s), %d symbols in %s",
             total_kept, total, len(lines), output_dir / REJECTS_NAME, len(table), output_dir / SYMBOLS_NAME)
    if mismatches["utterances"]:
        ex = mismatches["examples"][0]
        log.warning("stage 2: %d utterance(s) hold text in a script their language does not write (%s), read "
                    "by the wrong language's rules, e.g. %s %r (%s); tag those words ([ZH]..[ZH], [EN]..[EN]); "
                    "all examples in %s", mismatches["utterances"],
                    ", ".join(f"{k}: {n}" for k, n in mismatches["by_kind"].most_common()), ex["id"], ex["text"],
                    ", ".join(ex["kinds"]), output_dir / REPORT_NAME)
    for name, st in report["tokenizers"].items():
        if st["substituted"] or st["dropped"]:
            log.warning("stage 2: %s substituted %d and dropped %d characters (details in %s)", name,
                        sum(st["substituted"].values()), sum(st["dropped"].values()), output_dir / REPORT_NAME)
    return report


MAX_MISMATCH_EXAMPLES = 20


def note_mismatches(acc: dict, part: str, sup_id: str, text: str, lang: Optional[str]) -> None:
    """Count one utterance's script/language mismatches (``valle.text.script_check``) into ``acc``."""
    kinds = script_mismatches(text, lang)
    if not kinds:
        return
    acc["utterances"] += 1
    acc["by_kind"].update(kinds)
    if len(acc["examples"]) < MAX_MISMATCH_EXAMPLES:
        acc["examples"].append({"part": part, "id": sup_id, "text": text, "kinds": kinds})


def _with(s, custom: dict, lang: Optional[str]):
    from lhotse.utils import fastcopy

    return fastcopy(s, custom=custom, language=lang or s.language)


def _jsonable(st: dict) -> dict:
    out = dict(st)
    for key in ("languages", "inventory", "substituted", "dropped"):
        out[key] = dict(st[key].most_common())
    return out
