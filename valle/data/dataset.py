"""Training dataset: a lhotse CutSet batch -> padded tensors for ``VALLE.forward``.

Works with lhotse samplers the lhotse way (``DataLoader(dataset, sampler=sampler,
batch_size=None)``): the sampler picks cuts in the main process, ``__getitem__`` loads Encodec
codes and text in a worker. Output keys follow docs/interfaces.md (``text_tokens``,
``text_lens``, ``text_langs``, ``audio_codes``, ``audio_lens`` and, for prefix mode 4,
``prompt_codes``/``prompt_lens``).

With ``concat_prompt`` each item is another utterance of the same speaker followed by its own
(text and codes joined), the layout synthesis feeds the AR: prompt text + new text, then the
prompt's codes to continue.  Trained on single utterances, a small AR reads the end of a
prompt as the end of speech and stops at once when asked to go on with a new sentence.

Everything random here (which same-speaker cut becomes the prompt, where it is cropped) is a
pure function of the cut id, the epoch and the seed, so a resumed run and a run with a
different number of workers see exactly the same batches.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from lhotse import CutSet

from valle.text.languages import language_id


def _stable_int(*parts) -> int:
    h = hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=8)
    return int.from_bytes(h.digest(), "little")


def pad_sequences(seqs: Sequence[torch.Tensor], pad_value: int) -> torch.Tensor:
    """Stack 1-D or 2-D tensors along a new batch dim, right-padding dim 0."""
    longest = max(int(s.shape[0]) for s in seqs)
    out = torch.full((len(seqs), longest) + tuple(seqs[0].shape[1:]), pad_value, dtype=seqs[0].dtype)
    for i, s in enumerate(seqs):
        out[i, : s.shape[0]] = s
    return out


class SpeechCodesDataset(torch.utils.data.Dataset):
    """Text tokens + Encodec codes for a batch of cuts.

    Args:
        text_symbols: ``SymbolTable`` mapping ``supervision.custom["text_tokens"]`` to ids.
        num_languages: ids >= this are mapped to 0 (a model with fewer language rows).
        prompt_cuts: if given (prefix mode 4), each utterance gets a prompt cropped from another
            cut of the same speaker in this set (itself when it is the speaker's only cut).
        prompt_max_frames: longest prompt in frames (225 = 3 s at 75 frames/s).
        num_quantizers: code columns kept (the model's ``num_quantizers``).
        concat_prompt: prepend a whole other same-speaker cut of ``prompt_cuts`` to each item
            (text and codes) instead of returning a separate prompt.
    """

    def __init__(
        self,
        text_symbols,
        num_languages: int = 3,
        prompt_cuts: Optional[CutSet] = None,
        prompt_max_frames: int = 225,
        num_quantizers: int = 8,
        seed: int = 0,
        concat_prompt: bool = False,
    ):
        super().__init__()
        if concat_prompt and prompt_cuts is None:
            raise ValueError("concat_prompt needs prompt_cuts (the cuts to draw same-speaker partners from)")
        self.concat_prompt = concat_prompt
        self.text_symbols = text_symbols
        self.pad_id = text_symbols.pad_id
        self.num_languages = num_languages
        self.prompt_max_frames = prompt_max_frames
        self.num_quantizers = num_quantizers
        self.seed = seed
        self.epoch = 0
        self.prompt_cuts: Dict[str, object] = {}
        self.speaker_cuts: Dict[str, List[str]] = defaultdict(list)
        if prompt_cuts is not None:
            for cut in prompt_cuts:
                self.prompt_cuts[cut.id] = cut
                self.speaker_cuts[self._speaker(cut)].append(cut.id)
            for ids in self.speaker_cuts.values():
                ids.sort()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @staticmethod
    def _speaker(cut) -> str:
        return cut.supervisions[0].speaker or "unknown"

    def _text(self, cut):
        if not cut.supervisions:
            raise ValueError(f"cut {cut.id} has no supervision: rerun prepare.sh stage 2")
        sup = cut.supervisions[0]
        custom = sup.custom or {}
        if "text_tokens" not in custom:
            raise ValueError(
                f"cut {cut.id}: supervision has no custom['text_tokens']; run prepare.sh stage 2 (text tokens)"
            )
        tokens = custom["text_tokens"]
        try:
            ids = self.text_symbols.encode(tokens)
        except KeyError as e:
            raise ValueError(f"cut {cut.id}: {e.args[0] if e.args else e}") from e
        langs = custom.get("text_token_langs")
        if langs is not None:
            lang_ids = [language_id(x) for x in langs]
        else:
            lang_ids = [language_id(sup.language or "en")] * len(ids)
        lang_ids = [x if x < self.num_languages else 0 for x in lang_ids]
        return torch.tensor(ids, dtype=torch.long), torch.tensor(lang_ids, dtype=torch.long)

    def _codes(self, cut) -> torch.Tensor:
        codes = np.asarray(cut.load_features())
        if codes.ndim != 2 or codes.shape[1] < self.num_quantizers:
            raise ValueError(
                f"cut {cut.id}: expected Encodec codes [frames, >={self.num_quantizers}], got {codes.shape}"
            )
        return torch.from_numpy(codes[:, : self.num_quantizers].astype(np.int64))

    def _partner(self, cut):
        """Another cut of the same speaker (the cut itself when it is the speaker's only one)."""
        candidates = self.speaker_cuts.get(self._speaker(cut), [])
        others = [c for c in candidates if c != cut.id]
        pool = others or [cut.id]
        pick = pool[_stable_int(self.seed, self.epoch, cut.id, "prompt") % len(pool)]
        return self.prompt_cuts.get(pick, cut), bool(others)

    def _prompt(self, cut) -> torch.Tensor:
        src, others = self._partner(cut)
        codes = self._codes(src)
        n = codes.shape[0]
        length = min(self.prompt_max_frames, n if others else max(1, n // 2))
        start = _stable_int(self.seed, self.epoch, cut.id, "crop") % (n - length + 1)
        return codes[start : start + length]

    def __getitem__(self, cuts: CutSet) -> Dict[str, object]:
        cuts = cuts.sort_by_duration(ascending=False)
        texts, langs, codes, prompts = [], [], [], []
        for cut in cuts:
            t, l = self._text(cut)
            c = self._codes(cut)
            if self.concat_prompt:
                partner, _ = self._partner(cut)
                pt, pl = self._text(partner)
                t, l, c = torch.cat([pt, t]), torch.cat([pl, l]), torch.cat([self._codes(partner), c])
            texts.append(t)
            langs.append(l)
            codes.append(c)
            if self.prompt_cuts and not self.concat_prompt:
                prompts.append(self._prompt(cut))
        batch = {
            "cut_ids": [c.id for c in cuts],
            "text_tokens": pad_sequences(texts, self.pad_id),
            "text_lens": torch.tensor([len(t) for t in texts], dtype=torch.long),
            "text_langs": pad_sequences(langs, 0),
            "audio_codes": pad_sequences(codes, 0),
            "audio_lens": torch.tensor([c.shape[0] for c in codes], dtype=torch.long),
        }
        if prompts:
            batch["prompt_codes"] = pad_sequences(prompts, 0)
            batch["prompt_lens"] = torch.tensor([p.shape[0] for p in prompts], dtype=torch.long)
        return batch


def batch_frames(batch: Dict[str, object]) -> int:
    """Real (unpadded) audio frames in a batch: the unit of the frames/s throughput."""
    return int(batch["audio_lens"].sum())
