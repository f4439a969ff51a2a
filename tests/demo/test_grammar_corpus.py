"""The demo grammar: disjoint splits that cover every word, a JSGF pocketsphinx accepts, and the
grammar corpus make_corpus writes (held-out sentences kept out, espeak-ng silence trimmed)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from valle.demo import make_corpus
from valle.demo.grammar import COVER, SLOTS, VOCABULARY, all_sentences, jsgf, split_sentences


def test_split_is_disjoint_covers_every_word_and_is_reproducible():
    train, held = split_sentences(COVER, 30, seed=3)
    assert len(train) == COVER and len(held) == 30
    assert not set(train) & set(held)
    assert {w for s in train for w in s.split()} == set(VOCABULARY)
    assert split_sentences(COVER, 30, seed=3) == (train, held)
    assert split_sentences(COVER, 30, seed=4) != (train, held)
    assert len(all_sentences()) == int(np.prod([len(w) for _, w in SLOTS]))
    with pytest.raises(ValueError, match="cover every word"):
        split_sentences(COVER - 1, 1)


def test_heldout_sentences_do_not_depend_on_how_many_train():
    """bench/learn.py compares models trained on 300 and on 1,200 sentences on one held-out set."""
    train300, held = split_sentences(300, 25)
    train1200, held1200 = split_sentences(1200, 25)
    assert held1200 == held and split_sentences(COVER, 5)[1] == held[:5]
    assert train1200[:300] == train300 and len(set(train1200)) == 1200 and not set(train1200) & set(held)
    # the five the measurements before this used (split_sentences(300, 5) then took them right after
    # the 300 training sentences): unchanged
    assert held[:2] == ["place blue box behind five again", "bring white ball under four please"]


def test_pocketsphinx_accepts_the_grammar_and_rejects_a_broken_one():
    from valle.eval.asr import load_asr

    load_asr("pocketsphinx", grammar=jsgf())
    with pytest.raises(ValueError, match="JSGF"):
        load_asr("pocketsphinx", grammar=jsgf().replace("public <sentence>", "public sentence"))


def test_make_corpus_grammar_writes_trimmed_train_and_heldout_sets(tmp_path):
    out, held = tmp_path / "corpus", tmp_path / "held"
    make_corpus.main(["--output-dir", str(out), "--heldout-dir", str(held), "--sentences", "grammar",
                      "--num-sentences", str(COVER), "--num-heldout", "2", "--num-voices", "1"])
    train_texts = {p.read_text().strip() for p in out.rglob("*.normalized.txt")}
    rows = (held / "heldout.tsv").read_text().splitlines()
    assert rows[0] == "id\tspeaker\ttext" and len(rows) == 3
    held_texts = {r.split("\t")[2] for r in rows[1:]}
    assert len(train_texts) == COVER and len(held_texts) == 2 and not train_texts & held_texts
    assert (out / "grammar.jsgf").read_text() == jsgf()
    wav, sr = sf.read(str(out / "2001" / "1" / "2001_1_000000.wav"), dtype="int16")
    edge = int(0.1 * sr)  # espeak-ng pads ~0.3 s of silence at the end; trimmed, speech is within 0.1 s
    assert np.abs(wav[-edge:]).max() > 300 and np.abs(wav[:edge]).max() > 300
