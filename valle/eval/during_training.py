"""``valle.bin.train --eval-every N``: WER and speaker similarity of a few fixed dev sentences.

Every N-th validation, the first ``--eval-sentences`` dev cuts are synthesized the way the
TensorBoard validation audio is (``valle.train.valid_synthesis``: the cut's own first 225 frames as the
voice prompt, its whole text to say, so the prompt audio is kept in front of the continuation),
transcribed with pocketsphinx and embedded with resemblyzer (both
offline, loaded once), and ``eval/wer`` (summed edits) and ``eval/sim_reference`` go to
TensorBoard beside that audio.  Like the audio, a failure is reported once and training goes on.
"""
from __future__ import annotations

import logging
from itertools import islice
from typing import Optional

log = logging.getLogger("valle.eval")

_SCORER = {}


def _scorer():
    if "s" not in _SCORER:
        from valle.eval.asr import load_asr
        from valle.eval.speaker import load_speaker

        _SCORER["s"] = (load_asr("pocketsphinx"), load_speaker("resemblyzer"))
    return _SCORER["s"]


def evaluate_dev_sentences(model, text_symbols, valid_cuts, args, step: int, writer) -> Optional[dict]:
    """Scores of ``args.eval_sentences`` dev cuts, also written to ``writer`` at ``step``."""
    from valle.eval.speaker import cosine
    from valle.eval.wer import sum_errors, utterance_errors
    from valle.train.valid_synthesis import synthesize_valid_cut

    asr, speaker = _scorer()
    errors, sims = [], []
    for cut in islice(iter(valid_cuts), max(1, int(args.eval_sentences))):
        sup = cut.supervisions[0]
        # the prompt is the cut's own beginning and its text the whole cut's: score prompt + continuation
        wav, _, rate = synthesize_valid_cut(model, text_symbols, [cut], args, with_prompt=True)
        wav = wav.numpy()
        errors.append(utterance_errors(sup.text or "", asr.transcribe(wav, rate), sup.language or "en"))
        try:
            sims.append(cosine(speaker.embed(wav, rate), speaker.embed(cut.load_audio().mean(axis=0), cut.sampling_rate)))
        except Exception:  # silent output, reference audio missing or silent: no similarity, the WER still counts
            pass
    scores = {"wer": sum_errors(errors).rate}
    if sims:
        scores["sim_reference"] = sum(sims) / len(sims)
    if writer is not None:
        for key, value in scores.items():
            writer.add_scalar(f"eval/{key}", value, step)
    log.info("step %d: dev WER %.3f on %d sentences (pocketsphinx), similarity %s", step, scores["wer"],
             len(errors), f"{scores['sim_reference']:.3f}" if sims else "-")
    return scores
