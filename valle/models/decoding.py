"""Batched VALL-E decoding: AR codebook 0 with a KV cache and per-item stopping, then the NAR.

Batch layout for the AR: text right-padded to S, then the audio block ([BOS] + prompt
codebook 0) *left*-padded to a common length A, so every item's next token lands in the same
column and one KV-cache column is written per step. Each item keeps its own positions
(audio positions restart at 0 after its own padding). Finished items are dropped from the
batch (and the cache), so a long item does not make the others pay.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import List, Optional

import torch
from torch import Tensor

from .masks import ar_mask, lengths_to_valid, padding_mask
from .fused_step import CUDAGraphStep, FusedARStep, StaticStep, fused_step_supported, preallocated_cache
from .kernel_step import KernelARStep, greedy_choice, kernel_step_supported
from .modules import KVCache
from .sampling import sample_next

STEP_MODES = ("auto", "kernel", "fused", "modules", "static", "cuda_graph")


@dataclass
class ARResult:
    codes: List[Tensor]  # per item: generated codebook-0 ids (EOS excluded)
    logprob: Tensor  # [B] sum of log p(token) over the scored steps (EOS included when emitted)
    num_scored: Tensor  # [B] number of scored steps
    step_logits: Optional[List[Tensor]] = field(default=None)  # per item [steps, 1025] when requested


def _check_inputs(model, text_tokens, text_lens, prompt_text_lens, audio_prompts, prompt_lens):
    B = text_tokens.shape[0]
    for name, t in (("text_lens", text_lens), ("prompt_text_lens", prompt_text_lens), ("prompt_lens", prompt_lens)):
        if t.shape != (B,):
            raise ValueError(f"{name} must have shape [{B}], got {list(t.shape)}")
    if audio_prompts.dim() != 3 or audio_prompts.shape[0] != B or audio_prompts.shape[2] < model.config.num_quantizers:
        raise ValueError(f"audio_prompts must be [B, Tp, {model.config.num_quantizers}], got {list(audio_prompts.shape)}")
    if bool((prompt_text_lens > text_lens).any()):
        raise ValueError("prompt_text_lens must not exceed text_lens (text_tokens = prompt text then target text)")
    if not model.config.prepend_bos and int(prompt_lens.min()) < 1:
        raise ValueError("a model without prepend_bos needs an acoustic prompt of at least one frame per item")


def ar_decode(model, text_tokens: Tensor, text_lens: Tensor, text_langs: Optional[Tensor], prompt_q0: Tensor,
              prompt_lens: Tensor, max_frames: Tensor, top_k: int = -100, top_p: float = 1.0,
              temperature: float = 1.0, use_kv_cache: bool = True, generator: Optional[torch.Generator] = None,
              keep_logits: bool = False, min_frames: Optional[Tensor] = None, step_mode: str = "auto") -> ARResult:
    """Generate codebook 0 for every item until it samples EOS or reaches ``max_frames[i]`` frames.

    With the KV cache, ``step_mode`` "kernel" runs each new frame as one compiled CPU kernel
    (kernel_step.py), "fused" through ``FusedARStep`` (fused_step.py); "auto" (the default) picks
    "kernel" where it applies (fp32 on the CPU, ``kernel_step_supported``), else "fused";
    "modules" through the decoder modules (same codes, slower);
    "static" through its fixed-shape step and "cuda_graph" through that step captured as a CUDA graph.

    ``min_frames[i]`` (optional) forbids EOS before item i has that many frames: an under-trained
    model that would stop at once still says the whole sentence.
    """
    steps = ar_decode_steps(model, text_tokens, text_lens, text_langs, prompt_q0, prompt_lens, max_frames,
                            top_k, top_p, temperature, use_kv_cache, generator, keep_logits, min_frames, step_mode)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def ar_decode_steps(model, text_tokens: Tensor, text_lens: Tensor, text_langs: Optional[Tensor], prompt_q0: Tensor,
                    prompt_lens: Tensor, max_frames: Tensor, top_k: int = -100, top_p: float = 1.0,
                    temperature: float = 1.0, use_kv_cache: bool = True, generator: Optional[torch.Generator] = None,
                    keep_logits: bool = False, min_frames: Optional[Tensor] = None, step_mode: str = "auto"):
    """``ar_decode`` one step at a time: a generator that yields the per-item lists of codebook-0
    ids generated so far after every step (streaming synthesis reads them while the AR runs) and
    returns the ``ARResult``. The lists grow in place; callers must not change them.
    """
    c = model.config
    device = text_tokens.device
    B, S = text_tokens.shape
    nb = 1 if c.prepend_bos else 0
    a_lens = prompt_lens.to(device) + nb
    A = int(a_lens.max())
    col = torch.arange(A, device=device)[None]
    pad = A - a_lens[:, None]
    audio_valid = col >= pad
    src = (col - pad).clamp(min=0)
    seq = torch.full((B, A), c.eos_id, dtype=torch.long, device=device)
    prompt_part = prompt_q0[:, : max(A - nb, 0)].to(device)
    if nb:
        body = torch.cat([prompt_part.new_full((B, 1), c.bos_id), prompt_part], dim=1)
    else:
        body = prompt_part
    if body.shape[1] < A:
        body = torch.cat([body, body.new_full((B, A - body.shape[1]), c.eos_id)], dim=1)
    seq = torch.where(audio_valid, torch.gather(body, 1, src), seq)
    positions = src
    key_valid = torch.cat([lengths_to_valid(text_lens.to(device), S), audio_valid], dim=1)

    x_text = model.embed_text(text_tokens, text_langs, nar=False)
    generated: List[List[int]] = [[] for _ in range(B)]
    logprob = [0.0] * B  # Python numbers: per-item tensor updates cost several ops per item per step
    scored = [0] * B
    step_logits: List[List[Tensor]] = [[] for _ in range(B)]
    cache = KVCache(len(model.ar_decoder.layers)) if use_kv_cache else None

    def full_logits():
        y = model.ar_audio_position(model.ar_audio_embedding(seq), positions=positions)
        mask = ar_mask(S, seq.shape[1], key_valid, device=device)
        h = model.ar_decoder(torch.cat([x_text, y], dim=1), mask, cache=cache, tail=1)
        return model.ar_predict_layer(h[:, -1])

    if step_mode not in STEP_MODES:
        raise ValueError(f"step_mode must be one of {', '.join(STEP_MODES)}, got {step_mode!r}")
    if step_mode == "auto":
        step_mode = "kernel" if kernel_step_supported(model, device) else "fused"
    elif step_mode == "kernel" and not kernel_step_supported(model, device):
        raise ValueError("step_mode 'kernel' needs numba and an fp32 pre-norm model with plain or --quantize int8 "
                         "linear layers on the CPU; use step_mode 'auto' or 'fused'")
    fused = cache is not None and step_mode != "modules" and fused_step_supported(model)
    if fused:
        capacity = -(-(S + A + int(max_frames.max()) + 1) // 16) * 16  # a multiple of 16: aligned GPU attention masks
        if not torch.is_autocast_enabled(device.type):  # under autocast the keys' dtype is not the weights'
            cache = preallocated_cache(model, B, capacity, device)
    if fused and B > 1 and device.type == "cpu":
        logits = prefill_by_item(model, text_tokens, text_lens, text_langs, seq, positions, a_lens, cache)
    else:
        logits = full_logits()
    stepper = None
    if fused:
        stepper = (KernelARStep if step_mode == "kernel" else FusedARStep)(model, cache, key_valid, capacity)
        if step_mode == "static":
            stepper = StaticStep(stepper)
        elif step_mode == "cuda_graph":
            stepper = CUDAGraphStep(stepper)
        cache = None  # the stepper holds the keys and values from here on
    fast_greedy = top_k == 1 and isinstance(stepper, KernelARStep)
    step = 0
    alive_l = list(range(B))  # the items still decoding, in batch-row order
    max_l = [int(m) for m in max_frames.tolist()]
    while True:
        if min_frames is not None:
            early = torch.tensor([len(generated[i]) < int(min_frames[i]) for i in alive_l], device=device)
            if bool(early.any()):
                logits = logits.clone()
                logits[early, c.eos_id] = float("-inf")
        if fast_greedy:  # argmax and its log-probability in one compiled pass
            tok, lp = greedy_choice(logits)
        else:
            tok = sample_next(logits, top_k, top_p, temperature, generator)
            lp = torch.log_softmax(logits.float(), dim=-1).gather(1, tok[:, None]).view(-1).tolist()
        tok_l = tok.tolist()
        keep = []
        for r, item in enumerate(alive_l):
            logprob[item] += lp[r]
            scored[item] += 1
            if keep_logits:
                step_logits[item].append(logits[r].float().cpu())
            if tok_l[r] == c.eos_id:
                continue
            generated[item].append(tok_l[r])
            if len(generated[item]) < max_l[item]:
                keep.append(r)
        if not keep:
            break
        yield generated
        step += 1
        if len(keep) < len(alive_l):
            idx = torch.tensor(keep, device=device)
            alive_l = [alive_l[r] for r in keep]
            tok = tok[idx]
            a_lens = a_lens[idx]
            if stepper is not None:  # the stepper holds everything the next step reads
                stepper.select(idx)
            else:
                seq, positions, key_valid, x_text = seq[idx], positions[idx], key_valid[idx], x_text[idx]
                if cache is not None:
                    cache.select(idx)
        if stepper is not None:
            logits = stepper.step(tok, a_lens + (step - 1))
            continue
        new_pos = (a_lens + step - 1)[:, None]
        seq = torch.cat([seq, tok[:, None]], dim=1)
        positions = torch.cat([positions, new_pos], dim=1)
        key_valid = torch.cat([key_valid, key_valid.new_ones(key_valid.shape[0], 1)], dim=1)
        if cache is None:
            logits = full_logits()
        else:
            y = model.ar_audio_position(model.ar_audio_embedding(tok[:, None]), positions=new_pos)
            h = model.ar_decoder(y, padding_mask(key_valid), cache=cache)
            logits = model.ar_predict_layer(h[:, -1])

    codes = [torch.tensor(g, dtype=torch.long) for g in generated]
    logits_out = [torch.stack(s) for s in step_logits] if keep_logits else None
    return ARResult(codes, torch.tensor(logprob), torch.tensor(scored), logits_out)


def prefill_by_item(model, text_tokens: Tensor, text_lens: Tensor, text_langs: Optional[Tensor], seq: Tensor,
                    positions: Tensor, a_lens: Tensor, cache: KVCache) -> Tensor:
    """The AR's prompt pass one item at a time at its own length, its keys and values written into
    ``cache`` in the batch layout (text right-padded to S, audio left-padded to A; padding left zero and
    masked by the stepper); returns the last position's logits [B, V]. On the CPU the prompt pass is
    compute-bound, so padding the batch only adds work (8 paper-size prompts of 95..316 positions: 2,528
    padded against 1,545 real), and each item's keys, values and logits are exactly its own alone."""
    B, S = text_tokens.shape
    A = seq.shape[1]
    layers = len(model.ar_decoder.layers)
    logits = []
    for i in range(B):
        s, a = int(text_lens[i]), int(a_lens[i])
        one = slice(i, i + 1)
        x = model.embed_text(text_tokens[one, :s], None if text_langs is None else text_langs[one, :s], nar=False)
        y = model.ar_audio_position(model.ar_audio_embedding(seq[one, A - a:]), positions=positions[one, A - a:])
        alone = KVCache(layers)
        h = model.ar_decoder(torch.cat([x, y], dim=1), ar_mask(s, a, None, device=seq.device), cache=alone, tail=1)
        logits.append(model.ar_predict_layer(h[:, -1]))
        for j in range(layers):
            for dst, src in ((cache.k, alone.k[j]), (cache.v, alone.v[j])):
                if dst[j] is None:
                    dst[j] = src.new_zeros(B, src.shape[1], S + A, src.shape[3])
                dst[j][i, :, :s] = src[0, :, :s]
                dst[j][i, :, S + A - a: S + A] = src[0, :, s: s + a]
    cache.length = S + A
    return torch.cat(logits)


