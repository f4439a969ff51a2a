"""Score one synthesized utterance: WER/CER, speaker similarity, DNSMOS, duration and flags.

``Scorer`` holds the loaded backends (each loaded once; embeddings of prompts and references are
cached, since every system of a comparison is scored against the same ones).  ``score`` never
raises for a bad entry: a wav that cannot be read gives ``status: failed`` with the reason, a
metric that cannot be computed (no transcript, a language the ASR cannot do, no speech for a
speaker embedding) is ``None`` with its reason in ``errors`` (``status: partial``), so one bad
entry never costs the others their scores.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from valle.eval.audio import AudioInputError, read_audio, resample, rms_dbfs
from valle.eval.testlist import TestItem

log = logging.getLogger("valle.eval")

SILENCE_DBFS = -50.0  # quieter than this over the whole clip = silent output
TRUNCATED_RATIO = 0.5  # output under half the reference's duration
RUNAWAY_RATIO = 3.0  # over 3x the reference (when no sidecar says the length guard hit)
BACKEND_RATE = 16000  # every backend (pocketsphinx, GE2E, DNSMOS, HuBERT, Whisper, WavLM) works at 16 kHz


class Scorer:
    def __init__(self, asr: str = "pocketsphinx", speaker: str = "resemblyzer", dnsmos: bool = True,
                 device: str = "cpu", asr_options: Optional[dict] = None, dnsmos_max_windows: Optional[int] = None,
                 dnsmos_share_windows: bool = True):
        """Load the backends; an unavailable one raises ``BackendUnavailable`` (one line) at once.
        ``asr``/``speaker`` ``"none"`` (or empty) skip that metric; ``dnsmos_max_windows`` and
        ``dnsmos_share_windows`` (same scores, False = slower reference path): see ``DNSMOS``."""
        from valle.eval.asr import load_asr
        from valle.eval.dnsmos import DNSMOS
        from valle.eval.speaker import load_speaker

        self.asr = load_asr(asr, **(asr_options or {})) if asr and asr != "none" else None
        self.speaker = load_speaker(speaker, device=device) if speaker and speaker != "none" else None
        self.dnsmos = DNSMOS(max_windows=dnsmos_max_windows, share_windows=dnsmos_share_windows) if dnsmos else None
        self._embeddings: Dict[str, object] = {}

    @property
    def backends(self) -> Dict[str, Optional[str]]:
        return {"asr": self.asr.name if self.asr else None,
                "speaker": self.speaker.name if self.speaker else None,
                "dnsmos": self.dnsmos.name if self.dnsmos else None}

    def _cached_embedding(self, path: str, what: str):
        """Embedding of a prompt/reference file, or the ``AudioInputError`` it raised (cached too)."""
        if path not in self._embeddings:
            try:
                wav, sr = read_audio(path, what)
                self._embeddings[path] = self.speaker.embed(wav, sr)
            except AudioInputError as e:
                self._embeddings[path] = AudioInputError(f"{what}: {e}" if what not in str(e) else str(e))
        return self._embeddings[path]

    def score(self, item: TestItem, wav_path, system: str, reference_seconds: Optional[float] = None) -> dict:
        rec = {"system": system, "id": item.id, "mode": item.mode, "language": item.language,
               "wav": str(wav_path), "status": "ok", "errors": [], "flags": []}
        try:
            wav, sr = read_audio(wav_path, f"{system} output")
        except AudioInputError as e:
            rec.update(status="failed", errors=[str(e)])
            return rec
        rec["seconds"] = round(wav.size / sr, 3)
        level = rms_dbfs(wav)
        rec["rms_dbfs"] = round(level, 1) if np.isfinite(level) else None
        silent = not np.isfinite(level) or level < SILENCE_DBFS
        if silent:
            rec["flags"].append("silent")
        self._duration(rec, item, wav_path, reference_seconds)
        wav, sr = resample(wav, sr, BACKEND_RATE), BACKEND_RATE  # once, not once per backend
        self._intelligibility(rec, item, wav, sr, silent)
        self._similarity(rec, item, wav, sr, silent)
        if self.dnsmos is not None:
            try:
                rec.update({f"dnsmos_{k}": round(v, 4) for k, v in self.dnsmos.score(wav, sr).items()})
            except ValueError as e:
                rec["errors"].append(f"dnsmos: {e}")
        if rec["errors"]:
            rec["status"] = "partial"
        return rec

    def _duration(self, rec: dict, item: TestItem, wav_path, reference_seconds: Optional[float]) -> None:
        if reference_seconds:
            ratio = rec["seconds"] / reference_seconds
            rec["reference_seconds"] = round(reference_seconds, 3)
            rec["duration_ratio"] = round(ratio, 3)
            if ratio < TRUNCATED_RATIO:
                rec["flags"].append("truncated")
        sidecar = Path(wav_path).with_suffix(".json")
        hits = None
        if sidecar.is_file():
            try:
                hits = json.loads(sidecar.read_text(encoding="utf-8")).get("length_guard_hits")
            except (OSError, ValueError):
                hits = None
        if hits or (hits is None and rec.get("duration_ratio", 0) > RUNAWAY_RATIO):
            rec["flags"].append("runaway")

    def _intelligibility(self, rec: dict, item: TestItem, wav, sr: int, silent: bool) -> None:
        from valle.eval.asr import supports_language
        from valle.eval.wer import TranscriptError, scores_characters, utterance_errors

        if self.asr is None:
            return
        rec["reference_text"] = item.spoken_text
        if not item.spoken_text.strip():
            rec["errors"].append("wer: the entry has no transcript (text column empty): add the words it should say")
            return
        if not supports_language(self.asr, item.language):
            rec["errors"].append(f"wer: {self.asr.name} does not recognise language {item.language!r}: "
                                 "use --asr whisper:<size or dir> for it")
            return
        rec["hypothesis"] = "" if silent else self.asr.transcribe(wav, sr)
        try:
            counts = utterance_errors(item.spoken_text, rec["hypothesis"], item.language)
        except TranscriptError as e:
            rec["errors"].append(f"wer: {e}")
            return
        rec["wer_unit"] = "char" if scores_characters(item.language) else "word"
        rec["wer"] = round(counts.rate, 4)
        rec["edits"] = {"sub": counts.substitutions, "del": counts.deletions, "ins": counts.insertions,
                        "ref": counts.reference_length}

    def _similarity(self, rec: dict, item: TestItem, wav, sr: int, silent: bool) -> None:
        from valle.eval.speaker import cosine

        if self.speaker is None:
            return
        if silent:
            rec["errors"].append("similarity: the output is silent (no speech to embed)")
            return
        try:
            emb = self.speaker.embed(wav, sr)
        except AudioInputError as e:
            rec["errors"].append(f"similarity: {e}")
            return
        for key, path, what in (("sim_prompt", item.prompt_audio, "prompt_audio"),
                                ("sim_reference", item.reference_audio, "reference_audio")):
            if not path:
                continue
            other = self._cached_embedding(path, what)
            if isinstance(other, Exception):
                rec["errors"].append(f"{key}: {other}")
            else:
                rec[key] = round(cosine(emb, other), 4)
