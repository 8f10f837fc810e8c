"""A trained tree model, loaded (`TreePredictor`, `load_tree_predictor`), and what it is used for: `rnnlab eval`
and the `tree` verb (a prediction with each node's value, and a drawing of the tree).

    predictor = load_tree_predictor("runs/tree-listops")          # a run directory: uses best/
    predictor.predict([parse_tree("[MAX 2 9 [MIN 4 7 ] 0 ]")])    # ["9"]

The training side is `rnnlab.tasks.tree`. What a model directory holds: config.json (`"task": "tree"`, the
whole TreeConfig, and the codec: the label kind, the classes or sub-tokens, the target scaling), vocab.json
and the weights.

Labels come in three kinds (`rnnlab.data.tree_files.LabelKind`): `classes` (cross-entropy; accuracy),
`numbers` (MSE on standardised targets; RMSE, MAE, R²) and `subtokens`, a function's name as a set of
sub-tokens: one softmax over the sub-tokens of the training names, trained with cross-entropy against the
name's sub-tokens in equal shares (`get_file_name`: 1/3 each), as code2vec trains one softmax over names.
The sub-token ranked k-th is predicted when its probability is at least 1/(2k), half of what it would have
in a name of k sub-tokens (the first always), and the predicted ones are written in the order they usually
take in a name. Sub-token
precision, recall and F1 are code2vec's (Alon et al. 2019): over all test functions, a predicted sub-token
found among the true ones is a true positive, one not found a false positive, a true one not predicted a
false negative; precision = TP / (TP + FP) and recall = TP / (TP + FN) over the sums, case-insensitive
(sub-tokens are lower-cased), order ignored.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F

from rnnlab.config import config_from_dict
from rnnlab.data.tree_files import LabelKind, TreeExample, check_tree, parse_tree, read_tree_file
from rnnlab.data.vocab import PAD_ID, Vocabulary
from rnnlab.errors import CheckpointError, DataError, UserError
from rnnlab.labelling.batches import sorted_batches
from rnnlab.nn.tree_classifier import SequenceBatch, TreeModel
from rnnlab.nn.trees import Tree, TreeBatch, batch_trees
from rnnlab.tasks.registry import EvalRequest
from rnnlab.train import load_model_dir, load_model_weights
from rnnlab.verbs import Artifact, Verb

if TYPE_CHECKING:
    from rnnlab.tasks.tree import TreeConfig

__all__ = ["TREE_VERB", "TreeCodec", "TreeOptions", "TreePredictor", "evaluate", "format_evaluation",
           "inspect_tree", "load_tree_predictor", "subtoken_scores"]  # fmt: skip

TASK = "tree"


# ------------------------------------------------------------------------------------------------ metrics
def subtoken_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, float]:
    """code2vec's sub-token precision / recall / F1 (micro, over all names) and exact matches (in order)."""
    true_positive = false_positive = false_negative = exact = 0
    for gold_name, predicted_name in zip(gold, predicted, strict=True):
        gold_tokens = [token.lower() for token in gold_name]
        predicted_tokens = [token.lower() for token in predicted_name]
        for token in predicted_tokens:
            if token in gold_tokens:
                true_positive += 1
            else:
                false_positive += 1
        false_negative += sum(token not in predicted_tokens for token in gold_tokens)
        exact += gold_tokens == predicted_tokens
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 0.0
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "exact": exact / len(gold) if gold else 0.0}


def accuracy_by_root(examples: Sequence[TreeExample], correct: Sequence[bool], most: int = 20) -> dict[str, float]:
    """Accuracy per root label (ListOps: per outermost operation), when the roots carry at most `most` labels."""
    groups: dict[str, list[bool]] = {}
    for example, right in zip(examples, correct):
        groups.setdefault(str(example.tree.label), []).append(right)
    if len(groups) > most or set(groups) == {"None"}:
        return {}
    return {label: sum(rights) / len(rights) for label, rights in sorted(groups.items())}


