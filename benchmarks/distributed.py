"""Data-parallel scaling (issue #28 §1): 2 processes x 1 thread (DDP, gloo) vs 1 process x 2 threads.

    python benchmarks/distributed.py                       # LM on the built-in Tang poems, 150 steps each
    python benchmarks/distributed.py --steps 300 --hidden 512 --batch 64

Both runs train the same config (character LSTM language model on the built-in `tang` corpus, the same
global batch) through `rnnlab train`: once as one process with OMP_NUM_THREADS=2, once as
`rnnlab train ... --nproc 2` (torchrun, gloo on loopback) with OMP_NUM_THREADS=1 per process, after a
reference run of one process with one thread. Reported:
training tokens/s of the whole batch (what rank 0 logs in metrics.jsonl: every rank's tokens), the median
over the logged intervals after the first `--warmup` steps, and the ratio. `--nproc N` compares N x 1
with 1 x N. The two runs come one after the other: run it on an otherwise idle machine, or read the ratio
with the machine's load in mind.
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
from pathlib import Path

import torch


def _config(tmp: Path, args: argparse.Namespace) -> Path:
    config = tmp / "lm.yaml"
    config.write_text(
        f"""task: lm
data: {{corpus: tang, level: char}}
model: {{embedding_size: {args.hidden // 2}, hidden_size: {args.hidden}, num_layers: 2, dropout: 0.0}}
trainer: {{max_steps: {args.steps}, max_epochs: null, eval_every: 0, save_every: 0, log_every: 10,
          progress: false, plot: false, device: cpu, save_best: false, save_last: false, lr: 0.002}}
batch_size: {args.batch}
bptt: {args.bptt}
output_dir: {tmp / "run"}
""",
        encoding="utf-8",
    )
    return config


def _run(config: Path, output: Path, threads: int, nproc: int) -> tuple[float, float]:
    """(median tokens/s after warm-up, wall seconds) of one `rnnlab train` run."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    command = [sys.executable, "-m", "rnnlab", "train", str(config), f"output_dir={output}"]
    if nproc > 1:
        command += ["--nproc", str(nproc)]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    records = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    speeds = [r["tokens_per_s"] for r in records if r["event"] == "train" and r["step"] > WARMUP]
    return statistics.median(speeds), wall


WARMUP = 20


def main() -> None:
    global WARMUP
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--warmup", type=int, default=20, help="steps left out of the median")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32, help="the global batch (parallel streams)")
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--nproc", type=int, default=2)
    args = parser.parse_args()
    WARMUP = args.warmup
    print(f"# torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{len(os.sched_getaffinity(0))} cores; LM lstm 2x{args.hidden}, batch {args.batch} x bptt {args.bptt}, "
          f"{args.steps} steps (median tokens/s after step {args.warmup})")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = _config(tmp, args)
        single, single_wall = _run(config, tmp / "single", threads=1, nproc=1)
        one, one_wall = _run(config, tmp / "one", threads=args.nproc, nproc=1)
        many, many_wall = _run(config, tmp / "many", threads=1, nproc=args.nproc)
    print("| run | tokens/s | wall (s, start-up included) |")
    print("|---|---:|---:|")
    print(f"| 1 process x 1 thread (reference) | {single:,.0f} | {single_wall:.1f} |")
    print(f"| 1 process x {args.nproc} threads | {one:,.0f} | {one_wall:.1f} |")
    print(f"| {args.nproc} processes x 1 thread (DDP, gloo) | {many:,.0f} | {many_wall:.1f} |")
    print(f"| ratio DDP / threads | {many / one:.2f}x | |")


if __name__ == "__main__":
    main()
