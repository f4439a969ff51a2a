"""End to end with the real codec2: a tiny model memorises a few grammar sentences and says one.

The whole path runs on real components: espeak-ng speaks grammar sentences
(valle.demo.make_corpus), the prepare stages make manifests, phonemes and real codec2 3200 codes,
valle.bin.train trains a nano AR+NAR on same-speaker utterance pairs (--concat-prompt) until it
has memorised them, the synthesizer says one training sentence with another utterance of the same
voice as its prompt, codec2 decodes it and pocketsphinx, held to the grammar, must hear most of
its words. A bug that shifts targets by a frame, mixes codebooks up or breaks the NAR fails here.

The recipe is the one docs/benchmarks.md measured for short budgets: untied NAR output layers
(``--share-embedding false``: the tied N(0, 1) tables start the NAR at loss ~20 instead of
ln 256 = 5.5), every NAR codebook trained on every batch (the staged model: ``--nar-stages-per-step
7``; the recipe's one-pass NAR, ``--nar-parallel true``, trained alone in the second test), and a
stop on the training loss (``--stop-at-loss``) instead of a step count, so the model is as
memorised as it needs to be whatever the float details of the machine. Calibration (one torch
thread, 2026-11-27, base lr 0.05): the AR is the slow half; greedy codebook 0 was exact and
pocketsphinx heard 6, 6 and 5 of 6 words of the three sentences at step 140 (loss ~0.04, ~50 CPU-s),
1-6 words at steps 60-120 (loss 0.7-0.07) while codebook 0 was still 40-90% right.
"""
from __future__ import annotations

import json
import shutil

import pytest
import soundfile as sf
import torch

from tests.prepared_corpus import prepare_in_process
from valle.bin import train
from valle.demo.grammar import jsgf, split_sentences
from valle.demo.make_corpus import GRAMMAR_VOICES, speak_sentences
from valle.eval.asr import load_asr
from valle.eval.wer import utterance_errors
from valle.infer.synthesizer import SamplingOptions, Synthesizer

