"""valle.bin.make_voice on a prepared codec2 corpus, and valle.bin.infer --voice with a nano model:
the voice synthesizes exactly what its clip and transcript give by hand; voices of another codec or
symbol table are refused with the fix, and the fix (--from-voice) works."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from lhotse import load_manifest

from tests.voice.conftest import nano_codec2_checkpoint
from valle.bin import infer, make_voice
from valle.infer.synthesizer import SamplingOptions, Synthesizer
from valle.voice import VoiceError, list_voices, load_voice

TEXT = "Seven geese flew low over the frozen lake."


@pytest.fixture(scope="module")
def voices(codec2_corpus, tmp_path_factory):
    tok, cuts, ckpt = codec2_corpus
    out = ckpt.parent / "voices"
    assert make_voice.main(["--tokenized-dir", str(tok), "--cuts", str(cuts), "--all-speakers",
                            "--voices-dir", str(out), "--max-candidates", "2"]) == 0
    return out


def test_all_speakers_picks_the_best_clean_clip_and_skips_with_the_reason(voices, codec2_corpus, capsys):
    tok, cuts, _ = codec2_corpus
    assert [v.name for v in list_voices(voices)] == ["1001"]  # 1002 says only short sentences
    voice = load_voice("1001", voices)
    src = voice.source
    assert src["kind"] == "cuts" and src["candidates"] == 2
    assert set(src["scores"]) == {"dnsmos_ovrl", "similarity", "score"}  # both evaluation backends ran
    assert src["scores"]["score"] == max(c["score"] for c in src["all_scores"])
    cut = {c.id: c for c in load_manifest(cuts)}[src["cut_id"]]
    # the transcript and stage-2 tokens of the utterance, silence trimmed, 3-10 s
    assert voice.text == cut.supervisions[0].text and voice.text_tokens == cut.supervisions[0].custom["text_tokens"]
    assert 3.0 <= voice.seconds <= 10.0 and voice.seconds < cut.duration
    assert voice.codec["name"] == "codec2" and voice.codec_identity.startswith("codec2")
    assert voice.speaker == "1001" and voice.language == "en-us"
    listed = make_voice.main(["--list", str(voices)]) == 0 and capsys.readouterr()
    rows = [json.loads(line) for line in listed.out.splitlines()]
    assert [r["name"] for r in rows] == ["1001"] and rows[0]["text"] == voice.text
    assert "1 voice(s)" in listed.err


def test_skipped_speaker_is_listed(codec2_corpus, tmp_path, capsys):
    tok, cuts, _ = codec2_corpus
    assert make_voice.main(["--tokenized-dir", str(tok), "--cuts", str(cuts), "--all-speakers", "--voices-dir",
                            str(tmp_path), "--quality", "none", "--similarity", "none"]) == 0
    out = capsys.readouterr().out
    assert "skipped speaker 1002: speaker '1002' has no utterance of 3-10 s" in out
    assert "1 voice(s) written, 1 speaker(s) skipped" in out
    with pytest.raises(SystemExit, match="speaker '1002' has no utterance of 3-10 s.*--min-seconds"):
        make_voice.main(["--tokenized-dir", str(tok), "--cuts", str(cuts), "--speaker", "1002", "--voices-dir",
                         str(tmp_path)])
    # every speaker into one --output file would keep only the last one
    with pytest.raises(SystemExit, match="--all-speakers writes one voice per speaker.*--output names one file"):
        make_voice.main(["--tokenized-dir", str(tok), "--cuts", str(cuts), "--all-speakers", "--output",
                         str(tmp_path / "one.voice.npz"), "--quality", "none", "--similarity", "none"])
    assert not (tmp_path / "one.voice.npz").exists()


def test_voice_synthesizes_the_same_codes_as_its_wav_and_text_by_hand(voices, codec2_corpus, tmp_path):
    _, _, ckpt = codec2_corpus
    voice = load_voice("1001", voices)
    clip = tmp_path / "clip.wav"
    sf.write(str(clip), voice.audio, voice.sample_rate, subtype="PCM_16")
    synth = Synthesizer.from_checkpoints(checkpoint=str(ckpt))
    opts = SamplingOptions(seed=7, max_len_ratio=1.0)
    by_voice = synth.synthesize(TEXT, voice=voice, options=opts)
    by_hand = synth.synthesize(TEXT, prompt_text=voice.text, prompt_audio=str(clip), language="en-us", options=opts)
    assert by_voice.prompt_frames == voice.codes.shape[0] == by_hand.prompt_frames
    assert by_voice.generated_frames > 0
    assert np.array_equal(by_voice.codes.numpy(), by_hand.codes.numpy())
    # the command line: --voice by name, from voices/ beside the checkpoint (where run.sh puts them)
    out = tmp_path / "out.wav"
    assert infer.main(["--checkpoint", str(ckpt), "--voice", "1001", "--text", TEXT, "--seed", "7",
                       "--max-len-ratio", "1", "--output", str(out)]) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["voice"]["name"] == "1001" and meta["prompt_text"] == voice.text
    # the same frames (libcodec2's decoder draws from a process-wide random state, so the wav of the
    # same codes differs between two decodes in one process: the codes are compared above)
    assert meta["generated_frames"] == by_voice.generated_frames and meta["prompt_frames"] == voice.codes.shape[0]
    assert sf.info(str(out)).frames == 160 * by_voice.generated_frames


def test_voice_of_another_codec_or_table_is_refused_and_from_voice_fixes_it(voices, codec2_corpus, tmp_path):
    _, _, ckpt = codec2_corpus
    voice = load_voice("1001", voices)
    symbols = Synthesizer.from_checkpoints(checkpoint=str(ckpt)).text.table.symbols
    other_table = nano_codec2_checkpoint(tmp_path / "other_table.pt", symbols + ["ʘ"])
    other_codec = nano_codec2_checkpoint(tmp_path / "encodec.pt", symbols, codec="encodec:random")
    for path, why in ((other_codec, r"codec mismatch: voice '1001' holds codec2 codes .* uses encodec"),
                      (other_table, "symbol table mismatch: voice '1001'.*would name other phonemes")):
        with pytest.raises(SystemExit, match=why + r".*make_voice --from-voice 1001 --checkpoint") as e:
            infer.main(["--checkpoint", str(path), "--voice", "1001", "--voices-dir", str(voices), "--text", TEXT,
                        "--output", str(tmp_path / "x.wav")])
        assert "\n" not in str(e.value)
    with pytest.raises(VoiceError, match="symbol table mismatch"):
        Synthesizer.from_checkpoints(checkpoint=str(other_table)).synthesize(TEXT, voice=voice)
    # the fix the message names: the same clip and transcript, made again for that model
    assert make_voice.main(["--from-voice", "1001", "--voices-dir", str(voices), "--checkpoint", str(other_table),
                            "--output", str(tmp_path / "again.voice.npz")]) == 0
    again = load_voice(tmp_path / "again.voice.npz")
    assert again.text == voice.text and np.array_equal(again.codes, voice.codes)
    assert again.num_symbols == len(symbols) + 1 and again.source["voice"] == "1001"
    assert infer.main(["--checkpoint", str(other_table), "--voice", str(tmp_path / "again.voice.npz"),
                       "--text", TEXT, "--max-len-ratio", "1", "--output", str(tmp_path / "y.wav")]) == 0


def test_bad_voice_arguments_are_clear(voices, codec2_corpus, tmp_path):
    _, _, ckpt = codec2_corpus
    base = ["--checkpoint", str(ckpt), "--text", TEXT, "--output", str(tmp_path / "z.wav")]
    cases = [
        (["--voice", "nobody"], r"no voice 'nobody' in .*voices \(it holds: 1001\)"),
        (["--voice", "..", "--voices-dir", str(voices)], "not a plain name.*never leaves the voices folder"),
        (["--voice", str(tmp_path / "missing.voice.npz")], "missing.voice.npz does not exist"),
        (["--voice", "1001", "--audio-prompt", str(tmp_path / "p.wav"), "--text-prompt", "x"],
         "--voice 1001 replaces the prompt"),
    ]
    for extra, why in cases:
        with pytest.raises(SystemExit, match=why):
            infer.main(base + extra)
