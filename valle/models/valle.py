"""VALL-E / VALL-E X: an AR decoder for codebook 0 and a NAR decoder for codebooks 1..7.

Submodules are registered in the order and under the names of the published VALL-E X
checkpoint (reference/vallex_state_dict_layout.json), so ``state_dict()`` has the same keys,
shapes and ties. The training forward returns the loss dict of docs/interfaces.md; decoding
lives in ``decoding.py`` (``VALLE.inference`` delegates to it).
"""
from __future__ import annotations

from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ModelConfig
from .guided_attention import TextAttentionRecorder
from .masks import ar_mask, lengths_to_valid, padding_mask
from .modules import Decoder, SinePositionalEmbedding, TokenEmbedding


def rows_padded_linear(layer: nn.Module, h: Tensor) -> Tensor:
    """``layer(h)`` for a bias-free ``nn.Linear``, its weight zero-padded to a multiple of 8 rows and
    the extra outputs sliced off: the same values (each output is the same dot product), but the
    CPU sgemm ran the AR output layer's 1,025 rows ~40% slower than 1,024 (loss forward + backward
    41 -> 35 ms at batch 4 x 300 on the AVX2 EPYC, bit-identical)."""
    if type(layer) is not nn.Linear or layer.bias is not None or layer.out_features % 8 == 0:
        return layer(h)
    n = layer.out_features
    return F.linear(h, F.pad(layer.weight, (0, 0, 0, -n % 8)))[..., :n]


