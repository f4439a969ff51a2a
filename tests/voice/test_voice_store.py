"""Voice files and folders: a round trip keeps everything, names never leave the folder, bad files
are one clear error, and loading a file never runs code from it."""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from valle.voice import (VoiceError, VoiceFileError, VoiceNameError, list_voices, load_voice, save_voice,
                         voice_path)


def test_round_trip_and_listing(tmp_path, codec2_voice):
    path = save_voice(voice_path("lj", tmp_path), codec2_voice)
    assert path == tmp_path / "lj.voice.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lj.voice.npz"]  # no temporary file left behind
    back = load_voice("lj", tmp_path)
    assert np.array_equal(back.codes, codec2_voice.codes) and back.codes.dtype == np.int16
    assert np.array_equal(back.audio, codec2_voice.audio) and back.sample_rate == codec2_voice.sample_rate
    assert back.meta() == codec2_voice.meta()
    assert load_voice(path).meta() == codec2_voice.meta()  # no voices_dir: a path
    with zipfile.ZipFile(path) as z:  # plain arrays, nothing pickled
        assert sorted(z.namelist()) == ["audio.npy", "codes.npy", "meta.npy"]
    save_voice(voice_path("lj.copy", tmp_path), codec2_voice)
    names = [v.name for v in list_voices(tmp_path)]
    assert names == ["lj", "lj.copy"]
    row = list_voices(tmp_path)[0].summary()
    assert row["speaker"] == "LJ" and row["codec"] == "codec2" and row["text"] == codec2_voice.text
    assert abs(row["seconds"] - len(codec2_voice.audio) / codec2_voice.sample_rate) < 1e-3


@pytest.mark.parametrize("name", ["../lj", "a/lj", "/etc/passwd", "..", ".hidden", "-rf", "", "lj\n", "l j"])
def test_names_never_leave_the_folder(tmp_path, codec2_voice, name):
    save_voice(voice_path("lj", tmp_path / "voices"), codec2_voice)
    save_voice(tmp_path / "lj.voice.npz", codec2_voice)  # what ../lj would reach
    with pytest.raises(VoiceNameError, match="not a plain name.*never leaves the voices folder"):
        load_voice(name, tmp_path / "voices")


def test_symlink_out_of_the_folder_is_refused(tmp_path, codec2_voice):
    outside = save_voice(tmp_path / "outside.voice.npz", codec2_voice)
    (tmp_path / "voices").mkdir()
    os.symlink(outside, tmp_path / "voices" / "x.voice.npz")
    with pytest.raises(VoiceNameError, match="outside the voices folder"):
        load_voice("x", tmp_path / "voices")


def test_unknown_name_lists_the_folder(tmp_path, codec2_voice):
    save_voice(voice_path("lj", tmp_path), codec2_voice)
    with pytest.raises(VoiceNameError, match=r"no voice 'bob' in .*it holds: lj.*make_voice"):
        load_voice("bob", tmp_path)
    with pytest.raises(VoiceFileError, match="does not exist.*make_voice"):
        load_voice(tmp_path / "nothing.voice.npz")


def _pickle_bomb(marker):
    class Bomb:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    return Bomb()


def test_bad_files_are_one_clear_error(tmp_path, codec2_voice):
    good = save_voice(tmp_path / "good.voice.npz", codec2_voice)
    data = good.read_bytes()
    cases = {
        "truncated": data[: len(data) // 2],
        "text": b"not a voice\n",
        "empty": b"",
    }
    for name, blob in cases.items():
        (tmp_path / f"{name}.voice.npz").write_bytes(blob)
    # an npz whose arrays are pickled objects: loading must refuse it without running the pickle
    marker = tmp_path / "pwned"
    with open(tmp_path / "pickled.voice.npz", "wb") as f:
        np.savez(f, codes=np.array([_pickle_bomb(marker)], dtype=object), audio=np.zeros(4, np.int16),
                 meta=np.frombuffer(b"{}", np.uint8))
    # a valid npz whose codes do not fit its codec (codec2 codes go to 255)
    bad = codec2_voice.meta()
    with open(tmp_path / "range.voice.npz", "wb") as f:
        np.savez(f, codes=np.full((5, 8), 700, np.int16), audio=codec2_voice.audio,
                 meta=np.frombuffer(json.dumps(bad).encode(), np.uint8))
    for name in ["truncated", "text", "empty", "pickled", "range"]:
        with pytest.raises(VoiceFileError, match=rf"{name}.voice.npz.*make_voice") as e:
            load_voice(name, tmp_path)
        assert "\n" not in str(e.value)
    assert not marker.exists()
    errors = []
    assert [v.name for v in list_voices(tmp_path, errors)] == ["good"]
    assert sorted(n for n, _ in errors) == ["empty", "pickled", "range", "text", "truncated"]
    with pytest.raises(VoiceError, match="does not exist or is not a folder"):
        list_voices(tmp_path / "nope")


def test_speakers_whose_ids_map_to_one_name_get_distinct_voice_names():
    from valle.voice import check_voice_name, voice_names_for

    names = voice_names_for(["张三", "李四", "José", "Josè", "anna", "1001"])
    assert names["anna"] == "anna" and names["1001"] == "1001"  # no collision: the plain name
    assert len(set(names.values())) == 6
    assert names["张三"].startswith("__-") and names["José"].startswith("Jos_-")
    for name in names.values():
        check_voice_name(name)
    assert voice_names_for(["张三", "李四"]) == {k: names[k] for k in ("张三", "李四")}  # stable
