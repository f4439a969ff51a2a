"""The last few results of a server, with their metrics when the evaluation backends load.

The web page shows them. Metrics (``valle.eval.scoring.Scorer``: pocketsphinx WER for English,
resemblyzer similarity to the voice's recording, DNSMOS) are computed by one background thread,
one result at a time, so scoring never delays synthesis; a result's ``metrics`` is ``"pending"``
until then, or ``null`` when no backend is available (``metrics_unavailable`` says why). The wavs
to score are written to the server's work folder and removed with their result.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from pathlib import Path
from typing import List, Optional

import numpy as np

from valle.serve.audio_bytes import wav_bytes
from valle.utils.atomic import atomic_write_bytes

log = logging.getLogger(__name__)


class RecentResults:
    def __init__(self, keep: int, work_dir: Path, metrics: str = "auto"):
        self.keep = keep
        self.work_dir = Path(work_dir)
        self.items: deque = deque()
        self.lock = threading.Lock()
        self.next_id = 1
        self.scorer = None
        self.metrics_unavailable: Optional[str] = None
        self.jobs: "queue.Queue" = queue.Queue()
        if metrics == "none":
            self.metrics_unavailable = "metrics are off (--metrics none)"
        else:
            threading.Thread(target=self._worker, name="valle-metrics", daemon=True).start()

    def _load_scorer(self):
        from valle.eval.scoring import Scorer

        try:
            self.scorer = Scorer()
        except Exception as e:  # any backend that cannot load: the page says so, synthesis goes on
            self.metrics_unavailable = f"evaluation backends unavailable: {type(e).__name__}: {e}"
            log.warning("%s", self.metrics_unavailable)

    def add(self, entry: dict, samples: np.ndarray, sample_rate: int, voice_audio: Optional[str],
            language: str) -> dict:
        with self.lock:
            entry = {"id": self.next_id, "time": time.strftime("%H:%M:%S"), **entry,
                     "metrics": None if self.metrics_unavailable else "pending"}
            self.next_id += 1
            self.items.appendleft(entry)
            dropped = [self.items.pop() for _ in range(max(0, len(self.items) - self.keep))]
        for old in dropped:
            (self.work_dir / f"result-{old['id']}.wav").unlink(missing_ok=True)
        if entry["metrics"] == "pending":
            path = self.work_dir / f"result-{entry['id']}.wav"
            atomic_write_bytes(path, wav_bytes(samples, sample_rate))
            self.jobs.put((entry, path, voice_audio, language))
        return entry

    def _worker(self) -> None:
        self._load_scorer()
        while True:
            entry, path, voice_audio, language = self.jobs.get()
            if self.scorer is None:
                entry["metrics"] = None
                continue
            from valle.eval.testlist import TestItem

            item = TestItem(id=str(entry["id"]), mode="cross", language=language, text=entry["text"],
                            prompt_audio=voice_audio or "", prompt_text="", reference_audio="")
            try:
                rec = self.scorer.score(item, path, "serve")
            except Exception as e:  # scoring must never take the server down
                rec = {"errors": [f"{type(e).__name__}: {e}"]}
            keys = ("wer", "hypothesis", "sim_prompt", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "flags", "errors")
            entry["metrics"] = {k: rec.get(k) for k in keys if rec.get(k) is not None}

    def list(self) -> List[dict]:
        with self.lock:
            return [dict(e) for e in self.items]