# -------------------------------------------------------------------------------------------------- codec
@dataclass
class TreeCodec:
    """Trees to tensors and outputs to answers: the vocabulary, the label kind, the classes or sub-tokens.

    vocab: every node's word or label (tree encoders) or every sequence token (the baselines).
    kind: "classes", "numbers" or "subtokens"; labels: the classes, or the sub-tokens the head scores.
    reads_trees: the model's encoder reads trees (else token sequences: `sequence` says which), binarized
    first with `binarize` (`rnnlab.data.tree_files.binarize`).
    mean, std: the training targets' scaling (numbers); positions: each sub-token's mean relative place in
    the training names (0 first, 1 last), to write a predicted set of sub-tokens in a name's usual order.
    """

    vocab: Vocabulary
    kind: LabelKind
    labels: list[str]
    reads_trees: bool
    sequence: Literal["tokens", "leaves"] = "tokens"
    binarize: bool = False
    mean: float = 0.0
    std: float = 1.0
    positions: dict[str, float] = field(default_factory=dict)

    @property
    def output_size(self) -> int:
        return 1 if self.kind == "numbers" else len(self.labels)

    def to_json(self) -> dict:
        return {"kind": self.kind, "labels": self.labels, "sequence": self.sequence, "mean": self.mean,
                "std": self.std, "positions": self.positions}  # fmt: skip

    # ---- inputs
    @staticmethod
    def node_key(node: Tree) -> str | None:
        """What a node is looked up by: a leaf's word, else an internal node's label (None: unlabelled)."""
        return node.token if node.token is not None else node.label

    def node_id(self, node: Tree) -> int:
        key = self.node_key(node)
        return PAD_ID if key is None else self.vocab.token_to_id(key)

    def tree_of(self, example: TreeExample) -> Tree:
        """The tree the model reads for `example` (binarized once if the model reads binarized trees)."""
        return example.binarized if self.binarize else example.tree

    def sequence_of(self, example: TreeExample) -> list[str]:
        tokens = example.sequence if self.sequence == "tokens" else example.tree.tokens()
        return tokens or example.tree.tokens() or [example.tree.label or "<unk>"]

    def model_tokens(self, example: TreeExample) -> list[str]:
        """The symbols the model looks up for `example` (for the vocabulary and the unknown-symbol note)."""
        if self.reads_trees:
            return [key for node in self.tree_of(example).nodes() if (key := self.node_key(node)) is not None]
        return self.sequence_of(example)

    def encode_inputs(self, examples: Sequence[TreeExample]) -> TreeBatch | SequenceBatch:
        if self.reads_trees:
            return batch_trees([self.tree_of(example) for example in examples], self.node_id)
        encoded = [self.vocab.encode(self.sequence_of(example)) for example in examples]
        ids = torch.full((len(encoded), max(len(row) for row in encoded)), PAD_ID, dtype=torch.long)
        for row, token_ids in enumerate(encoded):
            ids[row, : len(token_ids)] = torch.tensor(token_ids)
        return SequenceBatch(ids, ids != PAD_ID)

    # ---- targets and loss
    def encode_targets(self, examples: Sequence[TreeExample]) -> torch.Tensor:
        """classes: (T,) indices (-100, ignored by the loss, for a class unseen in training); numbers: (T,)
        standardised values; subtokens: (T, S), each of the name's sub-tokens an equal share of 1 (sub-tokens
        unseen in training are left out; a name of none of them is a row of zeros, which the loss ignores)."""
        if self.kind == "numbers":
            return (torch.tensor([float(x.label) for x in examples]) - self.mean) / self.std
        index = {label: i for i, label in enumerate(self.labels)}
        if self.kind == "classes":
            return torch.tensor([index.get(str(x.label), -100) for x in examples], dtype=torch.long)
        targets = torch.zeros(len(examples), len(self.labels))
        for row, example in enumerate(examples):
            known = [index[token] for token in example.label if token in index]
            for i in known:
                targets[row, i] += 1.0 / len(known)
        return targets

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        if self.kind == "numbers":
            return F.mse_loss(outputs.squeeze(1), targets, reduction=reduction)
        if self.kind == "classes":
            return F.cross_entropy(outputs, targets, reduction=reduction)
        losses = -(targets * outputs.log_softmax(-1)).sum(1)  # cross-entropy against the sub-token shares
        return losses.mean() if reduction == "mean" else losses.sum()

    # ---- answers
    def decode(self, outputs: torch.Tensor) -> list[dict]:
        """One answer per row: {"prediction", and "probability" (classes) or "probabilities" (sub-tokens)}."""
        if self.kind == "numbers":
            return [{"prediction": round(value, 4)} for value in (outputs.squeeze(1) * self.std + self.mean).tolist()]
        if self.kind == "classes":
            probabilities = outputs.softmax(-1)
            best = probabilities.max(-1)
            return [{"prediction": self.labels[i], "probability": round(p, 4)}
                    for p, i in zip(best.values.tolist(), best.indices.tolist())]  # fmt: skip
        answers = []
        for row in outputs.softmax(-1).tolist():
            ranked = sorted(range(len(row)), key=lambda i: -row[i])
            chosen = ranked[:1]
            while len(chosen) < 8 and row[ranked[len(chosen)]] >= 1 / (2 * (len(chosen) + 1)):
                chosen.append(ranked[len(chosen)])
            chosen.sort(key=lambda i: (self.positions.get(self.labels[i], 0.5), -row[i]))
            subtokens = [self.labels[i] for i in chosen]
            answers.append({"prediction": "_".join(subtokens), "subtokens": subtokens,
                            "probabilities": {self.labels[i]: round(row[i], 4) for i in chosen}})  # fmt: skip
        return answers


