"""Checkpoint files (weights_only, fallback, keep-last-k, RNG) and the dataset/sampler contract."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from synthetic_corpus import make_cuts
from valle.data.dataset import SpeechCodesDataset
from valle.data.sampler import ResumableSampler
from valle.text.symbol_table import SymbolTable
from valle.train import checkpoint as C


def _ckpt(step):
    return dict(model={"w": torch.full((2,), float(step))}, step=step, epoch=1, rng=[C.get_rng_state()])


def test_latest_falls_back_past_a_truncated_file(tmp_path, caplog):
    for step in (10, 20):
        C.save_checkpoint(tmp_path / f"checkpoint-{step}.pt", **_ckpt(step))
    newest = tmp_path / "checkpoint-30.pt"
    C.save_checkpoint(newest, **_ckpt(30))
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])  # truncated by a full disk
    path, ckpt = C.load_latest(tmp_path)
    assert path.name == "checkpoint-20.pt" and ckpt["step"] == 20
    assert "checkpoint-30.pt" in caplog.text
    with pytest.raises(C.CheckpointError, match="checkpoint-30.pt"):
        C.load_checkpoint(newest)


def test_keep_last_k_and_weights_only(tmp_path):
    for step in (1, 2, 3, 4):
        C.save_checkpoint(tmp_path / f"checkpoint-{step}.pt", **_ckpt(step))
    C.save_checkpoint(tmp_path / "epoch-1.pt", **_ckpt(4))
    C.remove_old_checkpoints(tmp_path, 2)
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["checkpoint-3.pt", "checkpoint-4.pt", "epoch-1.pt"]
    ckpt = torch.load(tmp_path / "checkpoint-4.pt", weights_only=True)
    assert ckpt["step"] == 4
    assert not list(tmp_path.glob(".tmp-*"))


def test_rng_state_round_trip():
    state = C.get_rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random())
    C.set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_collation_and_same_speaker_prompts(tmp_path):
    cuts = make_cuts(tmp_path, "c", 6, speakers=2)
    table = SymbolTable.for_corpus(["a", "b", "d", "e", "i", "k", "m", "n", "o", "s", "t", "u"])
    ds = SpeechCodesDataset(table, num_languages=3, prompt_cuts=cuts, prompt_max_frames=30)
    batch = ds[cuts.subset(first=4)]
    B = 4
    assert batch["text_tokens"].shape[0] == B and batch["audio_codes"].shape[2] == 8
    for i, cid in enumerate(batch["cut_ids"]):
        cut = cuts[cid]
        n, s = int(batch["audio_lens"][i]), int(batch["text_lens"][i])
        assert torch.equal(batch["audio_codes"][i, :n], torch.from_numpy(cut.load_features().astype(np.int64)))
        assert (batch["text_tokens"][i, s:] == table.pad_id).all()
        assert table.decode(batch["text_tokens"][i, :s].tolist()) == cut.supervisions[0].custom["text_tokens"]
        p = batch["prompt_codes"][i, : int(batch["prompt_lens"][i])]
        same_spk = [c for c in cuts if c.supervisions[0].speaker == cut.supervisions[0].speaker and c.id != cid]
        assert any(_contains(torch.from_numpy(c.load_features().astype(np.int64)), p) for c in same_spk)
    assert (batch["text_langs"] == 0).all()  # en-us -> 0
    again = ds[cuts.subset(first=4)]
    assert torch.equal(again["prompt_codes"], batch["prompt_codes"])  # pure function of (seed, epoch, id)


def _contains(codes, part):
    L = part.shape[0]
    return any(torch.equal(codes[s : s + L], part) for s in range(codes.shape[0] - L + 1))


def test_sampler_resume_skips_consumed_batches_and_shards(tmp_path):
    cuts = make_cuts(tmp_path, "s", 24)
    full = ResumableSampler(cuts, max_duration=4, num_buckets=4, seed=3)
    full.set_epoch(2)
    order = [[c.id for c in b] for b in full]
    resumed = ResumableSampler(cuts, max_duration=4, num_buckets=4, seed=3)
    resumed.load_state_dict({"epoch": 2, "batches_done": 3})
    resumed.set_epoch(2)
    assert [[c.id for c in b] for b in resumed] == order[3:]
    ranks = [ResumableSampler(cuts, max_duration=4, num_buckets=4, seed=3, world_size=2, rank=r) for r in (0, 1)]
    ids = [{c.id for b in s for c in b} for s in ranks]
    assert not ids[0] & ids[1]
    assert all(sum(cuts[i].duration for i in b) <= 4 for b in order)


def test_concat_prompt_joins_a_whole_other_same_speaker_utterance_before_each_item(tmp_path):
    cuts = make_cuts(tmp_path, "c", 6, speakers=2)
    table = SymbolTable.for_corpus(["a", "b", "d", "e", "i", "k", "m", "n", "o", "s", "t", "u"])
    with pytest.raises(ValueError, match="concat_prompt needs prompt_cuts"):
        SpeechCodesDataset(table, concat_prompt=True)
    ds = SpeechCodesDataset(table, num_languages=3, prompt_cuts=cuts, concat_prompt=True)
    batch = ds[cuts.subset(first=4)]
    assert "prompt_codes" not in batch
    codes_of = {c.id: torch.from_numpy(c.load_features().astype(np.int64)) for c in cuts}
    for i, cid in enumerate(batch["cut_ids"]):
        own, n = codes_of[cid], int(batch["audio_lens"][i])
        joined = batch["audio_codes"][i, :n]
        assert torch.equal(joined[n - own.shape[0]:], own)  # the item itself comes last
        head = joined[: n - own.shape[0]]
        partners = [c for c in cuts if c.id != cid and c.supervisions[0].speaker == cuts[cid].supervisions[0].speaker]
        partner = next(c for c in partners if torch.equal(codes_of[c.id], head))  # a whole other utterance
        text = table.decode(batch["text_tokens"][i, : int(batch["text_lens"][i])].tolist())
        assert text == partner.supervisions[0].custom["text_tokens"] + cuts[cid].supervisions[0].custom["text_tokens"]
