"""The published VALL-E X text frontend (Plachtaa/VALL-E-X), reproduced id for id.

``frontend.VallexTokenizer`` is the entry point (``get_text_tokenizer("vallex", lang)``);
``english``, ``mandarin``, ``japanese`` clean one language segment each to IPA-like symbols and
``fallback`` maps espeak-ng IPA of other languages onto the same 70-symbol table.
The rule tables are data: ``valle/text/data/vallex_*.json``.
"""
