"""egs/custom/README.md's fine-tune commands, run as written, chain end to end offline.

The commands are read from the README itself (section "Fine-tune the published VALL-E X"), so
a README edit that breaks the chain fails here. Each runs in a fresh folder with ``egs/`` (a
link to the repository's), a small corpus ``my_voice/`` of espeak-ng recordings (``clip.wav``
says "A sentence I recorded.") and ``vallex-checkpoint.pt``: a bare ``{"model": state_dict}``
in the published VALL-E X layout at d_model 128 / 2 layers, written by the test (random
weights: this checks the plumbing, not the voice). Only what an offline, seconds-long run
needs is appended to each command: random codec weights for prepare.sh (no network; training
and synthesis take the codec from the data), ``--max-steps 2``, no DataLoader workers, and one
sample sentence for run.sh's synthesis stage (every stage of run.sh runs; its sample is noise from
random weights, checked to exist and to come from the run's result).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[2]
README = REPO / "egs" / "custom" / "README.md"
SENTENCES = ["The kettle began to sing just as the rain reached the window.",
             "Please put the green folder on the second shelf.",
             "Seven geese flew low over the frozen lake.",
             "Could you read the last line of the letter again?",
             "The museum keeps its oldest maps in a dark room.",
             "A small boat drifted past the harbour lights."]
EXTRA = {
    "prepare.sh": ["--codec", "encodec:random", "--nj", "1"],  # recorded in the data; training and synthesis inherit it
    "run.sh": ["--num-samples", "1", "--max-steps", "2", "--num-workers", "0", "--synthesize-at-valid", "false",
               "--tensorboard", "false", "--voices", "false"],  # run.sh's voices: tests/train/test_train_recipe.py
    "valle.bin.infer": ["--max-len-ratio", "1"],
    "valle.bin.make_voice": ["--min-seconds", "1"],  # the test's clip.wav is 1.5 s of espeak-ng
}


def readme_commands():
    """The shell commands of the fine-tune section, continuation lines joined."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Fine-tune the published VALL-E X"):text.index("## Configs here")]
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for cmd in block.replace("\\\n", " ").splitlines():
            if cmd.strip() and not cmd.lstrip().startswith("#"):
                cmds.append(shlex.split(cmd))
    return cmds


def _published_layout_file(path: Path) -> Path:
    from valle.models import VALLE, get_preset

    torch.manual_seed(0)
    model = VALLE(get_preset("vallex", d_model=128, nhead=2, num_layers=2))
    torch.save({"model": model.state_dict()}, path)
    return path


def _corpus(root: Path, espeak_wav) -> Path:
    voice = root / "my_voice"
    for i, text in enumerate(SENTENCES):
        espeak_wav(text, voice / f"utt{i}.wav", "en-us", 170)
        (voice / f"utt{i}.txt").write_text(text + "\n")
    espeak_wav("A sentence I recorded.", voice / "clip.wav", "en-us", 170)
    (voice / "clip.txt").write_text("A sentence I recorded.\n")
    return voice


def test_readme_finetune_commands_chain_end_to_end(tmp_path, espeak_wav):
    cmds = readme_commands()
    assert [c[1] if c[0] == "bash" else c[2] for c in cmds] == [
        "egs/custom/prepare.sh", "egs/custom/run.sh", "egs/custom/run.sh", "valle.bin.infer",
        "valle.bin.make_voice", "valle.bin.infer"]
    _corpus(tmp_path, espeak_wav)
    _published_layout_file(tmp_path / "vallex-checkpoint.pt")
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    for cmd in cmds:
        cmd = ["my_voice" if a == "/path/to/my_voice" else str(REPO / a) if a.startswith("egs/") else a
               for a in cmd]
        if cmd[0] == "python":
            cmd[0] = sys.executable
        key = next(k for k in EXTRA if any(a.endswith(k) for a in cmd))
        r = subprocess.run(cmd + EXTRA[key], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{shlex.join(cmd)}\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
    ar = torch.load(tmp_path / "exp/finetune_ar/best-valid-loss.pt", weights_only=True)
    nar = torch.load(tmp_path / "exp/finetune_nar/best-valid-loss.pt", weights_only=True)
    assert [e["by"] for e in ar["trained_by"]["ar"]] == ["pretrained weights", "valle.bin.train --train-stage 1"]
    assert nar["trained_by"]["ar"] == ar["trained_by"]["ar"]  # the fine-tuned AR, kept in the NAR's file
    assert [e["by"] for e in nar["trained_by"]["nar"]] == ["pretrained weights", "valle.bin.train --train-stage 2"]
    assert nar["trained_stages"] == [1, 2]
    assert torch.load(tmp_path / "exp/finetune_nar/averaged.pt", weights_only=True)["trained_by"] == nar["trained_by"]
    for run in ("finetune_ar", "finetune_nar"):  # run.sh stage 3 synthesized with the run's result
        sample = next((tmp_path / "exp" / run / "samples").glob("*.json"))
        assert json.loads(sample.read_text())["checkpoints"]["ar"].endswith(f"exp/{run}/best-valid-loss.pt")
    info = sf.info(str(tmp_path / "me.wav"))
    assert info.samplerate == 24000 and info.frames > 0
    # the last command synthesized with the saved voice (the README's clip and its words)
    assert json.loads((tmp_path / "me.json").read_text())["voice"]["text"] == "A sentence I recorded."


def test_custom_run_sh_help_names_its_defaults_file():
    r = subprocess.run(["bash", str(REPO / "egs" / "custom" / "run.sh"), "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    recipe = REPO / "egs" / "custom" / "conf" / "train.yaml"
    assert f"Passed on to the stage command: --recipe-config {recipe}" in r.stdout
    assert "max-duration: 40" in recipe.read_text()
    # run.sh's own defaults are shown, not the recipe's (valle.bin.train applies those)
    assert next(l for l in r.stdout.splitlines() if l.strip().startswith("--model-preset")).rstrip().endswith("[]")
