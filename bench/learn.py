"""Does it learn to speak? Train from scratch on a grammar corpus and score held-out sentences by ASR.

The corpus is valle/demo/grammar.py's small-vocabulary sentences spoken by several espeak-ng
voices (``valle.demo.make_corpus --sentences grammar``); ``--num-heldout`` sentences are spoken
too but kept out of training.  The corpus goes through the real stages (egs/custom/prepare.sh
with ``--codec codec2:1200`` by default, then ``valle.bin.train`` with ``--concat-prompt``), the model trains
for a CPU budget measured in **process CPU seconds** (all threads; ``--max-cpu-seconds``), and
after each budget step every held-out sentence is synthesized with a prompt of the same voice
(an utterance of the corpus with its text, a different one for each held-out sentence: ``--prompts``;
with the model's weights as they are, and with ``--quantize none int8`` also in int8, scored beside them),
decoded by codec2 and transcribed by pocketsphinx constrained by the grammar (JSGF). The same
held-out audio's own codebook 0 through the model's NAR (``nar_alone``) tells the NAR's share of the
errors from the AR's.

Prints one JSON object: the WER of the espeak-ng audio itself (ground truth), of its codec2
resynthesis (the ceiling a codec2 model can reach) and of the model after each budget step,
each with ``voice``: speaker similarity (resemblyzer GE2E cosine) to the item's prompt, to its own
voice and to the other voices, and the share of items whose nearest voice is their own
(valle/eval/voice_match.py);
with the CPU, thread count and settings; writes ``learn.json`` and ``learn_wer.png`` (WER
against CPU minutes) into ``--work-dir``.

The AR and the NAR train apart by default (``--ar-fraction``: the AR alone gets half of each
budget, the NAR alone the rest; 0 trains one AR+NAR model as before), side by side in two processes
(``--one-at-a-time``: one after the other); each budget counts the CPU seconds of both.

Usage: ``.venv/bin/python bench/learn.py [--budget-minutes 6 12 20] [--threads 1]``
(the budgets are cumulative CPU minutes of training; on a quiet 2-core machine the wall time is about
half of them, plus ~2 minutes of scoring per budget; far more on a busy one).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "egs" / "demo" / "conf" / "codec2_short_budget.yaml"  # the demo's training options


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--work-dir", type=Path, default=Path("bench_out/learn"))
    p.add_argument("--budget-minutes", type=float, nargs="+", default=[6, 12, 20],
                   help="cumulative training budgets in process CPU minutes; the model is scored after each")
    p.add_argument("--num-sentences", type=int, default=1200,
                   help="training sentences (x voices utterances); 300 before the fourth session of 2026-11-28: "
                        "the AR learnt those and stopped improving on new ones (docs/benchmarks.md, 'A larger "
                        "held-out set')")
    p.add_argument("--num-heldout", type=int, default=25,
                   help="held-out sentences (x voices utterances). Five were too few: on the first five of these "
                        "25 codec2 1200 resynthesis lost 10 %% of the words, on the other 20 4 %% "
                        "(docs/benchmarks.md, 'A larger held-out set')")
    p.add_argument("--num-voices", type=int, default=4)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1 wastes no CPU time on a shared machine; CPU seconds are counted either way)")
    p.add_argument("--model", nargs="*", default=[],
                   help="valle.bin.train options over egs/demo/conf/codec2_short_budget.yaml, the recipe the demo "
                        "trains with (docs/training.md, 'Short budgets'); e.g. --model --num-layers 4")
    p.add_argument("--codec", default="codec2:1200",
                   help="codec2:1200 (codebook 0 = the envelope class; docs/codec.md) or codec2 (3200)")
    p.add_argument("--ar-fraction", type=float, default=0.5,
                   help="share of every budget that trains the AR alone (--train-stage 1); the NAR alone "
                        "(--train-stage 2) gets the rest. With the one-pass NAR an even split was best at 20 "
                        "CPU-minutes (a third for the AR before it, when a NAR step cost four AR steps; "
                        "docs/benchmarks.md, 'A one-pass NAR'). 0 = one model, AR+NAR trained together "
                        "(--train-stage 0)")
    p.add_argument("--max-duration", type=float, default=20.0, help="seconds of audio per batch (before pairing)")
    p.add_argument("--top-k", type=int, default=1,
                   help="the AR's top-k when saying the held-out sentences (1 = greedy, as the demo; greedy lost "
                        "fewer words than top-k 5 on them: docs/benchmarks.md, \"codec2 1200's pitch/energy as "
                        "absolute cells\")")
    p.add_argument("--prompts", choices=["per-utterance", "first"], default="per-utterance",
                   help="the prompt of each held-out utterance: an utterance of its voice from the corpus, another one "
                        "for each held-out sentence (per-utterance), or the voice's first for all (first, before the "
                        "seventh session: one prompt moved a model's WER by 3-4 points either way; docs/benchmarks.md, "
                        "'One prompt per held-out utterance')")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quantize", nargs="+", default=["none"], choices=["none", "int8"],
                   help="say the held-out sentences with the model in each of these weight formats (valle.bin.infer "
                        "--quantize); the first gives the budget's figures, the others are scored beside it under "
                        "'quantized' with their agreement with its codes (what int8 costs in words and voice)")
    p.add_argument("--one-at-a-time", action="store_true",
                   help="train the AR and then the NAR of each budget (default: side by side, one process each, as "
                        "the demo does; the budget counts each process's own CPU seconds either way)")
    return p


def cpu_info() -> dict:
    model, flags = platform.processor(), []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = [f for f in line.split(":", 1)[1].split() if f.startswith(("avx", "amx"))]
                break
    except OSError:
        pass
    return {"model": model, "simd": sorted(set(flags)), "cores": os.cpu_count()}


def read_heldout(folder: Path):
    rows = folder.joinpath("heldout.tsv").read_text().splitlines()[1:]
    return [dict(zip(("id", "speaker", "text"), r.split("\t"))) for r in rows]


def prompt_of(item: dict, prompts: str, corpus_sentences: int) -> str:
    """The corpus utterance whose audio and text prompt a held-out item: the voice's first one
    (``first``) or, for the held-out sentence k of a voice, that voice's utterance k (``per-utterance``;
    k modulo the corpus's sentences per voice)."""
    k = int(item["id"].split("_")[2]) % corpus_sentences if prompts == "per-utterance" else 0
    return f"{item['speaker']}_1_{k:06d}"