# ---------------------------------------------------------------------------------------------- predictor
class TreePredictor:
    """A trained tree model with its codec: `predict(examples)`, `evaluate(examples)`, `explain(tree)`."""

    def __init__(self, model: TreeModel, codec: TreeCodec, config: TreeConfig) -> None:
        self.model, self.codec, self.config = model, codec, config

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def outputs(self, examples: Sequence[TreeExample]) -> torch.Tensor:
        """The model's raw outputs (T, outputs) for `examples`, on the model's device."""
        from rnnlab.train import move_to

        return self.model(move_to(self.codec.encode_inputs(examples), self.device))

    @torch.no_grad()
    def run(self, examples: Sequence[TreeExample], batch_size: int = 256) -> tuple[list[dict], float]:
        """The answer to every example (in order) and the mean loss (NaN when no example has a known target;
        examples without a label, inputs of the verb, are not scored)."""
        training = self.model.training
        self.model.eval()
        answers: list[dict | None] = [None] * len(examples)
        loss_sum, counted = 0.0, 0
        sizes = [example.tree.size() if self.codec.reads_trees else len(example.sequence) for example in examples]
        for indices in sorted_batches(sizes, batch_size):
            batch = [examples[i] for i in indices]
            outputs = self.outputs(batch)
            if any(example.label is None for example in batch):  # inputs to predict for, not to score
                pass
            elif self.codec.kind == "classes":
                targets = self.codec.encode_targets(batch).to(outputs.device)
                known = targets >= 0
                if known.any():
                    loss_sum += float(self.codec.loss(outputs[known], targets[known], reduction="sum"))
                    counted += int(known.sum())
            else:
                targets = self.codec.encode_targets(batch).to(outputs.device)
                loss_sum += float(self.codec.loss(outputs, targets, reduction="sum"))
                counted += len(batch)
            for i, answer in zip(indices, self.codec.decode(outputs.float().cpu())):
                answers[i] = answer
        self.model.train(training)
        return answers, loss_sum / counted if counted else float("nan")  # type: ignore[return-value]

    def predict(self, examples: Sequence[TreeExample], batch_size: int = 256) -> list:
        return [answer["prediction"] for answer in self.run(examples, batch_size)[0]]

    def evaluate(self, examples: Sequence[TreeExample], batch_size: int = 256) -> dict:
        """The metrics of the label kind on `examples`, and the loss (JSON-ready; `predictions` in order)."""
        answers, loss = self.run(examples, batch_size)
        predicted = [answer["prediction"] for answer in answers]
        result: dict = {"examples": len(examples), "loss": loss}
        if self.codec.kind == "classes":
            gold = [str(example.label) for example in examples]
            result["accuracy"] = sum(p == g for p, g in zip(predicted, gold)) / len(gold)
            from rnnlab.labelling.metrics import confusion

            labels = list(self.codec.labels) + sorted(set(gold) - set(self.codec.labels))
            result["labels"], result["confusion"] = labels, confusion(gold, predicted, labels)
            result["accuracy_by_root"] = accuracy_by_root(examples, [p == g for p, g in zip(predicted, gold)])
        elif self.codec.kind == "numbers":
            from rnnlab.numeric_metrics import regression_metrics

            result.update(regression_metrics([float(p) for p in predicted], [float(x.label) for x in examples]))
        else:
            subtokens = [answer["subtokens"] for answer in answers]
            result.update(subtoken_scores([list(example.label) for example in examples], subtokens))
        result["predictions"] = predicted
        return result

    @torch.no_grad()
    def explain(self, example: TreeExample) -> list[dict]:
        """Each node of the example's tree (pre-order; binarized if the model reads binarized trees) with its
        depth, label or word, the answer the head gives for its state, and the state's norm ‖h‖ (empty for
        the sequence baselines: they have no node states)."""
        if not self.codec.reads_trees:
            return []
        tree = self.codec.tree_of(example)
        training = self.model.training
        self.model.eval()
        from rnnlab.train import move_to

        batch = move_to(batch_trees([tree], self.codec.node_id), self.device)
        outputs, states = self.model.node_outputs(batch)
        self.model.train(training)
        answers = self.codec.decode(outputs.float().cpu())
        norms = states.float().norm(dim=1).tolist()
        nodes, depths = tree.nodes(), [0] * len(answers)
        parents = batch.parent.tolist()
        for i in range(1, len(nodes)):
            depths[i] = depths[parents[i]] + 1
        return [{"node": i, "parent": parents[i], "depth": depths[i], "label": node.label, "token": node.token,
                 **answers[i], "norm": round(norms[i], 4)} for i, node in enumerate(nodes)]  # fmt: skip


