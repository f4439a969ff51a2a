"""Validation audio for TensorBoard: hear and see what the model makes of a dev cut.

Uses ``VALLE.inference`` and ``valle.codec``: the first dev cut's text is generated with its own
first 225 frames as the acoustic prompt and decoded with the codec the data were prepared with
(``args.codec``, set by the trainer from ``codec.json``; the published Encodec weights fail fast
offline and the caller then disables the audio and keeps training). Runs inside a forked RNG so
sampling never changes the training draws.
"""
from __future__ import annotations

import torch

from valle.text.languages import language_id

_CODEC = {}


def _codec(spec):
    from valle.codec import load_codec

    key = str(spec)
    if key not in _CODEC:
        _CODEC[key] = load_codec(spec)
    return _CODEC[key]


def synthesize_valid_cut(model, text_symbols, valid_cuts, args, max_frames: int = 300,
                            with_prompt: bool = False):
    """(waveform [samples] at the codec's rate, log-magnitude spectrogram [freq, time] scaled to 0..1,
    the codec's sample rate). ``with_prompt``: the waveform starts with the prompt frames, so it says
    the cut's whole text (what ``--eval-every`` transcribes)."""
    from valle.train.checkpoint import forked_rng

    codec = _codec(getattr(args, "codec", None))
    cut = next(iter(valid_cuts))
    sup = cut.supervisions[0]
    table = {s: i for i, s in enumerate(text_symbols)}
    ids = [table[t] for t in sup.custom["text_tokens"]]
    codes = torch.as_tensor(cut.load_features()).long()[:, : model.config.num_quantizers]
    prompt = codes[:225]
    lang = language_id(sup.language or "en")
    lang = lang if lang < max(model.config.num_languages, 1) else 0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), forked_rng(args.seed):
            out = model.inference(
                torch.tensor([ids]), torch.tensor([len(ids)]), torch.tensor([0]), prompt[None],
                torch.tensor([prompt.shape[0]]), torch.full((1, len(ids)), lang, dtype=torch.long),
                top_k=10, top_p=1.0, temperature=1.0, use_kv_cache=True,
                max_len_ratio=max_frames / max(len(ids), 1),
            )
    finally:
        model.train(was_training)
    gen = out[0][:max_frames].cpu()
    if with_prompt:
        gen = torch.cat([prompt.to(gen.dtype), gen])
    missing = codec.num_quantizers - gen.shape[1]
    if missing > 0:  # fewer quantizers than the codec: pad the missing codebooks with 0
        gen = torch.cat([gen, gen.new_zeros(gen.shape[0], missing)], dim=1)
    wav = codec.decode(gen).float().clamp(-1, 1)
    spec = torch.stft(wav, n_fft=1024, hop_length=256, window=torch.hann_window(1024), return_complex=True)
    img = (spec.abs() + 1e-5).log().flip(0)
    img = (img - img.min()) / (img.max() - img.min() + 1e-9)
    return wav, img, codec.sample_rate