def nar_decode(model, text_tokens: Tensor, text_lens: Tensor, text_langs: Optional[Tensor], audio_prompts: Tensor,
               prompt_lens: Tensor, q0: List[Tensor], keep_logits: bool = False):
    """Predict codebooks 1..Q-1 greedily for the generated frames ``q0[i]`` of each item.

    Layout: text right-padded, then per item [prompt frames ; generated frames] right-padded.
    Returns (list of LongTensor [T_i, Q], per-stage logits [B, La, 1024] if ``keep_logits``).
    """
    c = model.config
    Q = c.num_quantizers
    device = text_tokens.device
    B, S = text_tokens.shape
    g_lens = torch.tensor([len(g) for g in q0], dtype=torch.long, device=device)
    p_lens = prompt_lens.to(device)
    La = max(int((p_lens + g_lens).max()), 1)
    col = torch.arange(La, device=device)[None]
    is_prompt = col < p_lens[:, None]
    is_gen = (col >= p_lens[:, None]) & (col < (p_lens + g_lens)[:, None])
    codes = torch.zeros(B, La, Q, dtype=torch.long, device=device)
    Tp = audio_prompts.shape[1]
    prompt_pad = torch.zeros(B, La, Q, dtype=torch.long, device=device)
    prompt_pad[:, : min(Tp, La)] = audio_prompts[:, :La, :Q].to(device)
    codes = torch.where(is_prompt[..., None], prompt_pad, codes)
    for i, g in enumerate(q0):
        p = int(p_lens[i])
        codes[i, p: p + len(g), 0] = g.to(device)
    q0_in = codes[..., 0].masked_fill(~(is_prompt | is_gen), c.eos_id)
    embs = model.nar_audio_embeddings
    y = embs[0](q0_in)
    pmask = is_prompt[..., None].to(y.dtype)
    gmask = is_gen[..., None].to(y.dtype)
    if c.prefix_mode != 0:
        for j in range(1, Q):
            y = y + embs[j](codes[..., j]) * pmask
    x = model.embed_text(text_tokens, text_langs, nar=True)
    key_valid = torch.cat([lengths_to_valid(text_lens.to(device), S), is_prompt | is_gen], dim=1)
    mask = padding_mask(key_valid)
    all_logits = []
    h = None
    for i in range(Q - 1):
        if h is None or not c.nar_parallel:  # a one-pass NAR runs its decoder once for every codebook
            y_pos = model.nar_audio_position(y)
            h = model.nar_decoder(torch.cat([x, y_pos], dim=1), mask, model.nar_stage_embeddings[i].weight)
        logits = model.nar_predict_layers[i](h[:, S:])
        if keep_logits:
            all_logits.append(logits.float())
        greedy = logits.argmax(dim=-1)
        codes[..., i + 1] = torch.where(is_gen, greedy, codes[..., i + 1])
        if i < Q - 2 and not c.nar_parallel:
            if c.prefix_mode == 0:  # the prompt gains one codebook per stage, like the targets
                y = y + embs[i + 1](codes[..., i + 1]) * pmask
            y = y + embs[i + 1](greedy) * gmask
    out = [codes[i, int(p_lens[i]): int(p_lens[i] + g_lens[i])].cpu() for i in range(B)]
    return out, (all_logits if keep_logits else None)


