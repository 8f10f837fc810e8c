"""The `tree` task: ListOps generator, tree files, program trees, training + eval + the `tree` verb via the CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from tests.cli_run import run_cli

from rnnlab.cli import main
from rnnlab.data.listops import OPERATORS, _generate, apply_operator, generate_examples
from rnnlab.data.program_trees import NAME_TOKEN, collect_methods, read_methods, skipped_note, split_name
from rnnlab.data.registry import DatasetEntry, Source, register_dataset, unregister_dataset
from rnnlab.data.tree_files import TreeExample, read_tree_file
from rnnlab.errors import DataError
from rnnlab.nn.trees import Tree
from rnnlab.tasks.tree import TreeDataConfig, load_splits
from rnnlab.tasks.tree_predictor import subtoken_scores

QUIET = ["--trainer.progress", "false", "--trainer.plot", "false", "--trainer.device", "cpu"]
TINY = ["--model.embedding_size", "8", "--model.hidden_size", "8", "--batch_size", "16"]


def evaluate_listops(text: str) -> int:
    """An evaluator independent of the generator: a stack machine over the tokens, medians via statistics."""
    import statistics

    stack: list[list] = []
    for token in text.split():
        if token.startswith("["):
            stack.append([token[1:]])
        elif token == "]":
            operator, *values = stack.pop()
            value = {"MIN": min, "MAX": max, "SM": lambda v: sum(v) % 10,
                     "MED": lambda v: int(statistics.median(v))}[operator](values)  # fmt: skip
            if not stack:
                return value
            stack[-1].append(value)
        else:
            stack[-1].append(int(token))
    raise AssertionError(f"unbalanced: {text}")


# ------------------------------------------------------------------------------------------------ ListOps
def test_listops_generator_is_seeded_distinct_and_right():
    examples = generate_examples(7, 300)
    assert examples == generate_examples(7, 300)
    assert examples != generate_examples(8, 300)
    assert len({text for _, text in examples}) == 300
    for value, text in examples:
        assert value == evaluate_listops(text), text
        tree = Tree.from_bracketed(text)
        assert tree.depth() <= 10 and tree.label in OPERATORS
        assert all(2 <= len(node.children) <= 5 for node in tree.nodes() if node.children)
        assert all(node.token in tuple("0123456789") for node in tree.nodes() if not node.children)
    assert max(Tree.from_bracketed(t).depth() for _, t in examples) >= 4  # not only flat lists


def test_subtrees_are_every_inner_operation_with_its_own_value():
    from rnnlab.data.listops import subtree_examples, tree_value
    from rnnlab.data.tree_files import read_tree_lines

    lines = ["9\t[MAX 2 9 [MIN 4 7 ] [SM 3 [MIN 4 7 ] ] ]", "4\t[MIN 4 7 ]", "5\t[MED 5 [SM 9 9 ] 6 ]"]
    examples = read_tree_lines(lines, "toy.tsv")
    assert [tree_value(x.tree) for x in examples] == [9, 4, 6]
    added = subtree_examples(examples)
    # [MIN 4 7 ] is already a root and repeats: never added; [SM 3 [MIN 4 7 ] ] once; digits never
    assert [(" ".join(x.sequence), x.label) for x in added] == [("[SM 3 [MIN 4 7 ] ]", "7"), ("[SM 9 9 ]", "8")]
    assert [x.where for x in added] == ["toy.tsv:1", "toy.tsv:3"]
    for value, text in generate_examples(3, 50):  # the tree evaluator agrees with the generator's
        assert tree_value(Tree.from_bracketed(text)) == value
    for example in subtree_examples(read_tree_lines([f"{v}\t{t}" for v, t in generate_examples(3, 50)], "gen")):
        assert int(example.label) == evaluate_listops(" ".join(example.sequence))
    with pytest.raises(Exception, match="subtrees"):
        TreeDataConfig(dataset="stdlib-methods", subtrees=True)


def test_node_labels_are_every_operation_nodes_value_in_batch_order():
    from rnnlab.data.listops import node_values
    from rnnlab.data.tree_files import read_tree_lines
    from rnnlab.data.vocab import Vocabulary
    from rnnlab.nn.trees import batch_trees
    from rnnlab.tasks.tree import listops_node_values, node_targets
    from rnnlab.tasks.tree_predictor import TreeCodec

    tree = Tree.from_bracketed("[MAX 2 9 [MIN 4 7 ] [SM 3 [MIN 4 7 ] ] ]")
    assert node_values(tree) == [9, None, None, 4, None, None, 7, None, 4, None, None]  # pre-order
    lines = [f"{v}\t{t}" for v, t in generate_examples(5, 40, max_depth=4)]
    examples = read_tree_lines(lines, "gen.tsv")
    values = listops_node_values(examples)
    codec = TreeCodec(Vocabulary.build([]), "classes", list("0123456789"), True)
    nodes, targets = node_targets(values, codec)
    # the indices are batch_trees' numbering: exactly the operation nodes, each with its subtree's value
    batch = batch_trees([x.tree for x in examples], lambda node: 1 if node.children else 0)
    assert nodes.tolist() == batch.node_tokens.nonzero().squeeze(1).tolist()
    flat = [node for x in examples for node in x.tree.nodes()]
    assert [evaluate_listops(" ".join(flat[i].to_bracketed("[").split())) for i in nodes.tolist()] == targets.tolist()
    assert set(batch.roots.tolist()) <= set(nodes.tolist())
    bad = read_tree_lines(["3\t[MAX 2 9 ]"], "bad.tsv")
    with pytest.raises(DataError, match="bad.tsv:1: data.node_labels needs ListOps expressions labelled with their value"):
        listops_node_values(bad)
    with pytest.raises(DataError, match="bad.tsv:1: data.node_labels needs ListOps expressions: a leaf 'b' that is not a digit"):
        listops_node_values(read_tree_lines(["1\t(S a b)"], "bad.tsv"))
    assert listops_node_values(read_tree_lines(["7\t7"], "digit.tsv")) == [[7]]  # a bare digit: its root
    with pytest.raises(Exception, match="node_labels"):
        TreeDataConfig(dataset="listops", node_labels=True, subtrees=True)
    with pytest.raises(Exception, match="node_labels"):  # values are classes 0-9, not a regression
        TreeDataConfig(dataset="files", train="t.tsv", labels="numbers", node_labels=True)


def test_listops_operators_follow_the_published_rules():
    assert apply_operator("MED", [2, 5]) == 3  # int(numpy.median): the mean of the middle two, rounded down
    assert apply_operator("MED", [9, 1, 4]) == 4 and apply_operator("MED", [1, 2, 3, 4]) == 2
    assert apply_operator("SM", [9, 8, 7]) == 4 and apply_operator("MIN", [3, 1]) == 1


def test_listops_splits_are_disjoint_files(tmp_path, monkeypatch):
    import rnnlab.data.listops as listops

    monkeypatch.setattr(listops, "SIZES", {"train": 60, "valid": 10, "test": 10})
    entry = DatasetEntry(name="tiny-listops", kind="trees", description="", source=Source("generated", seed=3),
                         licence="CC0", fetch=_generate, load=lambda e, d: None)  # fmt: skip
    note, sizes = _generate(entry, tmp_path, 3)
    assert sizes == {"train": 60, "valid": 10, "test": 10} and "MIN/MAX/MED/SM" in note
    texts = {split: [line.split("\t")[1] for line in (tmp_path / f"{split}.tsv").read_text().splitlines()]
             for split in sizes}  # fmt: skip
    assert not set(texts["train"]) & set(texts["test"]) and not set(texts["valid"]) & set(texts["test"])
    examples = read_tree_file(tmp_path / "train.tsv")
    assert [x.label for x in examples] == [str(evaluate_listops(t)) for t in texts["train"]]


# ----------------------------------------------------------------------------------------------- files
@pytest.mark.parametrize(("line", "message"), [
    ("5\t[MAX 2 9", "f.tsv:2: unbalanced brackets"),
    ("5\t[MAX 2 9 ) ", "f.tsv:2: mismatched brackets"),
    ("5\t()", "f.tsv:2: empty tree"),
    ("5\t   ", "f.tsv:2: empty tree after the label"),
    ("5 [MAX 2 9 ]", "f.tsv:2: expected label<TAB>tree"),
    ("5\t[MAX [MIN ] 9 ]", "f.tsv:2: node 'MIN' at character 5 has no children"),
    ("\t[MAX 2 9 ]", "f.tsv:2: empty label"),
])  # fmt: skip
def test_bad_tree_files_name_the_file_line_and_token(tmp_path, line, message):
    path = tmp_path / "f.tsv"
    path.write_text(f"9\t[MAX 2 9 ]\n{line}\n", encoding="utf-8")
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")) as error:
        read_tree_file(path)
    assert str(error.value).startswith(str(tmp_path))


def test_numbers_labels_and_the_depth_limit(tmp_path):
    path = tmp_path / "n.tsv"
    path.write_text("1.5\t(S (NP the cat) (VP sat))\nx\t(S a)\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"n.tsv:2: label 'x' is not a number"):
        read_tree_file(path, "numbers")
    path.write_text("1.5\t(S (NP the cat) (VP sat))\n-2\t(S (A (B (C d))))\n", encoding="utf-8")
    assert [x.label for x in read_tree_file(path, "numbers")] == [1.5, -2.0]
    assert read_tree_file(path, "numbers")[0].sequence == ["[S", "[NP", "the", "cat", "]", "[VP", "sat", "]", "]"]
    with pytest.raises(DataError, match=r"n.tsv:2: the tree is 4 levels deep; this model takes at most 2"):
        load_splits(TreeDataConfig(dataset="files", train=str(path), labels="numbers", max_depth=2))


# ----------------------------------------------------------------------------------------- program trees
SOURCE = '''
def get_file_name(self, path):
    """Returns the name: get_file_name."""
    # a comment
    return os.path.basename(path) or self.get_file_name(path)

class Reader:
    def __init__(self):
        pass

    async def fetchURL(self, x=1):
        return x
'''


def test_functions_become_trees_without_their_names():
    first, second = read_methods(SOURCE, "m.py")
    assert (first.name, first.subtokens, first.line) == ("get_file_name", ["get", "file", "name"], 2)
    leaves = [node.token for node in first.tree.nodes() if node.token is not None]
    assert "get_file_name" not in leaves and NAME_TOKEN in leaves and "path" in leaves
    assert "Returns the name: get_file_name." not in leaves  # the docstring is gone
    assert first.tree.label == "FunctionDef" and first.tree.children[0].label == "arguments"
    assert first.tokens[:5] == ["(", "self", ",", "path", ")"] and "#" not in "".join(first.tokens)
    assert first.tokens[-4:] == [NAME_TOKEN, "(", "path", ")"]
    assert (second.name, second.subtokens, second.tree.label) == ("fetchURL", ["fetch", "url"], "AsyncFunctionDef")
    assert split_name("_HTTPServer_v2") == ["http", "server", "v", "2"]


def test_files_that_do_not_parse_are_skipped_and_counted(tmp_path):
    (tmp_path / "good.py").write_text(SOURCE, encoding="utf-8")
    (tmp_path / "bad.py").write_text("x = 1\ndef broken(:\n    pass\n", encoding="utf-8")
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "t.py").write_text("def test_x():\n    pass\n", encoding="utf-8")  # test code: left out
    splits, skipped = collect_methods(tmp_path)
    assert skipped == ["bad.py:2"] and "1 file(s) did not parse (skipped): bad.py:2" == skipped_note(skipped)
    assert sorted(m.name for part in splits.values() for m in part) == ["fetchURL", "get_file_name"]
    assert len({split for split, part in splits.items() if part}) == 1  # one file: one split


def test_subtoken_scores_are_code2vecs():
    scores = subtoken_scores([["get", "file", "name"], ["run"]], [["get", "name", "path"], ["run"]])
    assert scores["precision"] == pytest.approx(3 / 4) and scores["recall"] == pytest.approx(3 / 4)
    assert scores["f1"] == pytest.approx(3 / 4) and scores["exact"] == 0.5


# ----------------------------------------------------------------------------------------------- the CLI
def write_listops(directory: Path, counts=(120, 30)) -> list[str]:
    examples = generate_examples(1, sum(counts), max_depth=3, max_args=3)
    paths, start = [], 0
    for name, count in zip(("train", "valid"), counts):
        path = directory / f"{name}.tsv"
        path.write_text("".join(f"{v}\t{t}\n" for v, t in examples[start : start + count]), encoding="utf-8")
        paths.append(str(path))
        start += count
    return paths


def test_train_eval_and_the_tree_verb_through_the_cli(tmp_path, capsys):
    train, valid = write_listops(tmp_path)
    run = tmp_path / "run"
    run_cli(capsys, "train", "tree", "--data.dataset", "files", "--data.train", train, "--data.valid", valid,
            "--data.test", valid, *TINY, "--trainer.max_steps", "3", "--trainer.max_epochs", "null",
            "--trainer.metric", "accuracy", "--trainer.mode", "max", *QUIET, "--output_dir", run)  # fmt: skip

    result = json.loads(run_cli(capsys, "eval", run, "--json", "--out", tmp_path / "eval"))
    assert result["task"] == "tree" and result["examples"] == 30 and 0 <= result["accuracy"] <= 1
    assert (tmp_path / "eval" / "confusion.png").exists()

    lines = run_cli(capsys, "tree", run, "[MAX 2 9 [MIN 4 7 ] 0 ]", "[SM 1 2 ]", "--json").splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["input"] == "[MAX 2 9 [MIN 4 7 ] 0 ]" and first["prediction"] in list("0123456789")
    assert [(n["label"], n["token"], n["depth"]) for n in first["nodes"]] == [
        ("MAX", None, 0), (None, "2", 1), (None, "9", 1), ("MIN", None, 1), (None, "4", 2), (None, "7", 2),
        (None, "0", 1)]  # fmt: skip
    assert first["nodes"][0]["prediction"] == first["prediction"] and all(n["norm"] > 0 for n in first["nodes"])
    assert len(second["nodes"]) == 3

    text = run_cli(capsys, "tree", run, "[SM 1 2 ]", "--draw", "norm", "--out", tmp_path / "pictures")
    assert text.splitlines()[0] == f"[SM 1 2 ]\t{second['prediction']}" and "‖h‖" in text.splitlines()[1]
    svg = (tmp_path / "pictures" / "tree-1.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and svg.count("<line") == 2 and ">SM<" in svg
    import xml.etree.ElementTree as ElementTree

    assert ElementTree.fromstring(svg).tag.endswith("svg")  # well-formed XML

    # rnnlab inspect tree: one tree at a chosen path, the same nodes and answers as the verb
    out = tmp_path / "inspect" / "sm.svg"
    out.parent.mkdir()
    text = run_cli(capsys, "inspect", "tree", run, "[SM 1 2 ]", "--show", "value", "--out", out)
    assert text.splitlines()[0] == f"[SM 1 2 ]\t{second['prediction']}" and text.splitlines()[-1] == f"wrote {out}"
    drawn = out.read_text(encoding="utf-8")
    assert ElementTree.fromstring(drawn).tag.endswith("svg") and drawn.count("<line") == 2
    assert f">{second['nodes'][1]['prediction']}<" in drawn  # a leaf labelled with its predicted value


def test_a_regression_model_of_the_sequence_baseline(tmp_path, capsys):
    rng = random.Random(0)
    lines = []
    for _ in range(60):  # the value: the number of leaves
        words = [rng.choice("abc") for _ in range(rng.randint(1, 6))]
        lines.append(f"{len(words)}\t(S {' '.join(words)})")
    (tmp_path / "t.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    run_cli(capsys, "train", "tree", "--data.dataset", "files", "--data.train", tmp_path / "t.tsv", "--data.labels",
            "numbers", "--model.encoder", "bilstm", *TINY, "--trainer.max_steps", "3", "--trainer.max_epochs",
            "null", "--trainer.metric", "rmse", *QUIET, "--output_dir", run)  # fmt: skip
    result = json.loads(run_cli(capsys, "eval", run, "--split", "valid", "--json"))
    assert result["kind"] == "numbers" and result["examples"] == 6 and result["rmse"] > 0
    (line,) = run_cli(capsys, "tree", run, "(S a b)", "--json").splitlines()
    assert isinstance(json.loads(line)["prediction"], float) and json.loads(line)["nodes"] == []  # no node states


def test_a_wrong_metric_for_the_labels_is_refused_before_training(tmp_path, capsys):
    train, valid = write_listops(tmp_path, (20, 5))
    code = main(["train", "tree", "--data.dataset", "files", "--data.train", train, "--trainer.metric", "rmse",
                 *QUIET, "--output_dir", str(tmp_path / "run")])  # fmt: skip
    assert code == 2 and "trainer.metric: expected one of accuracy, loss for classes labels" in capsys.readouterr().err


def test_layer_norm_tree_lstm_trains_and_reloads_and_the_baselines_ignore_it(tmp_path, capsys):
    train, valid = write_listops(tmp_path, (20, 5))
    run = tmp_path / "run"
    run_cli(capsys, "train", "tree", "--data.dataset", "files", "--data.train", train, "--data.valid", valid,
            "--model.layer_norm", "true", *TINY, "--trainer.max_steps", "2", "--trainer.max_epochs", "null",
            "--trainer.metric", "accuracy", "--trainer.mode", "max", *QUIET, "--output_dir", run)  # fmt: skip
    import torch

    from rnnlab.tasks.tree_predictor import load_tree_predictor

    encoder = load_tree_predictor(run).model.encoder
    assert encoder.layer_norm and encoder.norm_c.normalized_shape == (8,)  # reloaded with its layer norms
    (line,) = run_cli(capsys, "tree", run, "[SM 1 [MAX 2 3 ] ]", "--json").splitlines()
    assert len(json.loads(line)["nodes"]) == 5

    # the sequence baselines of a layer_norm config ignore it, as they ignore the other tree-only options
    run_cli(capsys, "train", "tree", "--data.dataset", "files", "--data.train", train, "--model.encoder", "bilstm",
            "--model.layer_norm", "true", *TINY, "--trainer.max_steps", "1", "--trainer.max_epochs", "null",
            "--trainer.metric", "accuracy", "--trainer.mode", "max", *QUIET, "--output_dir", tmp_path / "run2")  # fmt: skip
    assert isinstance(load_tree_predictor(tmp_path / "run2").model.encoder, torch.nn.LSTM)


def test_node_labels_train_through_the_roots_call_and_refuse_sequence_models(tmp_path, capsys):
    import torch

    from rnnlab.tasks.tree_predictor import load_tree_predictor

    train, valid = write_listops(tmp_path, (40, 10))
    run = tmp_path / "run"
    args = ["train", "tree", "--data.dataset", "files", "--data.train", train, "--data.valid", valid,
            "--data.node_labels", "true", *TINY, "--trainer.max_steps", "2", "--trainer.max_epochs", "null",
            "--trainer.metric", "accuracy", "--trainer.mode", "max", *QUIET]  # fmt: skip
    run_cli(capsys, *args, "--output_dir", run)
    predictor = load_tree_predictor(run)
    model = predictor.model.eval()
    examples = read_tree_file(valid)[:5]
    batch = predictor.codec.encode_inputs(examples)
    with torch.no_grad():  # nodes= gives the head on those nodes; the roots are the default
        every, _ = model.node_outputs(batch)
        assert torch.allclose(model(batch, nodes=batch.roots), model(batch))
        assert torch.allclose(model(batch, nodes=torch.tensor([1, 0])), every[[1, 0]])
    code = main([*args, "--model.encoder", "lstm", "--output_dir", str(tmp_path / "run2")])
    assert code == 2 and "data.node_labels: expected a tree encoder" in capsys.readouterr().err


def method_examples(seed: int, count: int) -> list[TreeExample]:
    """Toy functions whose name says what their body returns: `get_x` returns x, `add_y` adds y."""
    rng = random.Random(seed)
    examples = []
    for _ in range(count):
        verb, noun = rng.choice(["get", "add"]), rng.choice(["size", "name", "path"])
        body = f"return self.{noun}" if verb == "get" else f"self.{noun} += 1"
        (method,) = read_methods(f"def {verb}_{noun}(self):\n    {body}\n", "toy.py")
        examples.append(TreeExample(method.tree, tuple(method.subtokens), method.tokens, "toy.py", 1))
    return examples


@pytest.fixture
def toy_methods():
    entry = register_dataset(DatasetEntry(
        name="toy-methods", kind="trees", description="toy functions", source=Source("embedded"), licence="CC0",
        load=lambda entry, directory: {"train": method_examples(0, 64), "valid": method_examples(1, 16),
                                       "test": method_examples(2, 16)}))  # fmt: skip
    yield entry.name
    unregister_dataset(entry.name)


def test_a_program_model_names_python_functions(toy_methods, tmp_path, capsys):
    run = tmp_path / "run"
    run_cli(capsys, "train", "tree", "--data.dataset", toy_methods, *TINY, "--trainer.max_steps", "3",
            "--trainer.max_epochs", "null", "--trainer.metric", "f1", "--trainer.mode", "max", *QUIET,
            "--output_dir", run)  # fmt: skip
    result = json.loads(run_cli(capsys, "eval", run, "--json"))
    assert result["kind"] == "subtokens" and {"precision", "recall", "f1", "exact"} <= set(result)
    source = tmp_path / "code.py"
    source.write_text("def get_name(self):\n    return self.name\n\ndef add_size(self):\n    self.size += 1\n")
    (line,) = run_cli(capsys, "tree", run, "--input", source, "--json", "--no-nodes").splitlines()
    functions = json.loads(line)["functions"]
    assert [(f["function"], f["line"]) for f in functions] == [("get name", 1), ("add size", 4)]
    assert all(f["subtokens"] and f["prediction"] == "_".join(f["subtokens"]) for f in functions)
    assert json.loads(run_cli(capsys, "eval", run, "--data", source, "--json"))["examples"] == 2
    assert main(["tree", str(run), "def broken(:"]) == 2
    assert "input 1:1: not valid Python" in capsys.readouterr().err


def test_subtoken_names_are_decoded_in_name_order():
    import torch

    from rnnlab.data.vocab import Vocabulary
    from rnnlab.tasks.tree_predictor import TreeCodec

    codec = TreeCodec(Vocabulary.build([]), "subtokens", ["name", "get", "file", "x"], True,
                      positions={"get": 0.0, "file": 0.5, "name": 1.0, "x": 0.5})  # fmt: skip
    logits = torch.tensor([[0.3, 0.3, 0.3, 0.1], [0.05, 0.6, 0.2, 0.15]]).log()
    first, second = codec.decode(logits)
    assert first["subtokens"] == ["get", "file", "name"] and first["prediction"] == "get_file_name"
    assert second["subtokens"] == ["get"]  # the second (0.2) is under 1/4: one sub-token
    targets = codec.encode_targets([TreeExample(Tree.leaf("a"), ("get", "name", "unseen"))])
    assert targets.tolist() == [[0.5, 0.5, 0.0, 0.0]]  # equal shares of the sub-tokens it knows
