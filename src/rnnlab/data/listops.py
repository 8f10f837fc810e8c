"""ListOps (Nangia & Bowman 2018): nested list operations on digits, a seeded generator registered as `listops`.

    [MAX 2 9 [MIN 4 7 ] 0 ]        -> 9
    [SM [MED 1 8 3 ] 5 [MIN 6 2 ] ] -> 9       (SM: sum modulo 10; MED: the median, rounded down)

Each example is one line `value<TAB>expression` of `train.tsv`, `valid.tsv` and `test.tsv` (the tree-files
format of `rnnlab.data.tree_files`), read back as `TreeExample`s by `load_dataset("listops")`.

The generator follows the published one (`spinn/python/spinn/data/listops/make_data.py`): a node is an
operation with probability 0.25 (else a digit 0-9, uniform), an operation is MIN, MAX, MED or SM (uniform)
with 2-5 arguments (uniform), every node at the maximum depth is a digit, and examples are distinct (drawn
until enough distinct expressions are found). Where this one deviates: the maximum depth is 10 edges from
the root (`Tree.depth() <= 10`: at most 10 nested operations; the published generator counts nodes from 1
and defaults to 20, so this is its MAX_DEPTH = 11); the root is always an operation (the published generator also draws a bare digit at the
root, which after de-duplication is only 10 trivial examples); the text is written without the published
data's extra parentheses, as the Long Range Arena version writes it (`[MAX 2 9 ]`, not `( ( [MAX 2 ) 9 ) ]`).
The value of MED is `int(numpy.median(args))` as published: the mean of the two middle values, rounded down.
"""

from __future__ import annotations

import random
from pathlib import Path

from rnnlab.data.registry import DatasetEntry, Source, register_dataset

__all__ = ["OPERATORS", "Expression", "apply_operator", "expression_text", "generate_examples", "listops_value",
           "node_values", "subtree_examples", "tree_value"]

OPERATORS = ("MIN", "MAX", "MED", "SM")
DIGITS = tuple("0123456789")
VALUE_P = 0.25  # probability that a node below the root is an operation (as published)
MAX_ARGS = 5
MAX_DEPTH = 10
SIZES = {"train": 90_000, "valid": 5_000, "test": 5_000}
SEED = 2018

#: a digit, or (operator, [arguments])
Expression = int | tuple[str, list]


def apply_operator(operator: str, values: list[int]) -> int:
    """The value of one operation on its arguments' values."""
    if operator == "MIN":
        return min(values)
    if operator == "MAX":
        return max(values)
    if operator == "MED":
        ordered, middle = sorted(values), len(values) // 2
        return ordered[middle] if len(values) % 2 else (ordered[middle - 1] + ordered[middle]) // 2
    if operator == "SM":
        return sum(values) % 10
    raise ValueError(f"unknown ListOps operator {operator!r}; expected one of {', '.join(OPERATORS)}")


def draw_expression(rng: random.Random, depth: int = 0, max_depth: int = MAX_DEPTH, max_args: int = MAX_ARGS) -> Expression:
    """One random expression; the root (depth 0) is always an operation, deeper nodes are one with p=0.25,
    and nodes at `max_depth` (edges from the root, as `Tree.depth` counts) are digits."""
    if depth > 0 and (depth >= max_depth or rng.random() > VALUE_P):
        return rng.randrange(10)
    count = rng.randint(2, max_args)
    arguments = [draw_expression(rng, depth + 1, max_depth, max_args) for _ in range(count)]
    return rng.choice(OPERATORS), arguments


def listops_value(expression: Expression) -> int:
    """The value of an expression (recursion depth is bounded by the generator's maximum depth)."""
    if isinstance(expression, int):
        return expression
    operator, arguments = expression
    return apply_operator(operator, [listops_value(argument) for argument in arguments])


def expression_text(expression: Expression) -> str:
    """`[MAX 2 9 [MIN 4 7 ] 0 ]`: tokens separated by single spaces."""
    if isinstance(expression, int):
        return str(expression)
    operator, arguments = expression
    return " ".join([f"[{operator}", *(expression_text(argument) for argument in arguments), "]"])


