"""Every GPU check of issue #28 §5 in one prepared run (never part of the tests).

    RNNLAB_CACHE=/path/with/ptb-and-de-en python benchmarks/gpu_checks.py --out gpu_checks.md
    python benchmarks/gpu_checks.py --only layers,ptb_medium --ptb-minutes 6    # a rerun of some sections

Sections, in this order (each one's failure is printed and the next one still runs):
- env: the card, torch, CUDA and cuDNN versions.
- ddp: `rnnlab train configs/lm/ptb-small.yaml` for a fixed number of steps, in one plain process and as a
  1-GPU DDP run (`--nproc 1`, torchrun, NCCL): wall time, training tokens/s and the last logged loss of both.
- lm_bf16: language-model training tokens/s (2x650 LSTM, vocab 10k, batch 20 and 64, bptt 35), rnnlab's
  RNNLanguageModel against the pytorch/examples torch.nn.LSTM model, each in fp32 and under bf16 autocast.
- translate_bf16: `rnnlab train configs/translate/de-en-attn.yaml` for a fixed number of steps in fp32 and
  in bf16 autocast (trainer.precision): training target tokens/s from the run's log.
- layers: benchmarks/recurrent_layers.py's tables on the GPU: torch.nn (cuDNN) vs rnnlab fused/explicit
  in fp32 and bf16, then the compiled path and the layer-normalised LSTM (a custom cell) as multiples of
  the cuDNN LSTM's time (target: custom cell <= 2x).
- ptb_medium: configs/lm/ptb-medium.yaml (2x650, Zaremba et al. 2014's medium size) trained for
  `--ptb-minutes` of wall clock with the pytorch/examples recipe at that size (tied embeddings, SGD lr 20,
  clip 0.25, dropout 0.5; cosine decay over the budget), then test perplexity (target <= 82.7).

Writes a markdown report to `--out` as it goes, so a run cut short still leaves what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

#: "cpu" only to smoke-test this script off a GPU machine (tiny sizes, figures meaningless)
DEVICE = os.environ.get("GPU_CHECKS_DEVICE", "cuda")
SECTIONS = ["env", "ddp", "lm_bf16", "translate_bf16", "layers", "ptb_medium"]


class Report:
    """Prints and appends markdown to a file as each section finishes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")


def _rnnlab(args: list[str], timeout: float) -> tuple[int, str, float]:
    """Run `python -m rnnlab ARGS`; (exit code, last output lines, wall seconds)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "rnnlab", *args], capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - start
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-6:])
    return done.returncode, tail, wall


def _train_log(run_dir: Path) -> list[dict]:
    """The run's "train" records of metrics.jsonl (loss, tokens_per_s per logging interval)."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [record for record in records if record.get("event") == "train"]


def _log_summary(run_dir: Path) -> tuple[float, float]:
    """(median training tokens/s over the logging intervals after the first, last logged loss)."""
    records = _train_log(run_dir)
    if not records:
        return float("nan"), float("nan")
    speeds = [r["tokens_per_s"] for r in records[1:] or records if "tokens_per_s" in r]
    return statistics.median(speeds), records[-1].get("loss", float("nan"))


def section_env(report: Report, args: argparse.Namespace) -> None:
    if DEVICE != "cuda":
        report(f"- {DEVICE} smoke test, torch {torch.__version__}")
        return
    props = torch.cuda.get_device_properties(0)
    report(f"- card: {torch.cuda.get_device_name(0)}, {props.total_memory / 2**30:.0f} GiB, "
           f"{props.multi_processor_count} SMs, compute capability {props.major}.{props.minor}")  # fmt: skip
    report(f"- torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
           f"Python {platform.python_version()}, {os.cpu_count()} CPU cores")  # fmt: skip


