"""Which de-en recipe learns the most per minute? Trains several variants of configs/translate/de-en-attn.yaml
side by side with the real `rnnlab train` (its schedule, evaluations and best/ checkpoint) and tabulates
valid BLEU against epochs and minutes, then scores each best/ on the test split.

    python benchmarks/translation_recipes.py --minutes 60 --recipes if128,noif256 --parallel 1
    python benchmarks/translation_recipes.py --minutes 8 --device cuda --parallel 7    # a quality sweep on a GPU

Quality per epoch does not depend on the device (same code, same seed), so a GPU sweep ranks recipes by
BLEU per epoch; `--speed` measures what this machine does per minute for each recipe (training tokens/s,
2 threads, 40 steps after 5 warm-up steps), and the two together say what 60 CPU minutes buy.
Runs are fp32 on every device (bf16 autocast changes the numbers and is slower at these sizes, docs/benchmarks.md).
Each run writes `<work>/<recipe>/metrics.jsonl`; the table is printed and written to `--out`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rnnlab.train.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[1]
PRESET = ROOT / "configs/translate/de-en-attn.yaml"

# name -> overrides of the preset (bi-LSTM 2x128, Bahdanau attention, input feeding, vocab 4000, dropout 0.2)
RECIPES: dict[str, list[str]] = {
    "if128": [],
    "if128-d3-v2k": ["model.dropout=0.3", "vocab.size=2000"],
    "if256-d3": ["model.hidden_size=256", "model.embed_dim=256", "model.dropout=0.3"],
    "noif256-d3": ["model.input_feeding=false", "model.hidden_size=256", "model.embed_dim=256", "model.dropout=0.3"],
    "if128-phrases": ["data.include_phrases=true"],
    "plain128": ["model.attention=null"],
    "rev-if128": ["data.reverse=true"],  # en->de: the noisy channel's reverse model p(f|e)
    # Sennrich & Zhang (2019)'s low-resource settings: a small vocabulary, aggressive (word) dropout, label
    # smoothing 0.2, and the patience that slower, regularised learning needs.
    "reg-d5": ["vocab.size=2000", "model.dropout=0.5", "model.word_dropout=0.3", "model.target_word_dropout=0.1",
               "label_smoothing=0.2", "trainer.plateau_patience=3", "trainer.early_stopping_patience=8"],
    "reg-d3-b32": ["vocab.size=2000", "model.dropout=0.3", "model.word_dropout=0.2", "label_smoothing=0.2",
                   "batch_size=32", "trainer.plateau_patience=3", "trainer.early_stopping_patience=8"],
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _fmt(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def train_all(names: list[str], args, work: Path) -> None:
    """Start `rnnlab train` for each recipe, at most `args.parallel` at a time, and wait for all."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    pending, running = list(names), []
    while pending or running:
        while pending and len(running) < args.parallel:
            name = pending.pop(0)
            command = [sys.executable, "-m", "rnnlab", "train", str(PRESET), "--output_dir", str(work / name),
                       "--trainer.max_minutes", str(args.minutes), "--trainer.max_epochs", str(args.max_epochs),
                       "--trainer.device", args.device, "--trainer.precision", "fp32",
                       "--trainer.progress", "false", "--trainer.plot", "false", *RECIPES[name]]  # fmt: skip
            log(f"start {name}: {' '.join(RECIPES[name]) or '(the preset)'}")
            handle = open(work / f"{name}.log", "w")
            running.append((name, subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)))
        time.sleep(2)
        for name, process in list(running):
            if process.poll() is not None:
                log(f"done {name} (exit {process.returncode})")
                running.remove((name, process))