def generate_examples(seed: int, count: int, max_depth: int = MAX_DEPTH, max_args: int = MAX_ARGS) -> list[tuple[int, str]]:
    """`count` distinct (value, text) examples, in the order they were first drawn (a pure function of seed)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    examples = []
    while len(examples) < count:
        expression = draw_expression(rng, max_depth=max_depth, max_args=max_args)
        text = expression_text(expression)
        if text not in seen:
            seen.add(text)
            examples.append((listops_value(expression), text))
    return examples


def node_values(tree) -> list[int | None]:
    """Every node's value in pre-order (`Tree.nodes()`, the order `batch_trees` numbers nodes in): the root's
    and every operation node's value computed from its subtree, None at the digits below the root (a bare
    digit is its own root, so it has its value). Bottom-up, no recursion."""
    nodes = tree.nodes()
    values: dict[int, int] = {}
    for node in reversed(nodes):  # reversed pre-order: every child before its parent
        if not node.children:
            if node.token not in DIGITS:
                raise ValueError(f"a leaf {node.token!r} that is not a digit 0-9")
            values[id(node)] = int(node.token)
        else:
            values[id(node)] = apply_operator(node.label, [values[id(child)] for child in node.children])
    return [values[id(node)] if node.children or node is tree else None for node in nodes]


def tree_value(tree) -> int:
    """The value of a parsed ListOps tree (`rnnlab.nn.trees.Tree`: an operation node's label is its operator,
    a digit is a leaf)."""
    return node_values(tree)[0]  # type: ignore[return-value]  # the root always has its value


def subtree_examples(examples: list) -> list:
    """Every operation node below the root of these training trees as an example of its own, labelled with
    its value: the inner nodes' values become training signal (as the Stanford Sentiment Treebank labels
    every node). A bottom-up tree encoder computes a subtree's state the same inside its tree and alone, so
    this is a loss on every inner node; a sequence model reads the subexpression's tokens. Each distinct
    subexpression once, none that is already a training root; in the order met."""
    from rnnlab.data.tree_files import TreeExample, sequence_tokens

    seen = {" ".join(example.sequence) for example in examples}
    added = []
    for example in examples:  # every node's value from one bottom-up pass per tree, not one per subtree
        for node, value in zip(example.tree.nodes()[1:], node_values(example.tree)[1:]):
            if value is None:  # a digit
                continue
            tokens = sequence_tokens(node)
            text = " ".join(tokens)
            if text not in seen:
                seen.add(text)
                added.append(TreeExample(node, str(value), tokens, example.source, example.line))
    return added


# ------------------------------------------------------------------------------------------------ registry
def _generate(entry: DatasetEntry, out: Path, seed: int) -> tuple[str, dict[str, int]]:
    """train/valid/test.tsv: the first 90,000 distinct examples drawn go to train, the next 5,000 to valid,
    then 5,000 to test (so no expression is in two splits)."""
    examples = generate_examples(seed, sum(SIZES.values()))
    start, sizes = 0, {}
    for split in entry.splits:
        part = examples[start : start + SIZES[split]]
        start += SIZES[split]
        (out / f"{split}.tsv").write_text("".join(f"{value}\t{text}\n" for value, text in part), encoding="utf-8")
        sizes[split] = len(part)
    lengths = [text.count(" ") + 1 for _, text in examples]
    note = (f"depth <= {MAX_DEPTH}, 2-{MAX_ARGS} arguments, MIN/MAX/MED/SM; "
            f"{sum(lengths) / len(lengths):.1f} tokens on average, at most {max(lengths)}")  # fmt: skip
    return note, sizes


def _load(entry: DatasetEntry, directory: Path | None) -> dict:
    from rnnlab.data.tree_files import (
        read_tree_file,  # parsing needs rnnlab.nn.trees (torch): only when loading
    )

    assert directory is not None  # a generated dataset is always cached
    return {split: read_tree_file(directory / f"{split}.tsv", labels="classes") for split in entry.splits}


register_dataset(DatasetEntry(
    name="listops",
    kind="trees",
    description="ListOps (Nangia & Bowman 2018): the value 0-9 of nested MIN/MAX/MED/SM expressions, depth <= 10",
    source=Source("generated", "rnnlab.data.listops", seed=SEED),
    licence="CC0 (generated here)",
    attribution="N. Nangia and S. R. Bowman, ListOps: A Diagnostic Dataset for Latent Tree Learning, NAACL SRW 2018",
    fetch=_generate,
    load=_load,
    unit="expressions",
    sizes=SIZES,
))  # fmt: skip