class VALLE(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = c = config
        d, nd = c.d_model, c.nar_d_model
        A = c.num_audio_tokens
        self.ar_text_embedding = TokenEmbedding(d, c.text_vocab_size)
        self.nar_text_embedding = TokenEmbedding(nd, c.text_vocab_size)
        self.ar_audio_embedding = TokenEmbedding(d, c.ar_audio_rows)
        self.ar_text_position = SinePositionalEmbedding(d, c.dropout, alpha_trainable=True)
        self.ar_audio_position = SinePositionalEmbedding(d, c.dropout, alpha_trainable=True)
        self.ar_decoder = Decoder(d, c.nhead, c.num_layers, c.dim_feedforward, c.dropout, c.norm_first, adaptive=False,
                                  attention_dropout=c.attention_dropout)
        self.ar_predict_layer = nn.Linear(d, A + 1, bias=False)

        # NAR row 0 of codebook 0 has one extra row: the padding/EOS id.
        self.nar_audio_embeddings = nn.ModuleList(
            [TokenEmbedding(nd, A + 1)] + [TokenEmbedding(nd, A) for _ in range(c.num_quantizers - 1)]
        )
        self.nar_text_position = SinePositionalEmbedding(nd, 0.0, alpha_trainable=False)
        self.nar_audio_position = SinePositionalEmbedding(nd, c.dropout, alpha_trainable=False)
        self.nar_decoder = Decoder(nd, c.nhead, c.num_layers, c.nar_dim_feedforward, c.dropout, c.norm_first,
                                   adaptive=True, attention_dropout=c.attention_dropout)
        self.nar_predict_layers = nn.ModuleList(nn.Linear(nd, A, bias=False) for _ in range(c.num_quantizers - 1))
        self.nar_stage_embeddings = nn.ModuleList(TokenEmbedding(nd, 1) for _ in range(c.num_quantizers - 1))
        if c.share_embedding:
            # The j-th NAR output layer predicts codebook j+1, whose input table is embeddings[j+1];
            # the published model ties output j to input table j+2 (the last output stays free).
            for j in range(c.num_quantizers - 2):
                self.nar_predict_layers[j].weight = self.nar_audio_embeddings[j + 2].word_embeddings.weight
        if c.num_languages > 0:
            self.ar_language_embedding = TokenEmbedding(d, c.num_languages)
            self.nar_language_embedding = TokenEmbedding(nd, c.num_languages)
        else:
            self.ar_language_embedding = None
            self.nar_language_embedding = None

    def set_activation_checkpointing(self, enabled: bool = True) -> None:
        """Recompute each decoder layer in backward instead of storing its activations."""
        self.ar_decoder.activation_checkpointing = enabled
        self.nar_decoder.activation_checkpointing = enabled

    # ------------------------------------------------------------------------------------
    # Shared input embeddings
    # ------------------------------------------------------------------------------------
    def check_text(self, text_tokens: Tensor, text_lens: Tensor, text_langs: Optional[Tensor]) -> None:
        """Raise a clear error for ids outside the tables (nn.Embedding's own error names nothing)."""
        c = self.config
        if text_tokens.numel() and (int(text_tokens.max()) >= c.text_vocab_size or int(text_tokens.min()) < 0):
            raise ValueError(
                f"text token ids span {int(text_tokens.min())}..{int(text_tokens.max())} but the model has "
                f"text_vocab_size={c.text_vocab_size}: the symbol table does not match the model "
                f"(use a larger --text-vocab-size or --init-mismatch resize)"
            )
        if int(text_lens.min()) < 1:
            raise ValueError("every item needs at least one text token (text_lens >= 1)")
        if c.num_languages > 0 and text_langs is not None and text_langs.numel():
            if int(text_langs.max()) >= c.num_languages:
                raise ValueError(
                    f"language id {int(text_langs.max())} but the model has num_languages={c.num_languages}"
                )

    def embed_text(self, text_tokens: Tensor, text_langs: Optional[Tensor], nar: bool) -> Tensor:
        emb = self.nar_text_embedding if nar else self.ar_text_embedding
        lang = self.nar_language_embedding if nar else self.ar_language_embedding
        pos = self.nar_text_position if nar else self.ar_text_position
        x = emb(text_tokens)
        if lang is not None:
            if text_langs is None:
                text_langs = torch.zeros_like(text_tokens)
            x = x + lang(text_langs.clamp(min=0))
        return pos(x)

    # ------------------------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------------------------
    def forward(self, batch: Dict[str, Tensor], train_stage: int = 0) -> Dict[str, object]:
        """Losses for ``train_stage`` 0 (AR + NAR), 1 (AR only) or 2 (NAR only).

        ``loss`` is the sum of the trained stages' losses, each a mean over its real target
        tokens (AR: every frame plus EOS; NAR: the frames of the drawn codebook outside the
        acoustic prompt).
        """
        if train_stage not in (0, 1, 2):
            raise ValueError(f"train_stage must be 0, 1 or 2, got {train_stage}")
        text, text_lens = batch["text_tokens"], batch["text_lens"]
        langs = batch.get("text_langs")
        codes, audio_lens = batch["audio_codes"], batch["audio_lens"]
        if codes.dim() != 3 or codes.shape[2] < self.config.num_quantizers:
            raise ValueError(f"audio_codes must be [B, T, {self.config.num_quantizers}], got {list(codes.shape)}")
        self.check_text(text, text_lens, langs)
        text_valid = lengths_to_valid(text_lens, text.shape[1])
        audio_valid = lengths_to_valid(audio_lens, codes.shape[1])
        out: Dict[str, object] = {}
        losses = []
        if train_stage in (0, 1):
            guide = batch.get("guided_attention") if self.training else None  # (weight, sigma)
            loss, acc, n, guided = self._ar_loss(text, text_valid, langs, codes[..., 0], audio_lens, audio_valid, guide)
            out.update(ar_loss=loss.detach(), ar_top10_acc=acc, ar_frames=n)
            if guided is not None:
                out["guided_attention_loss"] = guided.detach()
                loss = loss + float(guide[0]) * guided
            losses.append(loss)
        if train_stage in (0, 2):
            loss, acc, n = self._nar_loss(text, text_valid, langs, codes, audio_lens, audio_valid, batch)
            out.update(nar_loss=loss.detach(), nar_top10_acc=acc, nar_frames=n)
            losses.append(loss)
        out["loss"] = losses[0] if len(losses) == 1 else losses[0] + losses[1]
        return out

    @staticmethod
    def _ce_and_acc(logits: Tensor, targets: Tensor):
        logits = logits.float()
        loss = F.cross_entropy(logits, targets)
        with torch.no_grad():  # top-10: fewer than 10 classes score above the target (one pass, no sort)
            above = (logits > logits.gather(1, targets[:, None])).to(torch.uint8).sum(-1, dtype=torch.int32)
            acc = (above < 10).float().mean()
        return loss, acc, int(targets.numel())

    def _ar_loss(self, text, text_valid, langs, q0, audio_lens, audio_valid, guide=None):
        """Cross-entropy, top-10 accuracy and frames of codebook 0, plus the guided-attention
        loss (valle/models/guided_attention.py) when ``guide`` = (weight, sigma) is given."""
        c = self.config
        B, S = text.shape
        q0 = q0.masked_fill(~audio_valid, c.eos_id)
        eos = q0.new_full((B, 1), c.eos_id)
        if c.prepend_bos:
            y_in = torch.cat([q0.new_full((B, 1), c.bos_id), q0], dim=1)
            targets = torch.cat([q0, eos], dim=1)
            in_valid = lengths_to_valid(audio_lens + 1, y_in.shape[1])
        else:  # lifeiteng without BOS: input y, target y[1:] + EOS (the first frame is given, not predicted)
            y_in = q0
            targets = torch.cat([q0[:, 1:], eos], dim=1)
            in_valid = audio_valid
        x = self.embed_text(text, langs, nar=False)
        y = self.ar_audio_position(self.ar_audio_embedding(y_in))
        mask = ar_mask(S, y.shape[1], torch.cat([text_valid, in_valid], dim=1), device=text.device)
        recorder = TextAttentionRecorder(self.ar_decoder, S) if guide else None
        try:
            h = self.ar_decoder(torch.cat([x, y], dim=1), mask, tail=y.shape[1])  # [B, audio, D]: the loss reads these
        finally:
            if recorder is not None:
                recorder.remove()
        guided = recorder.loss(text_valid, in_valid, float(guide[1])) if recorder is not None else None
        if bool(in_valid.all()):  # no padding: a view instead of a gather
            h, targets = h.reshape(-1, h.shape[-1]), targets.reshape(-1)
        else:
            h, targets = h[in_valid], targets[in_valid]
        return (*self._ce_and_acc(rows_padded_linear(self.ar_predict_layer, h), targets), guided)

    def _nar_stages(self, batch) -> List[int]:
        """The NAR codebooks this batch trains: ``batch["nar_stage"]`` pins one (validation); a
        one-pass NAR (``nar_parallel``) trains all of them; else ``batch["nar_stages_per_step"]``
        (default 1) distinct ones drawn with torch's global RNG, so a resumed run replays them (one
        stage draws exactly as it always has)."""
        Q = self.config.num_quantizers
        if batch.get("nar_stage") is not None:
            stage = int(batch["nar_stage"])
            if not 1 <= stage < Q:
                raise ValueError(f"nar_stage must be in 1..{Q - 1}, got {stage}")
            return [stage]
        if self.config.nar_parallel:  # one pass predicts every codebook
            return list(range(1, Q))
        k = int(batch.get("nar_stages_per_step") or 1)
        if not 1 <= k < Q:
            raise ValueError(f"nar_stages_per_step must be in 1..{Q - 1}, got {k}")
        if k == 1:
            return [int(torch.randint(1, Q, ()).item())]
        if k == Q - 1:
            return list(range(1, Q))
        return sorted(int(s) + 1 for s in torch.randperm(Q - 1)[:k])

    def _nar_loss(self, text, text_valid, langs, codes, audio_lens, audio_valid, batch):
        """NAR cross-entropy of the drawn codebook(s) (``_nar_stages``); several stages run as
        one batch of ``len(stages) x B`` rows sharing the text, prompt and prefix draws. A one-pass
        NAR (``nar_parallel``) reads codebook 0 alone and predicts every codebook from one pass."""
        c = self.config
        B, T, _ = codes.shape
        device = codes.device
        stages = self._nar_stages(batch)
        # The input stage each trained codebook reads: its own (codebooks 0..s-1), or for a one-pass NAR
        # stage 1's (codebook 0 alone). Each distinct input is one block of B rows.
        reads = [1] * len(stages) if c.nar_parallel else stages
        blocks = sorted(set(reads))
        top = max(blocks)
        embs = self.nar_audio_embeddings
        q0 = codes[..., 0].masked_fill(~audio_valid, c.eos_id)
        upper = codes[..., 1: c.num_quantizers].masked_fill(~audio_valid[..., None], 0)
        ys, y = [], embs[0](q0)
        for j in range(1, top):  # running sums: stage s sees codebooks 0..s-1
            if j in blocks:
                ys.append(y)
            y = y + embs[j](upper[..., j - 1])
        ys.append(y)  # the last (largest) input
        target_valid = audio_valid
        prompt_emb, prompt_valid, prompt_len_per_item = None, None, None
        skip = 0  # leading frames of y the loss never reads (prefix mode 1's prefix)
        mode = c.prefix_mode
        if mode == 1:
            int_low = int(0.25 * int(audio_lens.min()))
            P = int(torch.randint(int_low, 2 * int_low, ()).item()) if int_low > 0 else 0
            P = min(P, c.max_prefix_frames)
            if P > 0:
                y_pre = ys[-1][:, :P]  # the prefix frames carry every codebook, whatever the stage
                for j in range(top, c.num_quantizers):
                    y_pre = y_pre + embs[j](upper[:, :P, j - 1])
                ys = [torch.cat([y_pre, y_s[:, P:]], dim=1) for y_s in ys]
                target_valid = audio_valid & (torch.arange(T, device=device) >= P)[None]
                skip = P
        elif mode == 2:
            P = min(c.max_prefix_frames, int(0.25 * int(audio_lens.min())))
            if P > 0:
                starts = (torch.rand(B).to(device) * (audio_lens - P + 1)).long()
                idx = starts[:, None] + torch.arange(P, device=device)[None]
                prompt = torch.gather(codes[..., : c.num_quantizers], 1, idx[..., None].expand(-1, -1, c.num_quantizers))
                prompt_emb = self._sum_codebooks(prompt)
                prompt_valid = torch.ones(B, P, dtype=torch.bool, device=device)
                t = torch.arange(T, device=device)[None]
                target_valid = audio_valid & ~((t >= starts[:, None]) & (t < starts[:, None] + P))
        elif mode == 4:
            if "prompt_codes" not in batch:
                raise ValueError("prefix_mode 4 needs batch['prompt_codes'] (and 'prompt_lens') from the dataset")
            prompt = batch["prompt_codes"][..., : c.num_quantizers]
            Tp = prompt.shape[1]
            plens = batch.get("prompt_lens")
            if plens is None:
                plens = torch.full((B,), Tp, dtype=torch.long, device=device)
            prompt_valid = lengths_to_valid(plens, Tp)
            prompt = torch.cat([prompt[..., :1].masked_fill(~prompt_valid[..., None], c.eos_id),
                                prompt[..., 1:].masked_fill(~prompt_valid[..., None], 0)], dim=-1)
            prompt_emb = self._sum_codebooks(prompt)
            prompt_len_per_item = plens

        x = self.embed_text(text, langs, nar=True)
        K = len(blocks)
        y = ys[0] if K == 1 else torch.cat(ys, dim=0)
        if prompt_emb is not None:
            P = prompt_emb.shape[1]
            y = torch.cat([prompt_emb.repeat(K, 1, 1), y], dim=1)
            if prompt_len_per_item is not None:  # positions continue right after each item's prompt
                pos = torch.arange(P + T, device=device)[None].expand(B, -1).clone()
                pos[:, P:] = prompt_len_per_item[:, None] + torch.arange(T, device=device)[None]
                pos[:, :P] = pos[:, :P].masked_fill(~prompt_valid, 0)
                y = self.nar_audio_position(y, positions=pos.repeat(K, 1))
            else:
                y = self.nar_audio_position(y)
            key_valid = torch.cat([text_valid, prompt_valid, audio_valid], dim=1)
        else:
            y = self.nar_audio_position(y)
            key_valid = torch.cat([text_valid, audio_valid], dim=1)
        if K == 1:
            cond = self.nar_stage_embeddings[blocks[0] - 1].weight
        else:  # one stage embedding per block of B rows
            cond = torch.cat([self.nar_stage_embeddings[s - 1].weight.expand(B, -1) for s in blocks])[:, None]
            x, key_valid = x.repeat(K, 1, 1), key_valid.repeat(K, 1)
        # the last layer runs the rows the loss reads only (not the text, prompt or prefix rows)
        h = self.nar_decoder(torch.cat([x, y], dim=1), padding_mask(key_valid), cond, tail=T - skip)
        read = target_valid[:, skip:]
        logits = [self.nar_predict_layers[s - 1](h[i * B:(i + 1) * B][read])
                  for i, s in zip(map(blocks.index, reads), stages)]
        targets = [codes[..., s][target_valid] for s in stages]
        return self._ce_and_acc(torch.cat(logits), torch.cat(targets))

    def _sum_codebooks(self, prompt: Tensor) -> Tensor:
        """Sum of all codebook embeddings of acoustic-prompt frames [B, P, Q] -> [B, P, D]."""
        y = self.nar_audio_embeddings[0](prompt[..., 0])
        for j in range(1, self.config.num_quantizers):
            y = y + self.nar_audio_embeddings[j](prompt[..., j])
        return y

    # ------------------------------------------------------------------------------------
    # Inference
    # ------------------------------------------------------------------------------------
    @torch.no_grad()
    def inference(self, text_tokens: Tensor, text_lens: Tensor, prompt_text_lens: Tensor, audio_prompts: Tensor,
                  prompt_lens: Tensor, text_langs: Optional[Tensor] = None, top_k: int = -100, top_p: float = 1.0,
                  temperature: float = 1.0, use_kv_cache: bool = True, max_len_ratio: float = 16,
                  best_of: int = 1, generator: Optional[torch.Generator] = None,
                  max_new_frames: Optional[int] = None, min_len_ratio: float = 0.0,
                  ar_fp32: bool = False) -> List[Tensor]:
        """Synthesize codes for each item: AR codebook 0 by sampling, then NAR codebooks 1..7 greedily.

        See ``decoding.inference`` for the arguments; returns the generated frames only,
        one ``LongTensor[T_i, num_quantizers]`` per item.
        """
        from .decoding import inference

        return inference(self, text_tokens, text_lens, prompt_text_lens, audio_prompts, prompt_lens, text_langs,
                         top_k=top_k, top_p=top_p, temperature=temperature, use_kv_cache=use_kv_cache,
                         max_len_ratio=max_len_ratio, best_of=best_of, generator=generator,
                         max_new_frames=max_new_frames, min_len_ratio=min_len_ratio, ar_fp32=ar_fp32)
