"""Many texts synthesized in batches of sentences (``valle.bin.infer --tsv ... --batch-size N``).

Every row's text is split into sentence chunks as ``Synthesizer.synthesize`` splits it; the chunks of
all rows, ordered by length (prompt frames + text ids, so that batch-mates need little padding), are
decoded ``batch_size`` at a time: one AR pass over the batch (each item stops at its own end of speech,
``decoding.ar_decode``), the NAR (``decoding.nar_codes``), then each row's codes are decoded by the
codec on their own as soon as its last chunk is done (rows may finish out of file order). One weight
read per AR step then serves up to ``batch_size`` sentences, which is what makes the batch faster
than row by row (docs/benchmarks.md).

Greedy decoding (``top_k`` 1) gives every sentence the codes it gets alone (tests/infer/
test_batch_synthesis.py); sampled codes depend on the batch's composition (one random stream per
batch, seeded with ``seed``), and int8 weights quantize activations per batch, so their codes move a
little with the batch-mates too.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterator, List, Sequence

import torch

from valle.infer.audio_prompt import PromptAudio
from valle.infer.synthesizer import ModelInputs, SamplingOptions, SynthesisJob, SynthesisResult, Synthesizer

log = logging.getLogger(__name__)


class BatchRowError(ValueError):
    """A problem with one request of a batch run; ``index`` says which (0-based)."""

    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index


def stack_inputs(items: Sequence[ModelInputs]) -> ModelInputs:
    """Batches of one stacked into one batch: text ids and languages right-padded with 0, prompt codes
    right-padded with 0 (the lengths say what is real; the model masks the rest)."""
    B = len(items)
    S = max(int(it.text_lens[0]) for it in items)
    T = max(int(it.prompts.shape[1]) for it in items)
    Q = min(int(it.prompts.shape[2]) for it in items)
    ref = items[0].text_tokens
    text = ref.new_zeros(B, S)
    langs = ref.new_zeros(B, S)
    prompts = ref.new_zeros(B, T, Q)
    for i, it in enumerate(items):
        n, t = int(it.text_lens[0]), int(it.prompts.shape[1])
        text[i, :n] = it.text_tokens[0, :n]
        langs[i, :n] = it.text_langs[0, :n]
        prompts[i, :t] = it.prompts[0, :, :Q]
    cat = lambda name: torch.cat([getattr(it, name) for it in items])  # noqa: E731
    return ModelInputs(text_tokens=text, text_lens=cat("text_lens"), prompt_text_lens=cat("prompt_text_lens"),
                       prompts=prompts, prompt_lens=cat("prompt_lens"), text_langs=langs)


@dataclass
class _Chunk:
    row: int  # index of the request
    index: int  # index of the chunk in its request
    inputs: ModelInputs


def _batches(chunks: List[_Chunk], batch_size: int) -> Iterator[List[_Chunk]]:
    for i in range(0, len(chunks), batch_size):
        yield chunks[i: i + batch_size]


def synthesize_batched(synth: Synthesizer, requests: Sequence[dict], options: SamplingOptions, batch_size: int,
                       on_result: Callable[[int, SynthesisResult], None]) -> None:
    """Synthesize every request (the keyword arguments of ``Synthesizer.synthesize``: text, prompt_text,
    prompt_audio, language, prompt_language, continual, max_sentence_chars, prompt_seconds, voice) with
    ``batch_size`` sentence chunks per model call; ``on_result(i, result)`` gets each request's result
    as soon as its last chunk is decoded. A result's ``compute_seconds`` is its own preparation
    and codec decoding plus its frames' share of the model time of the batches it was in.
    Bad input raises ``BatchRowError`` naming the request, before any model work."""
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    options.validate()
    jobs: List[SynthesisJob] = []
    spent: List[float] = []  # compute seconds per request so far
    chunks: List[_Chunk] = []
    encoded: dict = {}  # prompt codes by file: rows that share a prompt recording encode it once
    for r, req in enumerate(requests):
        t0 = time.perf_counter()
        try:
            prompt = req.get("prompt_audio")
            if isinstance(prompt, PromptAudio):
                key = (prompt.path, prompt.sampling_rate, tuple(prompt.wav.shape))
                if key not in encoded:
                    encoded[key] = synth.prompt_codes(prompt)
                prompt = encoded[key]
            job = synth.prepare(req["text"], req.get("prompt_text", ""), prompt,
                                req.get("language", "en-us"), req.get("prompt_language"),
                                req.get("max_sentence_chars", 200), req.get("prompt_seconds", 0.0), req.get("voice"))
            for c, text in enumerate(job.chunks):
                inputs = synth.model_inputs(text, job.prompt_text, job.prompt, job.language, job.prompt_language,
                                            job.prompt_ids)
                chunks.append(_Chunk(r, c, inputs))
        except (ValueError, KeyError) as e:
            raise BatchRowError(r, str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)) from e
        jobs.append(job)
        spent.append(time.perf_counter() - t0)
    pieces: List[List[torch.Tensor]] = [[None] * len(job.chunks) for job in jobs]  # type: ignore[list-item]
    hits: List[List[int]] = [[] for _ in jobs]
    remaining = [len(job.chunks) for job in jobs]
    # longest first, so batch-mates are of similar length (a stable sort: equal lengths keep file order)
    chunks.sort(key=lambda c: -(int(c.inputs.text_lens[0]) + int(c.inputs.prompt_lens[0])))
    num_batches = -(-len(chunks) // batch_size)
    for b, batch in enumerate(_batches(chunks, batch_size), 1):
        t0 = time.perf_counter()
        generator = None
        if options.seed is not None:
            generator = torch.Generator(device=synth.device).manual_seed(int(options.seed))
        codes = synth.run_model(stack_inputs([c.inputs for c in batch]), options, generator)
        seconds = time.perf_counter() - t0
        frames = [int(x.shape[0]) for x in codes]
        log.info("batch %d/%d: %d sentences, %d frames in %.2f s (%.1f frames/s)", b, num_batches, len(batch),
                 sum(frames), seconds, sum(frames) / max(seconds, 1e-9))
        for c, x, share in zip(batch, codes, _shares(frames, seconds)):
            pieces[c.row][c.index] = x
            spent[c.row] += share
            text = jobs[c.row].chunks[c.index]
            if synth.guard_hit(x.shape[0], c.inputs.num_ids, options, text):
                hits[c.row].append(c.index)
            remaining[c.row] -= 1
        for r in sorted({c.row for c in batch if remaining[c.row] == 0}):
            start = time.perf_counter() - spent[r]
            result = synth.finish(jobs[r], pieces[r], sorted(hits[r]), requests[r].get("continual", False), start)
            pieces[r] = []  # the codes live on in the result only
            on_result(r, result)


def _shares(frames: List[int], seconds: float) -> List[float]:
    """``seconds`` split over the items in proportion to their frames (equally when none has any)."""
    total = sum(frames)
    if total == 0:
        return [seconds / len(frames)] * len(frames)
    return [seconds * f / total for f in frames]

