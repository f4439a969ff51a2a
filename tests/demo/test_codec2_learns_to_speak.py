"""End to end with the real codec2: a tiny model memorises a few grammar sentences and says one.

The whole path runs on real components: espeak-ng speaks grammar sentences
(valle.demo.make_corpus), the prepare stages make manifests, phonemes and real codec2 3200 codes,
valle.bin.train trains a nano AR+NAR on same-speaker utterance pairs (--concat-prompt) until it
overfits, the synthesizer says one training sentence with another utterance of the same voice as
its prompt, codec2 decodes it and pocketsphinx, held to the grammar, must hear most of its words.
A bug that shifts targets by a frame, mixes codebooks up or breaks the NAR fails here.

Calibration (the same stages and options run in-process, one torch thread, 2026-11-27): after 200
steps the greedy AR reproduced codebook 0 exactly; pocketsphinx heard 2 of 6 words after 600 steps
and 5 of 6 after 800 (~120 CPU-s of training; one epoch is one step here, so an epoch checkpoint is
written per step). The NAR is what needs the steps (docs/models.md). Recognition is not monotonic
in the steps: these assertions held at 800 and 1000 steps and failed at 200 and 1200 (2 words).
"""
from __future__ import annotations

import os
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

STEPS = 800
MIN_WORDS = 4  # of 6

# Not part of the default suite (the 15-minute CI budget): 800 training steps cost minutes on 2 cores,
# and recognition is not yet monotonic in the steps (see above), so it is run on purpose:
#   VALLE_LEARN_TEST=1 .venv/bin/python -m pytest tests/demo/test_codec2_learns_to_speak.py
pytestmark = pytest.mark.skipif(
    os.environ.get("VALLE_LEARN_TEST") != "1",
    reason="slow real-codec2 learning test: set VALLE_LEARN_TEST=1 to run it (issue 13 item 5, not yet met in CI time)")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as calibrated; also the fastest on a busy machine (docs/benchmarks.md)
    try:
        yield _train(tmp_path_factory.mktemp("learn"))
    finally:
        torch.set_num_threads(threads)


def _train(root):
    corpus, man, tok, exp = root / "corpus", root / "manifests", root / "tokenized", root / "exp"
    sentences = split_sentences(10, 0)[0][:3]  # three sentences, one voice: memorised within the budget
    speak_sentences(shutil.which("espeak-ng"), corpus, GRAMMAR_VOICES[:1], sentences, True, 2)
    cuts = prepare_in_process(corpus, man, tok)
    train.main(["--train-cuts", str(cuts), "--valid-cuts", str(root / "none.jsonl.gz"),
                "--text-symbols", str(tok / "unique_text_tokens.k2symbols"), "--exp-dir", str(exp),
                "--model-preset", "nano", "--train-stage", "0", "--concat-prompt", "true",
                "--max-steps", str(STEPS), "--num-epochs", "100000", "--max-duration", "40",
                "--filter-min-duration", "0.1", "--warmup-steps", "20", "--lr-epochs", "1000000", "--num-workers", "0", "--device", "cpu",
                "--tensorboard", "false", "--synthesize-at-valid", "false", "--save-every-n", "0",
                "--keep-last-k", "1", "--log-interval", "100", "--seed", "1"])
    return corpus, exp / f"checkpoint-{STEPS}.pt"


def test_overfit_nano_model_says_a_training_sentence_pocketsphinx_hears_it(trained):
    corpus, checkpoint = trained
    folder = corpus / "2001" / "1"
    prompt_wav = folder / "2001_1_000000.wav"
    prompt_text = (folder / "2001_1_000000.normalized.txt").read_text().strip()
    text = (folder / "2001_1_000001.normalized.txt").read_text().strip()
    synth = Synthesizer.from_checkpoints(checkpoint=str(checkpoint), device="cpu")
    assert synth.codec.sample_rate == 8000  # the checkpoint's own codec: codec2
    res = synth.synthesize(text, prompt_text=prompt_text, prompt_audio=str(prompt_wav),
                           options=SamplingOptions(top_k=1, max_len_ratio=8))
    wav, sr = sf.read(str(folder / "2001_1_000001.wav"), dtype="float32")
    truth = synth.codec.encode(wav, sr).long()
    # The AR memorised codebook 0 of this utterance and where it ends (a target shifted by a frame
    # or a codebook mix-up would not be memorised) ...
    assert abs(res.generated_frames - truth.shape[0]) <= 0.05 * truth.shape[0], (res.generated_frames, truth.shape)
    n = min(res.generated_frames, truth.shape[0])
    assert (res.codes[:n, 0] == truth[:n, 0]).float().mean() >= 0.9
    # ... and with the NAR's codebooks 1-7, codec2 speaks words pocketsphinx (held to the grammar) hears.
    asr = load_asr("pocketsphinx", grammar=jsgf(), dither=True)
    heard = asr.transcribe(res.wav.numpy(), synth.codec.sample_rate)
    recognised = len(text.split()) - utterance_errors(text, heard).errors
    assert recognised >= MIN_WORDS, f"said {text!r}, pocketsphinx heard {heard!r}"