def test_scores(runs: list[Path], threads: int) -> list[dict]:
    """`rnnlab eval` of each run's best/ on the test split (beam 5 as the preset decodes), all at once."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    processes = [subprocess.Popen([sys.executable, "-m", "rnnlab", "eval", str(run / "best"), "--split", "test",
                                   "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for run in runs]  # fmt: skip
    scores = []
    for process in processes:
        stdout, stderr = process.communicate()
        if process.returncode != 0:
            scores.append({"error": (stderr.strip().splitlines() or ["?"])[-1]})
        else:
            scores.append(json.loads(stdout.strip().splitlines()[-1]))
    return scores


def summarise(name: str, run: Path) -> dict:
    records = read_metrics(run / "metrics.jsonl")  # the Trainer's own reader (skips a torn last line)
    evals = [r for r in records if r.get("event") == "eval"]
    train = [r for r in records if r.get("event") == "train"]
    if not evals:
        return {"recipe": name, "error": "no evaluation"}
    best = max(evals, key=lambda r: r.get("bleu", 0.0))
    curve = [(r["epoch"], round(r["wall_time"] / 60, 1), round(r.get("bleu", 0.0), 2), round(r["ppl"], 1))
             for r in evals]  # fmt: skip
    tok_s = sum(r["tokens_per_s"] for r in train) / max(len(train), 1)
    return {"recipe": name, "overrides": " ".join(RECIPES[name]), "epochs": evals[-1]["epoch"],
            "minutes": round(evals[-1]["wall_time"] / 60, 1), "train_tok_s": round(tok_s),
            "best_valid_bleu": round(best.get("bleu", 0.0), 2), "best_epoch": best["epoch"],
            "best_valid_ppl": round(min(r["ppl"] for r in evals), 1), "curve": curve}  # fmt: skip


def speed(names: list[str]) -> dict[str, float]:
    """Training tokens/s of each recipe on this machine (the benchmark's own loop, no evaluation)."""
    import torch

    from rnnlab.config import load_config
    from rnnlab.tasks.translation import build
    from rnnlab.tasks.translation_config import TranslationConfig

    torch.set_num_threads(2)
    rates = {}
    for name in names:
        config = load_config(TranslationConfig, PRESET, RECIPES[name])
        torch.manual_seed(0)
        setup = build(config)
        task, model = setup.task, setup.model
        optimizer = torch.optim.Adam(model.parameters(), lr=config.trainer.lr)
        model.train()
        tokens, start = 0, 0.0
        for i, batch in enumerate(task.train_batches(0)):
            if i == 5:
                tokens, start = 0, time.perf_counter()
            output = task.train_step(model, batch)
            optimizer.zero_grad(set_to_none=True)
            output.loss.backward()
            optimizer.step()
            tokens += output.num_tokens
            if i == 45:
                break
        rates[name] = tokens / (time.perf_counter() - start)
        log(f"{name}: {rates[name]:.0f} training tokens/s")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", default=",".join(RECIPES), help=f"comma-separated, from {', '.join(RECIPES)}")
    parser.add_argument("--minutes", type=float, default=60.0, help="trainer.max_minutes of each run")
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--parallel", type=int, default=1, help="runs at the same time")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run")
    parser.add_argument("--work", default="/tmp/rnnlab-translation-recipes")
    parser.add_argument("--speed", action="store_true", help="only measure training tokens/s per recipe here")
    parser.add_argument("--out", default=None, help="also write the JSON summary here")
    args = parser.parse_args()
    names = [n for n in args.recipes.split(",") if n]
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {unknown}; expected some of {', '.join(RECIPES)}")
    if args.speed:
        print(json.dumps(speed(names), indent=1))
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    train_all(names, args, work)
    rows = [summarise(name, work / name) for name in names]
    for row, test in zip(rows, test_scores([work / name for name in names], args.threads)):
        row["test"] = test
    print("| recipe | epochs | minutes | train tok/s | best valid BLEU (200, greedy) | at epoch | valid ppl | "
          "test BLEU (beam 5) | test chrF |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        test = row.get("test", {})
        print(f"| {row['recipe']} | {row.get('epochs')} | {row.get('minutes')} | {row.get('train_tok_s')} | "
              f"{row.get('best_valid_bleu')} | {row.get('best_epoch')} | {row.get('best_valid_ppl')} | "
              f"{_fmt(test.get('bleu', test.get('error', '-')))} | {_fmt(test.get('chrf', '-'))} |")  # fmt: skip
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