def nar_alone(synth, text: str, prompt_text: str, prompt_codes, true_codes):
    """The held-out audio's own codebook 0 through the model's NAR, decoded: what the NAR alone loses."""
    import torch

    from valle.models.decoding import nar_decode

    inp = synth.model_inputs(text, prompt_text, prompt_codes, "en-us", "en-us")
    with torch.inference_mode():
        codes, _ = nar_decode(synth.model, inp.text_tokens, inp.text_lens, inp.text_langs, inp.prompts,
                              inp.prompt_lens, [true_codes[:, 0]])
    return synth.decode(codes[0]).numpy().reshape(-1)


VOICE_RECORDINGS = 8  # corpus utterances per voice whose mean speaker embedding is that voice's centroid


def centroid_utterances(voice: str, prompts: set, num_sentences: int) -> list:
    """The ids of the ``VOICE_RECORDINGS`` last corpus utterances of ``voice`` that prompt no held-out item (a
    model's output imitates its prompt, so a centroid holding the prompts would favour the model); the last
    ones whatever they are when the corpus has no others."""
    ids = [f"{voice}_1_{k:06d}" for k in reversed(range(num_sentences))]
    return ([u for u in ids if u not in prompts] or ids)[:VOICE_RECORDINGS]


def voice_matcher(corpus: Path, items, args):
    """A ``valle.eval.voice_match.VoiceMatcher`` over the corpus's voices (resemblyzer GE2E; centroids from
    ``centroid_utterances``) and the speaker embedding of each held-out item's prompt."""
    import soundfile as sf

    from valle.eval.speaker import load_speaker
    from valle.eval.voice_match import VoiceMatcher

    read = lambda utt_id: sf.read(str(wav_of(corpus, utt_id)), dtype="float32")  # noqa: E731
    names = sorted({it["speaker"] for it in items})
    prompts = {prompt_of(it, args.prompts, args.num_sentences) for it in items}
    matcher = VoiceMatcher(load_speaker("resemblyzer"), {
        v: [read(u) for u in centroid_utterances(v, prompts, args.num_sentences)] for v in names})
    cache = {}
    for it in items:
        pid = prompt_of(it, args.prompts, args.num_sentences)
        if pid not in cache:
            cache[pid] = matcher.embed(*read(pid))
    return matcher, [cache[prompt_of(it, args.prompts, args.num_sentences)] for it in items]


def wav_of(corpus: Path, utt_id: str) -> Path:
    spk, chapter, _ = utt_id.split("_")
    return corpus / spk / chapter / f"{utt_id}.wav"


