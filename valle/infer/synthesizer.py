"""The synthesis pipeline as a library: text -> ids -> prompt codes -> AR/NAR -> codec decode.

Why a class: ``valle.bin.infer`` (one sentence or a TSV batch), ``run.sh``'s synthesis stage,
``bench/infer.py`` and training-time validation all need the same steps with the same options;
keeping the model, the codec and the text frontend together lets each caller load them once.
Training builds it from the in-memory model: ``Synthesizer(model, text_symbols, codec)``.

Long text is split into sentence chunks (``sentences.split_sentences``); each chunk is generated
with the same acoustic prompt and decoded by the codec on its own (bounded memory for long text);
the audio is joined, so the output has exactly the codec's samples per frame for every generated frame.
"""
from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Sequence, Union

import torch

from valle.infer.ar_dtype import choose_ar_dtype
from valle.infer.audio_prompt import PromptAudio, load_prompt_audio
from valle.infer.checkpoint_codec import check_prompt_codes, load_checkpoint_codec
from valle.infer.sentences import split_sentences
from valle.infer.text_ids import TextEncoder, detect_tokenizer
from valle.models.quantize import quantize_for_synthesis
from valle.utils.precision import resolve_dtype

log = logging.getLogger(__name__)

SAMPLES_PER_FRAME = 320


