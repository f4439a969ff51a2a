"""Streaming synthesis: audio chunks while the AR is still generating.

Why: a sentence of 10 s takes seconds to generate on a CPU; a listener (the web page, a program
reading the HTTP stream) should hear the start long before the end is generated.

How, for one sentence (``stream_sentence``):
  * the AR runs step by step (``decoding.ar_decode_steps``, the same sampling calls in the same
    order as the one-shot path, so codebook 0 is identical for the same seed);
  * after ``first_chunk_frames`` and then every ``chunk_frames`` new frames (growing by
    ``chunk_growth`` per chunk up to ``max_chunk_frames``: the first audio comes early, and later
    windows, each of which re-runs the NAR over all frames so far, are fewer), the NAR runs on the
    prompt plus all frames generated so far
    and the frames older than ``nar_lookahead`` are committed (the NAR attends in both directions,
    so a frame's codebooks 1-7 can still change when later frames arrive: the lookahead keeps the
    newest ones back, and at the end of the sentence the NAR runs once more on the whole sentence
    for the frames not yet committed);
  * the codec decodes the committed frames with ``codec_context`` frames of left context (0 = the
    whole sentence so far; default: the codec's ``stream_context_frames``, 50 for Encodec, 0 for
    codec2) and keeps ``codec_lookahead`` frames back (the 24 kHz Encodec decoder is causal but its
    transposed convolutions spread a frame over the next one), so a chunk's samples are those a
    one-shot decode of the same codes gives (measured on random Encodec weights, 300 frames in
    windows of 30: max |difference| 1e-7, float rounding, with 20 or more frames of context; codec2:
    equal, tests/infer/test_streaming.py).
So codebook 0 equals the one-shot result; codebooks 1-7 of frames committed before the end can
differ where the NAR changed its mind; ``compare_with_one_shot`` measures both (docs/serving.md
states the measured agreement). ``StreamOptions(nar_lookahead=-1)`` waits for the whole sentence
before the NAR (the stream then equals the one-shot audio exactly, sentence by sentence).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional

import torch

from valle.models.decoding import ar_decode_steps, frame_limits, nar_decode


@dataclass
class StreamOptions:
    first_chunk_frames: int = 0  # frames before the first audio (0 = chunk_frames / 2)
    chunk_frames: int = 0  # new AR frames between the first two NAR windows (0 = 1 s of frames)
    chunk_growth: float = 1.5  # each next chunk is this much longer ...
    max_chunk_frames: int = 0  # ... up to this many frames (0 = 3 s of frames)
    nar_lookahead: int = 10  # newest frames kept back from each NAR window; -1 = NAR once per sentence (exact)
    codec_context: Optional[int] = None  # left context frames of each codec decode (0 = the whole sentence so
    # far; None = the codec's stream_context_frames)
    codec_lookahead: int = 2  # newest committed frames not yet decoded

    def resolved(self, codec) -> "StreamOptions":
        """These options with every default made concrete for ``codec`` (its frame rate, its window context)."""
        frame_rate = codec.frame_rate
        context = codec.stream_context_frames if self.codec_context is None else self.codec_context
        chunk = self.chunk_frames or max(1, int(round(frame_rate)))
        first = self.first_chunk_frames or max(1, chunk // 2)
        most = max(chunk, self.max_chunk_frames or int(round(3 * frame_rate)))
        if min(chunk, first) < 1 or context < 0 or self.codec_lookahead < 0 or self.nar_lookahead < -1 \
                or self.chunk_growth < 1:
            raise ValueError(f"bad stream options {self}: chunk sizes must be >= 1, context and lookahead >= 0 "
                             "(nar_lookahead -1 = exact), chunk_growth >= 1")
        return StreamOptions(first, chunk, self.chunk_growth, most, self.nar_lookahead, context, self.codec_lookahead)


@dataclass
class StreamedPiece:
    """Audio of one sentence, in order; ``final`` marks the sentence's last piece."""

    wav: torch.Tensor  # float32 [samples] at the codec's rate
    frames: int  # frames whose audio this piece completes
    final: bool
    codes: Optional[torch.Tensor] = None  # on the final piece: the sentence's one-shot codes [T, Q]
    streamed_codes: Optional[torch.Tensor] = None  # on the final piece: the codes the stream decoded
    guard_hit: bool = False


class WindowedDecoder:
    """Decode frames as they are committed, ``context`` frames of left context, ``lookahead`` held back."""

    def __init__(self, synth, context: int, lookahead: int):
        self.synth = synth
        self.context = context
        self.lookahead = lookahead
        self.spf = int(round(synth.codec.sample_rate / synth.codec.frame_rate))
        self.codes: Optional[torch.Tensor] = None
        self.done = 0  # frames whose audio has been handed out

    def push(self, new_codes: torch.Tensor, final: bool) -> torch.Tensor:
        self.codes = new_codes if self.codes is None else torch.cat([self.codes, new_codes], dim=0)
        n = self.codes.shape[0]
        end = n if final else n - self.lookahead
        if end <= self.done:
            return torch.zeros(0)
        start = 0 if self.context == 0 else max(0, self.done - self.context)
        wav = self.synth.decode(self.codes[start:n])
        out = wav[(self.done - start) * self.spf:(end - start) * self.spf]
        self.done = end
        return out


