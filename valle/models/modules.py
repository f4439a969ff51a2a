"""Building blocks of the VALL-E decoders, named so the state dict matches the published layout.

Names such as ``word_embeddings``, ``alpha``, ``self_attn.in_proj_weight``, ``linear1``,
``norm1.project_layer`` are those of the published VALL-E X checkpoint; the computation is
written for speed on CPU: one packed QKV projection, ``F.scaled_dot_product_attention`` with
one boolean mask shared by every layer, and a preallocated KV cache for AR decoding.
"""
from __future__ import annotations

import math
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint


def _keep_mask(x: Tensor, p: float) -> Tensor:
    """Bool keep mask of ``x``'s shape, P(keep) = 1 - p (p rounded to a multiple of 1/65536),
    drawn 16 bits per element from 64-bit random words of torch's global generator."""
    n = x.numel()
    words = torch.randint(-(2 ** 63), 2 ** 63 - 1, ((n + 3) // 4,), dtype=torch.int64, device=x.device)
    bits = words.view(torch.int16)[:n].view(x.shape)
    return bits >= -32768 + int(round(p * 65536))


def fast_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Inverted dropout with the keep mask drawn 16 bits per element from 64-bit random words.

    ``F.dropout`` draws one Bernoulli float per element, which on CPU costs several times the
    matmul it follows (it was ~17% of a training step). Comparing int16 random values against a
    threshold gives the same mask distribution (p rounded to a multiple of 1/65536) from a
    quarter of the random draws. Uses torch's global generator, so seeding reproduces it.
    """
    if not training or p <= 0.0:
        return x
    if p >= 1.0:
        return x * 0.0
    return x * _keep_mask(x, p).to(x.dtype).mul_(1.0 / (1.0 - p))


def relu_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """``fast_dropout(relu(x))`` as one product ``x * m``, ``m`` = 1/(1-p) where x > 0 and kept, else 0.

    Same values and the same random draws as the two steps (only the sign of zeros differs, and an
    input of -inf gives NaN instead of 0), but autograd keeps one mask and runs one product
    backward: no ReLU backward, and no in-place ReLU on the linear layer's output (whose view
    bookkeeping cost two extra copies and a zero fill of the hidden activations in backward).
    """
    if not training or p <= 0.0:
        return F.relu(x, inplace=not x.requires_grad)
    if p >= 1.0:
        return x * 0.0
    return x * (_keep_mask(x, p) & (x > 0)).to(x.dtype).mul_(1.0 / (1.0 - p))


class FastDropout(nn.Module):
    """``nn.Dropout`` with the cheaper mask of ``fast_dropout``."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return fast_dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class TokenEmbedding(nn.Module):
    """An embedding table; the extra module level gives the ``.word_embeddings.weight`` key."""

    def __init__(self, dim: int, num_rows: int):
        super().__init__()
        weight = torch.empty(num_rows, dim)
        if weight.device.type != "meta":  # N(0, 1) as nn.Embedding; on meta, init is decomposed and slow
            nn.init.normal_(weight)
        self.word_embeddings = nn.Embedding(num_rows, dim, _weight=weight)

    @property
    def weight(self) -> Tensor:
        return self.word_embeddings.weight

    def forward(self, ids: Tensor) -> Tensor:
        return self.word_embeddings(ids)


class SinePositionalEmbedding(nn.Module):
    """``x + alpha * PE[pos]`` (no sqrt(d) scaling), then dropout.

    The sin/cos table is not part of the state dict (as in the published model); it is
    rebuilt on demand on the input's device. ``positions`` ([B, L] ints) lets batched
    decoding give each item its own positions when items are padded differently.
    """

    def __init__(self, dim: int, dropout: float, alpha_trainable: bool):
        super().__init__()
        self.dim = dim
        self.alpha = nn.Parameter(torch.ones(1), requires_grad=alpha_trainable)
        self.dropout = FastDropout(dropout)
        self._table: Optional[Tensor] = None

    def table(self, n: int, device) -> Tensor:
        t = self._table
        if t is None or t.shape[0] < n or t.device != torch.device(device):
            size = max(n, 4096)
            position = torch.arange(size, dtype=torch.float32, device=device).unsqueeze(1)
            div_term = torch.exp(
                torch.arange(0, self.dim, 2, dtype=torch.float32, device=device) * -(math.log(10000.0) / self.dim)
            )
            t = torch.zeros(size, self.dim, dtype=torch.float32, device=device)
            t[:, 0::2] = torch.sin(position * div_term)
            t[:, 1::2] = torch.cos(position * div_term)
            self._table = t
        return t

    def forward(self, x: Tensor, positions: Optional[Tensor] = None, offset: int = 0) -> Tensor:
        if positions is None:
            pe = self.table(offset + x.shape[1], x.device)[offset: offset + x.shape[1]]
        else:
            pe = self.table(int(positions.max()) + 1, x.device)[positions]
        return self.dropout(x + self.alpha * pe.to(x.dtype))


class AdaptiveLayerNorm(nn.Module):
    """``w * LayerNorm(x) + b`` with ``[w, b] = project_layer(stage_embedding)`` (the NAR's norm)."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.project_layer = nn.Linear(dim, 2 * dim)
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.dim = dim

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        w, b = self.project_layer(cond).split(self.dim, dim=-1)
        return w * self.norm(x) + b


class KVCache:
    """Keys and values of every layer for the positions decoded so far.

    Buffers are preallocated ([B, H, capacity, Dh]) and doubled when full, so a decoding
    step writes one column instead of concatenating the whole history.
    """

    def __init__(self, num_layers: int):
        self.k: List[Optional[Tensor]] = [None] * num_layers
        self.v: List[Optional[Tensor]] = [None] * num_layers
        self.length = 0

    def append(self, layer: int, k: Tensor, v: Tensor):
        n = k.shape[2]
        buf_k = self.k[layer]
        end = self.length + n
        if buf_k is None or buf_k.shape[2] < end:
            cap = max(end, 2 * (buf_k.shape[2] if buf_k is not None else 0), 256)
            new_k = k.new_empty(k.shape[0], k.shape[1], cap, k.shape[3])
            new_v = v.new_empty(new_k.shape)
            if buf_k is not None:
                new_k[:, :, : self.length] = buf_k[:, :, : self.length]
                new_v[:, :, : self.length] = self.v[layer][:, :, : self.length]
            self.k[layer], self.v[layer] = new_k, new_v
        self.k[layer][:, :, self.length: end] = k
        self.v[layer][:, :, self.length: end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    def select(self, index: Tensor) -> None:
        """Keep only batch rows ``index`` (items that are still decoding)."""
        for i in range(len(self.k)):
            if self.k[i] is not None:
                self.k[i] = self.k[i].index_select(0, index)
                self.v[i] = self.v[i].index_select(0, index)


class SelfAttention(nn.Module):
    """Multi-head self-attention with packed q, k, v rows (``in_proj_weight``) and SDPA."""

    def __init__(self, dim: int, nhead: int, dropout: float):
        super().__init__()
        self.nhead = nhead
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        self.dropout = dropout
        self.qkv_proj: Optional[nn.Module] = None  # set by valle.models.quantize (an int8 copy of in_proj)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: Tensor, mask: Optional[Tensor], cache: Optional[KVCache] = None, layer: int = 0,
                tail: int = 0) -> Tensor:
        """``tail`` > 0: keys and values of every position (cached), the outputs of the last ``tail`` only."""
        B, L, D = x.shape
        H = self.nhead
        if self.qkv_proj is not None:
            qkv = self.qkv_proj(x)
        else:
            qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        # each [B, H, L, Dh]; split (not unbind): its backward is one cat, no stack + reshape copy
        q, k, v = (t.view(B, L, H, D // H).transpose(1, 2) for t in qkv.split(D, dim=-1))
        if cache is not None:
            k, v = cache.append(layer, k, v)
        if tail:
            q, L = q[:, :, -tail:], tail
            mask = None if mask is None else mask[..., -tail:, :]
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out_proj(out.transpose(1, 2).reshape(B, L, D))


class TransformerLayer(nn.Module):
    """Self-attention + ReLU FFN, pre-norm (``norm_first``) or post-norm; adaptive norms for the NAR."""

    def __init__(self, dim: int, nhead: int, dim_feedforward: int, dropout: float, norm_first: bool, adaptive: bool,
                 attention_dropout: float = 0.0):
        super().__init__()
        self.self_attn = SelfAttention(dim, nhead, attention_dropout)
        self.linear1 = nn.Linear(dim, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, dim)
        norm = AdaptiveLayerNorm if adaptive else nn.LayerNorm
        self.norm1 = norm(dim)
        self.norm2 = norm(dim)
        self.norm_first = norm_first
        self.adaptive = adaptive
        self.dropout = FastDropout(dropout)

    def _norm(self, norm: nn.Module, x: Tensor, cond: Optional[Tensor]) -> Tensor:
        return norm(x, cond) if self.adaptive else norm(x)

    def _ff(self, x: Tensor) -> Tensor:
        return self.dropout(self.linear2(relu_dropout(self.linear1(x), self.dropout.p, self.training)))

    def forward(self, x: Tensor, mask: Optional[Tensor], cond: Optional[Tensor] = None,
                cache: Optional[KVCache] = None, layer: int = 0, tail: int = 0) -> Tensor:
        """``tail`` > 0: the outputs of the last ``tail`` positions only ([B, tail, D]; the cache gets them all)."""
        if self.norm_first:
            a = self.self_attn(self._norm(self.norm1, x, cond), mask, cache, layer, tail)
            x = (x[:, -tail:] if tail else x) + self.dropout(a)
            x = x + self._ff(self._norm(self.norm2, x, cond))
        else:
            a = self.self_attn(x, mask, cache, layer, tail)
            x = self._norm(self.norm1, (x[:, -tail:] if tail else x) + self.dropout(a), cond)
            x = self._norm(self.norm2, x + self._ff(x), cond)
        return x


class Decoder(nn.Module):
    """A stack of layers plus the final norm (pre-norm only, as in the published model)."""

    def __init__(self, dim: int, nhead: int, num_layers: int, dim_feedforward: int, dropout: float,
                 norm_first: bool, adaptive: bool, attention_dropout: float = 0.0):
        super().__init__()
        self.layers = nn.ModuleList(
            TransformerLayer(dim, nhead, dim_feedforward, dropout, norm_first, adaptive, attention_dropout)
            for _ in range(num_layers)
        )
        self.adaptive = adaptive
        self.activation_checkpointing = False
        if norm_first:
            self.norm = AdaptiveLayerNorm(dim) if adaptive else nn.LayerNorm(dim)
        else:
            self.norm = None

    def forward(self, x: Tensor, mask: Optional[Tensor], cond: Optional[Tensor] = None,
                cache: Optional[KVCache] = None, tail: int = 0) -> Tensor:
        """``tail`` > 0: only the last ``tail`` positions' outputs are wanted ([B, tail, D]): the last layer
        runs its attention output, norms and FFN for those positions alone (every layer still gives every
        position's keys and values). The AR prefill asks for ``tail=1`` (~1/num_layers less work);
        the AR's training loss reads the audio positions only (``tail`` = their count: the text rows of
        the last layer are not computed)."""
        recompute = self.activation_checkpointing and self.training and cache is None and torch.is_grad_enabled()
        n = x.shape[1]
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if recompute:  # keep only layer inputs; recompute activations in backward (memory for time)
                x = checkpoint(layer, x, mask, cond, None, i, tail if i == last else 0, use_reentrant=False)
            else:
                x = layer(x, mask, cond, cache, i, tail if i == last else 0)
        if cache is not None:
            cache.length += n
        if self.norm is not None:
            x = self.norm(x, cond) if self.adaptive else self.norm(x)
        return x
