"""Which transcript words a segment holds, and how sure we are: pocketsphinx 5 with its bundled
US-English model (offline), searched through a finite-state grammar we build per segment.

The grammar is the remaining transcript as a chain of words that may stop after any word (a
*prefix*), so the decoder itself decides where the segment's speech ends in the text. Beside the
chain runs a *garbage loop*: any phone of the model, repeatable, at a small fixed cost per phone.
Speech that the transcript's words explain better than free phones goes to the words; speech
they do not (a wrong transcript, noise, words the text lacks) goes to the loop. The confidence
of a segment is the fraction of its non-silence frames explained by transcript words: ~1 for
the right text, low for the wrong one (docs/data.md, "The long layout").

Words missing from the dictionary are matched by a phone loop of their own (no penalty), so an
unknown name neither stops the alignment nor counts against it. Numbers and abbreviations are
expanded per transcript token (``1813`` -> ``eighteen thirteen``); the segment text keeps the
user's own tokens.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from valle.utils.sphinx_decode import decode_pcm

RATE = 16000
PHONES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y "
          "Z ZH").split()
GARBAGE_PRIOR = 1e-15  # cost of one free phone: high enough that right words win, low enough that wrong ones lose
SKIP_PRIOR = 1e-10  # cost of starting later in the text (only after a rejected segment)
SILENCE_PRIOR = 0.1
# A segment is cut at a pause, and pauses fall at punctuation: when the text has punctuation, ending
# a segment after a word without any costs this much (strong acoustic evidence still wins).
MID_SENTENCE_END_PRIOR = 1e-10
CLAUSE_END = (".", ",", ";", ":", "!", "?", "\u2026", ")", '"', "\u201d")
DECODER_OPTIONS = dict(bestpath=False, fwdflat=False, beam=1e-30, wbeam=1e-20, pbeam=1e-30, cmn="batch")
# Low fixed noise added before decoding (the same for every call): digital silence (exact zeros)
# gives -inf log energies that throw the features off for the whole segment.
DITHER = 3.0 / 32767


def dictionary_words(token: str) -> List[str]:
    """The dictionary spelling of one transcript token: lower case, numbers spelled out, no punctuation."""
    from valle.text.english_normalize import normalize_english

    text = normalize_english(token).lower().replace("-", " ")
    return [w.strip("'") for w in re.sub(r"[^a-z' ]", " ", text).split() if w.strip("'")]


@dataclass
class Alignment:
    consumed: int  # transcript tokens the segment holds (from the start offset)
    skipped: int  # tokens skipped before them (only when skipping was allowed)
    confidence: float  # fraction of non-silence frames explained by transcript words
    speech_frames: int  # non-silence frames (10 ms)


class Aligner:
    """One pocketsphinx decoder reused for every segment (build once per process)."""

    def __init__(self):
        from pocketsphinx import Decoder

        self.decoder = Decoder(loglevel="FATAL", samprate=RATE, **DECODER_OPTIONS)
        for p in PHONES:  # garbage phones (+g_) and the phones of unknown words (+u_)
            self.decoder.add_word(f"+g_{p.lower()}", p, False)
            self.decoder.add_word(f"+u_{p.lower()}", p, False)
        self.lm = self.decoder.logmath
        self._n = 0

    def known(self, word: str) -> bool:
        return self.decoder.lookup_word(word) is not None

    def _grammar(self, tokens: Sequence[str], skip: int):
        """Prefix chain over ``tokens`` (dictionary words per token), garbage loop at every state."""
        from pocketsphinx import FsgModel

        spelled = [dictionary_words(t) for t in tokens]
        n_states = 2 + len(tokens) + sum(len(s) for s in spelled)
        fsg = FsgModel(f"prefix{self._n}", self.lm, 1.0, n_states)
        final = n_states - 1
        fsg.set_start_state(0)
        fsg.set_final_state(final)
        garbage = [fsg.word_add(f"+g_{p.lower()}") for p in PHONES]
        unknown = [fsg.word_add(f"+u_{p.lower()}") for p in PHONES]
        g_cost = self.lm.log(GARBAGE_PRIOR)
        token_state = [0]  # state where token i starts
        nxt = len(tokens) + 1  # extra states for multi-word tokens and unknown words
        for i, words in enumerate(spelled):
            src, dst = i, i + 1
            chain = [w for w in words if self.known(w)]
            if not words:
                fsg.null_trans_add(src, dst, 0)
            elif len(chain) < len(words):  # unknown word(s): a free phone loop of its own
                for u in unknown:
                    fsg.trans_add(src, nxt, 0, u)
                    fsg.trans_add(nxt, nxt, 0, u)
                fsg.null_trans_add(nxt, dst, 0)
                nxt += 1
            else:
                cur = src
                for k, w in enumerate(chain):
                    to = dst if k == len(chain) - 1 else nxt
                    fsg.trans_add(cur, to, 0, fsg.word_add(w))
                    if to != dst:
                        nxt += 1
                    cur = to
            token_state.append(dst)
        punctuated = any(t.endswith(CLAUSE_END) for t in tokens)
        mid = self.lm.log(MID_SENTENCE_END_PRIOR)
        for j in range(len(tokens) + 1):
            ends_clause = j == 0 or not punctuated or tokens[j - 1].endswith(CLAUSE_END)
            fsg.null_trans_add(j, final, 0 if ends_clause else mid)
            for g in garbage:
                fsg.trans_add(j, j, g_cost, g)
        for j in range(1, min(skip, len(tokens)) + 1):
            fsg.null_trans_add(0, j, self.lm.log(SKIP_PRIOR))
        fsg.add_silence("<sil>", -1, SILENCE_PRIOR)
        return fsg

    def _decode(self, audio: np.ndarray, fsg) -> List[Tuple[str, int, int]]:
        d = self.decoder
        name = f"prefix{self._n}"
        self._n += 1
        d.add_fsg(name, fsg)
        d.activate_search(name)
        decode_pcm(d, audio, dither=DITHER)
        segs = [] if d.hyp() is None else [(re.sub(r"\(\d+\)$", "", s.word), s.start_frame, s.end_frame)
                                            for s in d.seg()]
        d.activate_search("_default")
        d.remove_search(name)
        return segs

    def align(self, audio: np.ndarray, tokens: Sequence[str], skip: int = 0) -> Alignment:
        """Align the start of ``tokens`` (transcript tokens) to ``audio`` (mono float32 16 kHz)."""
        if not tokens:
            return Alignment(0, 0, 0.0, 0)
        segs = self._decode(audio, self._grammar(tokens, skip))
        words_frames = garbage_frames = 0
        vocab = {w for t in tokens for w in dictionary_words(t)}
        for w, a, b in segs:
            if w.startswith("+g_"):
                garbage_frames += b - a + 1
            elif w in vocab or w.startswith("+u_"):
                words_frames += b - a + 1
        speech = words_frames + garbage_frames
        consumed, skipped = self._tokens_used(segs, tokens, skip)
        confidence = words_frames / speech if speech else 0.0
        return Alignment(consumed, skipped, round(confidence, 4), speech)

    def _tokens_used(self, segs, tokens: Sequence[str], skip: int) -> Tuple[int, int]:
        """How many tokens the path went through, and how many it skipped at the start."""
        words = [w for w, _, _ in segs if not w.startswith(("+g_", "+u_", "<", "[", "(NULL)"))]
        if not words:
            return 0, 0
        spelled = [dictionary_words(t) for t in tokens]
        best: Optional[Tuple[int, int]] = None
        for start in range(0, min(skip, len(tokens)) + 1):
            flat, ends = [], []
            for i in range(start, len(tokens)):
                flat += [w for w in spelled[i] if self.known(w)]
                ends.append(len(flat))
            if flat[:len(words)] == words:
                best = (next(i for i, e in enumerate(ends) if e >= len(words)) + 1, start)
                break
        if best is None:  # unknown-word loops make the path shorter than the spelled text
            n_known = 0
            for i in range(len(tokens)):
                n_known += sum(self.known(w) for w in spelled[i])
                if n_known >= len(words):
                    return i + 1, 0
            return len(tokens), 0
        return best

    def transcribe(self, audio: np.ndarray) -> str:
        """Free recognition with the bundled 3-gram LM (for recordings without a transcript)."""
        d = self.decoder
        d.activate_search("_default")
        decode_pcm(d, audio, dither=DITHER)
        hyp = d.hyp()
        return hyp.hypstr.strip() if hyp is not None else ""
