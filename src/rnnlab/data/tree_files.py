"""Labelled trees in files: `label<TAB>tree` lines, the tree in either bracket style.

    pos	(S (NP the cat) (VP sat))
    9	[MAX 2 9 [MIN 4 7 ] 0 ]
    -1.5	(S (NP it) (VP (V rained)))          # with labels="numbers": a regression target

`read_tree_file(path, labels)` gives one `TreeExample` per non-empty line: the parsed `Tree`, the label
(a class name, or a finite number with `labels="numbers"`), the tokens a sequence model reads for it (the
tree written out as ListOps writes it: `[MAX 2 9 [MIN 4 7 ] 0 ]` -> `[MAX 2 9 [MIN 4 7 ] 0 ]`, one token per
label, word and closing bracket; made when first asked for), and where it came from. Every error is one line naming the file, the
line and, for a malformed tree, the bad token and its character position in the tree text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rnnlab.errors import DataError
from rnnlab.nn.trees import Tree, TreeSyntaxError

__all__ = ["LabelKind", "TreeExample", "binarize", "check_tree", "parse_tree", "read_tree_file", "read_tree_lines",
           "sequence_tokens"]  # fmt: skip

#: the leaf that ends every node of a binarized tree (ListOps' closing bracket)
CLOSE = "]"

#: what a label column holds: class names, numbers (regression) or a name's sub-tokens (program trees)
LabelKind = Literal["classes", "numbers", "subtokens"]

# An opening bracket, a label and at once a closing bracket: a node with neither children nor a word.
_EMPTY_NODE = re.compile(r"[(\[]\s*([^\s()\[\]]+)\s*[)\]]")


@dataclass
class TreeExample:
    """One labelled tree, and the token sequence the baselines (lstm, bilstm, bag) read instead.

    `tokens` None: the tree written out (`sequence_tokens`), made when first asked for (`sequence`).
    """

    tree: Tree
    label: str | float | tuple[str, ...] | None  # None: an input to predict for
    tokens: list[str] | None = None
    source: str = ""
    line: int = 0
    binary: Tree | None = field(default=None, repr=False, compare=False)  # `binarize(tree)`, made once

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source or "<input>"

    @property
    def sequence(self) -> list[str]:
        if self.tokens is None:
            self.tokens = sequence_tokens(self.tree)
        return self.tokens

    @property
    def binarized(self) -> Tree:
        if self.binary is None:
            self.binary = binarize(self.tree)
        return self.binary


def sequence_tokens(tree: Tree) -> list[str]:
    """The tree as a token sequence with its structure spelled out, ListOps style: `[MAX 2 9 ]` ->
    `["[MAX", "2", "9", "]"]`; a sentence tree `(S (NP the cat) (VP sat))` -> `[S [NP the cat ] [VP sat ] ]`."""
    return tree.to_bracketed("[").split()


def binarize(tree: Tree) -> Tree:
    """The tree as ListOps' published data brackets it: binary, left-branching, read left to right.

    A node with label L and children c1..ck becomes ((((L c1) c2) ... ck) ]): its label and a closing `]`
    become leaves, and each unlabelled binary node combines what was read so far with one more child (an
    RNN over the arguments, whose state a binary cell updates one child at a time). `[MAX 2 9 ]` ->
    `(((MAX 2) 9) ])`. A leaf stays a leaf; a labelled leaf `(NN cat)` becomes (NN cat).
    """
    done: dict[int, Tree] = {}  # id of an original node -> its binary tree
    for node in reversed(tree.nodes()):  # reversed pre-order: every child before its parent
        if not node.children:
            if node.label is not None and node.token is not None:
                done[id(node)] = Tree(children=[Tree.leaf(node.label), Tree.leaf(node.token)])
            else:
                done[id(node)] = Tree.leaf(node.token if node.token is not None else str(node.label))
            continue
        current = Tree.leaf(node.label) if node.label is not None else None
        for child in node.children:
            part = done.pop(id(child))
            current = part if current is None else Tree(children=[current, part])
        done[id(node)] = Tree(children=[current, Tree.leaf(CLOSE)])
    return done[id(tree)]


def parse_tree(text: str, where: str = "<input>") -> Tree:
    """A bracketed tree (either style); a DataError naming `where`, the bad token and its position otherwise.

    Besides the parser's own errors (unbalanced or mismatched brackets, an empty tree, text after the
    tree), a labelled node with no children and no word (`[MAX ]`, `(NP )`) is refused: an operation or a
    phrase needs at least one child.
    """
    try:
        tree = Tree.from_bracketed(text)
    except TreeSyntaxError as error:
        raise DataError(f"{where}: {error}") from None
    empty = _EMPTY_NODE.search(text)
    if empty is not None:
        raise DataError(f"{where}: node {empty.group(1)!r} at character {empty.start()} has no children "
                        "(an operation or a phrase needs at least one; a leaf is a bare word)")  # fmt: skip
    return tree


def check_tree(tree: Tree, where: str, max_depth: int | None = None, max_children: int | None = None) -> None:
    """Refuse a tree deeper than `max_depth` (edges from the root) or with a node of more than `max_children`
    children (a binary cell takes two), in one line naming `where`."""
    if max_depth is not None:
        depth = tree.depth()
        if depth > max_depth:
            raise DataError(f"{where}: the tree is {depth} levels deep; this model takes at most {max_depth} "
                            "(data.max_depth)")  # fmt: skip
    if max_children is not None:
        for node in tree.nodes():
            if len(node.children) > max_children:
                name = f"node {node.label!r}" if node.label else "a node"
                raise DataError(f"{where}: {name} has {len(node.children)} children; this model's cell takes at "
                                f"most {max_children} (model.max_children)")  # fmt: skip


def parse_label(text: str, labels: LabelKind, where: str) -> str | float | tuple[str, ...]:
    text = text.strip()
    if not text:
        raise DataError(f"{where}: empty label; expected label<TAB>tree")
    if labels == "numbers":
        try:
            value = float(text)
        except ValueError:
            raise DataError(f"{where}: label {text!r} is not a number (data.labels: numbers)") from None
        if not math.isfinite(value):
            raise DataError(f"{where}: label {text!r} must be a finite number")
        return value
    if labels == "subtokens":
        return tuple(text.split())
    return text


def read_tree_lines(lines: list[str], source: str, labels: LabelKind = "classes") -> list[TreeExample]:
    """`label<TAB>tree` lines (blank ones skipped) as examples; errors name `source` and the line."""
    examples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        label, tab, text = line.partition("\t")
        if not tab:
            raise DataError(f"{where}: expected label<TAB>tree, found no tab")
        if not text.strip():
            raise DataError(f"{where}: empty tree after the label")
        tree = parse_tree(text, where)
        examples.append(TreeExample(tree, parse_label(label, labels, where), None, source, number))
    return examples


def read_tree_file(path: str | Path, labels: LabelKind = "classes") -> list[TreeExample]:
    """The examples of a `label<TAB>tree` file (UTF-8); a missing, binary or empty file is one-line DataError."""
    from rnnlab.files import read_input_lines

    lines = read_input_lines(path, "trees", keep_empty=True)
    return read_tree_lines(lines, str(path), labels)
