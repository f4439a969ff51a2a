"""A small-vocabulary sentence grammar: the corpus a model can learn to speak in minutes on a CPU.

Why: offline, the only judge of "does the model speak" is pocketsphinx, and pocketsphinx is only
reliable when a grammar limits what it may hear.  Every sentence here is one word from each slot,
in order (``place red box near seven now``): 4 x 4 x 4 x 4 x 10 x 4 = 10,240 sentences.  The
words are letter-free (spelled letters are the e-set confusions that made GRID-style grammars
score 12% WER on clean espeak audio) and acoustically distinct within each slot.

``split_sentences`` gives disjoint train and held-out lists, so a model can be asked to say a
sentence it never heard; ``jsgf`` is the grammar pocketsphinx decodes with.
"""
from __future__ import annotations

import itertools
import random
from typing import List, Sequence, Tuple

# One slot per position, in sentence order.  All words are in pocketsphinx's en-us dictionary.
SLOTS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("command", ("place", "lift", "bring", "show")),
    ("colour", ("red", "green", "blue", "white")),
    ("noun", ("box", "ball", "cup", "lamp")),
    ("preposition", ("near", "under", "behind", "above")),
    ("digit", ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")),
    ("adverb", ("now", "soon", "again", "please")),
)

VOCABULARY: Tuple[str, ...] = tuple(w for _, words in SLOTS for w in words)
COVER = max(len(words) for _, words in SLOTS)  # training sentences needed to use every word


def all_sentences() -> List[str]:
    """Every sentence of the grammar, in a fixed order."""
    return [" ".join(ws) for ws in itertools.product(*(words for _, words in SLOTS))]


HELDOUT_AT, HELDOUT_MAX = 300 - COVER, 100  # the held-out block's place in the shuffled sentences, its size


def split_sentences(num_train: int, num_heldout: int, seed: int = 0) -> Tuple[List[str], List[str]]:
    """Disjoint random train and held-out sentence lists (a pure function of the arguments).

    The first ``COVER`` training sentences use every word of every slot once (slots with fewer
    words repeat theirs), so a held-out sentence is a new combination of known words, never a
    new word; the rest are drawn at random. The held-out sentences come from a fixed block of the
    shuffled sentences that training never draws from, so they do not depend on ``num_train``: a
    model trained on 1,200 sentences is scored on the same ones as a model trained on 300 (the
    block starts where 300 training sentences end, which keeps the sets of the measurements made
    before it existed).
    """
    total = len(all_sentences())
    if num_train < COVER or not 0 <= num_heldout <= HELDOUT_MAX or num_train + HELDOUT_MAX > total:
        raise ValueError(f"num_train ({num_train}) must be >= {COVER} (to cover every word), num_heldout "
                         f"({num_heldout}) at most {HELDOUT_MAX} and num_train <= {total - HELDOUT_MAX}")
    rng = random.Random(seed)
    perms = [rng.sample(words, len(words)) for _, words in SLOTS]
    cover = [" ".join(p[i % len(p)] for p in perms) for i in range(COVER)]
    taken = set(cover)
    rest = [s for s in all_sentences() if s not in taken]
    rng.shuffle(rest)
    pool = rest[:HELDOUT_AT] + rest[HELDOUT_AT + HELDOUT_MAX:]
    return cover + pool[:num_train - COVER], rest[HELDOUT_AT: HELDOUT_AT + num_heldout]


def jsgf(slots: Sequence[Tuple[str, Sequence[str]]] = SLOTS) -> str:
    """The JSGF grammar that accepts exactly the sentences of ``slots``."""
    lines = ["#JSGF V1.0;", "grammar valle_demo;"]
    for name, words in slots:
        lines.append(f"<{name}> = {' | '.join(words)};")
    lines.append("public <sentence> = " + " ".join(f"<{name}>" for name, _ in slots) + ";")
    return "\n".join(lines) + "\n"
