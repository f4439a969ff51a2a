"""Stage 2 of prepare.sh: phoneme / symbol tokens for every supervision of a corpus.

    python -m valle.bin.tokenize_text --manifests-dir data/manifests --output-dir data/tokenized \
        --prefix libritts --text-tokenizer espeak --language en-us --nj 4

Reads ``<prefix>_supervisions_<part>.jsonl.gz``, writes the tokenized supervisions, the symbol
table ``unique_text_tokens.k2symbols``, ``text_tokens_report.json`` and ``text_rejects.tsv``.
Rerunning with the same parameters and inputs does nothing (and says so). See docs/text.md.
"""
from __future__ import annotations

import argparse
import sys

from valle.text.tokenizer import TOKENIZERS
from valle.utils.cli import refuse_renamed_options
from valle.utils.logging_setup import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m valle.bin.tokenize_text",
        description="Tokenize the text of lhotse supervision manifests (stage 2 of prepare.sh).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--manifests-dir", default="data/manifests",
                   help="folder with <prefix>_supervisions_<part>.jsonl.gz from stage 1")
    p.add_argument("--output-dir", default="data/tokenized", help="where tokenized supervisions, symbol table and report go")
    p.add_argument("--prefix", required=True, help="corpus name in the manifest file names (libritts, custom, ...)")
    p.add_argument("--text-tokenizer", default="espeak", choices=TOKENIZERS,
                   help="espeak: espeak-ng phones (zh/ja routed to pinyin/openjtalk); vallex: the published VALL-E X ids")
    p.add_argument("--language", dest="lang", default="en-us",
                   help="language of every utterance: an espeak voice (en-us, de, fr-fr, ...), zh or ja; "
                        "'auto' uses each supervision's language field")
    refuse_renamed_options(p, {"--lang": "use --language (the one spelling of the language option in every command)"})
    p.add_argument("--nj", type=int, default=1, help="worker processes")
    p.add_argument("--force", action="store_true", help="tokenize again even if the outputs are up to date")
    return p


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    if args.nj < 1:
        raise SystemExit(f"error: --nj must be >= 1, got {args.nj}")
    setup_logging()
    from valle.text.tokenize_text import tokenize_corpus

    try:
        tokenize_corpus(args.manifests_dir, args.output_dir, args.prefix, tokenizer=args.text_tokenizer,
                        lang=args.lang, nj=args.nj, force=args.force)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        raise SystemExit(f"error: {e}") from e
    return 0


if __name__ == "__main__":
    sys.exit(main())