def load_tree_predictor(path: str | Path) -> TreePredictor:
    from rnnlab.tasks.tree import TreeConfig  # here, not at the top: that module imports this one

    checkpoint = load_model_dir(path, TASK)
    try:
        config = config_from_dict(TreeConfig, checkpoint.config["config"], source=str(checkpoint.path))
        codec_data = checkpoint.config["codec"]
        codec = TreeCodec(Vocabulary(checkpoint.read_json("vocab.json")["tokens"]), codec_data["kind"],
                          list(codec_data["labels"]), config.model.reads_trees, codec_data["sequence"],
                          config.data.binarize, float(codec_data["mean"]), float(codec_data["std"]),
                          dict(codec_data["positions"]))  # fmt: skip
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint.path}: config.json or vocab.json lacks a field ({error})") from None
    model = TreeModel(config.model, len(codec.vocab), codec.output_size, pad_id=PAD_ID)
    load_model_weights(model, checkpoint)
    return TreePredictor(model.eval(), codec, config)


# ------------------------------------------------------------------------------------------------- inputs
def reads_python(predictor: TreePredictor) -> bool:
    """Whether the model reads Python functions (a program-tree model) rather than bracketed trees."""
    return predictor.codec.kind == "subtokens"


def python_examples(source: str, where: str, max_depth: int | None = None) -> list[TreeExample]:
    """The functions of Python source as examples (label: the true name's sub-tokens); one-line errors."""
    from rnnlab.data.program_trees import read_methods

    try:
        methods = read_methods(source, where, max_nodes=None)
    except SyntaxError as error:
        raise DataError(f"{where}:{error.lineno or 1}: not valid Python ({error.msg})") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(f"{where}: not valid Python ({error})") from None
    if not methods:
        raise DataError(f"{where}: no function definition (def ...) to name; dunder methods are left out")
    for method in methods:
        check_tree(method.tree, f"{where}:{method.line}", max_depth)
    return [TreeExample(m.tree, tuple(m.subtokens), m.tokens, where, m.line) for m in methods]


