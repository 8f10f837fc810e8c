"""Recursive neural networks over trees: the tree container, its batches, and the depth-batched networks.

The import path for everything tree-shaped in `rnnlab.nn`::

    from rnnlab.nn.trees import Tree, TreeBatch, batch_trees, ChildSumTreeLSTM

    trees = [Tree.from_bracketed("[MAX 2 9 [MIN 4 7 ] 0 ]"), Tree.from_bracketed("[SM 1 2 ]")]
    batch = batch_trees(trees, token_id=lambda node: vocab[node.token or node.label])
    h, c = ChildSumTreeLSTM(input_size=32, hidden_size=64)(batch, embedding(batch.node_tokens))
    roots = h[batch.roots]                      # (num_trees, 64)

`Tree`, `TreeSyntaxError`, `TreeBatch` and `batch_trees` live in `rnnlab.nn.tree_batch`; `RecursiveNet`,
`ChildSumTreeLSTM` and `NaryTreeLSTM` in `rnnlab.nn.tree_cells` (read that module's docstring for the math).
"""

from rnnlab.nn.tree_batch import Tree, TreeBatch, TreeSyntaxError, batch_trees
from rnnlab.nn.tree_cells import ChildSumTreeLSTM, NaryTreeLSTM, RecursiveNet

__all__ = [
    "Tree",
    "TreeBatch",
    "TreeSyntaxError",
    "batch_trees",
    "RecursiveNet",
    "ChildSumTreeLSTM",
    "NaryTreeLSTM",
]