def say_heldout(synth, items, true_codes, corpus: Path, heldout_dir: Path, args, with_nar_alone: bool):
    """Every held-out sentence said by ``synth`` with its prompt: (wavs and rates, the NAR-alone wavs (empty
    without ``with_nar_alone``), (generated, espeak-ng) frame counts, the generated codes)."""
    import soundfile as sf

    from valle.infer.synthesizer import SamplingOptions

    outs, nar_outs, frames, codes = [], [], [], []
    rate = synth.codec.sample_rate
    for it, true in zip(items, true_codes):
        prompt_id = prompt_of(it, args.prompts, args.num_sentences)
        prompt_text = (corpus / it["speaker"] / "1" / f"{prompt_id}.normalized.txt").read_text().strip()
        prompt = synth.prompt_codes(str(wav_of(corpus, prompt_id)))  # encoded once, for both passes
        res = synth.synthesize(it["text"], prompt_text=prompt_text, prompt_audio=prompt,
                               options=SamplingOptions(top_k=args.top_k, seed=args.seed, max_len_ratio=8))
        outs.append((res.wav.numpy(), rate))
        codes.append(res.codes)
        if with_nar_alone:
            nar_outs.append((nar_alone(synth, it["text"], prompt_text, prompt, true), rate))
        espeak_seconds = sf.info(str(wav_of(heldout_dir, it["id"]))).duration
        frames.append((res.generated_frames, round(espeak_seconds * synth.codec.frame_rate)))
    return outs, nar_outs, frames, codes


def code_agreement(codes, reference) -> dict:
    """How far ``codes`` (per item [frames, Q]) follow ``reference``: the items whose codes are all equal, and
    the share of frames whose codebook 0 equals the reference's at the same place (over the longer length)."""
    import torch

    same = sum(1 for a, b in zip(codes, reference) if a.shape == b.shape and torch.equal(a, b))
    equal = sum(int((a[: len(b), 0] == b[: len(a), 0]).sum()) for a, b in zip(codes, reference))
    frames = sum(max(len(a), len(b)) for a, b in zip(codes, reference))
    return {"items_with_equal_codes": same, "items": len(codes),
            "codebook0_frames_equal": round(equal / max(frames, 1), 4)}


def score(asr, items, wavs_and_rates) -> dict:
    from valle.eval.wer import corpus_wer

    hyps = [asr.transcribe(w, sr) if len(w) else "" for w, sr in wavs_and_rates]  # nothing said: nothing heard
    refs = [it["text"] for it in items]
    return {"wer": round(corpus_wer(refs, hyps), 4),
            "words_recognised": round(1 - corpus_wer(refs, hyps), 4) if hyps else 0.0,
            "examples": [{"ref": r, "hyp": h} for r, h in list(zip(refs, hyps))[:4]]}


STAGE_NAMES = {0: "ar_nar", 1: "ar", 2: "nar"}
SPENT_FILE = "bench_cpu_seconds.json"


def stage_budgets(cpu_seconds: float, ar_fraction: float):
    """(train stage, cumulative CPU seconds) for one budget: AR and NAR apart, or one joint model.

    ``ar_fraction`` 0 trains AR+NAR together (``--train-stage 0``) for the whole budget; between 0
    and 1 the AR alone (stage 1) gets that share and the NAR alone (stage 2) the rest.
    """
    if not 0 <= ar_fraction < 1:
        raise ValueError(f"--ar-fraction must be in [0, 1), got {ar_fraction}")
    if ar_fraction == 0:
        return [(0, cpu_seconds)]
    return [(1, cpu_seconds * ar_fraction), (2, cpu_seconds * (1 - ar_fraction))]


def _child_env(**extra) -> dict:
    """The environment of a child process: this checkout's ``valle`` first, plus ``extra``."""
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **extra)


def _budget_key(cpu_seconds: float) -> str:
    return f"{cpu_seconds:g}"  # a budget's key in an exp dir's record


def _recorded(exp: Path, cpu_seconds: float):
    """``exp``'s record of CPU seconds spent and, when it reached ``cpu_seconds`` before, (the checkpoint it
    had then, the CPU seconds it had used then); a budget it passed without a record stops with the fix."""
    spent_file = exp / SPENT_FILE
    record = json.loads(spent_file.read_text()) if spent_file.is_file() else {"cpu_seconds": 0.0}
    reached = record.setdefault("checkpoints", {})  # budget in CPU seconds -> [checkpoint file, CPU seconds used]
    key = _budget_key(cpu_seconds)
    if key in reached:
        return record, (str(exp / reached[key][0]), reached[key][1])
    if record["cpu_seconds"] >= cpu_seconds:
        raise SystemExit(f"{exp} has trained for {record['cpu_seconds']:.0f} CPU seconds, past the budget of "
                         f"{cpu_seconds:.0f}, and holds no checkpoint of it: use a new --work-dir for these budgets")
    return record, None