def nar_codes(model, text_tokens: Tensor, text_lens: Tensor, text_langs: Optional[Tensor], audio_prompts: Tensor,
              prompt_lens: Tensor, q0: List[Tensor]) -> List[Tensor]:
    """``nar_decode``'s codes for a batch: one padded pass on a GPU; on the CPU, where the NAR is compute-bound
    and padding only adds work (8 sentences of mixed lengths: 4.72 CPU-s in one pass, 3.79 one by one;
    docs/benchmarks.md), one pass per item at its own length, which is also exactly its codes alone."""
    if len(q0) == 1 or text_tokens.device.type != "cpu":
        return nar_decode(model, text_tokens, text_lens, text_langs, audio_prompts, prompt_lens, q0)[0]
    out: List[Tensor] = []
    for i in range(len(q0)):
        S, P, one = int(text_lens[i]), int(prompt_lens[i]), slice(i, i + 1)
        langs = None if text_langs is None else text_langs[one, :S]
        out += nar_decode(model, text_tokens[one, :S], text_lens[one], langs, audio_prompts[one, :P], prompt_lens[one],
                          q0[one])[0]
    return out


def frame_limits(text_lens: Tensor, prompt_text_lens: Tensor, max_len_ratio: float,
                 max_new_frames: Optional[int], min_len_ratio: float):
    """Per item: the most frames the AR may generate (``max_new_frames``, else ``max_len_ratio`` x
    the text length) and the fewest before EOS is allowed (None when ``min_len_ratio`` is 0)."""
    B = text_lens.shape[0]
    if max_new_frames is not None:
        max_frames = torch.full((B,), int(max_new_frames), dtype=torch.long)
    else:
        max_frames = (text_lens.cpu().float() * max_len_ratio).long().clamp(min=1)
    min_frames = None
    if min_len_ratio > 0:
        target_lens = (text_lens.cpu() - prompt_text_lens.cpu()).float()
        min_frames = torch.minimum((target_lens * min_len_ratio).long(), max_frames)
    return max_frames, min_frames


