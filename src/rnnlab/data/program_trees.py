"""Program trees: the functions of the running interpreter's standard library, to predict a function's name.

    def get_file_name(self, path):          label: get file name   (its name's sub-tokens)
        return os.path.basename(path)       tree:  the function's syntax tree without its name
                                            tokens: ( self , path ) : return os . path . basename ( path )

Registered as the dataset `stdlib-methods` (kind `trees`): every `def` (functions, methods, nested ones) in
the `.py` files under `sysconfig.get_paths()["stdlib"]`, as code2vec / code2seq use Java and C# methods:

* label: the name's sub-tokens, lower-cased (`get_file_name`, `getFileName` -> get / file / name; leading
  underscores dropped). Dunder methods (`__init__`, `__eq__`) are left out: their names say what protocol
  they implement, not what the body does, and they would be a fifth of the examples.
* tree: `Tree.from_ast` of the `def` with its name removed, its docstring removed, and every other
  occurrence of the name (a recursive call, `self.name`, a string) replaced by the token `<name>`.
* tokens: what the sequence baselines read, the body's source tokens (Python's `tokenize`: the same text
  from `(` after the name to the end) without comments, layout tokens or the docstring, with the same
  `<name>` replacement.
* functions of more than 300 tree nodes are left out (about 4%; code2vec also caps what it reads per method).

Test code is left out (directories `test`, `tests`, `idle_test`, and `site-packages`). The split is by the
sha256 of each file's bytes (a file's functions stay together; 18 of 20 buckets train, 1 valid, 1 test).
A function whose name and source tokens equal an earlier one's (files in sorted path order) is kept once,
so exact copies neither count twice nor cross splits (the 109 `getregentry` of `encodings/*.py` differ in
their codec's name and stay: an easy name the models all learn).
Source files that do not parse are skipped and counted, with file:line, in the fetch's note
(`rnnlab data info stdlib-methods`). The Python version is recorded in the source; a cache made by another
version is made again.
"""

from __future__ import annotations

import ast
import bisect
import copy
import hashlib
import io
import json
import platform
import re
import sys
import sysconfig
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rnnlab.data.registry import DatasetEntry, Source, fetch_dataset, read_meta, register_dataset
from rnnlab.nn.trees import Tree

__all__ = ["NAME_TOKEN", "Method", "collect_methods", "read_methods", "split_name"]

NAME_TOKEN = "<name>"
MAX_NODES = 300
SKIPPED_DIRS = frozenset({"test", "tests", "idle_test", "site-packages", "__pycache__"})
_SUBTOKEN = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_LAYOUT = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT, tokenize.ENCODING,
           tokenize.ENDMARKER}  # fmt: skip


def split_name(name: str) -> list[str]:
    """`get_file_name` / `getFileName` / `_get_file_name` -> ["get", "file", "name"]; `HTTPServer` -> http, server."""
    return [part.lower() for part in _SUBTOKEN.findall(name)]


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and len(name) > 4


def _docstring_span(node: ast.AST) -> tuple[tuple[int, int], tuple[int, int]] | None:
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(
        body[0].value.value, str
    ):
        first = body[0]
        return (first.lineno, first.col_offset), (first.end_lineno, first.end_col_offset)
    return None