def children_limit(config: TreeConfig) -> int | None:
    """The most children a node of an input tree may have (binarized trees have two, whatever the input)."""
    return None if config.data.binarize else config.model.children_limit


def bracketed_example(text: str, where: str, predictor: TreePredictor) -> TreeExample:
    """One bracketed tree, checked against the model's depth and children limits."""
    tree = parse_tree(text, where)
    check_tree(tree, where, predictor.config.data.max_depth, children_limit(predictor.config))
    return TreeExample(tree, None, None, where, 0)


def warn_unknown(predictor: TreePredictor, examples: Sequence[TreeExample]) -> None:
    from rnnlab.validation import unknown_note

    unknown = predictor.codec.vocab.unknown(t for example in examples for t in predictor.codec.model_tokens(example))
    if unknown:
        print(f"rnnlab: {unknown_note(unknown)}", file=sys.stderr)


# --------------------------------------------------------------------------------------------------- eval
def evaluate(path: str | Path, request: EvalRequest) -> dict:
    """The label kind's metrics on a split of the model's data, a `label<TAB>tree` file, or (a program
    model) a Python file; with a confusion plot (classes) as an artifact."""
    from rnnlab.tasks.tree import load_splits  # here, not at the top: that module imports this one

    predictor = load_tree_predictor(path)
    data = predictor.config.data
    if request.data_file and reads_python(predictor):
        from rnnlab.files import read_input_lines

        source = "\n".join(read_input_lines(request.data_file, "Python source", keep_empty=True)) + "\n"
        examples, where = python_examples(source, request.data_file), request.data_file
    elif request.data_file:
        examples, where = read_tree_file(request.data_file, predictor.codec.kind), request.data_file
        for example in examples:
            check_tree(example.tree, example.where, data.max_depth, children_limit(predictor.config))
    else:
        # whole trees only: the training-time subtrees (data.subtrees) are not what a split is scored on
        examples = request.examples_of(load_splits(replace(data, subtrees=False)))
        where = f"{data.dataset or 'data'} {request.split}"
    result = {"data": where, "encoder": predictor.config.model.encoder, "kind": predictor.codec.kind,
              **predictor.evaluate(examples, predictor.config.eval_batch_size)}  # fmt: skip
    result.pop("predictions")
    if predictor.codec.kind == "classes":
        from rnnlab.labelling.metrics import confusion_artifact

        result["artifacts"] = [confusion_artifact(result["confusion"], result["labels"])]
    return result


def format_evaluation(result: dict) -> str:
    head = f"{result['data']}: {result['examples']} trees, {result['encoder']}"
    if result["kind"] == "classes":
        by_root = "".join(f"  {label} {value:.3f}" for label, value in result.get("accuracy_by_root", {}).items())
        return f"{head}  accuracy {result['accuracy']:.4f}  loss {result['loss']:.4f}" + (
            f"\naccuracy by root label:{by_root}" if by_root else "")
    if result["kind"] == "numbers":
        return f"{head}  RMSE {result['rmse']:.4f}  MAE {result['mae']:.4f}  R² {result['r2']:.3f}"
    return (f"{head}  sub-token precision {result['precision']:.4f}  recall {result['recall']:.4f}  "
            f"F1 {result['f1']:.4f}  exact names {result['exact']:.4f}")  # fmt: skip


