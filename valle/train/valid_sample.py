"""A synthesized validation sample for TensorBoard: hear and see what the model makes of a dev cut.

Uses the inference engineer's pieces (``VALLE.inference`` and ``valle.codec.encodec_model``): the first
dev cut's text is generated with its own first 3 s as the acoustic prompt. The codec comes from
``--valid-codec-weights`` (default: the published Encodec weights, which fail fast offline; the
caller then disables the sample and keeps training). Runs inside a forked RNG so sampling never
changes the training draws.
"""
from __future__ import annotations

import torch

from valle.text.languages import language_id

_CODEC = {}


def _codec(weights):
    from valle.codec.encodec_model import load_encodec_model

    key = str(weights)
    if key not in _CODEC:
        _CODEC[key] = load_encodec_model(None if weights in (None, "pretrained") else weights)
    return _CODEC[key]


def synthesize_valid_sample(model, text_symbols, valid_cuts, args, max_frames: int = 300):
    """(waveform [samples] at 24 kHz, log-magnitude spectrogram [freq, time] scaled to 0..1)."""
    from valle.codec.encodec_model import decode_codes
    from valle.train.trainer import forked_rng

    if getattr(args, "valid_codec_weights", None) == "none":
        raise RuntimeError("--valid-codec-weights none")
    codec = _codec(getattr(args, "valid_codec_weights", None))
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
    if gen.shape[1] < 8:  # fewer quantizers than the codec: pad the missing codebooks with 0
        gen = torch.cat([gen, gen.new_zeros(gen.shape[0], 8 - gen.shape[1])], dim=1)
    wav = decode_codes(codec, gen).float().clamp(-1, 1)
    spec = torch.stft(wav, n_fft=1024, hop_length=256, window=torch.hann_window(1024), return_complex=True)
    img = (spec.abs() + 1e-5).log().flip(0)
    img = (img - img.min()) / (img.max() - img.min() + 1e-9)
    return wav, img