@dataclass
class SamplingOptions:
    """How the AR samples codebook 0 (the NAR is always greedy)."""

    top_k: int = 0  # 0 = no top-k filtering
    top_p: float = 1.0  # 1.0 = no nucleus filtering
    temperature: float = 1.0
    best_of: int = 1  # sample this many AR continuations, keep the most likely
    use_kv_cache: bool = True
    max_len_ratio: float = 16.0  # length guard: at most this many frames per text token
    min_len_ratio: float = 0.0  # no end-of-speech before this many frames per target-text token (0 = off)
    seed: Optional[int] = None
    max_frames: Optional[int] = None  # hard cap per chunk (library/bench use; overrides the ratio)

    def validate(self) -> None:
        problems = []
        if self.top_k < 0:
            problems.append(f"--top-k must be >= 0 (0 = off), got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            problems.append(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.temperature <= 0:
            problems.append(f"--temperature must be > 0, got {self.temperature}")
        if self.best_of < 1:
            problems.append(f"--best-of must be >= 1, got {self.best_of}")
        if self.min_len_ratio < 0:
            problems.append(f"--min-len-ratio must be >= 0 (0 = off), got {self.min_len_ratio}")
        if self.max_len_ratio <= 0:
            problems.append(f"--max-len-ratio must be > 0, got {self.max_len_ratio}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass
class ModelInputs:
    """One chunk's model inputs (a batch of one), in ``VALLE.inference``'s argument order."""

    text_tokens: torch.Tensor
    text_lens: torch.Tensor
    prompt_text_lens: torch.Tensor
    prompts: torch.Tensor
    prompt_lens: torch.Tensor
    text_langs: torch.Tensor

    def args(self) -> tuple:
        return (self.text_tokens, self.text_lens, self.prompt_text_lens, self.prompts, self.prompt_lens,
                self.text_langs)

    @property
    def num_ids(self) -> int:
        return int(self.text_lens[0])


@dataclass
class SynthesisJob:
    """One text's synthesis before the model runs (``Synthesizer.prepare``)."""

    prompt: torch.Tensor  # [frames, Q] prompt codes (zero frames for none)
    prompt_text: str
    prompt_ids: Optional[tuple]  # a voice's (symbol ids, language ids), else None (made from prompt_text)
    chunks: List[str]
    language: str
    prompt_language: str


@dataclass
class SynthesisResult:
    wav: torch.Tensor  # [samples] float32 at sample_rate (the codec's), mono
    codes: torch.Tensor  # [frames, Q] decoded frames (prompt frames first when continual)
    generated_frames: int
    prompt_frames: int
    chunks: List[str]
    chunk_frames: List[int]
    length_guard_hits: List[int] = field(default_factory=list)  # indices of chunks cut by the guard
    compute_seconds: float = 0.0
    sample_rate: int = 24000

    @property
    def seconds(self) -> float:
        return self.wav.numel() / self.sample_rate

    @property
    def rtf(self) -> float:
        """Real-time factor: compute time / audio time (below 1 is faster than real time)."""
        return self.compute_seconds / self.seconds if self.seconds > 0 else float("inf")


class Synthesizer:
    def __init__(self, model, text_symbols: Sequence[str], codec, tokenizer: str = "auto",
                 device: Union[str, torch.device] = "cpu", train_args: Optional[dict] = None,
                 dtype: str = "float32", quantize: str = "none"):
        """``dtype``: AR/NAR compute dtype (``auto`` resolved by valle.utils.precision; bf16 and fp16
        run under autocast; on a CPU ``auto`` then runs the AR in fp32 where its kernel step covers it and its
        weights fit in the last-level cache, while the NAR stays low-precision: ``ar_dtype``,
        valle.infer.ar_dtype); ``quantize``: ``int8`` gives every linear map int8 weights (CPU; float32
        under ``auto``, refused with bf16 / fp16)."""
        if quantize != "none" and dtype in ("bfloat16", "float16"):
            raise ValueError(f"--quantize {quantize} computes its linear maps as int8 products of fp32 activations, "
                             f"which cannot run under --dtype {dtype}: use --dtype float32 (or auto)")
        if quantize != "none" and dtype == "auto":
            log.info("--dtype auto: float32 with --quantize %s (int8 products take fp32 activations)", quantize)
            dtype = "float32"
        self.codec = codec
        self.device = torch.device(device)
        self.model = quantize_for_synthesis(model, quantize)
        self.quantize = quantize
        self.dtype = resolve_dtype(dtype, self.device)
        # auto: on a CPU the AR may run in fp32 (its kernel step) while the NAR stays low-precision
        self.ar_dtype = choose_ar_dtype(self.model, self.device, self.dtype) if dtype == "auto" else self.dtype
        self.tokenizer_name = detect_tokenizer(text_symbols, train_args) if tokenizer == "auto" else tokenizer
        self.text = TextEncoder(text_symbols, self.tokenizer_name)
        self.train_args = train_args  # the checkpoint's training options (long text reads its maximum)
        self.sources: dict = {}

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_checkpoints(cls, checkpoint=None, ar_checkpoint=None, nar_checkpoint=None,
                         model_preset: Optional[str] = None, device: str = "cpu", tokenizer: str = "auto",
                         codec=None, allow_untrained: bool = False, dtype: str = "float32",
                         quantize: str = "none") -> "Synthesizer":
        """``codec``: a loaded codec or a ``--codec`` spec; None = the codec the checkpoint was
        trained on (a different codec is refused, see codec_choice)."""
        from valle.infer.model_loading import CheckpointLoadError, load_synthesis_model

        loaded = load_synthesis_model(checkpoint, ar_checkpoint, nar_checkpoint, model_preset=model_preset, device=device,
                            allow_untrained=allow_untrained)
        if loaded.text_symbols is None:
            if tokenizer not in ("auto", "vallex"):
                raise CheckpointLoadError(
                    f"checkpoint {loaded.sources['ar']} carries no text symbol table; only published VALL-E X "
                    "files may omit it (they use --text-tokenizer vallex)"
                )
            from valle.infer.text_ids import vallex_symbols  # the published model's own table

            loaded.text_symbols = vallex_symbols()
        codec = load_checkpoint_codec(loaded, codec, device)
        synth = cls(loaded.model, loaded.text_symbols, codec, tokenizer=tokenizer, device=device,
                    train_args=loaded.train_args, dtype=dtype, quantize=quantize)
        synth.sources = loaded.sources
        return synth

    @property
    def codec_weights(self) -> str:
        return self.codec.spec

    @property
    def codec_is_random(self) -> bool:
        return self.codec.is_random

    # -- steps --------------------------------------------------------------------------
    def prompt_codes(self, prompt: Union[None, str, PromptAudio, torch.Tensor],
                     max_seconds: float = 0.0) -> torch.Tensor:
        """Codec codes ``[frames, Q]`` of the prompt (a path, loaded audio, or codes already)."""
        if prompt is None:
            return torch.zeros(0, self.model_num_quantizers, dtype=torch.long)
        if isinstance(prompt, torch.Tensor):
            check_prompt_codes(prompt, self.codec)
            return prompt.long().cpu()
        if not isinstance(prompt, PromptAudio):
            prompt = load_prompt_audio(prompt, max_seconds=max_seconds)
        self.codec.check_input_rate(prompt.sampling_rate, f"the audio prompt {prompt.path}")
        with torch.inference_mode():
            codes = self.codec.encode(prompt.wav, prompt.sampling_rate)
        return codes.long().cpu()

    @property
    def model_num_quantizers(self) -> int:
        cfg = getattr(self.model, "config", None)
        return int(getattr(cfg, "num_quantizers", 8))

    def generate(self, text: str, prompt_text: str, prompt_codes: torch.Tensor, language: str,
                 prompt_language: str, options: SamplingOptions,
                 generator: Optional[torch.Generator] = None, prompt_ids=None, inputs=None):
        """Generate codes ``[T, 8]`` for one chunk; returns ``(codes, length_guard_hit)``.
        ``prompt_ids``: the prompt's ``(symbol ids, language ids)`` already made (a voice's), else from ``prompt_text``;
        ``inputs``: the ``model_inputs`` of these arguments when the caller has made them already."""
        if inputs is None:
            inputs = self.model_inputs(text, prompt_text, prompt_codes, language, prompt_language, prompt_ids)
        codes = self.run_model(inputs, options, generator)[0]
        return codes, self.guard_hit(codes.shape[0], inputs.num_ids, options, text)

    def run_model(self, inputs: "ModelInputs", options: SamplingOptions,
                  generator: Optional[torch.Generator] = None) -> List[torch.Tensor]:
        """AR + NAR on a batch of inputs (one item or several, ``batch_synthesis.stack_inputs``):
        the codes ``[T_i, Q]`` of each item, on the CPU."""
        with torch.inference_mode(), self.autocast("nar"):
            out = self.model.inference(
                *inputs.args(),
                top_k=options.top_k,
                top_p=options.top_p,
                temperature=options.temperature,
                use_kv_cache=options.use_kv_cache,
                max_len_ratio=options.max_len_ratio,
                best_of=options.best_of,
                generator=generator,
                max_new_frames=options.max_frames,
                min_len_ratio=options.min_len_ratio,
                ar_fp32=self.ar_dtype == "float32",
            )
        return [c.long().cpu() for c in out]

    def autocast(self, phase: str):
        """The compute dtype of one phase ("ar" or "nar") as a context: autocast to ``dtype`` when that is
        bf16 / fp16, except the AR when ``ar_dtype`` is float32 (it then runs outside autocast, as
        ``model.inference(ar_fp32=True)`` runs it); nothing in float32."""
        if self.dtype not in ("bfloat16", "float16"):
            return contextlib.nullcontext()
        if phase == "ar" and self.ar_dtype == "float32":
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=getattr(torch, self.dtype))

    def model_inputs(self, text: str, prompt_text: str, prompt_codes: torch.Tensor, language: str,
                     prompt_language: str, prompt_ids=None, text_ids=None) -> "ModelInputs":
        """The batch of one: prompt text ids then target text ids, their languages, the prompt codes.
        ``prompt_ids`` / ``text_ids``: the prompt's / the text's ``(symbol ids, language ids)`` already made."""
        if prompt_ids is not None:
            p_ids, p_langs = prompt_ids
        elif prompt_text:
            p_ids, p_langs = self.text.encode(prompt_text, prompt_language, "--prompt-language")
        else:
            p_ids, p_langs = [], []
        t_ids, t_langs = text_ids if text_ids is not None else self.text.encode(text, language, "--language")
        if not t_ids:
            raise ValueError(f"text {text!r} gives no tokens: pass a non-empty --text")
        ids = p_ids + t_ids
        dev = self.device
        prompts = prompt_codes.to(dev).unsqueeze(0)
        return ModelInputs(
            text_tokens=torch.tensor([ids], dtype=torch.long, device=dev),
            text_lens=torch.tensor([len(ids)], device=dev),
            prompt_text_lens=torch.tensor([len(p_ids)], device=dev),
            prompts=prompts,
            prompt_lens=torch.tensor([prompts.shape[1]], device=dev),
            text_langs=torch.tensor([p_langs + t_langs], dtype=torch.long, device=dev),
        )

    @staticmethod
    def guard_hit(frames: int, num_ids: int, options: SamplingOptions, text: str) -> bool:
        """Whether a chunk of ``frames`` ran into the length guard (logged when it did)."""
        # The model stops a chunk at max_len_ratio x (prompt + target text ids) frames.
        guard = max(1, int(float(num_ids) * options.max_len_ratio))
        if options.max_frames is not None:
            guard = int(options.max_frames)
        hit = frames >= guard
        if hit:
            log.warning(
                "length guard hit: the AR produced no end-of-speech within %d frames "
                "(--max-len-ratio %.3g x %d text tokens); the chunk %r is cut off there",
                frames, options.max_len_ratio, num_ids, text,
            )
        return hit

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        if codes.shape[0] == 0:
            return torch.zeros(0)
        missing = self.codec.num_quantizers - codes.shape[1]
        if missing > 0:  # a model with fewer quantizers: the codec still expects all its codebooks
            codes = torch.cat([codes, codes.new_zeros(codes.shape[0], missing)], dim=1)
        with torch.inference_mode():
            wav = self.codec.decode(codes)
        return wav.float().cpu().reshape(-1)

    def decode_pieces(self, pieces: List[torch.Tensor]) -> torch.Tensor:
        """Decode each sentence chunk's codes on its own and join the audio (320 samples a frame).

        Encodec's decoder activations grow with the frames of one call (a 2,000-word text in one
        pass peaked near 5 GB); chunks are generated independently anyway, so decoding them one by
        one bounds the peak by the longest sentence without changing where the seams are.
        """
        wavs = [self.decode(p) for p in pieces]
        return torch.cat(wavs) if wavs else torch.zeros(0)

    # -- the whole path -----------------------------------------------------------------
    def synthesize(self, text: str, prompt_text: str = "", prompt_audio=None, language: str = "en-us",
                   prompt_language: Optional[str] = None, options: Optional[SamplingOptions] = None,
                   continual: bool = False, max_sentence_chars: int = 200,
                   prompt_seconds: float = 0.0, voice=None) -> SynthesisResult:
        """``voice`` (a ``valle.voice.Voice``) replaces ``prompt_text`` + ``prompt_audio``: its codes and
        text tokens are used as they are, after checking they are this model's codec's and table's."""
        options = options or SamplingOptions()
        options.validate()
        start = time.perf_counter()
        job = self.prepare(text, prompt_text, prompt_audio, language, prompt_language, max_sentence_chars,
                           prompt_seconds, voice)
        generator = None
        if options.seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(int(options.seed))
        pieces, hits = [], []
        for i, chunk in enumerate(job.chunks):
            codes, hit = self.generate(chunk, job.prompt_text, job.prompt, job.language, job.prompt_language,
                                       options, generator, job.prompt_ids)
            if len(job.chunks) > 1:  # long texts take minutes: say how far it is
                log.info("chunk %d/%d: %d frames (%.1f s of audio), %.1f s elapsed", i + 1, len(job.chunks),
                         codes.shape[0], codes.shape[0] / self.codec.frame_rate,
                         time.perf_counter() - start)
            pieces.append(codes)
            if hit:
                hits.append(i)
        return self.finish(job, pieces, hits, continual, start)

    def prepare(self, text: str, prompt_text: str = "", prompt_audio=None, language: str = "en-us",
                prompt_language: Optional[str] = None, max_sentence_chars: int = 200,
                prompt_seconds: float = 0.0, voice=None) -> "SynthesisJob":
        """Everything before the model: the prompt's codes and ids (a voice's, checked) and the chunks."""
        prompt_language = prompt_language or language
        prompt_ids = None
        if voice is not None:
            if prompt_text or prompt_audio is not None:
                raise ValueError("pass either a voice or a prompt (text and audio), not both")
            from valle.voice import fitted_voice_prompt

            prompt_audio, prompt_ids = fitted_voice_prompt(voice, self.codec, self.text.table, self.sources.get("ar", ""))
        prompt = self.prompt_codes(prompt_audio, max_seconds=prompt_seconds)
        chunks = split_sentences(text, max_sentence_chars)
        if not chunks:
            raise ValueError("empty --text: nothing to synthesize")
        return SynthesisJob(prompt, prompt_text, prompt_ids, chunks, language, prompt_language)

    def finish(self, job: "SynthesisJob", pieces: List[torch.Tensor], hits: List[int], continual: bool,
               start: float) -> SynthesisResult:
        """Decode the chunks' codes (``continual``: the prompt first) into one result timed from ``start``."""
        prompt = job.prompt
        generated = torch.cat(pieces, dim=0)
        all_codes = torch.cat([prompt, generated], dim=0) if continual else generated
        wav = self.decode_pieces(([prompt] if continual else []) + pieces)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return SynthesisResult(
            wav=wav, codes=all_codes, generated_frames=int(generated.shape[0]),
            prompt_frames=int(prompt.shape[0]), chunks=job.chunks, chunk_frames=[int(p.shape[0]) for p in pieces],
            length_guard_hits=hits, compute_seconds=time.perf_counter() - start,
            sample_rate=self.codec.sample_rate,
        )

    def metadata(self, result: SynthesisResult, options: SamplingOptions, **extra) -> dict:
        """What a JSON sidecar records about one output (including whether the codec was real)."""
        meta = {
            "sample_rate": result.sample_rate,
            "samples": int(result.wav.numel()),
            "seconds": round(result.seconds, 4),
            "generated_frames": result.generated_frames,
            "prompt_frames": result.prompt_frames,
            "chunks": result.chunks,
            "chunk_frames": result.chunk_frames,
            "length_guard_hits": result.length_guard_hits,
            "compute_seconds": round(result.compute_seconds, 4),
            "rtf": round(result.rtf, 4),
            "codec": self.codec.facts(),
            "codec_random_weights": self.codec_is_random,
            "text_tokenizer": self.tokenizer_name,
            "checkpoints": self.sources,
            "device": str(self.device),
            "dtype": self.dtype,
            "ar_dtype": self.ar_dtype,
            "quantize": self.quantize,
            "sampling": asdict(options),
        }
        if self.codec_is_random:
            meta["warning"] = (f"the codec ran with RANDOM weights (--codec {self.codec.spec}): the audio is "
                               "plumbing output, not speech")
        meta.update(extra)
        return meta
