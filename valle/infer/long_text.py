"""Long text, sentence by sentence, in one voice: one-shot or streamed, joined with a cross-fade.

Why: a model trained on utterances of at most N seconds (``--filter-max-duration``, 20 s by
default) wanders when asked for more: its positions and attention never saw longer sequences.
So a text is split into sentences (``sentences.split_sentences(by_speech_length=True)``) short
enough to be said in the time the prompt leaves (``CHARS_PER_SECOND``, at most
``max_sentence_chars``), each sentence is generated with a prompt, and prompt + output stay within
the training maximum: the AR of a sentence stops at ``max_seconds`` minus the prompt's length
(reported as a length-guard hit when it gets there).

The prompt is ``fixed`` (the voice's recording for every sentence) or ``sliding`` (the previous
sentence's text and codes prompt the next one, as the published VALL-E X code offers: smoother
prosody from sentence to sentence, at the risk of drifting away from the voice; the recording is
used again whenever the previous sentence is longer than half the maximum). Sentences are joined
with a ``crossfade_ms`` linear cross-fade (a click-free seam; 0 = butt joins).

``Speech`` yields the audio in order; one-shot (``stream=None``: each sentence generated whole)
and streamed (``stream=StreamOptions()``) use the same sentences, prompts, budgets and joiner, so
the two differ only where ``valle.infer.streaming`` says they may.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional

import torch

from valle.infer.sentences import split_sentences
from valle.infer.streaming import StreamedPiece, StreamOptions, code_agreement, stream_sentence

DEFAULT_TRAINING_MAX_SECONDS = 20.0  # valle.bin.train --filter-max-duration's default
PROMPT_MODES = ("fixed", "sliding")
CHARS_PER_SECOND = 14.0  # read English speech; speech_length counts a CJK character as 3
MIN_SENTENCE_CHARS = 20


def training_max_seconds(train_args: Optional[dict]) -> float:
    """The longest utterance the model was trained on: its ``--filter-max-duration``."""
    value = (train_args or {}).get("filter_max_duration")
    return float(value) if value else DEFAULT_TRAINING_MAX_SECONDS


@dataclass
class LongTextOptions:
    prompt_mode: str = "fixed"  # or "sliding"
    crossfade_ms: float = 20.0
    max_sentence_chars: int = 150  # speech length (a CJK character counts 3)
    max_seconds: float = 0.0  # prompt + output of one sentence; 0 = the model's training maximum

    def validate(self) -> None:
        if self.prompt_mode not in PROMPT_MODES:
            raise ValueError(f"prompt_mode must be one of {', '.join(PROMPT_MODES)}, got {self.prompt_mode!r}")
        if not 0 <= self.crossfade_ms <= 500:
            raise ValueError(f"crossfade_ms must be in 0..500, got {self.crossfade_ms}")
        if self.max_sentence_chars < 1:
            raise ValueError(f"max_sentence_chars must be >= 1, got {self.max_sentence_chars}")
        if self.max_seconds < 0:
            raise ValueError(f"max_seconds must be >= 0 (0 = the training maximum), got {self.max_seconds}")


class CrossfadeJoiner:
    """Join sentences with a linear cross-fade of ``fade`` samples, as their audio arrives.

    The last ``fade`` samples of the current sentence are always held back: they are mixed with
    the start of the next sentence, or handed out when the last sentence ends.
    """

    def __init__(self, fade: int):
        self.fade = int(fade)
        self.hold = torch.zeros(0)  # current sentence, not handed out yet
        self.tail: Optional[torch.Tensor] = None  # previous sentence's end, waiting for the next start
        self.head = torch.zeros(0)  # next sentence's start while it is shorter than the tail

    def push(self, wav: torch.Tensor, sentence_end: bool, last: bool) -> torch.Tensor:
        out: List[torch.Tensor] = []
        x = wav.float().reshape(-1)
        if self.tail is not None:
            self.head = torch.cat([self.head, x])
            x = torch.zeros(0)
            if self.head.numel() < self.tail.numel() and not sentence_end:
                return torch.zeros(0)
            k = min(self.tail.numel(), self.head.numel())
            ramp = (torch.arange(k, dtype=torch.float32) + 0.5) / max(k, 1)
            cut = self.tail.numel() - k
            out += [self.tail[:cut], self.tail[cut:] * (1 - ramp) + self.head[:k] * ramp]
            x, self.tail, self.head = self.head[k:], None, torch.zeros(0)
        self.hold = torch.cat([self.hold, x])
        keep = 0 if last else self.fade
        if sentence_end and not last:
            keep = min(self.fade, self.hold.numel())
            self.tail = self.hold[self.hold.numel() - keep:] if keep else None
        n = self.hold.numel() - min(keep, self.hold.numel())
        out.append(self.hold[:n])
        self.hold = torch.zeros(0) if sentence_end else self.hold[n:]
        return torch.cat(out)


@dataclass
class SpeechChunk:
    index: int
    sentence: int
    wav: torch.Tensor  # float32 [samples] at the codec's rate
    last: bool
    seconds_since_start: float


@dataclass
class SentenceReport:
    text: str
    frames: int
    prompt: str  # "voice" or "previous sentence"
    budget_frames: int
    guard_hit: bool
    code_agreement: Optional[dict] = None  # the codes streamed against the sentence's final NAR pass


class Speech:
    """One request: ``for chunk in Speech(...)`` yields the audio; then ``report()``.

    Checks everything it can (text, options, prompt length against the training maximum) in the
    constructor, so a server can refuse a request before it starts streaming. ``check`` (streamed
    only) is called after every AR step: a server's deadline raises from it. ``prompt_ids``: a
    saved voice's transcript ids (``valle.voice.voice_prompt_ids``) instead of tokenizing ``prompt_text``.
    """

    def __init__(self, synth, text: str, prompt_text: str, prompt_codes: torch.Tensor, language: str,
                 prompt_language: Optional[str], options, long: LongTextOptions,
                 stream: Optional[StreamOptions] = None, train_args: Optional[dict] = None,
                 check: Optional[Callable[[], None]] = None, prompt_ids: Optional[tuple] = None):
        options.validate()
        long.validate()
        self.synth, self.options, self.long, self.stream, self.check = synth, options, long, stream, check
        self.language = language
        self.prompt_language = prompt_language or language
        self.prompt_text, self.prompt_codes, self.prompt_ids = prompt_text, prompt_codes, prompt_ids
        rate = synth.codec.frame_rate
        self.max_seconds = long.max_seconds or training_max_seconds(train_args)
        self.max_frames = int(self.max_seconds * rate)
        room = self.max_frames - int(prompt_codes.shape[0])
        if room < rate:  # less than one second left for speech
            raise ValueError(
                f"the voice prompt is {prompt_codes.shape[0] / rate:.1f} s, leaving {max(room, 0) / rate:.1f} s of the "
                f"model's {self.max_seconds:g} s training maximum (prompt + output) for speech: use a prompt of "
                "3-10 s"
            )
        # a sentence must fit the time left after the prompt: about CHARS_PER_SECOND characters a second
        self.max_chars = max(MIN_SENTENCE_CHARS, min(long.max_sentence_chars, int(room / rate * CHARS_PER_SECOND)))
        self.sentences = split_sentences(text, self.max_chars, by_speech_length=True)
        if not self.sentences:
            raise ValueError("empty text: nothing to synthesize")
        # each sentence (and the prompt's text) tokenized once, here: a text the frontend cannot read
        # fails now, not mid-stream; a sliding prompt reuses the previous sentence's ids
        self.sentence_ids = [synth.text.encode(s, language, "--language") for s in self.sentences]
        if prompt_ids is None and prompt_text:
            self.prompt_ids = synth.text.encode(prompt_text, self.prompt_language, "--prompt-language")
        self.reports: List[SentenceReport] = []
        self.sentence_codes: List[torch.Tensor] = []  # each finished sentence's codes [frames, Q], as decoded last
        self.first_audio_seconds: Optional[float] = None
        self.compute_seconds = 0.0
        self.samples = 0

    @property
    def sample_rate(self) -> int:
        return int(self.synth.codec.sample_rate)

    def _prompt_for(self, i: int, prev_text: str, prev_codes: Optional[torch.Tensor]):
        slide = (self.long.prompt_mode == "sliding" and prev_codes is not None
                 and prev_codes.shape[0] * 2 <= self.max_frames)
        if slide:
            return prev_text, prev_codes, self.language, self.sentence_ids[i - 1], "previous sentence"
        return self.prompt_text, self.prompt_codes, self.prompt_language, self.prompt_ids, "voice"

    def __iter__(self) -> Iterator[SpeechChunk]:
        start = time.perf_counter()
        synth, options = self.synth, self.options
        generator = None
        if options.seed is not None:
            generator = torch.Generator(device=synth.device).manual_seed(int(options.seed))
        joiner = CrossfadeJoiner(int(round(self.long.crossfade_ms / 1000.0 * self.sample_rate)))
        prev_text, prev_codes = "", None
        index = 0
        for i, sentence in enumerate(self.sentences):
            p_text, p_codes, p_lang, p_ids, which = self._prompt_for(i, prev_text, prev_codes)
            inputs = synth.model_inputs(sentence, p_text, p_codes, self.language, p_lang, p_ids,
                                        text_ids=self.sentence_ids[i])
            budget = self.max_frames - int(p_codes.shape[0])
            ratio_cap = max(1, int(float(inputs.num_ids) * options.max_len_ratio))
            cap = min(budget, ratio_cap, options.max_frames or budget)
            opts = dataclasses.replace(options, max_frames=cap)
            last_sentence = i == len(self.sentences) - 1
            for piece in self._pieces(inputs, sentence, p_text, p_codes, p_lang, p_ids, opts, generator):
                wav = joiner.push(piece.wav, piece.final, piece.final and last_sentence)
                if piece.final:
                    agreement = None
                    if piece.streamed_codes is not None:
                        agreement = code_agreement(piece.streamed_codes, piece.codes)
                    self.reports.append(SentenceReport(sentence, int(piece.codes.shape[0]), which, cap,
                                                       piece.guard_hit, agreement))
                    self.sentence_codes.append(piece.codes)
                    prev_text, prev_codes = sentence, piece.codes
                if wav.numel() or (piece.final and last_sentence):
                    elapsed = time.perf_counter() - start
                    if self.first_audio_seconds is None and wav.numel():
                        self.first_audio_seconds = elapsed
                    self.samples += int(wav.numel())
                    self.compute_seconds = elapsed
                    yield SpeechChunk(index, i, wav, piece.final and last_sentence, round(elapsed, 4))
                    index += 1

    def _pieces(self, inputs, sentence, p_text, p_codes, p_lang, p_ids, opts, generator):
        if self.stream is not None:
            yield from stream_sentence(self.synth, inputs, opts, generator, self.stream, self.check, sentence)
            return
        codes, hit = self.synth.generate(sentence, p_text, p_codes, self.language, p_lang, opts, generator, p_ids,
                                         inputs=inputs)
        yield StreamedPiece(wav=self.synth.decode(codes), frames=int(codes.shape[0]), final=True, codes=codes,
                            guard_hit=hit)

    def wav(self) -> torch.Tensor:
        """Run it all and return the joined audio."""
        pieces = [c.wav for c in self]
        return torch.cat(pieces) if pieces else torch.zeros(0)

    def report(self) -> dict:
        seconds = self.samples / self.sample_rate
        return {
            "sentences": [dataclasses.asdict(r) for r in self.reports],
            "prompt_mode": self.long.prompt_mode,
            "max_seconds": self.max_seconds,
            "sample_rate": self.sample_rate,
            "seconds": round(seconds, 4),
            "first_audio_seconds": None if self.first_audio_seconds is None else round(self.first_audio_seconds, 4),
            "compute_seconds": round(self.compute_seconds, 4),
            "rtf": round(self.compute_seconds / seconds, 4) if seconds else None,
            "streamed": self.stream is not None and self.stream.nar_lookahead >= 0,
            "length_guard_hits": [i for i, r in enumerate(self.reports) if r.guard_hit],
        }

