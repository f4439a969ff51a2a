"""HuBERT-Large fine-tuned with CTC on LibriSpeech 960 h: the ASR of the VALL-E paper's WER.

torchaudio's ``HUBERT_ASR_LARGE`` bundle supplies the architecture and the 29 character labels; the
weights (``hubert_fairseq_large_ll60k_asr_ls960.pth``, 1.2 GB) are read from ``path`` or from the
torch hub cache where ``bundle.get_model()`` would have put them, never downloaded.  Decoding is
greedy CTC, as in the paper's evaluation scripts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from valle.eval.audio import resample, to_mono
from valle.eval.backend_errors import BackendUnavailable

BUNDLE = "HUBERT_ASR_LARGE"
WEIGHTS_FILE = "hubert_fairseq_large_ll60k_asr_ls960.pth"
AUX_ROWS_TO_DROP = (1, 2, 3)  # fairseq dictionary rows torchaudio removes from the CTC head


def _drop_aux_rows(state_dict: dict) -> dict:
    import torch

    for key in ("aux.weight", "aux.bias"):
        mat = state_dict.get(key)
        if mat is not None and mat.shape[0] == 32:  # the raw fairseq export; torchaudio's has 29
            keep = [i for i in range(mat.shape[0]) if i not in AUX_ROWS_TO_DROP]
            state_dict[key] = mat[torch.tensor(keep)]
    return state_dict


class HubertASR:
    languages = {"en"}

    def __init__(self, path: Optional[str] = None, device: str = "cpu", params: Optional[dict] = None):
        """``params`` overrides the bundle's architecture (tests build a tiny one)."""
        import torch
        import torchaudio
        from torchaudio.models import wav2vec2_model

        bundle = getattr(torchaudio.pipelines, BUNDLE)
        weights = Path(path) if path else None
        if weights is not None and weights.is_dir():
            weights = weights / WEIGHTS_FILE
        if weights is None:
            from valle.eval.weights import torch_hub_checkpoint

            weights = torch_hub_checkpoint(WEIGHTS_FILE)
        if not weights.is_file():
            raise BackendUnavailable(
                "--asr hubert-large", f"no weights at {weights}",
                "--asr pocketsphinx", f"copy {WEIGHTS_FILE} there or pass its path",
            )
        self.sample_rate = int(bundle.sample_rate)
        self.labels = bundle.get_labels()
        arch = dict(bundle._params if params is None else params)
        self.model = wav2vec2_model(**arch)
        state = torch.load(weights, map_location="cpu", weights_only=True)
        self.model.load_state_dict(_drop_aux_rows(state))
        self.model.eval().to(device)
        self.device = device
        self.name = f"hubert-large-ctc ({weights.name})"

    def transcribe(self, wav, sample_rate: int) -> str:
        import torch

        audio = resample(to_mono(wav), sample_rate, self.sample_rate)
        x = torch.from_numpy(audio)[None].to(self.device)
        x = torch.nn.functional.layer_norm(x, x.shape[-1:])  # the bundle's waveform normalisation
        with torch.inference_mode():
            emissions, _ = self.model(x)
        return ctc_greedy(emissions[0].argmax(-1).cpu().numpy(), self.labels)


def ctc_greedy(ids: np.ndarray, labels, blank: int = 0, word_sep: str = "|") -> str:
    """Collapse repeats, drop blanks, ``|`` -> space."""
    out, prev = [], None
    for i in ids.tolist():
        if i != prev and i != blank:
            out.append(labels[i])
        prev = i
    return " ".join("".join(out).replace(word_sep, " ").split()).lower()
