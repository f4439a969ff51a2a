"""One precedence rule for valle.bin.train's options, through the real parser:
parser default < --recipe-config (egs/<corpus>/conf/train.yaml) < --config < command line."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from valle.train.options import effective_command, get_parser, parse_args, save_effective_config


def _yaml(path, values: dict):
    path.write_text(yaml.safe_dump(values))
    return str(path)


def test_each_level_overrides_the_one_below(tmp_path):
    recipe = _yaml(tmp_path / "recipe.yaml", {"model-preset": "small", "num-epochs": 50, "max-duration": 40,
                                              "valid-interval": 200})
    config = _yaml(tmp_path / "config.yaml", {"num-epochs": 7, "max-duration": 20})
    args = parse_args(["--recipe-config", recipe, "--config", config, "--max-duration", "10"])
    assert args.base_lr == get_parser().get_default("base_lr")  # no level sets it: the parser's default
    assert (args.model_preset, args.valid_interval) == ("small", 200)  # the recipe over the default
    assert args.num_epochs == 7  # --config over the recipe
    assert args.max_duration == 10.0  # the command line over both
    swapped = parse_args(["--config", config, "--recipe-config", recipe])  # the order given does not matter
    assert (swapped.num_epochs, swapped.max_duration, swapped.valid_interval) == (7, 20.0, 200)
    command = effective_command(args)  # reruns without the files
    assert "--config" not in command and "--recipe-config" not in command and "--valid-interval 200" in command


def test_saved_config_yaml_reads_back_as_config(tmp_path):
    recipe = _yaml(tmp_path / "recipe.yaml", {"valid-interval": 200, "trainable": ["ar_*"]})
    args = parse_args(["--recipe-config", recipe, "--base-lr", "0.02"])
    save_effective_config(args, tmp_path)
    again = parse_args(["--config", str(tmp_path / "config.yaml")])
    assert {k: v for k, v in vars(again).items() if k not in ("config", "recipe_config")} == \
           {k: v for k, v in vars(args).items() if k not in ("config", "recipe_config")}


def test_yaml_key_spelled_the_old_way_names_the_new_option(tmp_path, capsys):
    old = _yaml(tmp_path / "old.yaml", {"data-dir": "data/tokenized"})
    with pytest.raises(SystemExit):
        parse_args(["--recipe-config", old])
    err = capsys.readouterr().err
    assert f"--recipe-config {old}: key 'data-dir': --data-dir was renamed here: pass --tokenized-dir" in err


RECIPE_YAMLS = sorted((Path(__file__).resolve().parents[2] / "egs").glob("*/conf/*.yaml"))


@pytest.mark.parametrize("path", RECIPE_YAMLS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_recipe_yaml_parses_as_options(path):
    """Each egs/*/conf/*.yaml holds only valle.bin.train options with valid values (a typo fails here)."""
    values = yaml.safe_load(path.read_text())
    args = parse_args(["--recipe-config", str(path)])
    assert args.max_duration == float(values["max-duration"]) and args.model_preset == values["model-preset"]


@pytest.mark.parametrize("corpus", ["custom", "libritts"])
def test_recipe_run_sh_hands_its_train_yaml_to_valle_bin_train(corpus):
    repo = Path(__file__).resolve().parents[2]
    r = subprocess.run(["bash", str(repo / "egs" / corpus / "run.sh"), "--help"], capture_output=True, text=True)
    recipe = repo / "egs" / corpus / "conf" / "train.yaml"
    assert r.returncode == 0 and recipe in RECIPE_YAMLS
    assert f"Passed on to the stage command: --recipe-config {recipe}" in r.stdout
