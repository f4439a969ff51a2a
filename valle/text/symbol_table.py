"""k2-style symbol table: one ``symbol id`` pair per line.

The table travels with the data (``data/tokenized/unique_text_tokens.k2symbols``) and with every
checkpoint (``"text_symbols"``), so ids mean the same thing at training and at synthesis time.
Two kinds exist (docs/interfaces.md): corpus tables (``<pad> 0``, ``<unk> 1``, then the corpus's
symbols sorted) and the fixed 70-symbol VALL-E X table (pad id = ``[PAD]`` 3).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Sequence, Union

from valle.utils.atomic import atomic_write_text

PAD = "<pad>"
UNK = "<unk>"
VALLEX_PAD = "[PAD]"


class SymbolTable:
    """Bidirectional symbol <-> id mapping with dense ids 0..N-1."""

    def __init__(self, symbols: Sequence[str]):
        symbols = list(symbols)
        ids = {}
        for i, s in enumerate(symbols):
            if not s or any(c.isspace() for c in s):
                raise ValueError(f"symbol {s!r} (id {i}) is empty or contains whitespace; k2 tables cannot hold it")
            if s in ids:
                raise ValueError(f"symbol {s!r} appears twice (ids {ids[s]} and {i})")
            ids[s] = i
        self._symbols = symbols
        self._ids = ids

    # construction -------------------------------------------------------------------------------
    @classmethod
    def for_corpus(cls, symbols: Iterable[str]) -> "SymbolTable":
        """``<pad> 0``, ``<unk> 1``, then the distinct ``symbols`` in sorted order."""
        rest = sorted(set(symbols) - {PAD, UNK})
        return cls([PAD, UNK] + rest)

    @classmethod
    def from_file(cls, path: Union[str, Path]) -> "SymbolTable":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"symbol table {path} does not exist; run stage 2 of prepare.sh (text tokens) first")
        pairs = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise ValueError(f"{path}:{n}: expected 'symbol id', got {line!r}")
            pairs.append((parts[0], int(parts[1])))
        pairs.sort(key=lambda p: p[1])
        if [i for _, i in pairs] != list(range(len(pairs))):
            raise ValueError(f"{path}: ids must be dense 0..{len(pairs) - 1}; the file has gaps or duplicates")
        return cls([s for s, _ in pairs])

    def to_file(self, path: Union[str, Path]) -> None:
        atomic_write_text(path, "".join(f"{s} {i}\n" for i, s in enumerate(self._symbols)))

    # queries ------------------------------------------------------------------------------------
    @property
    def symbols(self) -> List[str]:
        return list(self._symbols)

    def __len__(self) -> int:
        return len(self._symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SymbolTable) and self._symbols == other._symbols

    def __repr__(self) -> str:
        return f"SymbolTable({len(self)} symbols: {' '.join(self._symbols[:8])}{' ...' if len(self) > 8 else ''})"

    def __getitem__(self, key):
        """``table["a"]`` -> id, ``table[3]`` -> symbol."""
        if isinstance(key, int):
            return self._symbols[key]
        return self._ids[key]

    def encode(self, tokens: Iterable[str]) -> List[int]:
        """Ids of ``tokens``; raises ``KeyError`` naming every missing symbol."""
        tokens = list(tokens)
        missing = sorted({t for t in tokens if t not in self._ids})
        if missing:
            raise KeyError(
                f"{len(missing)} symbol(s) not in the table ({len(self)} symbols): {' '.join(missing)}; "
                "the text was tokenized with a different tokenizer or table"
            )
        return [self._ids[t] for t in tokens]

    def decode(self, ids: Iterable[int]) -> List[str]:
        return [self._symbols[int(i)] for i in ids]

    @property
    def pad_id(self) -> int:
        for pad in (PAD, VALLEX_PAD):
            if pad in self._ids:
                return self._ids[pad]
        raise KeyError(f"the table has neither {PAD} nor {VALLEX_PAD}")

    @property
    def unk_id(self) -> int:
        for unk in (UNK, "[UNK]"):
            if unk in self._ids:
                return self._ids[unk]
        raise KeyError("the table has neither <unk> nor [UNK]")