def inference(model, text_tokens, text_lens, prompt_text_lens, audio_prompts, prompt_lens, text_langs=None, *,
              top_k=-100, top_p=1.0, temperature=1.0, use_kv_cache=True, max_len_ratio=16, best_of=1,
              generator=None, max_new_frames=None, min_len_ratio=0.0, ar_fp32=False) -> List[Tensor]:
    """Text ids (prompt text then target text) + acoustic prompts -> generated codes per item.

    ``top_k`` <= 0 disables top-k, 1 is greedy; ``best_of`` N draws N AR continuations per
    item and keeps the one with the highest log-probability per scored token (EOS included);
    ``max_new_frames`` caps every item (default ``max_len_ratio`` x its text length);
    ``min_len_ratio`` > 0 forbids EOS before that many frames per target-text token.
    ``ar_fp32``: the AR runs outside the caller's autocast (fp32 weights, so on the CPU the kernel step)
    while the NAR stays inside it: where one frame's step is bound by per-operation overhead, the fp32
    kernel beats a bf16 torch step even on a CPU whose bf16 products are faster (``valle.infer.ar_dtype``).
    """
    _check_inputs(model, text_tokens, text_lens, prompt_text_lens, audio_prompts, prompt_lens)
    model.check_text(text_tokens, text_lens, text_langs)
    if best_of < 1:
        raise ValueError(f"best_of must be >= 1, got {best_of}")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            B = text_tokens.shape[0]
            max_frames, min_frames = frame_limits(text_lens, prompt_text_lens, max_len_ratio, max_new_frames,
                                                  min_len_ratio)
            rep = lambda t: None if t is None else t.repeat_interleave(best_of, dim=0)  # noqa: E731
            fp32 = torch.autocast(text_tokens.device.type, enabled=False) if ar_fp32 else contextlib.nullcontext()
            with fp32:
                ar = ar_decode(model, rep(text_tokens), rep(text_lens), rep(text_langs), rep(audio_prompts[..., 0]),
                               rep(prompt_lens), rep(max_frames), top_k=top_k, top_p=top_p, temperature=temperature,
                               use_kv_cache=use_kv_cache, generator=generator, min_frames=rep(min_frames))
            if best_of > 1:
                score = (ar.logprob / ar.num_scored.clamp(min=1)).view(B, best_of)
                best = score.argmax(dim=1) + torch.arange(B) * best_of
                q0 = [ar.codes[int(i)] for i in best]
            else:
                q0 = ar.codes
            return nar_codes(model, text_tokens, text_lens, text_langs, audio_prompts, prompt_lens, q0)
    finally:
        model.train(was_training)
