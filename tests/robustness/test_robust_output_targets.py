"""No code path writes outside the outputs the user named (issue 19, bug 1): every stage of
prepare.sh, training, averaging and synthesis run with an output path that is a device node, a
FIFO or a symlink. A device or FIFO is refused with a message naming it and is still a device or
FIFO afterwards (as root, the atomic rename used to replace /dev/full with a wav file); a symlink
is written through: the link stays, its target gets the content. Real stages on a 3-utterance
espeak-ng corpus (random Encodec weights), a nano model."""
from __future__ import annotations

import importlib
import os
import re
import shlex
import shutil
import stat
import subprocess

import pytest

from robust_helpers import REPO, SENTENCES_TO_SAY, espeak, prepare_cmd, python_env, write_text
from robust_train_data import train_args

KINDS = ("device", "fifo", "symlink")
# stage -> the output prepare.sh's stage writes that the test turns into a device/FIFO/symlink
STAGE_OUTPUT = {1: "manifests/custom_recordings_all.jsonl.gz", 2: "tokenized/unique_text_tokens.k2symbols",
                3: "tokenized/custom_cuts_all.jsonl.gz", 4: "tokenized/cuts_train.jsonl.gz"}


def make_special(path, kind, old_target=True):
    """A character device (a private node 1:3, like /dev/null, inside the test's tmp dir), a FIFO,
    or a symlink to a regular file elsewhere (``old_target=False``: to a file not made yet); returns
    the symlink's target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "device":
        if os.geteuid() != 0:
            pytest.skip("mknod of a device node needs root")
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        return None
    if kind == "fifo":
        os.mkfifo(path)
        return None
    target = path.parent / "elsewhere" / ("real-" + path.name)
    if old_target:
        write_text(target, "old content")
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return target


def assert_kept(path, kind, target, outcome, message):
    """The special file is what it was; a refusal names it, a symlink's target got the new content."""
    mode = os.lstat(path).st_mode
    if kind == "device":
        assert stat.S_ISCHR(mode) and os.stat(path).st_rdev == os.makedev(1, 3), "the device node was replaced"
    elif kind == "fifo":
        assert stat.S_ISFIFO(mode), "the FIFO was replaced"
    if kind in ("device", "fifo"):
        assert outcome != 0, "a device/FIFO output must be refused"
        expected = "a character device" if kind == "device" else "a FIFO"
        assert f"{path} is {expected}, not a regular file" in message, message[-2000:]
        assert not path.with_suffix(".json").exists(), "no sidecar next to a device or FIFO"
    else:
        assert outcome == 0, message[-3000:]
        assert stat.S_ISLNK(mode) and os.readlink(path) == str(target), "the symlink itself was replaced"
        assert target.is_file() and target.read_bytes() != b"old content", "written through to the target"


def call_main(module, args, capfd):
    """Run ``module.main(args)`` in this process; (exit status, stdout + stderr + exception text)."""
    main = importlib.import_module(module).main
    try:
        rc = main([str(a) for a in args])
        rc = 0 if rc is None or not isinstance(rc, int) else rc
        err = ""
    except SystemExit as e:
        rc, err = (e.code if isinstance(e.code, int) else 1), str(e.code)
    except ValueError as e:
        rc, err = 1, str(e)
    out = capfd.readouterr()
    return rc, out.out + out.err + err


@pytest.fixture(scope="module")
def prepared_small(tmp_path_factory):
    """prepare.sh stages 0-4 on 3 utterances, and the exact command prepare.sh ran for each stage."""
    root = tmp_path_factory.mktemp("targets")
    corpus = root / "corpus"
    for i, text in enumerate(SENTENCES_TO_SAY[:3]):
        espeak(text, corpus / "spk" / f"u{i}.wav")
        write_text(corpus / "spk" / f"u{i}.txt", text)
    data = root / "data"
    proc = subprocess.run(prepare_cmd(corpus, data), capture_output=True, text=True, cwd=REPO, env=python_env(),
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    commands = {}
    for m in re.finditer(r"\[stage (\d)\] run: (.*)", proc.stderr):
        argv = shlex.split(m.group(2))
        commands[int(m.group(1))] = (argv[argv.index("-m") + 1], argv[argv.index("-m") + 2:])
    assert sorted(commands) == [0, 1, 2, 3, 4]
    return data, commands


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stage", sorted(STAGE_OUTPUT))
def test_every_prepare_stage_keeps_device_fifo_and_symlink_outputs(prepared_small, tmp_path, capfd, stage, kind):
    data, commands = prepared_small
    copy = tmp_path / "data"
    shutil.copytree(data, copy, symlinks=True)
    for stamp in [p for p in copy.rglob(".*") if p.is_file() and ("params" in p.name or "stamp" in p.name)]:
        stamp.unlink()  # the stage must really run, not skip as up to date
    special = copy / STAGE_OUTPUT[stage]
    target = make_special(special, kind)
    module, args = commands[stage]
    args = [a.replace(str(data), str(copy)) for a in args]
    rc, message = call_main(module, args, capfd)
    assert_kept(special, kind, target, rc, message)


@pytest.mark.parametrize("kind", KINDS)
def test_training_average_and_synthesis_keep_device_fifo_and_symlink_outputs(train_dir, checkpoint, tmp_path,
                                                                             capfd, kind):
    exp = tmp_path / "exp"
    special = exp / "epoch-1.pt"
    target = make_special(special, kind, old_target=False)  # an old file there would be resumed from
    rc, message = call_main("valle.bin.train", train_args(train_dir, exp, "--num-epochs", "1"), capfd)
    assert_kept(special, kind, target, rc, message)

    avg_out = tmp_path / "avg" / "averaged.pt"
    target = make_special(avg_out, kind)
    rc, message = call_main("valle.bin.average", ["--checkpoints", checkpoint, checkpoint, "--output", avg_out], capfd)
    assert_kept(avg_out, kind, target, rc, message)

    wav_out = tmp_path / "out" / "full.wav"
    target = make_special(wav_out, kind)
    rc, message = call_main("valle.bin.infer", ["--checkpoint", checkpoint, "--codec", "encodec:random", "--text",
                                                SENTENCES_TO_SAY[0], "--max-len-ratio", "0.1", "--output", wav_out],
                            capfd)
    assert_kept(wav_out, kind, target, rc, message)
