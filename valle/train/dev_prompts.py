"""Pick (prompt audio, prompt text, target text) triples from dev cuts for run.sh stage 3 to synthesize.

Prints each triple as five NUL-terminated fields: ``name audio_path prompt_text text language``
(bash: ``while IFS= read -r -d '' name && ... read -r -d '' lang``). NUL is the one byte no path
or transcript can hold; tab- or newline-separated lines broke on a file name holding a tab.
The prompt is one dev utterance's recording and transcript; the target text is the next
utterance's transcript, so the synthesized wav is a new sentence in a voice the model has heard of.
Usage: ``python -m valle.train.dev_prompts --cuts data/tokenized/cuts_dev.jsonl.gz --num 3``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from lhotse import load_manifest

from valle.utils.logging_setup import setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m valle.train.dev_prompts", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--cuts", required=True, nargs="+", help="cuts manifests, in order of preference (dev, test, train)")
    p.add_argument("--num", type=int, default=3, help="number of triples (run.sh --num-samples: wavs written to <exp-dir>/samples/)")
    return p


def main(argv: Optional[List[str]] = None) -> List[List[str]]:
    args = get_parser().parse_args(argv)
    setup_logging()
    cuts = []
    for path in args.cuts:
        if Path(path).is_file():
            cuts += [c for c in load_manifest(path) if c.supervisions and c.supervisions[0].text
                     and c.has_recording and c.recording.sources[0].type == "file"]
    if len(cuts) < 2:
        sys.exit(f"error: --cuts {args.cuts}: need at least 2 cuts with a transcript and an audio file to pick prompts from")
    lines = []
    for i in range(min(args.num, len(cuts))):
        prompt, target = cuts[i], cuts[(i + 1) % len(cuts)]
        text = " ".join(target.supervisions[0].text.split())
        ptext = " ".join(prompt.supervisions[0].text.split())
        lang = target.supervisions[0].language or "en-us"
        lines.append([f"sample{i + 1}_{target.id}".replace("/", "_"), prompt.recording.sources[0].source,
                      ptext, text, lang])
    sys.stdout.write("".join(field + "\0" for fields in lines for field in fields))
    sys.stdout.flush()
    return lines


if __name__ == "__main__":
    main()
