"""Padded batches at padded speed (issue #28 §3): training tokens/s of the padded and the packed path.

    python benchmarks/padded_speed.py --threads 1                 # all three tasks, 40 batches each
    python benchmarks/padded_speed.py --threads 1 --tasks regression --batches 100 --layer-steps 0

First the layer alone (the issue's measurement: torch's LSTM, batch 64, 128 -> 256, forward+backward),
then the training steps of whole models.

For each task the same model (same weights, same optimizer settings) is built twice, with ``model.packed``
false (padded: `rnnlab.nn.padded`) and true (packed sequences), and both take training steps (forward,
backward, Adam) on the task's own training batches, in the task's own order, interleaved batch by batch so
machine noise hits both alike. Reported: real tokens per second of each path and the ratio.

* regression: configs/regression/freesolv.yaml (character BiGRU, 2 layers, FreeSolv SMILES; cached data);
* classifier: configs/classifier/en-sentiment.yaml (word BiLSTM, attention pooling; cached data);
* tagger: configs/tagger/en-pos.yaml's model (word + character BiLSTM) on en-sentiment's sentences with
  made-up tags (en-pos is a large download; the speed depends on lengths and sizes, not on the tags).

Every task's batches are length-bucketed (`rnnlab.labelling.batches`); ``--random`` adds a regression row
with batches drawn at random (what the regression task did before it bucketed: more padding).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from rnnlab.data.registry import load_dataset
from rnnlab.data.tagged import TaggedSentence
from rnnlab.tasks.configs import load_task_config
from rnnlab.train.batches import EpochBatches, shuffled_indices

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def _tokens(batch) -> int:
    mask = batch["mask"] if isinstance(batch, dict) else batch[1]
    return int(mask.sum())


def _setup(task: str, packed: bool, random_batches: bool):
    """(TrainTask, model) of `task` with model.packed = `packed`."""
    overrides = [f"model.packed={str(packed).lower()}"]
    if task == "tagger":
        from rnnlab.labelling.tagger_training import build_tagger

        _, config = load_task_config(None, CONFIGS / "tagger/en-pos.yaml", overrides)
        texts = load_dataset("en-sentiment")
        splits = {
            split: [TaggedSentence(t.text.split(), [_shape(w) for w in t.text.split()]) for t in items]
            for split, items in texts.items()
        }
        setup = build_tagger(config, splits, "tagger")
    else:
        path = {"regression": "regression/freesolv.yaml", "classifier": "classifier/en-sentiment.yaml"}[task]
        descriptor, config = load_task_config(None, CONFIGS / path, overrides)
        setup = descriptor.build(config)
    if task == "regression" and random_batches:  # batches drawn at random, not bucketed by length
        train, size = setup.task.splits["train"], config.batch_size
        order = shuffled_indices(len(train), config.trainer.seed, 0)
        batches = EpochBatches([[train[i] for i in order[s : s + size]] for s in range(0, len(order), size)],
                               make=setup.task.encode)  # fmt: skip
    else:
        batches = setup.task.train_batches(0)
    return setup.task, setup.model, batches


def _shape(word: str) -> str:
    return "NUM" if word[:1].isdigit() else "PUNCT" if not word[:1].isalnum() else "CAP" if word[:1].isupper() else "W"


def _loss(task, model, batch):
    out = task.train_step(model, batch)
    return out.loss


def measure(task_name: str, num_batches: int, random_batches: bool = False) -> str:
    runs = {}
    for packed in (False, True):
        task, model, batches = _setup(task_name, packed, random_batches)
        runs["packed" if packed else "padded"] = (task, model, torch.optim.Adam(model.parameters(), lr=1e-3))
    runs["packed"][1].load_state_dict(runs["padded"][1].state_dict())
    elapsed = {name: 0.0 for name in runs}
    tokens = 0
    count = min(num_batches, len(batches)) if num_batches else len(batches)
    for index in range(count + 1):
        batch = batches[index % len(batches)]
        for name, (task, model, optimizer) in runs.items():
            model.train()
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            _loss(task, model, batch).backward()
            optimizer.step()
            if index:  # the first batch is a warm-up
                elapsed[name] += time.perf_counter() - start
        if index:
            tokens += _tokens(batch)
    padded, packed = tokens / elapsed["padded"], tokens / elapsed["packed"]
    label = task_name + (" (random batches)" if random_batches else "")
    return f"| {label} | {count} | {tokens:,} | {packed:,.0f} | {padded:,.0f} | {padded / packed:.2f} |"


def layer_row(bidirectional: bool, steps: int = 100, seq_len: int = 50) -> str:
    """The issue's layer measurement: torch's LSTM, batch 64, 128 -> 256, forward+backward, ``steps`` steps
    over random lengths in [seq_len / 2, seq_len], packed vs padded, interleaved step by step."""
    from rnnlab.nn.padded import run_padded
    from rnnlab.nn.recurrent import run_packed

    torch.manual_seed(0)
    rnn = torch.nn.LSTM(128, 256, batch_first=True, bidirectional=bidirectional)
    elapsed = {"packed": 0.0, "padded": 0.0}
    for _ in range(steps):
        x = torch.randn(64, seq_len, 128)
        lengths = torch.randint(seq_len // 2, seq_len + 1, (64,))
        for name, run in (("packed", run_packed), ("padded", run_padded)):
            rnn.zero_grad(set_to_none=True)
            start = time.perf_counter()
            run(rnn, x, lengths).square().mean().backward()
            elapsed[name] += time.perf_counter() - start
    label = f"LSTM {'bi' if bidirectional else 'uni'} 128->256, N=64, L<={seq_len}"
    return f"| {label} | {steps} | {elapsed['packed']:.1f} s | {elapsed['padded']:.1f} s | {elapsed['packed'] / elapsed['padded']:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is steadier on a busy machine)")
    parser.add_argument("--tasks", nargs="+", default=["regression", "classifier", "tagger"])
    parser.add_argument("--batches", type=int, default=40, help="timed training batches per task (0: one epoch)")
    parser.add_argument("--random", action="store_true", help="also time regression on unbucketed batches")
    parser.add_argument("--layer-steps", type=int, default=100, help="steps of the layer-only table (0: skip it)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, {platform.machine()}, {torch.get_num_threads()} threads")
    if args.layer_steps:
        print("| layer (forward+backward) | steps | packed | padded | speed-up |")
        print("|---|---:|---:|---:|---:|")
        for bidirectional in (False, True):
            print(layer_row(bidirectional, args.layer_steps), flush=True)
        print()
    print("| task | batches | real tokens | packed tokens/s | padded tokens/s | padded / packed |")
    print("|---|---:|---:|---:|---:|---:|")
    for task in args.tasks:
        print(measure(task, args.batches), flush=True)
        if task == "regression" and args.random:
            print(measure(task, args.batches, random_batches=True), flush=True)


if __name__ == "__main__":
    main()
