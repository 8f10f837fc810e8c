"""Where a trained ListOps tree model goes wrong: the head read at every operation node, not only the root.

    python benchmarks/trees_listops_nodes.py runs/tree-listops [--trees 3000]

Every subtree of a ListOps expression is an expression with a value, so the head (which reads one node's
state) can be scored at every operation node. Printed, for the test split (and the same number of training
trees, to compare): root accuracy; node accuracy by operation, for nodes over digits only ("flat") and for
nodes with an operation among their children ("nested"), by number of children, and by height; and, for a
Tree-LSTM, what the states look like: the mean forget gate at operation nodes, the mean ‖c‖ of digits, flat
and nested nodes, and how close an operation node's state is to the state of the digit leaf with the same
value (cosine), with the spread of same-valued states around their mean (relative to the mean's norm).
docs/trees.md ("Why ListOps stops short of 95%") has the figures of the preset's model.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import torch

from rnnlab.data.listops import OPERATORS, apply_operator
from rnnlab.data.registry import load_dataset
from rnnlab.nn.trees import ChildSumTreeLSTM, Tree, batch_trees
from rnnlab.tasks.tree_predictor import load_tree_predictor


def values(tree: Tree) -> dict[int, int]:
    """id(node) -> the node's ListOps value, every node of `tree` (children before parents, no recursion)."""
    value: dict[int, int] = {}
    for node in reversed(tree.nodes()):
        if node.children:
            value[id(node)] = apply_operator(node.label, [value[id(child)] for child in node.children])
        else:
            value[id(node)] = int(node.token)
    return value


def heights(tree: Tree) -> dict[int, int]:
    height: dict[int, int] = {}
    for node in reversed(tree.nodes()):
        height[id(node)] = 1 + max((height[id(child)] for child in node.children), default=-1)
    return height


@torch.no_grad()
def node_report(predictor, examples, batch_size: int = 250) -> tuple[float, dict[str, list[int]], dict]:
    """(root accuracy, {group: [right, count]}, state statistics of a Child-Sum Tree-LSTM or {})."""
    codec, model = predictor.codec, predictor.model
    model.eval()
    cell = model.encoder
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    roots = [0, 0]
    forget: dict[str, list[float]] = defaultdict(list)
    c_norm: dict[str, list[float]] = defaultdict(list)
    leaf_h: dict[int, torch.Tensor] = {}
    op_h: dict[tuple[int, str], list[torch.Tensor]] = defaultdict(list)
    for start in range(0, len(examples), batch_size):
        trees = [example.tree for example in examples[start : start + batch_size]]
        batch = batch_trees(trees, codec.node_id)
        inputs = model.embed(batch.node_tokens)
        states = cell(batch, inputs)
        h, c = states if isinstance(states, tuple) else (states, None)
        guesses = model.head(h).argmax(-1).tolist()
        lstm = isinstance(cell, ChildSumTreeLSTM) and c is not None
        if lstm:
            x_forget = cell.project(inputs).chunk(4, dim=1)[1]
            u_forget = cell.weight_hh.chunk(4, dim=0)[1]
        offset = 0
        for tree in trees:
            nodes = tree.nodes()
            index = {id(node): offset + k for k, node in enumerate(nodes)}
            value, height = values(tree), heights(tree)
            for k, node in enumerate(nodes):
                i = offset + k
                if not node.children:
                    if lstm:
                        leaf_h[value[id(node)]] = h[i]
                        c_norm["digits"].append(float(c[i].norm()))
                    continue
                if node.label not in OPERATORS:
                    continue
                right = codec.labels[guesses[i]] == str(value[id(node)])
                kind = "flat" if all(not child.children for child in node.children) else "nested"
                for key in (f"{node.label} {kind}", f"{node.label} n={len(node.children)}",
                            f"height {min(height[id(node)], 5)}"):  # fmt: skip
                    groups[key][0] += right
                    groups[key][1] += 1
                if k == 0:
                    roots[0] += right
                    roots[1] += 1
                if lstm:
                    kids = torch.stack([h[index[id(child)]] for child in node.children])
                    gates = torch.sigmoid(x_forget[i] + cell.norm_f(kids @ u_forget.t()) if cell.layer_norm
                                          else x_forget[i] + kids @ u_forget.t())  # fmt: skip
                    forget[node.label].append(float(gates.mean()))
                    c_norm[kind].append(float(c[i].norm()))
                    op_h[(value[id(node)], kind)].append(h[i])
            offset += len(nodes)
    stats: dict = {}
    if forget:
        stats["forget gate"] = {op: sum(v) / len(v) for op, v in sorted(forget.items())}
        stats["|c|"] = {kind: sum(v) / len(v) for kind, v in c_norm.items()}
        for kind in ("flat", "nested"):
            cosines, spreads = [], []
            for digit, leaf in leaf_h.items():
                if not op_h[(digit, kind)]:
                    continue
                same = torch.stack(op_h[(digit, kind)])
                cosines.append(float(torch.cosine_similarity(same, leaf.expand_as(same)).mean()))
                spreads.append(float((same - same.mean(0)).norm(dim=1).mean() / same.mean(0).norm()))
            stats[f"{kind} vs digit"] = (sum(cosines) / len(cosines), sum(spreads) / len(spreads))
    return roots[0] / max(1, roots[1]), groups, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a trained ListOps tree model (run directory or model directory)")
    parser.add_argument("--trees", type=int, default=3000, help="trees of each split to score")
    args = parser.parse_args()
    torch.set_num_threads(1)
    predictor = load_tree_predictor(args.run)
    if not predictor.codec.reads_trees:
        raise SystemExit("trees_listops_nodes.py: the model reads token sequences; it has no node states")
    splits = load_dataset("listops")
    for split in ("train", "test"):
        root, groups, stats = node_report(predictor, splits[split][: args.trees])
        print(f"== {split}: {min(args.trees, len(splits[split]))} trees, root accuracy {100 * root:.1f}%")
        print("   " + "  ".join(f"{op} flat {_pct(groups[f'{op} flat'])} nested {_pct(groups[f'{op} nested'])}"
                                  for op in OPERATORS))  # fmt: skip
        print("   SM by children: " + "  ".join(f"{n}: {_pct(groups[f'SM n={n}'])}" for n in range(2, 6)))
        print("   by height: " + "  ".join(f"{h if h < 5 else '>=5'}: {_pct(groups[f'height {h}'])}"
                                           for h in range(1, 6)))  # fmt: skip
        if stats and split == "test":
            print("   mean forget gate at operation nodes: "
                  + "  ".join(f"{op} {g:.2f}" for op, g in stats["forget gate"].items()))  # fmt: skip
            print("   mean |c|: " + "  ".join(f"{kind} {n:.1f}" for kind, n in stats["|c|"].items()))
            for kind in ("flat", "nested"):
                cosine, spread = stats[f"{kind} vs digit"]
                print(f"   {kind} operation nodes: cosine to the same value's digit state {cosine:.2f}, "
                      f"spread / |mean| of same-valued states {spread:.2f}")  # fmt: skip


def _pct(right_count: list[int]) -> str:
    right, count = right_count
    return f"{100 * right / count:.1f}%" if count else "-"


if __name__ == "__main__":
    main()