def _commit(model, inputs, q0: torch.Tensor, upto: int, have: int) -> torch.Tensor:
    """NAR on the prompt + ``q0`` (all frames so far); codes of frames ``have .. upto``."""
    codes, _ = nar_decode(model, inputs.text_tokens, inputs.text_lens, inputs.text_langs, inputs.prompts,
                          inputs.prompt_lens, [q0])
    return codes[0][have:upto].long()


def stream_sentence(synth, inputs, options, generator: Optional[torch.Generator],
                    stream: StreamOptions, check: Optional[Callable[[], None]] = None,
                    text: str = "") -> Iterator[StreamedPiece]:
    """Yield the audio of one sentence (``synth.model_inputs(...)``) while the AR generates it.

    ``check`` is called after every AR step (a server's deadline: it raises to stop the work)."""
    if options.best_of != 1:
        raise ValueError(f"streaming cannot use --best-of {options.best_of}: best-of keeps the best of whole "
                         "candidates; use best_of 1 or the one-shot /synthesize")
    model = synth.model
    stream = stream.resolved(synth.codec)
    max_frames, min_frames = frame_limits(inputs.text_lens, inputs.prompt_text_lens, options.max_len_ratio,
                                          options.max_frames, options.min_len_ratio)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            model.check_text(inputs.text_tokens, inputs.text_lens, inputs.text_langs)
            steps = ar_decode_steps(model, inputs.text_tokens, inputs.text_lens, inputs.text_langs,
                                    inputs.prompts[..., 0], inputs.prompt_lens, max_frames, options.top_k,
                                    options.top_p, options.temperature, options.use_kv_cache, generator,
                                    min_frames=min_frames)
        decoder = WindowedDecoder(synth, stream.codec_context, stream.codec_lookahead)
        pieces: List[torch.Tensor] = []
        committed = 0
        next_at = stream.first_chunk_frames
        chunk = float(stream.chunk_frames)
        while True:
            with torch.inference_mode():
                try:
                    with synth.autocast("ar"):  # the generator's step runs in the caller's context
                        generated = next(steps)[0]
                except StopIteration as done:
                    q0 = done.value.codes[0]
                    break
                if check is not None:
                    check()
                n = len(generated)
                if stream.nar_lookahead < 0 or n < next_at + stream.nar_lookahead:
                    continue
                with synth.autocast("nar"):
                    new = _commit(model, inputs, torch.tensor(generated, dtype=torch.long),
                                  n - stream.nar_lookahead, committed)
                wav = decoder.push(new, final=False)
            pieces.append(new)
            committed += new.shape[0]
            next_at = committed + int(chunk)
            chunk = min(chunk * stream.chunk_growth, float(stream.max_chunk_frames))
            if wav.numel():
                yield StreamedPiece(wav=wav, frames=int(new.shape[0]), final=False)
        with torch.inference_mode(), synth.autocast("nar"):
            full, _ = nar_decode(model, inputs.text_tokens, inputs.text_lens, inputs.text_langs, inputs.prompts,
                                 inputs.prompt_lens, [q0])
            full = full[0].long()
            rest = full[committed:]
            wav = decoder.push(rest, final=True)
        streamed = torch.cat(pieces + [rest], dim=0)
        hit = synth.guard_hit(int(full.shape[0]), inputs.num_ids, options, text)
        yield StreamedPiece(wav=wav, frames=int(rest.shape[0]), final=True, codes=full, streamed_codes=streamed,
                            guard_hit=hit)
    finally:
        model.train(was_training)


def code_agreement(a: torch.Tensor, b: torch.Tensor) -> dict:
    """How far the streamed codes ``a`` are from the one-shot codes ``b`` (same shape)."""
    if a.shape != b.shape:
        return {"same_shape": False, "shape_a": list(a.shape), "shape_b": list(b.shape)}
    eq = (a == b)
    return {"same_shape": True, "codebook0_equal": bool(eq[:, 0].all()) if a.numel() else True,
            "fraction_equal": round(float(eq.float().mean()), 4) if a.numel() else 1.0}


def audio_agreement(streamed: torch.Tensor, one_shot: torch.Tensor) -> dict:
    """Sample-level comparison: equal length, max |difference|, SNR of one-shot over the difference."""
    out = {"samples_streamed": int(streamed.numel()), "samples_one_shot": int(one_shot.numel())}
    if streamed.numel() != one_shot.numel():
        return out
    diff = (streamed - one_shot).double()
    noise = float(diff.pow(2).sum())
    signal = float(one_shot.double().pow(2).sum())
    out["max_abs_diff"] = float(diff.abs().max()) if diff.numel() else 0.0
    out["snr_db"] = float("inf") if noise == 0 else round(10 * torch.log10(torch.tensor(signal / noise)).item(), 2)
    return out