def _start_training(exp: Path, stage: int, cpu_seconds: float, record: dict, args) -> subprocess.Popen:
    """``valle.bin.train`` for the CPU seconds ``exp`` still lacks, in a process of its own (log: exp/train.log)."""
    exp.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "valle.bin.train", "--config", str(RECIPE),
            "--tokenized-dir", str(args.work_dir.resolve() / "data" / "tokenized"),
            "--exp-dir", str(exp), *args.model, "--train-stage", str(stage),
            "--max-cpu-seconds", str(cpu_seconds - record["cpu_seconds"]), "--max-duration", str(args.max_duration),
            "--keep-last-k", "0", "--seed", str(args.seed), "--log-interval", "50", "--resume", "auto"]
    threads = str(args.threads)
    with open(exp / "train.log", "a") as log:
        return subprocess.Popen(argv, cwd=ROOT, env=_child_env(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads),
                                stdout=log, stderr=subprocess.STDOUT)


def _finish_training(exp: Path, stage: int, cpu_seconds: float, record: dict, proc: subprocess.Popen) -> tuple:
    """Wait for ``proc``, add the CPU seconds it used (all its threads) to ``exp``'s record and note the
    checkpoint it ended with as this budget's."""
    from valle.utils.atomic import atomic_write_text

    _, status, usage = os.wait4(proc.pid, 0)  # the child's own CPU time, even with a sibling running
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"training --train-stage {stage} in {exp} failed (exit {proc.returncode}): see {exp / 'train.log'}")
    ckpts = sorted(exp.glob("checkpoint-*.pt"), key=lambda p: int(p.stem.split("-")[1]))
    record["cpu_seconds"] += usage.ru_utime + usage.ru_stime
    record["checkpoints"][_budget_key(cpu_seconds)] = [ckpts[-1].name, record["cpu_seconds"]]
    atomic_write_text(exp / SPENT_FILE, json.dumps(record) + "\n")
    return str(ckpts[-1]), record["cpu_seconds"]


def train_stages(jobs, args, side_by_side: bool) -> dict:
    """Train each (exp dir, train stage, cumulative CPU seconds) of one budget until its exp dir has used
    those CPU seconds in all (a rerun goes on), side by side or one after the other. Returns {stage:
    (the checkpoint it had when it reached them, the CPU seconds it had used then)}; both are recorded,
    so a rerun scores each budget's own model."""
    done, running = {}, []
    try:
        for exp, stage, cpu_seconds in jobs:
            record, reached = _recorded(exp, cpu_seconds)
            if reached is not None:
                done[stage] = reached
                continue
            running.append((exp, stage, cpu_seconds, record, _start_training(exp, stage, cpu_seconds, record, args)))
            if not side_by_side:
                done[stage] = _finish_training(*running.pop())
        while running:
            job = running.pop(0)
            done[job[1]] = _finish_training(*job)
    finally:  # one stage failed: its sibling stops too (a rerun resumes both from their last checkpoints)
        for job in running:
            job[-1].kill()
            job[-1].wait()
    return done


