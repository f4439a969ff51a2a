"""valle.bin.train --eval-every N: dev WER (pocketsphinx) into TensorBoard beside the validation audio."""
from __future__ import annotations

from synthetic_corpus import base_args, make_data_dir

from valle.bin.train import main
from valle.codec import facts_of
from valle.data.codes_archive import write_codec_record


def _scalars(tb_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tb_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_eval_every_writes_dev_wer_at_every_second_validation(tmp_path, caplog):
    data = make_data_dir(tmp_path, num_train=4, num_dev=2)
    write_codec_record(data, facts_of("encodec:random"))  # the dev sentences are synthesized with it
    exp = tmp_path / "exp"
    args = base_args(data, exp, "--max-steps", "4", "--valid-interval", "1", "--num-epochs", "1",
                     "--eval-every", "2", "--eval-sentences", "2")
    args[args.index("--tensorboard") + 1] = "true"
    with caplog.at_level("INFO", logger="valle.eval"):
        main(args)
    scalars = _scalars(exp / "tensorboard")
    wer = scalars.get("eval/wer")
    valid_steps = [s for s, _ in scalars["valid/loss"]][1:]  # the first is the starting model's (step 0)
    assert len(valid_steps) >= 2
    assert [s for s, _ in wer] == valid_steps[1::2]  # every second validation
    # an untrained model through random codec weights says nothing recognisable
    assert all(v >= 0.5 for _, v in wer)
    assert "dev WER" in caplog.text and "--eval-every disabled" not in caplog.text
