"""Stage 3 end to end: real audio in every format, codes equal to encodec's up to float ties, resumable, idempotent."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from lhotse import Recording, load_manifest

from codec_stage_inputs import write_stage2_inputs
from valle.bin.tokenize_audio import main
from valle.codec.encodec_model import load_encodec_model
from valle.codec.encodec_compare import code_differences

REPO = Path(__file__).resolve().parents[2]
SENTENCES = [
    "Printing, in the only sense with which we are at present concerned.",
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "A journey of a thousand miles begins with a single step.",
    "Speech synthesis turns text into audio.",
    "Nobody expects the unexpected.",
]


def run_stage(manifests: Path, tokenized: Path, *extra: str) -> int:
    return main(["--manifests-dir", str(manifests), "--tokenized-dir", str(tokenized), "--prefix", "corpus",
                 "--codec", "encodec:random", "--no-progress", *extra])


def cuts_and_codes(tokenized: Path, name: str = "corpus_cuts_train.jsonl.gz"):
    cuts = load_manifest(tokenized / name)
    return {c.id: (c, c.load_features()) for c in cuts}


def same_outputs(a: Path, b: Path, name: str = "corpus_cuts_train.jsonl.gz") -> None:
    """Same cuts (ids, spans, supervisions, feature metadata) and identical codes."""
    ca, cb = cuts_and_codes(a, name), cuts_and_codes(b, name)
    assert list(ca) == list(cb)
    for cut_id, (cut_a, codes_a) in ca.items():
        cut_b, codes_b = cb[cut_id]
        da, db = cut_a.to_dict(), cut_b.to_dict()
        for d in (da, db):
            d["features"].pop("storage_path")
            d.pop("recording")
        assert da == db
        assert np.array_equal(codes_a, codes_b)


def package_codes(codec, rec):
    """The encodec package on its own: the whole source file, its own downmix and resampling
    (``convert_audio``), ``model.encode``; returns codes [frames, 8] and encoder embeddings."""
    from encodec.utils import convert_audio

    wav = convert_audio(torch.from_numpy(rec.load_audio()), rec.sampling_rate, 24000, 1)
    with torch.inference_mode():
        (codes, _), = codec.encode(wav.unsqueeze(0))
        embeddings = codec.encoder(wav.unsqueeze(0))[0].t()
    return codes[0].transpose(0, 1), embeddings


@pytest.fixture(scope="module")
def codec():
    return load_encodec_model("random")


@pytest.fixture(scope="module")
def espeak_corpus(tmp_path_factory, espeak_wav, samples_dir):
    """Six short espeak-ng utterances and a stereo 8 kHz mp3."""
    made = tmp_path_factory.mktemp("speech")
    files = [espeak_wav(t, made / f"s{i}.wav", speed=230) for i, t in enumerate(SENTENCES)]
    return files + [samples_dir / "formats" / "stereo.mp3"]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, espeak_corpus):
    """The corpus tokenized with --nj 1 and --chunk-size 2, uninterrupted."""
    root = tmp_path_factory.mktemp("reference")
    manifests, tokenized = write_stage2_inputs(root, espeak_corpus)
    assert run_stage(manifests, tokenized, "--nj", "1", "--chunk-size", "2") == 0
    return root, manifests, tokenized


def test_codes_equal_encodec_on_every_format(tmp_path, speech_files, codec):
    supervise = [True] * len(speech_files) + [False]
    manifests, tokenized = write_stage2_inputs(tmp_path, list(speech_files) + [speech_files[0]], supervise=supervise)
    assert run_stage(manifests, tokenized, "--nj", "1") == 0
    cuts = cuts_and_codes(tokenized)
    assert len(cuts) == len(speech_files)
    skipped = (tokenized / "corpus_recordings_without_supervision_train.txt").read_text().split()
    assert skipped == [f"rec{len(speech_files):02d}"]
    rates, total_frames, differing_frames = set(), 0, 0
    for cut_id, (cut, codes) in cuts.items():
        assert cut.features.type == "encodec" and cut.features.num_features == 8
        assert cut.features.frame_shift == 320 / 24000 and cut.features.sampling_rate == 24000
        assert cut.supervisions[0].custom["text_tokens"] == ["s", "ʌ", "m"]
        assert cut.custom["codec"]["codec"] == "encodec:random" and cut.custom["codec"]["random_weights"]
        assert abs(codes.shape[0] - round(cut.duration * 75)) <= 1 and codes.shape[1] == 8
        with h5py.File(cut.features.storage_path, "r") as f:
            stored = f[cut.features.storage_key][()]
        assert stored.dtype == np.int16 and np.array_equal(stored, codes)
        rec = Recording.from_file(cut.recording.sources[0].source)
        rates.add((rec.sampling_rate, rec.num_channels, Path(rec.sources[0].source).suffix))
        direct, embeddings = package_codes(codec, rec)
        # The stage arranges the same arithmetic differently (codec_cpu), so floats differ in the
        # last bits; a code may differ only where two codewords tie to within that rounding.
        n = codes.shape[0]
        differences = code_differences(codec, embeddings[:n], torch.from_numpy(codes.astype(np.int64)), direct[:n])
        assert all(d.is_tie for d in differences), (cut.recording.sources[0].source, differences)
        total_frames += n
        differing_frames += len(differences)
        assert direct.shape[0] - codes.shape[0] in (0, 1)
    # random weights leave many near-ties (a nearly constant encoder output, see codec.py): ~1%
    assert differing_frames <= 0.03 * total_frames, (differing_frames, total_frames)
    assert {r[0] for r in rates} >= {8000, 16000, 22050}
    assert {r[1] for r in rates} == {1, 2}
    assert {r[2] for r in rates} >= {".wav", ".flac", ".mp3", ".opus"}


def test_encodec_cpu_encoder_gives_the_packages_exact_codes(tmp_path, speech_files, codec):
    """``--cpu-encoder encodec``: the stage's codes are the encodec package's, bit for bit."""
    manifests, tokenized = write_stage2_inputs(tmp_path, list(speech_files))
    assert run_stage(manifests, tokenized, "--nj", "2", "--cpu-encoder", "encodec") == 0
    cuts = cuts_and_codes(tokenized)
    assert len(cuts) == len(speech_files)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the stage's workers run one thread; encodec's sums depend on the count
    try:
        for cut, codes in cuts.values():
            direct, _ = package_codes(codec, Recording.from_file(cut.recording.sources[0].source))
            n = codes.shape[0]
            assert direct.shape[0] - n in (0, 1)
            assert np.array_equal(codes.astype(np.int64), direct[:n].numpy()), cut.recording.sources[0].source
    finally:
        torch.set_num_threads(threads)


def test_two_jobs_equal_one_job(tmp_path, espeak_corpus, reference_run):
    manifests, tokenized = write_stage2_inputs(tmp_path, espeak_corpus)
    assert run_stage(manifests, tokenized, "--nj", "2", "--chunk-size", "2") == 0
    same_outputs(reference_run[2], tokenized)


def test_rerun_is_a_no_op_and_changed_parameters_redo(tmp_path, espeak_corpus, caplog):
    files = espeak_corpus[:3]
    manifests, tokenized = write_stage2_inputs(tmp_path, files)
    assert run_stage(manifests, tokenized, "--chunk-size", "2") == 0
    out = tokenized / "corpus_cuts_train.jsonl.gz"
    first = out.stat().st_mtime_ns
    archives = sorted((tokenized / "codes" / "corpus_train").glob("codes-*.h5"))
    assert len(archives) == 2
    caplog.clear()
    with caplog.at_level("INFO"):
        assert run_stage(manifests, tokenized, "--chunk-size", "2") == 0
    assert "up to date" in caplog.text and "RANDOM" not in caplog.text  # not even the codec is loaded
    assert out.stat().st_mtime_ns == first
    with caplog.at_level("INFO"):
        assert run_stage(manifests, tokenized, "--chunk-size", "3") == 0
    assert "parameters changed" in caplog.text
    assert out.stat().st_mtime_ns != first
    assert sorted((tokenized / "codes" / "corpus_train").glob("codes-*.h5")) == archives[:1]
    assert len(load_manifest(out)) == 3
    # the exact encoder is a parameter too (its codes differ at float ties); the default is implicit
    caplog.clear()
    with caplog.at_level("INFO"):
        assert run_stage(manifests, tokenized, "--chunk-size", "3", "--cpu-encoder", "encodec") == 0
    assert "parameters changed" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO"):
        assert run_stage(manifests, tokenized, "--chunk-size", "3", "--cpu-encoder", "encodec") == 0
    assert "up to date" in caplog.text
    assert run_stage(manifests, tokenized, "--chunk-size", "3") == 0
    # new stage-2 output (one supervision fewer) redoes the part too
    write_stage2_inputs(tmp_path, files, supervise=[True, False, True])
    assert run_stage(manifests, tokenized, "--chunk-size", "3") == 0
    assert [c.id for c in load_manifest(out)] == ["utt00", "utt02"]


def test_stamps_of_an_earlier_release_are_read_so_nothing_is_encoded_again(tmp_path, espeak_corpus, caplog):
    """Outputs stamped by an earlier release (``.<cuts>.stamp.json``, a codes folder's ``params.json``,
    both holding the bare parameters) stay current: upgrading never re-encodes a corpus."""
    manifests, tokenized = write_stage2_inputs(tmp_path, espeak_corpus[:3])
    assert run_stage(manifests, tokenized, "--chunk-size", "2") == 0
    out, chunks = tokenized / "corpus_cuts_train.jsonl.gz", tokenized / "codes" / "corpus_train"
    part_stamp, chunk_stamp = tokenized / ".stage3_corpus_train.stamp.json", chunks / ".chunks.stamp.json"
    old_part, old_chunks = tokenized / ".corpus_cuts_train.jsonl.gz.stamp.json", chunks / "params.json"

    def downgrade():
        for new, old in ((part_stamp, old_part), (chunk_stamp, old_chunks)):
            old.write_text(json.dumps(json.loads(new.read_text())["params"]))
            new.unlink()

    archives = {p: p.stat().st_mtime_ns for p in chunks.glob("codes-*.h5")}
    downgrade()
    first = out.stat().st_mtime_ns
    caplog.clear()
    with caplog.at_level("INFO"):
        assert run_stage(manifests, tokenized, "--chunk-size", "2") == 0
    assert "up to date" in caplog.text and out.stat().st_mtime_ns == first
    assert part_stamp.is_file() and not old_part.exists()
    # the manifest lost, the old codes folder stamp still vouches for its chunks: reassembled, not encoded
    out.unlink()
    old_part.write_text("{}")
    assert run_stage(manifests, tokenized, "--chunk-size", "2") == 0
    assert {p: p.stat().st_mtime_ns for p in chunks.glob("codes-*.h5")} == archives
    assert chunk_stamp.is_file() and not old_chunks.exists() and not old_part.exists()
    assert len(load_manifest(out)) == 3


def test_killed_run_resumes_to_the_same_outputs(tmp_path, espeak_corpus, reference_run):
    manifests, tokenized = write_stage2_inputs(tmp_path, espeak_corpus)
    chunks = tokenized / "codes" / "corpus_train"
    cmd = [sys.executable, "-m", "valle.bin.tokenize_audio", "--manifests-dir", str(manifests),
           "--tokenized-dir", str(tokenized), "--prefix", "corpus", "--codec", "encodec:random",
           "--nj", "1", "--chunk-size", "2", "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (chunks / "cuts-00000.jsonl.gz").exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the stage did not finish a chunk in 120 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert not (tokenized / "corpus_cuts_train.jsonl.gz").exists()
    finished = sorted(p.name for p in chunks.glob("cuts-*.jsonl.gz"))
    assert finished and len(finished) < 4, finished
    assert run_stage(manifests, tokenized, "--nj", "1", "--chunk-size", "2") == 0
    same_outputs(reference_run[2], tokenized)
    assert not list(chunks.glob(".tmp-*"))


def assert_equal_up_to_ties(codec, cut, codes_a: np.ndarray, codes_b: np.ndarray) -> None:
    """Codes of one cut from two runs whose LSTM batches differed: equal but for float ties."""
    from valle.codec.encodec_codec import EncodecCodec
    from valle.data.cut_encoding import load_cut_audio

    assert codes_a.shape == codes_b.shape
    with torch.inference_mode():
        embeddings = codec.encoder(load_cut_audio(cut, EncodecCodec(model=codec)).unsqueeze(0))[0].t()
    a, b = (torch.from_numpy(c.astype(np.int64)) for c in (codes_a, codes_b))
    differences = code_differences(codec, embeddings[:a.shape[0]], a, b)
    assert all(d.is_tie for d in differences), (cut.id, differences)
    assert len(differences) <= 0.03 * a.shape[0]


def test_torchrun_ranks_write_disjoint_shards(tmp_path, espeak_corpus, reference_run, codec, monkeypatch):
    manifests, tokenized = write_stage2_inputs(tmp_path, espeak_corpus)
    ids = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        assert run_stage(manifests, tokenized, "--chunk-size", "2") == 0
        shard = load_manifest(tokenized / f"corpus_cuts_train.{rank}-of-2.jsonl.gz")
        ids.append([c.id for c in shard])
        reference = cuts_and_codes(reference_run[2])
        for cut in shard:  # a shard's chunks group other cuts into LSTM batches: floats differ
            assert_equal_up_to_ties(codec, cut, cut.load_features(), reference[cut.id][1])
    assert not (tokenized / "corpus_cuts_train.jsonl.gz").exists()
    assert sorted(ids[0] + ids[1]) == sorted(cuts_and_codes(reference_run[2]))
    assert not set(ids[0]) & set(ids[1])


def test_bad_inputs_are_named(tmp_path, espeak_corpus, capsys):
    manifests, tokenized = write_stage2_inputs(tmp_path, espeak_corpus[:1])
    with pytest.raises(SystemExit, match="^error: .*corpus_recordings_dev.jsonl.gz does not exist: run stage 1"):
        run_stage(manifests, tokenized, "--parts", "dev")
    from lhotse import SupervisionSet

    sup_path = tokenized / "corpus_supervisions_train.jsonl.gz"
    sups = SupervisionSet.from_segments([s.with_custom("text_tokens", []) for s in load_manifest(sup_path)])
    sups.to_file(sup_path)
    with pytest.raises(SystemExit) as e:
        run_stage(manifests, tokenized)
    err = str(e.value.code)
    assert err.startswith("error: ") and "corpus_supervisions_train.jsonl.gz" in err and "run stage 2" in err
    with pytest.raises(SystemExit):
        run_stage(manifests, tokenized, "--device", "cuda", "--cpu-encoder", "encodec")
    assert "--cpu-encoder encodec applies to --device cpu only" in capsys.readouterr().err


def test_unreadable_audio_names_the_cut_and_file(tmp_path, espeak_corpus):
    manifests, tokenized = write_stage2_inputs(tmp_path, espeak_corpus[:2])
    broken = sorted((tmp_path / "audio").iterdir())[1]
    broken.write_bytes(b"RIFF garbage, not audio")  # changed after stage 1 accepted it
    with pytest.raises(SystemExit) as e:
        run_stage(manifests, tokenized)
    err = str(e.value.code)
    assert "cut utt01: cannot load" in err and str(broken) in err and "rerun stages 1-2" in err
    assert not (tokenized / "corpus_cuts_train.jsonl.gz").exists()
