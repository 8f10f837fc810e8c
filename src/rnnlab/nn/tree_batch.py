"""Trees and batches of trees for the recursive networks in `rnnlab.nn.trees`.

A `Tree` is a plain labelled ordered tree: internal nodes may carry a label (``S``, ``NP``, ``MAX``, an
``ast`` node type), leaves carry a token (a word, a digit, an identifier). It is built from bracketed text
in either style, from a Python ``ast`` node or from nested tuples/lists. Every walk over a tree is
iterative, so chains thousands of nodes deep work (no Python recursion limit).

`batch_trees` flattens many trees into one `TreeBatch` of index tensors that the depth-batched networks
read. Nodes are numbered tree after tree, each tree in pre-order (root first, then its children's subtrees
left to right: the order of `Tree.nodes()`), so ``batch.roots[t]`` is the first node of tree ``t``.
Besides the child lists, the batch groups nodes by *height* (leaves 0, a parent one more than its highest
child): every node of ``levels[k]`` only needs the states of nodes in earlier levels, so a network computes
one whole level of all trees in one call.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import Tensor

from rnnlab.errors import DataError

__all__ = ["Tree", "TreeSyntaxError", "TreeBatch", "batch_trees"]

# A token of bracketed text: one bracket, or a run of anything else that is not whitespace.
_TOKEN = re.compile(r"[()\[\]]|[^\s()\[\]]+")
_CLOSING = {"(": ")", "[": "]"}

# `ast` fields that only say whether a name is read, written or deleted: one extra node per name that the
# parent's field (an assignment's target, a call's argument) already implies, so `from_ast` drops them.
_AST_CONTEXTS = (ast.Load, ast.Store, ast.Del)


class TreeSyntaxError(DataError):
    """Bracketed tree text is malformed; the message names the bad token and its character position.

    ``token`` is the offending token (``""`` at the end of the text), ``position`` its 0-based offset.
    """

    def __init__(self, message: str, *, token: str, position: int) -> None:
        super().__init__(message)
        self.token = token
        self.position = position


@dataclass(eq=False, repr=False)
class Tree:
    """A node and its subtrees. A leaf has no children; its ``token`` is the word it stands for.

    ``label`` names an internal node (``"NP"``, ``"MAX"``, ``"FunctionDef"``) or is None. A node with
    children normally has no token; a childless node without a token (``(S)``, ``ast.Pass``) is a leaf
    known only by its label. Equality compares the whole structure (iteratively).
    """

    label: str | None = None
    children: list[Tree] = field(default_factory=list)
    token: str | None = None

    # ---- construction ------------------------------------------------------------------------------

    @classmethod
    def leaf(cls, token: str, label: str | None = None) -> Tree:
        """A childless node standing for ``token``."""
        return cls(label=label, children=[], token=token)

    @classmethod
    def from_bracketed(cls, text: str) -> Tree:
        """Parse ``(S (NP the cat) (VP sat))`` or ListOps' ``[MAX 2 9 [MIN 4 7 ] 0 ]``.

        After an opening bracket comes the node's label, then its children: bare words are leaves, bracketed
        groups are subtrees; ``(`` must be closed by ``)`` and ``[`` by ``]``. A group that starts with
        another group has no label (``((a b) c)``, the Penn Treebank's unlabelled root). A bare word alone
        is a one-leaf tree. Raises `TreeSyntaxError` for unbalanced or mismatched brackets, empty trees
        (``""``, ``()``) and anything after the tree's end.
        """
        tokens = [(match.group(), match.start()) for match in _TOKEN.finditer(text)]
        if not tokens:
            raise TreeSyntaxError("empty tree: the text has no tokens", token="", position=0)
        first, first_at = tokens[0]
        if first in (")", "]"):
            raise TreeSyntaxError(
                f"unbalanced brackets: {first!r} at character {first_at} closes nothing",
                token=first,
                position=first_at,
            )
        if first not in _CLOSING:  # a bare word: a one-leaf tree
            root = cls.leaf(first)
            end = 1
        else:
            root, end = cls._parse_group(tokens, text)
        if end < len(tokens):
            token, position = tokens[end]
            raise TreeSyntaxError(
                f"stray token {token!r} at character {position} after the tree ended",
                token=token,
                position=position,
            )
        return root

    @classmethod
    def _parse_group(cls, tokens: list[tuple[str, int]], text: str) -> tuple[Tree, int]:
        """Parse the bracketed group starting at tokens[0]; return it and the index after its end."""
        # Each open group on the stack: (node, its opening bracket, where that bracket is).
        stack: list[tuple[Tree, str, int]] = []
        root: Tree | None = None
        i = 0
        while i < len(tokens):
            token, position = tokens[i]
            if token in _CLOSING:
                node = cls()
                if stack:
                    stack[-1][0].children.append(node)
                else:
                    root = node
                stack.append((node, token, position))
                following = tokens[i + 1][0] if i + 1 < len(tokens) else None
                if following is not None and following not in _CLOSING and following not in (")", "]"):
                    node.label = following  # the word right after a bracket is the label
                    i += 1
            elif token in (")", "]"):
                if not stack:
                    raise TreeSyntaxError(
                        f"unbalanced brackets: {token!r} at character {position} closes nothing",
                        token=token,
                        position=position,
                    )
                node, opening, opened_at = stack.pop()
                if token != _CLOSING[opening]:
                    raise TreeSyntaxError(
                        f"mismatched brackets: {token!r} at character {position} closes {opening!r} "
                        f"from character {opened_at}",
                        token=token,
                        position=position,
                    )
                if node.label is None and not node.children:
                    raise TreeSyntaxError(
                        f"empty tree {opening + token!r} at character {opened_at}",
                        token=opening,
                        position=opened_at,
                    )
                if not stack:
                    assert root is not None
                    return root, i + 1
            else:
                stack[-1][0].children.append(cls.leaf(token))
            i += 1
        node, opening, opened_at = stack[-1]
        raise TreeSyntaxError(
            f"unbalanced brackets: {opening!r} at character {opened_at} is never closed "
            f"(expected {_CLOSING[opening]!r} at character {len(text)}, the end of the text)",
            token="",
            position=len(text),
        )

    @classmethod
    def from_ast(cls, node: ast.AST) -> Tree:
        """A Python syntax tree: each ``ast`` node becomes a node labelled with its type name.

        Its children are its fields in ``_fields`` order: sub-nodes become subtrees, identifiers and
        constants become leaves whose token is ``str(value)`` (a ``Constant``'s None too; other None
        fields are skipped), lists contribute each element. Load/Store/Del contexts are dropped.
        Names are kept: to predict a function's name from its body, build from the body statements.
        """
        root = cls(label=type(node).__name__)
        stack: list[tuple[ast.AST, Tree]] = [(node, root)]
        while stack:
            source, tree = stack.pop()
            for name, value in ast.iter_fields(source):
                values = value if isinstance(value, list) else [value]
                for item in values:
                    if isinstance(item, _AST_CONTEXTS):
                        continue
                    if isinstance(item, ast.AST):
                        child = cls(label=type(item).__name__)
                        tree.children.append(child)
                        stack.append((item, child))
                    elif item is not None or (isinstance(source, ast.Constant) and name == "value"):
                        tree.children.append(cls.leaf(str(item)))
        return root

    @classmethod
    def from_nested(cls, obj: Any, *, labelled: bool = False) -> Tree:
        """A tree from nested tuples/lists: ``(("the", "cat"), "sat")``.

        A tuple or list is an internal node whose items are its children; anything else (a string, a
        number) is a leaf with token ``str(obj)``; a `Tree` is used as it is. With ``labelled=True`` the
        first item of each tuple/list is the node's label: ``("S", ("NP", "the", "cat"), ("VP", "sat"))``.
        """

        def convert(item: Any) -> tuple[Tree, Sequence[Any]]:
            """The node for item and the items that become its children."""
            if isinstance(item, Tree):
                return item, ()
            if isinstance(item, (tuple, list)):
                if labelled:
                    if not item:
                        raise DataError("from_nested: an empty tuple has no label")
                    return cls(label=str(item[0])), item[1:]
                if not item:
                    raise DataError("from_nested: an empty tuple is an empty tree")
                return cls(), item
            return cls.leaf(str(item)), ()

        root, items = convert(obj)
        stack = [(root, items)]
        while stack:
            node, items = stack.pop()
            for item in items:
                child, grandchildren = convert(item)
                node.children.append(child)
                if grandchildren:
                    stack.append((child, grandchildren))
        return root

    # ---- walks -------------------------------------------------------------------------------------

    def nodes(self) -> list[Tree]:
        """Every node in pre-order (a node, then its children's subtrees left to right): the batch order."""
        order: list[Tree] = []
        stack = [self]
        while stack:
            node = stack.pop()
            order.append(node)
            stack.extend(reversed(node.children))
        return order

    def __iter__(self) -> Iterator[Tree]:
        return iter(self.nodes())

    def size(self) -> int:
        """Number of nodes."""
        return len(self.nodes())

    def depth(self) -> int:
        """Edges on the longest root-to-leaf path: 0 for a single node, 1 for ``[MAX 2 9 ]``."""
        deepest = 0
        stack = [(self, 0)]
        while stack:
            node, depth = stack.pop()
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node.children)
        return deepest

    def tokens(self) -> list[str]:
        """The leaves' tokens left to right (the sentence, the ListOps digits); tokenless leaves are skipped."""
        return [node.token for node in self.nodes() if not node.children and node.token is not None]

    def to_bracketed(self, style: str = "(") -> str:
        """Bracketed text that `from_bracketed` parses back into an equal tree.

        ``style="("`` writes ``(S (NP the cat) (VP sat))``, ``style="["`` writes ListOps' spacing,
        ``[MAX 2 9 [MIN 4 7 ] 0 ]``. A leaf is its token (a tokenless leaf is ``(label)``). The round trip
        needs tokens and labels without whitespace or brackets, leaves without labels, and a label on every
        internal node whose first child is a leaf (the word after a bracket is always read as the label).
        """
        if style not in _CLOSING:
            raise ValueError(f"to_bracketed: style must be '(' or '[', got {style!r}")
        close = _CLOSING[style]
        parts: list[str] = []
        # Items on the stack are nodes to write or closing brackets to write after a node's children.
        stack: list[Tree | str] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                parts.append(item)
            elif not item.children and item.token is not None:
                labelled_leaf = f"{style}{item.label} {item.token}{' ' if style == '[' else ''}{close}"
                parts.append(item.token if item.label is None else labelled_leaf)
            else:
                parts.append(style + (item.label or ""))
                stack.append(close)
                stack.extend(reversed(item.children))
        # A space between parts, except right after an opening bracket and (in the "(" style) before a closing one.
        text = parts[0]
        for part in parts[1:]:
            if not text.endswith(style) and (part != close or style == "["):
                text += " "
            text += part
        return text

    # ---- value semantics (iterative, so deep trees compare, print and pickle) ----------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tree):
            return NotImplemented
        stack = [(self, other)]
        while stack:
            a, b = stack.pop()
            if a.label != b.label or a.token != b.token or len(a.children) != len(b.children):
                return False
            stack.extend(zip(a.children, b.children))
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        text = self.to_bracketed()
        if len(text) > 200:
            text = text[:200] + "..."
        return f"Tree.from_bracketed({text!r})"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # pickle and copy.deepcopy recurse per nesting level; store the pre-order (label, token, #children).
        flat = [(node.label, node.token, len(node.children)) for node in self.nodes()]
        return (_tree_from_flat, (flat,))


def _tree_from_flat(flat: list[tuple[str | None, str | None, int]]) -> Tree:
    """Rebuild a tree from its pre-order (label, token, number of children) list (see `Tree.__reduce__`)."""
    nodes = [Tree(label=label, token=token) for label, token, _ in flat]
    # Walk the pre-order with a stack of (node, children still to attach).
    stack: list[list[Any]] = []
    for node, (_, _, count) in zip(nodes, flat):
        if stack:
            parent = stack[-1]
            parent[0].children.append(node)
            parent[1] -= 1
        if count:
            stack.append([node, count])
        while stack and stack[-1][1] == 0:
            stack.pop()
    return nodes[0]


class TreeBatch(NamedTuple):
    """Many trees flattened into index tensors (a NamedTuple, so `rnnlab.train.batches.move_to` moves it).

    Nodes are numbered tree after tree, each in pre-order (`Tree.nodes()`); N nodes, T trees, M the most
    children of any node in the batch (at least 1).

    * ``node_tokens`` (N,) long: ``token_id(node)`` for every node.
    * ``children`` (N, M) long: each node's children's indices left to right, padded with -1.
    * ``num_children`` (N,) long.
    * ``parent`` (N,) long: the parent's index, -1 at roots.
    * ``levels``: tuple of long tensors of node indices grouped by height (leaves first); every child's
      height is lower than its parent's, so level k only needs levels < k.
    * ``roots`` (T,) long: the root of each tree (its first node).
    * ``tree_of_node`` (N,) long: which tree each node belongs to.
    * ``child_position`` (N,) long: a node's index among its parent's children (0 at roots).
    """

    node_tokens: Tensor
    children: Tensor
    num_children: Tensor
    parent: Tensor
    levels: tuple[Tensor, ...]
    roots: Tensor
    tree_of_node: Tensor
    child_position: Tensor

    @property
    def num_trees(self) -> int:
        return int(self.roots.shape[0])

    @property
    def num_nodes(self) -> int:
        return int(self.node_tokens.shape[0])

    @property
    def max_children(self) -> int:
        """Width of ``children``: the most children of any node in the batch (at least 1)."""
        return int(self.children.shape[1])


def batch_trees(trees: Sequence[Tree], token_id: Callable[[Tree], int]) -> TreeBatch:
    """Flatten ``trees`` into one `TreeBatch`; ``token_id(node)`` gives each node's id in ``node_tokens``.

    ``token_id`` sees every node, leaves and internal ones (e.g. ``vocab[node.token or node.label]``, or a
    padding id for unlabelled internal nodes). Built in Python in O(N); build batches once and reuse them.
    """
    if len(trees) == 0:
        raise DataError("batch_trees: no trees to batch")
    tokens: list[int] = []
    child_lists: list[list[int]] = []
    parent: list[int] = []
    position: list[int] = []
    tree_of_node: list[int] = []
    roots: list[int] = []
    for tree_index, tree in enumerate(trees):
        if not isinstance(tree, Tree):
            raise TypeError(f"batch_trees: item {tree_index} is a {type(tree).__name__}, not a Tree")
        roots.append(len(tokens))
        # Pre-order with explicit (node, parent index, position among siblings) entries.
        stack: list[tuple[Tree, int, int]] = [(tree, -1, 0)]
        while stack:
            node, parent_index, child_index = stack.pop()
            index = len(tokens)
            tokens.append(int(token_id(node)))
            child_lists.append([])
            parent.append(parent_index)
            position.append(child_index)
            tree_of_node.append(tree_index)
            if parent_index >= 0:
                child_lists[parent_index].append(index)
            for k in range(len(node.children) - 1, -1, -1):
                stack.append((node.children[k], index, k))
    # Pre-order puts every child after its parent, so one backward sweep sees children first.
    num_nodes = len(tokens)
    height = [0] * num_nodes
    for index in range(num_nodes - 1, -1, -1):
        if parent[index] >= 0:
            height[parent[index]] = max(height[parent[index]], height[index] + 1)
    by_height: list[list[int]] = [[] for _ in range(max(height) + 1)]
    for index, h in enumerate(height):
        by_height[h].append(index)
    width = max(1, max(len(c) for c in child_lists))
    children = torch.tensor([c + [-1] * (width - len(c)) for c in child_lists], dtype=torch.long)
    return TreeBatch(
        node_tokens=torch.tensor(tokens, dtype=torch.long),
        children=children,
        num_children=torch.tensor([len(c) for c in child_lists], dtype=torch.long),
        parent=torch.tensor(parent, dtype=torch.long),
        levels=tuple(torch.tensor(level, dtype=torch.long) for level in by_height),
        roots=torch.tensor(roots, dtype=torch.long),
        tree_of_node=torch.tensor(tree_of_node, dtype=torch.long),
        child_position=torch.tensor(position, dtype=torch.long),
    )
