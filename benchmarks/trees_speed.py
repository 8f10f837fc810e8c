"""Nodes/s of the depth-batched tree networks against node-by-node recursion, same model, same run.

    python benchmarks/trees_speed.py                   # CPU, 64 ListOps-like trees per batch
    python benchmarks/trees_speed.py --threads 1 --trees 64 --hidden 128

Each model runs forward + backward on the same batch of random ListOps-like trees (MIN/MAX/MED/SM with
2-5 arguments, depth <= 8), once level by level (`forward(batch, x)`) and once node by node in post-order
(`forward(batch, x, per_node=True)`), interleaved; the best of `--repeats` timings is kept for each.
Target (issue #23): depth-batched >= 10x the nodes/s of per-node recursion.
"""

from __future__ import annotations

import argparse
import platform
import random
import time

import torch
from torch import nn

from rnnlab.nn.trees import ChildSumTreeLSTM, NaryTreeLSTM, RecursiveNet, Tree, batch_trees

OPERATORS = ["MIN", "MAX", "MED", "SM"]
VOCAB = {name: i for i, name in enumerate(OPERATORS + [str(d) for d in range(10)])}


def listops_like(rng: random.Random, max_depth: int = 8, depth: int = 0) -> Tree:
    """A random ListOps-shaped tree (the shape only; F's generator in the data layer computes the values)."""
    if depth > 0 and (depth >= max_depth or rng.random() < 0.75):
        return Tree.leaf(str(rng.randint(0, 9)))
    arguments = [listops_like(rng, max_depth, depth + 1) for _ in range(rng.randint(2, 5))]
    return Tree(rng.choice(OPERATORS), arguments)


def time_pass(model: nn.Module, embedding: nn.Embedding, batch, per_node: bool) -> float:
    """Seconds for one forward + backward over the batch."""
    model.zero_grad(set_to_none=True)
    start = time.perf_counter()
    out = model(batch, embedding(batch.node_tokens), per_node=per_node)
    h = out[0] if isinstance(out, tuple) else out
    h[batch.roots].sum().backward()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trees", type=int, default=64, help="trees per batch")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (1 is steadier on a busy machine)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    trees = [listops_like(rng) for _ in range(args.trees)]
    batch = batch_trees(trees, lambda node: VOCAB[node.token or node.label])
    embedding = nn.Embedding(len(VOCAB), 32)
    models = {
        "RecursiveNet(pad, K=5)": RecursiveNet(32, args.hidden, max_children=5),
        "RecursiveNet(sum, RNTN)": RecursiveNet(32, args.hidden, composition="sum", tensor=True),
        "ChildSumTreeLSTM": ChildSumTreeLSTM(32, args.hidden),
        "NaryTreeLSTM(n=5)": NaryTreeLSTM(32, args.hidden, n=5),
    }
    print(
        f"# torch {torch.__version__}, {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads; "
        f"{batch.num_trees} trees, {batch.num_nodes} nodes, {len(batch.levels)} levels, hidden {args.hidden}; "
        f"forward+backward, best of {args.repeats}"
    )
    print(f"| {'model':<24} | {'depth-batched nodes/s':>21} | {'per-node nodes/s':>16} | {'speed-up':>8} |")
    print(f"|{'-' * 26}|{'-' * 23}|{'-' * 18}|{'-' * 10}|")
    for name, model in models.items():
        time_pass(model, embedding, batch, per_node=False)  # warm-up
        batched, per_node = [], []
        for _ in range(args.repeats):  # interleaved, so both paths see the same machine load
            batched.append(time_pass(model, embedding, batch, per_node=False))
            per_node.append(time_pass(model, embedding, batch, per_node=True))
        fast, slow = batch.num_nodes / min(batched), batch.num_nodes / min(per_node)
        print(f"| {name:<24} | {fast:>21,.0f} | {slow:>16,.0f} | {fast / slow:>7.1f}x |")


if __name__ == "__main__":
    main()
