"""Encodec 24 kHz encoding tuned for one CPU thread: a group of cuts at a time.

Same arithmetic as ``model.encode`` (the same weights, padding, nonlinearities, LSTM and residual
quantizer), arranged for the CPU:

* Every convolution sees its input time-major (``[time, channels]``, i.e. channels-last): oneDNN's
  direct kernels are about 1.6x faster on it than on encodec's ``[channels, time]`` layout, the
  1x1 convolutions become one ``addmm``, and the first convolution (1 input channel) becomes a
  small matrix product over a strided window view. Weight norm is folded once, not per call.
* The convolutions run one cut at a time (their activations, up to 32 x 24,000 floats per second,
  would leave the caches in a batch), but the two-layer LSTM runs once for the whole group: for
  one sequence it is bound by streaming its 4 MB recurrent weights from L3 at every frame, and a
  batch of 8 shares that stream (about 3x less time per cut). The LSTM is causal, so a cut's
  frames do not see the zeros padding the shorter cuts of the group.
* The quantizer runs once over the frames of the whole group (each frame is coded on its own),
  as one ``addmm`` and ``argmax`` per stage.

The padding is encodec's own: causal reflect padding of ``padding_total`` samples on the left and
the "extra" right padding that completes the last window (see codec_batch). The results equal
``model.encode`` up to float rounding (different kernels sum in a different order, ~1e-7): the
residual quantizer picks another code only where two codewords are equally near to within that
rounding. encodec's own codes differ the same way between one and two torch threads; the tests
check that every differing frame is such a tie.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

from valle.codec.encodec_batch import MIN_FAST_SAMPLES, _extra_padding


class _Conv:
    """One causal, reflect-padded encodec ``SConv1d`` on time-major ``[time, channels]`` input."""

    def __init__(self, sconv) -> None:
        if not sconv.causal or sconv.pad_mode != "reflect":
            raise ValueError("codec_cpu supports the causal, reflect-padded 24 kHz Encodec only")
        conv = sconv.conv.conv
        if conv.groups != 1:
            raise ValueError("codec_cpu supports ungrouped convolutions only")
        weight = conv.weight
        if hasattr(conv, "weight_g"):  # torch.nn.utils.weight_norm: fold w = g * v / |v| once
            weight = torch._weight_norm(conv.weight_v, conv.weight_g, 0)
        self.weight = weight.detach().clone()  # [out, in, kernel]
        self.bias = conv.bias.detach().clone() if conv.bias is not None else None
        self.kernel, self.stride, self.dilation = conv.kernel_size[0], conv.stride[0], conv.dilation[0]
        self.padding_total = (self.kernel - 1) * self.dilation - (self.stride - 1)
        out_channels, in_channels, _ = self.weight.shape
        if self.kernel == 1 and self.stride == 1:
            self.mode = "matmul"
            self.matrix = self.weight[:, :, 0].t().contiguous()  # [in, out]
        elif in_channels == 1 and self.dilation == 1:
            self.mode = "windows"
            self.matrix = self.weight[:, 0, :].t().contiguous()  # [kernel, out]
        else:
            self.mode = "conv"
            self.weight4 = self.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)

    def _padded(self, x: torch.Tensor, elu_alpha: Optional[float]) -> torch.Tensor:
        """``x`` [T, C] (after an ELU, if ``elu_alpha`` is given) with encodec's left reflection
        and right extra reflection; the ELU writes straight into the padded buffer."""
        length = x.shape[0]
        pad, extra = self.padding_total, _extra_padding(length, self.kernel, self.stride, self.padding_total)
        if length <= max(pad, extra):
            raise ValueError("input too short for codec_cpu")
        if not pad and not extra:
            return x if elu_alpha is None else F.elu(x, alpha=elu_alpha)
        out = x.new_empty(pad + length + extra, x.shape[1])
        if elu_alpha is None:
            out[pad:pad + length] = x
        else:
            torch._C._nn.elu(x, elu_alpha, 1, 1, out=out[pad:pad + length])
        body = out[pad:pad + length]
        if pad:
            out[:pad] = body[1:pad + 1].flip(0)  # reflect without the edge sample
        if extra:
            out[pad + length:] = body[length - 1 - extra:length - 1].flip(0)
        return out

    def __call__(self, x: torch.Tensor, elu_alpha: Optional[float] = None, own_input: bool = False) -> torch.Tensor:
        """The convolution of ``x`` [T, C_in] (of ``elu(x)`` with ``elu_alpha``) as [T', C_out];
        ``own_input`` allows the ELU to overwrite ``x``."""
        if self.mode == "matmul":
            if elu_alpha is not None:
                x = F.elu(x, alpha=elu_alpha, inplace=own_input)
            return torch.addmm(self.bias, x, self.matrix) if self.bias is not None else x @ self.matrix
        padded = self._padded(x, elu_alpha)
        if self.mode == "windows":
            frames = (padded.shape[0] - self.kernel) // self.stride + 1
            windows = padded.as_strided((frames, self.kernel), (self.stride, 1))
            return torch.addmm(self.bias, windows, self.matrix) if self.bias is not None else windows @ self.matrix
        # [T, C] contiguous is [N=1, C, H=1, W=T] in channels_last; the result comes back the same way
        y = F.conv2d(padded.t()[None, :, None, :], self.weight4, self.bias,
                     stride=(1, self.stride), dilation=(1, self.dilation))
        return y[0, :, 0, :].t()


def _fuse_elu(layers: list) -> list:
    """Merge each ELU with the convolution after it, so the ELU writes into the padded input."""
    fused = []
    for kind, payload in layers:
        if kind == "conv" and fused and fused[-1][0] == "elu":
            fused[-1] = ("elu_conv", (fused[-1][1], payload))
        else:
            fused.append((kind, payload))
    return fused


class CpuEncoder:
    """The encoder and quantizer of an Encodec 24 kHz model, prepared for ``encode_group``."""

    def __init__(self, model) -> None:
        from encodec.modules.conv import SConv1d
        from encodec.modules.lstm import SLSTM
        from encodec.modules.seanet import SEANetResnetBlock

        self.model = model
        self.dtype = next(model.parameters()).dtype
        self.head: list = []  # (kind, payload) before the LSTM, run per cut
        self.tail: list = []  # after the LSTM, run per cut
        self.lstm = None
        target = self.head
        for layer in model.encoder.model:
            if isinstance(layer, SConv1d):
                target.append(("conv", _Conv(layer)))
            elif isinstance(layer, torch.nn.ELU):
                target.append(("elu", layer.alpha))
            elif isinstance(layer, SEANetResnetBlock):
                block = _fuse_elu([("conv", _Conv(m)) if isinstance(m, SConv1d) else ("elu", m.alpha)
                                   for m in layer.block])
                if any(not isinstance(m, (SConv1d, torch.nn.ELU)) for m in layer.block):
                    raise ValueError("codec_cpu: unexpected layer in a residual block")
                shortcut = None if isinstance(layer.shortcut, torch.nn.Identity) else _Conv(layer.shortcut)
                target.append(("residual", (block, shortcut)))
            elif isinstance(layer, SLSTM) and self.lstm is None:
                self.lstm, self.lstm_skip = layer.lstm, layer.skip
                target = self.tail
            else:
                raise ValueError(f"codec_cpu: unexpected encoder layer {type(layer).__name__}")
        if self.lstm is None:
            raise ValueError("codec_cpu: the encoder has no LSTM")
        self.head, self.tail = _fuse_elu(self.head), _fuse_elu(self.tail)
        # residual quantizer: argmin |r - e|^2 = argmax (r.e - |e|^2 / 2), one addmm per stage
        n_q = model.quantizer.get_num_quantizers_for_bandwidth(model.frame_rate, model.bandwidth)
        self.codebooks = []
        for layer in model.quantizer.vq.layers[:n_q]:
            if not isinstance(layer.project_in, torch.nn.Identity):
                raise ValueError("codec_cpu: quantizers with a projection are not supported")
            embed = layer._codebook.embed.detach().clone()  # [entries, dimension]
            self.codebooks.append((embed, embed.t().contiguous(), -0.5 * embed.pow(2).sum(1)))

    @staticmethod
    def _apply(layers: list, x: torch.Tensor, own_input: bool) -> torch.Tensor:
        """Run ``layers`` on ``x`` [T, C]; ``own_input`` says ``x`` may be overwritten."""
        for kind, payload in layers:
            if kind == "conv":
                x, own_input = payload(x), True
            elif kind == "elu_conv":
                alpha, conv = payload
                x, own_input = conv(x, elu_alpha=alpha, own_input=own_input), True
            elif kind == "elu":
                x, own_input = F.elu(x, alpha=payload, inplace=own_input), True
            else:
                block, shortcut = payload
                y = CpuEncoder._apply(block, x, own_input=False)
                x = y.add_(shortcut(x) if shortcut is not None else x)
                own_input = True
        return x

    @torch.inference_mode()
    def embeddings(self, wavs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """Encoder outputs ``[frames_i, 128]`` of 24 kHz mono ``wavs[i]`` (each >= MIN_FAST_SAMPLES)."""
        heads = [self._apply(self.head, w.reshape(-1, 1).to(self.dtype), own_input=False) for w in wavs]
        lengths = [h.shape[0] for h in heads]
        batch = heads[0].new_zeros(max(lengths), len(heads), heads[0].shape[1])  # [T, B, C]
        for i, h in enumerate(heads):
            batch[:lengths[i], i] = h
        del heads
        y, _ = self.lstm(batch)
        if self.lstm_skip:
            y.add_(batch)
        del batch
        return [self._apply(self.tail, y[:n, i].contiguous(), own_input=True) for i, n in enumerate(lengths)]

    @torch.inference_mode()
    def quantize(self, frames: torch.Tensor) -> torch.Tensor:
        """Residual vector quantization of ``frames`` [N, dimension]: codes ``[N, n_q]``."""
        residual, codes = frames.clone(), []
        for embed, embed_t, half_norms in self.codebooks:
            index = torch.addmm(half_norms, residual, embed_t).argmax(dim=1)
            residual.sub_(embed.index_select(0, index))
            codes.append(index)
        return torch.stack(codes, dim=1)

    @torch.inference_mode()
    def encode_group(self, wavs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """Codes ``LongTensor[frames_i, 8]`` for each 24 kHz mono ``wavs[i]`` (``[samples]``)."""
        model = self.model
        results: Dict[int, torch.Tensor] = {}
        long_items = []
        for i, w in enumerate(wavs):
            if w.shape[-1] < MIN_FAST_SAMPLES:  # encodec's pad1d special-cases tiny inputs
                codes, _ = model.encode(w.reshape(1, 1, -1).to(self.dtype))[0]
                results[i] = codes[0].t()
            else:
                long_items.append(i)
        if long_items:
            embeddings = self.embeddings([wavs[i] for i in long_items])
            codes = self.quantize(torch.cat(embeddings))  # each frame is coded on its own
            start = 0
            for i, emb in zip(long_items, embeddings):
                results[i] = codes[start:start + emb.shape[0]]
                start += emb.shape[0]
        return [results[i] for i in range(len(wavs))]