def _method_tree(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Tree:
    """The `def` as a Tree without its name or docstring; other occurrences of the name become <name>."""
    stripped = copy.copy(node)
    if _docstring_span(node) is not None:
        stripped.body = node.body[1:] or [ast.Pass()]
    stripped.name = NAME_TOKEN
    tree = Tree.from_ast(stripped)
    tree.children = tree.children[1:]  # the name's leaf (FunctionDef's first field)
    for leaf in tree.nodes():
        if leaf.token == node.name:
            leaf.token = NAME_TOKEN
    return tree


def _source_tokens(tokens: list[tokenize.TokenInfo], starts: list[tuple[int, int]], node: ast.AST) -> list[str]:
    """The function's source tokens after its name, without layout, comments or the docstring.

    tokens: the file's tokens; starts: their start positions (sorted, for bisection)."""
    start, end = (node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)
    docstring = _docstring_span(node)
    result, seen_name = [], False
    for token in tokens[bisect.bisect_left(starts, start) : bisect.bisect_left(starts, end)]:
        if token.end > end or token.type in _LAYOUT:
            continue
        if docstring is not None and docstring[0] <= token.start and token.end <= docstring[1]:
            continue
        if not seen_name:  # `def` / `async def` and the name itself
            seen_name = token.type == tokenize.NAME and token.string == node.name
            continue
        result.append(NAME_TOKEN if token.string == node.name else token.string)
    return result


@dataclass
class Method:
    """One function: its name's sub-tokens (the label), its tree and its source tokens (the inputs)."""

    name: str
    subtokens: list[str]
    line: int
    tree: Tree
    tokens: list[str]
    file: str = ""

    def to_json(self) -> dict:
        flat = [[node.label, node.token, len(node.children)] for node in self.tree.nodes()]
        return {"name": self.name, "subtokens": self.subtokens, "file": self.file, "line": self.line, "tree": flat,
                "tokens": self.tokens}  # fmt: skip


def read_methods(source: bytes | str, where: str, max_nodes: int | None = MAX_NODES) -> list[Method]:
    """The functions of one file's source, in line order (dunders, nameless and over-`max_nodes` ones left out).

    Raises SyntaxError (or ValueError / tokenize.TokenError for text Python cannot read) when it does not parse.
    """
    data = source.encode("utf-8") if isinstance(source, str) else source
    module = ast.parse(data, filename=where)
    tokens = list(tokenize.tokenize(io.BytesIO(data).readline))
    starts = [token.start for token in tokens]
    methods = []
    for node in ast.walk(module):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or _is_dunder(node.name):
            continue
        subtokens = split_name(node.name)
        if not subtokens:
            continue
        tree = _method_tree(node)
        if max_nodes is not None and tree.size() > max_nodes:
            continue
        methods.append(Method(node.name, subtokens, node.lineno, tree, _source_tokens(tokens, starts, node), where))
    methods.sort(key=lambda method: method.line)
    return methods


def _split_of(data: bytes) -> str:
    bucket = int(hashlib.sha256(data).hexdigest(), 16) % 20
    return "valid" if bucket == 18 else "test" if bucket == 19 else "train"


def python_files(root: Path) -> list[Path]:
    """The `.py` files under `root` in sorted order, without test code and site-packages."""
    return sorted(path for path in root.rglob("*.py")
                  if not SKIPPED_DIRS & set(path.relative_to(root).parts[:-1]))  # fmt: skip


def collect_methods(root: Path, files: Iterable[Path] | None = None) -> tuple[dict[str, list[Method]], list[str]]:
    """The functions of every file under `root` by split, and the `file:line` of each file that does not parse."""
    splits: dict[str, list[Method]] = {"train": [], "valid": [], "test": []}
    skipped, seen = [], set()
    for path in python_files(root) if files is None else files:
        relative = path.relative_to(root).as_posix()
        data = path.read_bytes()
        try:
            methods = read_methods(data, relative)
        except SyntaxError as error:
            skipped.append(f"{relative}:{error.lineno or 0}")
            continue
        except (ValueError, UnicodeDecodeError, tokenize.TokenError):
            skipped.append(f"{relative}:1")
            continue
        split = _split_of(data)
        for method in methods:  # a function copied into several files counts once
            key = (method.name, tuple(method.tokens))
            if key not in seen:
                seen.add(key)
                splits[split].append(method)
    return splits, skipped


def skipped_note(skipped: list[str], shown: int = 5) -> str:
    """`2 files did not parse (skipped): a.py:3, b.py:1`, or "" when none."""
    if not skipped:
        return ""
    more = f", ... ({len(skipped) - shown} more)" if len(skipped) > shown else ""
    return f"{len(skipped)} file(s) did not parse (skipped): {', '.join(skipped[:shown])}{more}"


# ------------------------------------------------------------------------------------------------ registry
def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _fetch(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
    """Read the standard library's sources (nothing is downloaded) into train/valid/test.jsonl."""
    splits, skipped = collect_methods(stdlib_root())
    for split, examples in splits.items():
        text = "".join(json.dumps(method.to_json(), ensure_ascii=False) + "\n" for method in examples)
        (out / f"{split}.jsonl").write_text(text, encoding="utf-8")
    note = f"Python {platform.python_version()} standard library at {stdlib_root()}"
    if skipped:
        note += "; " + skipped_note(skipped)
    return note, {split: len(examples) for split, examples in splits.items()}


def _tree_from_flat(flat: list) -> Tree:
    """A Tree from its pre-order [label, token, number of children] list."""
    nodes = [Tree(label=label, token=token) for label, token, _ in flat]
    stack: list[list] = []  # [node, children still to attach]
    for node, (_, _, count) in zip(nodes, flat):
        if stack:
            stack[-1][0].children.append(node)
            stack[-1][1] -= 1
        if count:
            stack.append([node, count])
        while stack and stack[-1][1] == 0:
            stack.pop()
    return nodes[0]


def _load(entry: DatasetEntry, directory: Path | None) -> dict:
    from rnnlab.data.tree_files import TreeExample

    assert directory is not None
    if read_meta(entry.name, directory.parent).get("source") != str(entry.source):  # another Python made it
        print(f"rnnlab: {entry.name} was read from another Python's library; reading {stdlib_root()}",
              file=sys.stderr)  # fmt: skip
        directory = fetch_dataset(entry.name, directory.parent, force=True)
    splits = {}
    for split in entry.splits:
        examples = []
        with open(directory / f"{split}.jsonl", encoding="utf-8") as handle:
            for line in handle:
                data = json.loads(line)
                examples.append(TreeExample(_tree_from_flat(data["tree"]), tuple(data["subtokens"]), data["tokens"],
                                            data["file"], data["line"]))  # fmt: skip
        splits[split] = examples
    return splits


_VERSION = platform.python_version()
register_dataset(DatasetEntry(
    name="stdlib-methods",
    kind="trees",
    description="the functions of this Python's standard library: predict a function's name (sub-tokens) "
    "from its body",
    source=Source("system", f"python{sys.version_info.major}.{sys.version_info.minor} standard library", _VERSION,
                  member="sysconfig stdlib: **/*.py without test code"),
    licence="PSF-2.0 (the Python standard library's sources, read from this machine)",
    attribution="method naming as in U. Alon et al., code2vec (POPL 2019) and code2seq (ICLR 2019)",
    fetch=_fetch,
    load=_load,
    unit="functions",
))  # fmt: skip