def section_ddp(report: Report, args: argparse.Namespace) -> None:
    steps = args.ddp_steps
    common = ["train", "configs/lm/ptb-small.yaml", "--trainer.max_steps", str(steps), "--trainer.max_epochs", "100",
              "--trainer.device", DEVICE, "--trainer.progress", "false", "--trainer.plot", "false",
              "--trainer.log_every", "50", "--trainer.eval_every", "0", "--trainer.save_every", "0"]  # fmt: skip
    report(f"ptb-small (2x200 LSTM, batch 20, bptt 35), {steps} steps on one GPU:\n")
    report("| run | exit | wall s | train tokens/s (median interval) | last logged loss |\n|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra in (("1 process", []), ("DDP, --nproc 1 (torchrun, NCCL)", ["--nproc", "1"])):
            out = Path(tmp) / label.split()[0].strip(",")
            code, tail, wall = _rnnlab([*common, "--output_dir", str(out), *extra], timeout=300)
            speed, loss = _log_summary(out)
            report(f"| {label} | {code} | {wall:.1f} | {speed:,.0f} | {loss:.4f} |")
            if code:
                report(f"\n```\n{tail}\n```\n")


def section_lm_bf16(report: Report, args: argparse.Namespace) -> None:
    from lm_throughput import ExamplesLM, _train_steps
    from rnnlab.lm.batching import BPTTWindows, batchify
    from rnnlab.nn.language_model import RNNLanguageModel, RNNLMConfig

    device = torch.device(DEVICE)
    vocab, size, bptt, steps = (10000, 650, 35, 50) if DEVICE == "cuda" else (500, 32, 10, 3)
    report("| batch | model | fp32 tokens/s | bf16 tokens/s | bf16 / fp32 | × torch.nn fp32 |\n|---:|---|---:|---:|---:|---:|")
    for batch in (20, 64):
        torch.manual_seed(0)
        stream = torch.randint(0, vocab, (batch * (bptt * steps + 1),))
        windows = BPTTWindows(batchify(stream, batch), bptt)
        config = RNNLMConfig(embedding_size=size, hidden_size=size, num_layers=2, dropout=0.5)
        models = {
            "torch.nn.LSTM (pytorch/examples)": ExamplesLM(vocab, size, 2, 0.5).to(device),
            "rnnlab RNNLanguageModel": RNNLanguageModel(vocab, config).to(device),
        }
        seconds = {(name, dtype): [] for name in models for dtype in (None, torch.bfloat16)}
        for name, dtype in seconds:  # warm-up (cuDNN plans, autocast caches)
            _train_steps(models[name], windows, 5, 0.1, device, dtype)
        for _ in range(5):
            for name, dtype in seconds:
                seconds[name, dtype].append(_train_steps(models[name], windows, steps, 0.1, device, dtype))
        tokens = steps * batch * bptt
        speed = {key: tokens / statistics.median(times) for key, times in seconds.items()}
        reference = speed["torch.nn.LSTM (pytorch/examples)", None]
        for name in models:
            fp32, bf16 = speed[name, None], speed[name, torch.bfloat16]
            report(f"| {batch} | {name} | {fp32:,.0f} | {bf16:,.0f} | {bf16 / fp32:.2f} | {fp32 / reference:.2f} |")


def section_translate_bf16(report: Report, args: argparse.Namespace) -> None:
    steps = args.translate_steps
    report(f"configs/translate/de-en-attn.yaml (bi-LSTM 2x128 + Bahdanau attention, batch 64), {steps} steps:\n")
    report("| precision | exit | wall s | train target tokens/s (median interval) | last logged loss |\n|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("fp32", "bf16"):
            out = Path(tmp) / precision
            code, tail, wall = _rnnlab(
                ["train", "configs/translate/de-en-attn.yaml", "--trainer.max_steps", str(steps),
                 "--trainer.device", DEVICE, "--trainer.precision", precision, "--trainer.progress", "false",
                 "--trainer.plot", "false", "--trainer.log_every", "50", "--trainer.eval_every", "0",
                 "--eval_bleu_sentences", "50", "--output_dir", str(out)],
                timeout=300,
            )  # fmt: skip
            speed, loss = _log_summary(out)
            report(f"| {precision} | {code} | {wall:.1f} | {speed:,.0f} | {loss:.4f} |")
            if code:
                report(f"\n```\n{tail}\n```\n")


def section_layers(report: Report, args: argparse.Namespace) -> None:
    from recurrent_layers import compiled_table
    from rnnlab.benchmarking import compare_layers, format_table
    from rnnlab.nn import compiled as compiled_path

    config = dict(hidden_size=512, num_layers=2, seq_len=256, batch_size=64)
    if DEVICE != "cuda":
        config = dict(hidden_size=16, num_layers=1, seq_len=8, batch_size=4)
    rows = []
    for cell in ("lstm", "gru"):
        for dtype in (None, torch.bfloat16):
            rows += compare_layers(cell=cell, repeats=5, device=DEVICE, autocast_dtype=dtype, **config)
    report(format_table(rows))
    report(f"\ncompiled path: torch.compile backend {compiled_path.BACKEND}, {compiled_path.CHUNK} steps per call\n")
    report("| config | implementation | tokens/s (fwd+bwd) | × fused LSTM time | compile s |\n|---|---|---:|---:|---:|")
    report(compiled_table(config, 5, DEVICE))


def section_ptb_medium(report: Report, args: argparse.Namespace) -> None:
    from lm_ptb import shuffle_sanity
    from rnnlab.config import load_config
    from rnnlab.data.corpora import load_corpus
    from rnnlab.tasks.language_model import LMTaskConfig, build, load_language_model
    from rnnlab.train.run import train_task

    overrides = ["--model.tie_weights", "true", "--trainer.lr", "20", "--trainer.clip_grad_norm", "0.25",
                 "--trainer.schedule", "cosine", "--trainer.max_minutes", str(args.ptb_minutes),
                 "--trainer.max_epochs", "39", "--trainer.device", DEVICE, "--trainer.progress", "false",
                 "--trainer.plot", "false", "--output_dir", args.ptb_dir]  # fmt: skip
    config = load_config(LMTaskConfig, "configs/lm/ptb-medium.yaml", overrides)
    start = time.perf_counter()
    summary = train_task(build, config)
    train_seconds = time.perf_counter() - start
    lm = load_language_model(summary["output_dir"])
    corpus = load_corpus("ptb")
    metrics = lm.evaluate_text(corpus.test)
    valid = lm.evaluate_text(corpus.valid)
    fraction, count = shuffle_sanity(lm, [line for line in corpus.test.splitlines() if line.strip()])
    epochs = summary.get("epochs", "?")
    report(f"ptb-medium 2x650, tied, dropout 0.5, SGD lr 20 cosine over {args.ptb_minutes} min, precision "
           f"{config.trainer.precision} (auto = bf16 autocast on CUDA):\n")  # fmt: skip
    report("| train wall | epochs | valid ppl | test ppl | target | shuffled sentences beaten |\n|---:|---:|---:|---:|---:|---:|")
    report(f"| {train_seconds / 60:.1f} min | {epochs} | {valid['ppl']:.2f} | {metrics['ppl']:.2f} | <= 82.7 | "
           f"{fraction:.2%} of {count:,} |")  # fmt: skip
    report(f"\nsummary: {json.dumps({k: v for k, v in summary.items() if isinstance(v, int | float | str)})}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="gpu_checks.md")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated, from {SECTIONS}")
    parser.add_argument("--ptb-minutes", type=float, default=4.0)
    parser.add_argument("--ptb-dir", default="runs/ptb-medium-gpu")
    parser.add_argument("--ddp-steps", type=int, default=600)
    parser.add_argument("--translate-steps", type=int, default=300)
    args = parser.parse_args()
    if DEVICE == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_checks.py: no CUDA device (this script is for a GPU machine; the CPU benchmarks are the others)")
    os.chdir(ROOT)
    report = Report(Path(args.out).resolve())
    for name in args.only.split(","):
        start = time.perf_counter()
        report(f"\n## {name}\n")
        try:
            globals()[f"section_{name}"](report, args)
        except Exception:  # one broken section must not cost the others their device time
            report(f"\n```\n{traceback.format_exc()[-3000:]}\n```")
        report(f"\n({name}: {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