STOP_LOSS = 0.03
MAX_STEPS = 400  # a cap far above the ~140 steps the stop needs here; hitting it fails the test
MIN_WORDS = 5  # of 6


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Three grammar sentences, one voice: the corpus and its prepared training cuts."""
    root = tmp_path_factory.mktemp("learn")
    corpus, man, tok = root / "corpus", root / "manifests", root / "tokenized"
    sentences = split_sentences(10, 0)[0][:3]  # memorised within the budget
    speak_sentences(shutil.which("espeak-ng"), corpus, GRAMMAR_VOICES[:1], sentences, True, 2)
    return root, corpus, prepare_in_process(corpus, man, tok)


@pytest.fixture(scope="module")
def trained(prepared):
    """The staged AR+NAR model (VALL-E's NAR, every codebook on every batch)."""
    return prepared[1], _train(prepared, "staged", ["--train-stage", "0", "--nar-stages-per-step", "7"])


def _train(prepared, name, stage_options):
    root, _, cuts = prepared
    exp = root / name
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as calibrated; also the fastest on a busy machine (docs/benchmarks.md)
    try:
        train.main(["--train-cuts", str(cuts), "--valid-cuts", str(root / "none.jsonl.gz"),
                    "--text-symbols", str(root / "tokenized" / "unique_text_tokens.k2symbols"), "--exp-dir", str(exp),
                    "--model-preset", "nano", "--concat-prompt", "true", "--share-embedding", "false",
                    "--stop-at-loss", str(STOP_LOSS), "--max-steps", str(MAX_STEPS), "--num-epochs", "100000",
                    "--max-duration", "40", "--filter-min-duration", "0.1", "--warmup-steps", "20",
                    "--lr-epochs", "1000000", "--num-workers", "0", "--device", "cpu", "--tensorboard", "false",
                    "--synthesize-at-valid", "false", "--save-every-n", "0", "--epoch-checkpoints", "false",
                    "--keep-last-k", "1", "--log-interval", "100", "--seed", "1", *stage_options])
    finally:
        torch.set_num_threads(threads)
    steps = [json.loads(line) for line in (exp / "steps.jsonl").read_text().splitlines()]
    assert len(steps) < MAX_STEPS, f"the training loss never reached {STOP_LOSS}: last {steps[-1]}"
    assert sum(s["loss"] for s in steps[-5:]) / 5 <= STOP_LOSS
    assert not list(exp.glob("epoch-*.pt"))  # --epoch-checkpoints false: no write per one-step epoch
    return exp / f"checkpoint-{len(steps)}.pt"


def _say_a_training_sentence(corpus, synth):
    """(text, result, true codes) of the second utterance said with the first as prompt, greedy."""
    folder = corpus / "2001" / "1"
    prompt_text = (folder / "2001_1_000000.normalized.txt").read_text().strip()
    text = (folder / "2001_1_000001.normalized.txt").read_text().strip()
    res = synth.synthesize(text, prompt_text=prompt_text, prompt_audio=str(folder / "2001_1_000000.wav"),
                           options=SamplingOptions(top_k=1, max_len_ratio=8))
    wav, sr = sf.read(str(folder / "2001_1_000001.wav"), dtype="float32")
    return text, res, synth.codec.encode(wav, sr).long()


def _words_heard(text, res, sample_rate):
    asr = load_asr("pocketsphinx", grammar=jsgf(), dither=True)
    heard = asr.transcribe(res.wav.numpy(), sample_rate)
    return len(text.split()) - utterance_errors(text, heard).errors, heard


def test_overfit_nano_model_says_a_training_sentence_pocketsphinx_hears_it(trained):
    corpus, checkpoint = trained
    synth = Synthesizer.from_checkpoints(checkpoint=str(checkpoint), device="cpu")
    assert synth.codec.sample_rate == 8000  # the checkpoint's own codec: codec2
    text, res, truth = _say_a_training_sentence(corpus, synth)
    # The AR memorised codebook 0 of this utterance and where it ends (a target shifted by a frame
    # or a codebook mix-up would not be memorised) ...
    assert abs(res.generated_frames - truth.shape[0]) <= 0.05 * truth.shape[0], (res.generated_frames, truth.shape)
    n = min(res.generated_frames, truth.shape[0])
    assert (res.codes[:n, 0] == truth[:n, 0]).float().mean() >= 0.9
    # ... and with the NAR's codebooks 1-7, codec2 speaks words pocketsphinx (held to the grammar) hears.
    recognised, heard = _words_heard(text, res, synth.codec.sample_rate)
    assert recognised >= MIN_WORDS, f"said {text!r}, pocketsphinx heard {heard!r}"


def test_one_pass_nar_memorises_the_codebooks_and_speaks_with_the_staged_ar(prepared, trained):
    """The recipe's one-pass NAR (``--nar-parallel true``, NAR alone): trained to the same loss, it
    gives the memorised codebooks 1-7 from codebook 0 in one pass, and beside the staged model's AR
    (an AR and a NAR checkpoint of either mode combine) codec2 says words pocketsphinx hears."""
    corpus, staged = trained
    nar = _train(prepared, "one_pass", ["--train-stage", "2", "--nar-parallel", "true"])
    synth = Synthesizer.from_checkpoints(ar_checkpoint=str(staged), nar_checkpoint=str(nar), device="cpu")
    assert synth.model.config.nar_parallel
    text, res, truth = _say_a_training_sentence(corpus, synth)
    n = min(res.generated_frames, truth.shape[0])
    assert (res.codes[:n, 1:] == truth[:n, 1:]).float().mean() >= 0.8  # the AR's frames, not always the truth's
    recognised, heard = _words_heard(text, res, synth.codec.sample_rate)
    assert recognised >= MIN_WORDS, f"said {text!r}, pocketsphinx heard {heard!r}"