# --------------------------------------------------------------------------------------------------- verb
@dataclass
class TreeOptions:
    nodes: bool = field(default=True, metadata={"help": "the prediction only, not every node's value too "
                                                        "(tree encoders show each subtree's)"})
    draw: Literal["none", "value", "norm"] = field(
        default="none", metadata={"help": "write an SVG of each tree (under --out) labelled with each node's "
                                           "predicted value or state norm ‖h‖"})  # fmt: skip


def read_tree_inputs(path: str, options: TreeOptions) -> list[str]:
    """`--input FILE`: a `.py` file is one input (its whole source); otherwise one tree per non-empty line."""
    from rnnlab.files import read_input_lines

    if path != "-" and path.endswith(".py"):
        return ["\n".join(read_input_lines(path, "Python source", keep_empty=True)) + "\n"]
    return read_input_lines(path, "trees")


def run_tree(predictor: TreePredictor, inputs: list[str], options: TreeOptions) -> Iterator[dict | Artifact]:
    """The `tree` verb: per input, the prediction and (tree encoders) every node's value; SVGs with --draw.

    A bracketed-tree model reads one tree per input; a program model reads Python source (a `def`, or a
    whole file with `--input FILE.py`) and names each function in it.
    """
    python = reads_python(predictor)
    parsed = []  # (examples of this input, where)
    for number, text in enumerate(inputs, start=1):
        where = f"input {number}"
        if python:
            parsed.append(python_examples(text, where, predictor.config.data.max_depth))
        else:
            parsed.append([bracketed_example(text, where, predictor)])
    warn_unknown(predictor, [example for examples in parsed for example in examples])
    drawn = 0
    for text, examples in zip(inputs, parsed):
        answers, _ = predictor.run(examples)
        items = []
        for example, answer in zip(examples, answers):
            item = {**({"function": " ".join(example.label), "line": example.line} if python else {}), **answer}
            nodes = predictor.explain(example) if options.nodes or options.draw != "none" else []
            if options.nodes:
                item["nodes"] = nodes
            items.append(item)
            if options.draw != "none" and nodes:
                drawn += 1
                svg = tree_svg(nodes, options.draw)
                yield Artifact("image/svg+xml", svg.encode("utf-8"), f"tree-{drawn}.svg")
        shown = text if len(text) <= 200 else text[:197] + "..."
        yield {"input": shown, "functions": items} if python else {"input": shown, **items[0]}


def inspect_tree(predictor: TreePredictor, text: str, show: Literal["value", "norm"]) -> tuple[str, str]:
    """`rnnlab inspect tree`: one bracketed tree (a program model: the first function of Python source)
    drawn with each node's predicted value or state norm, and the same as text. Returns (svg, report)."""
    if python := reads_python(predictor):
        examples = python_examples(text, "the source", predictor.config.data.max_depth)  # at least one
    else:
        examples = [bracketed_example(text, "the tree", predictor)]
    if not predictor.codec.reads_trees:
        raise UserError(f"this model's encoder ({predictor.config.model.encoder}) reads a sequence, not the "
                        "tree: it has no node states to draw; inspect a tree_lstm, nary_lstm or recursive model")
    warn_unknown(predictor, examples[:1])
    answers, _ = predictor.run(examples[:1])
    nodes = predictor.explain(examples[0])
    result = {"input": text.strip() if not python else f"def ... (line {examples[0].line})", **answers[0],
              "nodes": nodes}  # fmt: skip
    return tree_svg(nodes, show), format_tree_result(result, TreeOptions())


def _node_text(node: dict) -> str:
    return node["token"] if node["token"] is not None else node["label"] or "·"


