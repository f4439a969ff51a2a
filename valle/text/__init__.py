"""Text -> tokens: symbol tables, language codes, the espeak / pinyin / openjtalk tokenizers and the
published VALL-E X frontend. Entry points: ``valle.text.tokenizer.get_text_tokenizer`` and, for
stage 2, ``valle.text.tokenize_text.tokenize_corpus``. See docs/text.md."""
