"""Visual question answering on the two generated sets, every model next to the baselines that keep VQA
honest: question-only (the LSTM alone: what the question's wording gives away) and image-only (the CNN
alone: the most frequent answer given the image), then CNN+LSTM (concatenation, element-wise product),
stacked attention (2 hops) and the relation network, accuracy by question type on the test split.

    python benchmarks/vqa.py                                       # both sets, every head, 4 min each
    python benchmarks/vqa.py --dataset sort-of-clevr --heads relation,attention --minutes 10
    python benchmarks/vqa.py --out runs/bench-vqa --device cuda    # each row also saved as JSON there
    python benchmarks/vqa.py --table runs/bench-vqa                # the tables of saved rows, nothing trained
    python benchmarks/vqa.py --dataset sort-of-clevr --heads attention --minutes 40 --set model.attention_supervision=1 \
        --set model.encoder.stages=3 --set batch_by_image=true       # attention supervision (docs/vqa.md)

Each model trains through `rnnlab train configs/vqa/<dataset>.yaml --model.head HEAD` for `--minutes` of
wall clock (best checkpoint by validation accuracy) and is scored by `rnnlab.tasks.vqa_model` on the test
split (`sort-of-clevr`: 6,000 questions about 500 scenes; `emoji-scenes`: 2,000 questions). The attention
column is the share of test questions naming one object whose top-attended cell (per hop) overlaps the
object's box, next to chance (a uniformly random cell). One torch thread by default.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from rnnlab.cli import main as rnnlab
from rnnlab.tasks.registry import EvalRequest
from rnnlab.tasks.vqa_model import evaluate

HEADS = ("question", "image", "concat", "product", "attention", "relation")
NAMES = {"question": "question-only (LSTM)", "image": "image-only (CNN)", "concat": "CNN+LSTM, concat",
         "product": "CNN+LSTM, product", "attention": "stacked attention, 2 hops", "relation": "relation network"}
DATASETS = ("sort-of-clevr", "emoji-scenes")


def run_one(dataset: str, head: str, minutes: float, out: Path, device: str, extra: list[str]) -> dict:
    run = out / f"{dataset}-{head}"
    start = time.perf_counter()
    argv = ["train", f"configs/vqa/{dataset}.yaml", "--model.head", head, "--trainer.max_minutes", str(minutes),
            "--trainer.max_epochs", "1000", "--trainer.progress", "false", "--trainer.plot", "false",
            "--trainer.device", device, "--output_dir", str(run), "--overwrite", *extra]  # fmt: skip
    if rnnlab(argv) != 0:
        raise SystemExit(f"training failed: rnnlab {' '.join(argv)}")
    seconds = time.perf_counter() - start
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    result = evaluate(run, EvalRequest(split="test"))
    result.pop("confusion")
    row = {"dataset": dataset, "head": head, "settings": [item.lstrip("-") for item in extra], "seconds": round(seconds),
           "steps": evals[-1]["step"] if evals else 0, "epochs": evals[-1]["epoch"] + 1 if evals else 0, **result}
    (out / f"{dataset}-{head}.json").write_text(json.dumps(row, indent=1) + "\n")
    return row


def table(rows: list[dict]) -> str:
    lines = []
    for dataset in DATASETS:
        chosen = sorted((r for r in rows if r["dataset"] == dataset), key=lambda r: HEADS.index(r["head"]))
        if not chosen:
            continue
        groups = [g for g in chosen[0]["groups"] if list(chosen[0]["groups"]) != list(chosen[0]["types"])]
        types = list(chosen[0]["types"])
        columns = ["overall", *groups, *types]
        lines += [f"\n{dataset} (test: {chosen[0]['questions']:,} questions; accuracy, %)\n",
                  "| model | " + " | ".join(columns) + " | attention on target: hop 1 / hop 2 (chance) | train s (epochs) |",
                  "|---" * (len(columns) + 3) + "|"]  # fmt: skip
        for r in chosen:
            values = [r["accuracy"], *(r["groups"][g]["accuracy"] for g in groups),
                      *(r["types"][t]["accuracy"] for t in types)]  # fmt: skip
            target = r.get("attention_on_target") or {}
            attention = (f"{100 * target['hop1']:.1f} / {100 * target.get('hop2', float('nan')):.1f} "
                         f"({100 * target['chance']:.1f})" if "hop1" in target else "")  # fmt: skip
            name = NAMES[r["head"]] + (f" ({', '.join(r['settings'])})" if r.get("settings") else "")  # e.g. supervised
            lines.append(f"| {name} | " + " | ".join(f"{100 * v:.1f}" for v in values)
                         + f" | {attention} | {r['seconds']} ({r.get('epochs', '?')}) |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=(*DATASETS, "both"), default="both")
    parser.add_argument("--heads", default=",".join(HEADS), help="comma-separated model.head values")
    parser.add_argument("--minutes", type=float, default=4.0, help="training wall clock per model")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/bench-vqa", help="run directories and one JSON per row")
    parser.add_argument("--table", metavar="DIR", help="print the tables of the rows saved in DIR; train nothing")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for every model (e.g. batch_size=128)")
    args = parser.parse_args()
    if args.table:
        print(table([json.loads(p.read_text()) for p in sorted(Path(args.table).glob("*.json"))]))
        return
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = [f"--{item}" for item in args.set]
    heads = [h.strip() for h in args.heads.split(",") if h.strip()]
    datasets = DATASETS if args.dataset == "both" else (args.dataset,)
    print(f"# benchmarks/vqa.py: {', '.join(datasets)}; heads {', '.join(heads)}; {args.minutes} min each; "
          f"{args.device}, {args.threads} thread(s); torch {torch.__version__}, {platform.processor() or platform.machine()}")  # fmt: skip
    rows = [run_one(dataset, head, args.minutes, out, args.device, extra) for dataset in datasets for head in heads]
    print(table(rows))


if __name__ == "__main__":
    main()