def train_stage(exp: Path, stage: int, cpu_seconds: float, args) -> tuple:
    """One stage alone: ``train_stages`` for a single exp dir."""
    return train_stages([(exp, stage, cpu_seconds)], args, side_by_side=False)[stage]


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import soundfile as sf
    import torch

    torch.set_num_threads(args.threads)
    from valle.codec import load_codec
    from valle.demo import make_corpus
    from valle.demo.grammar import jsgf
    from valle.eval.asr import load_asr
    from valle.infer.synthesizer import Synthesizer

    work = args.work_dir.resolve()
    corpus, heldout_dir, data, exp = work / "corpus", work / "corpus_heldout", work / "data", work / "exp"
    make_corpus.main(["--output-dir", str(corpus), "--heldout-dir", str(heldout_dir), "--sentences", "grammar",
                      "--num-sentences", str(args.num_sentences), "--num-heldout", str(args.num_heldout),
                      "--num-voices", str(args.num_voices)])
    subprocess.run(["bash", str(ROOT / "egs/custom/prepare.sh"), "--corpus-dir", str(corpus), "--data-dir", str(data),
                    "--language", "en-us", "--codec", args.codec, "--nj", "2", "--dev-size", "8", "--test-size", "4"],
                   check=True, cwd=ROOT, env=_child_env(), stdout=subprocess.DEVNULL)

    codec = load_codec(args.codec)
    asr = load_asr("pocketsphinx", grammar=jsgf(), dither=True)  # dither: espeak-ng's digital silence
    items = read_heldout(heldout_dir)
    matcher, prompt_embs = voice_matcher(corpus, items, args)
    voices = [it["speaker"] for it in items]
    gt, resynth, true_codes = [], [], []
    for it in items:
        wav, sr = sf.read(str(wav_of(heldout_dir, it["id"])), dtype="float32")
        gt.append((wav, sr))
        true_codes.append(codec.encode(wav, sr).long())
        resynth.append((codec.decode(true_codes[-1]).numpy().reshape(-1), codec.sample_rate))
    result = {"cpu": cpu_info(), "threads": args.threads, "budget_unit": "process CPU minutes (all threads)",
              "corpus": {"train_sentences": args.num_sentences, "heldout_sentences": args.num_heldout,
                         "voices": args.num_voices, "heldout_utterances": len(items)},
              "codec": args.codec, "recipe": str(RECIPE.relative_to(ROOT)), "model_options": args.model, "ar_fraction": args.ar_fraction,
              "prompts": args.prompts,
              "ground_truth": {**score(asr, items, gt), "voice": matcher.score(gt, voices, prompt_embs)},
              "codec2_resynthesis": {**score(asr, items, resynth), "voice": matcher.score(resynth, voices, prompt_embs)},
              "model": []}

    from valle.utils.atomic import atomic_write_text

    for minutes in args.budget_minutes:
        w0 = time.time()
        checkpoints, spent = {}, 0.0
        jobs = [(exp / STAGE_NAMES[stage], stage, share) for stage, share in stage_budgets(minutes * 60, args.ar_fraction)]
        for stage, (checkpoints[stage], used) in train_stages(jobs, args, side_by_side=not args.one_at_a_time).items():
            spent += used
        said = {}
        for mode in args.quantize:
            synth = Synthesizer.from_checkpoints(checkpoint=checkpoints.get(0), ar_checkpoint=checkpoints.get(1),
                                                 nar_checkpoint=checkpoints.get(2), device="cpu", quantize=mode)
            said[mode] = say_heldout(synth, items, true_codes, corpus, heldout_dir, args,
                                     with_nar_alone=mode == args.quantize[0])
        outs, nar_outs, frames, codes = said[args.quantize[0]]
        step = {"cpu_minutes": round(spent / 60, 2),
                "steps": {STAGE_NAMES[st]: int(Path(c).stem.split("-")[1]) for st, c in checkpoints.items()},
                "train_wall_minutes": round((time.time() - w0) / 60, 2),
                "generated_frames_vs_espeak": frames[:8],
                "empty_outputs": sum(1 for g, _ in frames if g == 0),
                **score(asr, items, outs), "voice": matcher.score(outs, voices, prompt_embs)}
        step["nar_alone"] = {k: v for k, v in score(asr, items, nar_outs).items() if k != "examples"}
        step["wer_over_resynthesis"] = round(step["wer"] / max(result["codec2_resynthesis"]["wer"], 1e-9), 2)
        step["quantized"] = {mode: {**{k: v for k, v in score(asr, items, said[mode][0]).items() if k != "examples"},
                                    "voice": matcher.score(said[mode][0], voices, prompt_embs),
                                    **code_agreement(said[mode][3], codes)}
                             for mode in args.quantize[1:]}
        result["model"].append(step)
        print(json.dumps(step), file=sys.stderr, flush=True)

    atomic_write_text(work / "learn.json", json.dumps(result, indent=1) + "\n")
    plot(result, work / "learn_wer.png")
    print(json.dumps(result))
    return 0


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [s["cpu_minutes"] for s in result["model"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, [s["wer"] for s in result["model"]], "o-", label="model (held-out sentences)")
    ax.axhline(result["codec2_resynthesis"]["wer"], color="g", ls="--", label="codec2 resynthesis")
    ax.axhline(result["ground_truth"]["wer"], color="k", ls=":", label="espeak-ng ground truth")
    ax.set_xlabel("training CPU minutes (process, all threads)")
    ax.set_ylabel("WER (pocketsphinx + grammar)")
    ax.set_ylim(0, max(1.05, max([s["wer"] for s in result["model"]] + [0]) + 0.05))
    ax.legend()
    ax.set_title(f"bench/learn.py on {result['cpu']['model']}", fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(".tmp-" + path.name)
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
