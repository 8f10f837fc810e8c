"""Sentence trees: does a sentence's dependency parse help a Tree-LSTM classify its sentiment?

    python benchmarks/trees_sentences.py                      # 5 models x seeds 0-4 (about 50 minutes here)
    python benchmarks/trees_sentences.py --seeds 0 --minutes 4
    python benchmarks/trees_sentences.py --table              # the table of the results recorded so far

The Pang & Lee sentences of `en-sentiment` (3,200 / 400 / 400, pos/neg), the same split for every model:

- Child-Sum Tree-LSTM over each sentence's dependency tree (`configs/tree/sentences.yaml`, dataset
  `pang-lee-trees`, parsed by spaCy en_core_web_sm 3.8.0: `pip install 'rnnlab[parse]'`),
- the same model over fixed trees of the same words: left-branching (`--data.shape left`) and balanced
  (`--data.shape balanced`), whose inner nodes have no word,
- a BiLSTM of the tree task over the same words with the same head (`--model.encoder bilstm`),
- the sentiment classifier of `configs/classifier/en-sentiment.yaml` (a BiLSTM with attention pooling over
  the whitespace tokens of the same sentences; its own tokenizer and vocabulary).

Sizes and trainer are matched (100-d embeddings, words seen twice, Adam 0.002, dropout 0.5, batches of 32, at
most 15 epochs with early stopping after 4 without improvement, the same wall-clock cap `--minutes`); each
run keeps its best validation checkpoint and is scored on the 400 test sentences by `rnnlab eval`'s own
evaluation. One torch thread. Every result is appended to `<runs>/results.jsonl` as it comes, so an
interrupted benchmark keeps what it measured (`--table` prints it).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from rnnlab.cli import main as rnnlab
from rnnlab.tasks.registry import EvalRequest, get_task

TREE = "configs/tree/sentences.yaml"
CLASSIFIER = "configs/classifier/en-sentiment.yaml"
# (key, name, task, config, overrides)
ROWS = [
    ("parse", "Tree-LSTM, dependency parse", "tree", TREE, []),
    ("left", "Tree-LSTM, left-branching", "tree", TREE, ["--data.shape", "left"]),
    ("balanced", "Tree-LSTM, balanced", "tree", TREE, ["--data.shape", "balanced"]),
    ("bilstm", "BiLSTM, tree task's head", "tree", TREE, ["--model.encoder", "bilstm"]),
    ("classifier", "BiLSTM classifier (attention)", "classifier", CLASSIFIER, []),
]


def train_and_test(task: str, config: str, overrides: list[str], seed: int, minutes: float, run: Path) -> dict:
    """Train one run within `minutes`, then score its best checkpoint on the test split."""
    start = time.perf_counter()
    argv = ["train", config, *overrides, "--trainer.seed", str(seed), "--trainer.max_minutes", str(minutes),
            "--trainer.progress", "false", "--trainer.plot", "false", "--output_dir", str(run), "--overwrite"]  # fmt: skip
    if rnnlab(argv) != 0:
        raise SystemExit(f"training failed: rnnlab {' '.join(argv)}")
    seconds = time.perf_counter() - start
    result = get_task(task).evaluate(run / "best", EvalRequest(split="test"))
    model = get_task(task).load(run / "best").model
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = max((e["step"] for e in events if e.get("event") == "train"), default=0)
    valid = max((e["accuracy"] for e in events if e.get("event") == "eval" and "accuracy" in e), default=None)
    return {"test": float(result["accuracy"]), "valid": valid, "seconds": seconds, "steps": steps,
            "parameters": sum(p.numel() for p in model.parameters())}  # fmt: skip


def table(results: list[dict]) -> str:
    """Mean and spread of the test accuracy of each row over the seeds it has (steps, wall-clock seconds and
    the best validation accuracy: means over the seeds)."""
    lines = [f"{'model':<31s} {'params':>8s} {'seeds':>5s} {'steps':>6s} {'wall s':>6s}  {'valid':>6s}  "
             f"{'test (mean ± sd)':<16s}  test per seed"]  # fmt: skip
    for key, name, *_ in ROWS:
        mine = sorted((r for r in results if r["key"] == key), key=lambda r: r["seed"])
        if not mine:
            continue
        tests = [100 * r["test"] for r in mine]
        spread = statistics.stdev(tests) if len(tests) > 1 else 0.0
        valid = statistics.mean(100 * r["valid"] for r in mine if r["valid"] is not None)
        lines.append(f"{name:<31s} {mine[0]['parameters']:>8,d} {len(mine):>5d} "
                     f"{statistics.mean(r['steps'] for r in mine):>6.0f} {statistics.mean(r['seconds'] for r in mine):>6.0f}  "
                     f"{valid:>5.1f}%  {f'{statistics.mean(tests):.1f}% ± {spread:.1f}':<16s}  "
                     + " ".join(f"{t:.1f}" for t in tests))  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="training seeds (all rows each)")
    parser.add_argument("--minutes", type=float, default=8.0, help="wall-clock cap of every run")
    parser.add_argument("--only", nargs="+", choices=[row[0] for row in ROWS], help="these rows only")
    parser.add_argument("--runs", default="runs/bench-trees-sentences", help="directory of the runs and results")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--table", action="store_true", help="print the table of the recorded results and stop")
    args = parser.parse_args()
    record = Path(args.runs) / "results.jsonl"
    if not args.table:
        torch.set_num_threads(args.threads)
        record.parent.mkdir(parents=True, exist_ok=True)
        for seed in args.seeds:
            for key, name, task, config, overrides in ROWS:
                if args.only and key not in args.only:
                    continue
                result = train_and_test(task, config, overrides, seed, args.minutes, Path(args.runs) / f"{key}-{seed}")
                result = {"key": key, "seed": seed, "minutes": args.minutes, **result}
                with open(record, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(result) + "\n")
                print(f"rnnlab: {name}, seed {seed}: test accuracy {100 * result['test']:.1f}% "
                      f"({result['seconds']:.0f} s)", flush=True)  # fmt: skip
    results: dict[tuple[str, int], dict] = {}
    if record.exists():
        for line in record.read_text(encoding="utf-8").splitlines():
            if line.strip():
                result = json.loads(line)
                results[result["key"], result["seed"]] = result  # a rerun replaces the earlier one
    print(f"\n{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s); "
          f"Pang & Lee sentences, 400 test sentences (one sentence is 0.25 points)")  # fmt: skip
    print(table(list(results.values())))


if __name__ == "__main__":
    main()
