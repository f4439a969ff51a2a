"""valle.bin.make_voice --wav: a recording longer than a prompt, without transcript, gives a clip cut
in pauses and transcribed by pocketsphinx; a transcript that cannot describe a cut clip is refused."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.voice.conftest import nano_codec2_checkpoint
from valle.bin import make_voice
from valle.voice import load_voice

LIBRISPEECH = "librispeech-mini/2412-153948-0000.flac"


@pytest.fixture(scope="module")
def vallex_table_checkpoint(tmp_path_factory):
    """A nano codec2 model with the 70-symbol VALL-E X table: every English transcript fits it."""
    from valle.infer.text_ids import vallex_symbols

    return nano_codec2_checkpoint(tmp_path_factory.mktemp("vx") / "vx.pt", vallex_symbols())


def _level_db(wav, a, b):
    return 10 * np.log10(np.mean(np.asarray(wav[max(0, a):b], np.float64) ** 2) + 1e-12)


def test_long_recording_without_text_is_cut_in_pauses_and_transcribed(samples_dir, vallex_table_checkpoint, tmp_path):
    path = samples_dir / LIBRISPEECH
    wav, sr = sf.read(str(path), dtype="float32")
    assert len(wav) / sr > 10.0  # longer than --max-seconds: a clip must be cut out of it
    reference = (samples_dir / "librispeech-mini" / "2412-153948.trans.txt").read_text().split(" ", 1)[1].lower().split()
    out = tmp_path / "reader.voice.npz"
    assert make_voice.main(["--wav", str(path), "--checkpoint", str(vallex_table_checkpoint), "--output", str(out),
                            "--max-seconds", "6", "--quality", "none", "--similarity", "none",
                            "--max-candidates", "3"]) == 0  # <= 6 s: less for pocketsphinx to decode
    voice = load_voice(out)
    assert 3.0 <= voice.seconds <= 6.0 and voice.sample_rate == sr
    start = round(voice.source["start"] * sr)
    end = start + len(voice.audio)
    assert np.array_equal(voice.audio, np.round(wav[start:end] * 32768).clip(-32768, 32767).astype(np.int16))
    # cut in pauses: 20 ms around each edge is >= 30 dB below the recording's speech
    speech = np.percentile([_level_db(wav, i, i + sr // 100) for i in range(0, len(wav), sr // 100)], 95)
    for edge in (start, end):
        if 0 < edge < len(wav):
            assert _level_db(wav, edge - sr // 100, edge + sr // 100) < speech - 30, edge / sr
    words = voice.text.split()
    assert voice.source["asr"] == "pocketsphinx-en-us-accurate" and len(words) >= 5
    assert np.mean([w in reference for w in words]) >= 0.5, voice.text  # mostly words the reader said
    assert voice.tokenizer == "vallex" and len(voice.text_token_langs) == len(voice.text_tokens)


def test_wav_with_text(samples_dir, codec2_corpus, tmp_path, espeak_wav):
    _, _, ckpt = codec2_corpus
    base = ["--checkpoint", str(ckpt), "--quality", "none", "--similarity", "none"]
    with pytest.raises(SystemExit, match=r"more than --max-seconds 10, and a transcript: .*Trim the recording"):
        make_voice.main(base + ["--wav", str(samples_dir / LIBRISPEECH), "--text", "if the reader will excuse me",
                                "--voices-dir", str(tmp_path)])
    text = "Seven geese flew low over the frozen lake before the sun went down."  # words of the corpus
    clip = espeak_wav(text, tmp_path / "clip.wav", "en-us", 150)
    assert make_voice.main(base + ["--wav", str(clip), "--text", text, "--speaker", "Ann",
                                   "--voices-dir", str(tmp_path / "v")]) == 0
    voice = load_voice("Ann", tmp_path / "v")
    assert voice.text == text and "asr" not in voice.source and voice.speaker == "Ann"
    raw, sr = sf.read(str(clip), dtype="int16")
    assert voice.sample_rate == sr and len(voice.audio) < len(raw)  # espeak-ng's trailing silence trimmed
    with pytest.raises(SystemExit, match="does not recognise --language de: pass --text"):
        make_voice.main(base + ["--wav", str(clip), "--language", "de", "--voices-dir", str(tmp_path / "v")])
    with pytest.raises(SystemExit, match=r"phoneme symbols .* are not in the checkpoint's symbol table"):
        make_voice.main(base + ["--wav", str(clip), "--text", "Zebras juggle quickly.", "--voices-dir",
                                str(tmp_path / "v")])