def format_tree_result(result: dict, options: TreeOptions) -> str:
    """`input<TAB>prediction`, then (with node values) the tree one node per line, indented by depth."""
    if "functions" in result:
        lines = []
        for item in result["functions"]:
            lines.append(f"line {item['line']}: {item['function'].replace(' ', '_')}\t-> {item['prediction']}")
        return "\n".join(lines)
    lines = [f"{result['input']}\t{result['prediction']}"]
    for node in result.get("nodes", []):
        confidence = f" ({node['probability']:.2f})" if "probability" in node else ""
        lines.append(f"{'  ' * (node['depth'] + 1)}{_node_text(node)}\t{node['prediction']}{confidence}"
                     f"\t‖h‖ {node['norm']:.2f}")  # fmt: skip
    return "\n".join(lines)


def tree_svg(nodes: list[dict], show: str) -> str:
    """An SVG drawing of a tree (nodes as `explain` gives them, pre-order): each node's word or label, and
    under it its predicted value (`show="value"`) or state norm (`"norm"`); leaves spaced evenly, a parent
    centred over its children."""
    children: dict[int, list[int]] = {node["node"]: [] for node in nodes}
    for node in nodes:
        if node["parent"] >= 0:
            children[node["parent"]].append(node["node"])
    x: dict[int, float] = {}
    leaves = 0
    for node in nodes:  # leaves left to right
        if not children[node["node"]]:
            x[node["node"]] = leaves
            leaves += 1
    for node in reversed(nodes):  # reversed pre-order: a node's children are placed before it
        kids = children[node["node"]]
        if kids:
            x[node["node"]] = (x[kids[0]] + x[kids[-1]]) / 2
    step_x, step_y, margin = 64, 70, 40
    width = max(1, leaves) * step_x + 2 * margin
    height = (max(node["depth"] for node in nodes) + 1) * step_y + 2 * margin

    def at(i: int, depth: int) -> tuple[float, float]:
        return margin + x[i] * step_x + step_x / 2, margin + depth * step_y

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
             f'font-family="sans-serif" font-size="13" text-anchor="middle">',
             '<rect width="100%" height="100%" fill="white"/>']  # fmt: skip
    depth_of = {node["node"]: node["depth"] for node in nodes}
    for node in nodes:
        if node["parent"] >= 0:
            (x1, y1), (x2, y2) = at(node["parent"], depth_of[node["parent"]]), at(node["node"], node["depth"])
            parts.append(f'<line x1="{x1:.1f}" y1="{y1 + 22:.1f}" x2="{x2:.1f}" y2="{y2 - 14:.1f}" stroke="#999"/>')
    norms = [node["norm"] for node in nodes]
    top = max(norms) or 1.0
    for node in nodes:
        cx, cy = at(node["node"], node["depth"])
        shade = int(255 - 120 * node["norm"] / top)  # darker blue: a larger state
        value = f"{node['prediction']}" if show == "value" else f"‖h‖ {node['norm']:.2f}"
        parts.append(f'<rect x="{cx - 28:.1f}" y="{cy - 14:.1f}" width="56" height="20" rx="4" '
                     f'fill="rgb({shade},{shade},255)" stroke="#446"/>')  # fmt: skip
        parts.append(f'<text x="{cx:.1f}" y="{cy + 1:.1f}">{html.escape(_node_text(node)[:8])}</text>')
        parts.append(f'<text x="{cx:.1f}" y="{cy + 19:.1f}" font-size="11" fill="#a33">'
                     f"{html.escape(str(value)[:12])}</text>")  # fmt: skip
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


TREE_VERB = Verb(name="tree", help="predict from bracketed trees (or Python functions) with each node's value",
                 options=TreeOptions, run=run_tree, what="trees", format=format_tree_result,
                 read_file=read_tree_inputs, artifacts=True,
                 description="predict from bracketed trees such as '[MAX 2 9 [MIN 4 7 ] 0 ]' (or, for a program "
                 "model, Python source: a def, or --input FILE.py) and show what the model answers for every "
                 "node's subtree")  # fmt: skip

