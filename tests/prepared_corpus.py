"""prepare.sh's stages 0-3 run in-process on a corpus folder (faster than the bash recipe), for tests
that need real manifests, stage-2 tokens and stage-3 codes: ``<tokenized>/custom_cuts_all.jsonl.gz``."""
from __future__ import annotations

from pathlib import Path


def prepare_in_process(corpus: Path, manifests: Path, tokenized: Path, codec: str = "codec2",
                       lang: str = "en-us") -> Path:
    """Manifests, espeak tokens and ``codec`` codes of every utterance of ``corpus``; the cuts file."""
    from valle.bin import prepare_manifests, tokenize_audio, tokenize_text

    for stage in ("0", "1"):
        prepare_manifests.main(["--stage", stage, "--corpus", "custom", "--corpus-dir", str(corpus),
                                "--output-dir", str(manifests), "--parts", "all", "--nj", "1"])
    tokenize_text.main(["--manifests-dir", str(manifests), "--output-dir", str(tokenized), "--prefix", "custom",
                        "--text-tokenizer", "espeak", "--language", lang, "--nj", "1"])
    tokenize_audio.main(["--manifests-dir", str(manifests), "--tokenized-dir", str(tokenized), "--prefix", "custom",
                         "--codec", codec, "--device", "cpu", "--nj", "1"])
    return tokenized / "custom_cuts_all.jsonl.gz"
