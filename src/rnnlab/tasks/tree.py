"""The `tree` task: a label (a class, a number, or a function's name) from a tree, with a recursive network.

    [MAX 2 9 [MIN 4 7 ] 0 ] --every node's word or label embedded--> Child-Sum Tree-LSTM, level by level
        --the root's state--> MLP head --> "9"

Data (`data.dataset`): `listops` (generated, `rnnlab.data.listops`), `stdlib-methods` (this Python's standard
library, a function's name from its body's syntax tree: `rnnlab.data.program_trees`), or `files`: your own
`label<TAB>tree` TSV files (`rnnlab.data.tree_files`, either bracket style), classes or numbers as
`data.labels` says. Models (`model.encoder`, `rnnlab.nn.tree_classifier`): the tree encoders `tree_lstm`,
`nary_lstm`, `recursive` and the sequence baselines `lstm`, `bilstm`, `bag`, which read the same example's
token sequence instead (`data.sequence`).

Two modules: this one (config, what the Trainer trains, the descriptor) and `rnnlab.tasks.tree_predictor`
(a trained model loaded, `rnnlab eval`, the `tree` verb). docs/trees.md has the commands and the results.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Literal

import torch

from rnnlab.config import config_to_dict, data_source, require, require_sizes
from rnnlab.data.sentence_trees import SENTENCE_DATASETS, shaped
from rnnlab.data.tree_files import TreeExample, check_tree, read_tree_file
from rnnlab.data.vocab import PAD_ID, Vocabulary
from rnnlab.errors import ConfigError, DataError
from rnnlab.labelling.batches import bucketed_batches
from rnnlab.labelling.splits import labelled_splits
from rnnlab.nn.tree_classifier import TREE_ENCODERS, TreeModel, TreeModelConfig
from rnnlab.tasks.registry import TaskDescriptor, register_task
from rnnlab.tasks.tree_predictor import (
    TREE_VERB,
    TreeCodec,
    TreePredictor,
    children_limit,
    evaluate,
    format_evaluation,
    load_tree_predictor,
)
from rnnlab.train import EpochBatches, StepOutput, TrainerConfig, TrainSetup, TrainTask

# Registering the built-in tree datasets (importing this task module is what makes them known).
import rnnlab.data.listops  # noqa: F401  isort: skip
import rnnlab.data.program_trees  # noqa: F401  isort: skip
import rnnlab.data.sentence_trees  # noqa: F401  isort: skip

__all__ = ["DESCRIPTOR", "TreeConfig", "TreeDataConfig", "TreeTask", "build", "load_splits"]

TASK = "tree"

#: the validation metrics of each label kind (the first: what `trainer.metric` usually is)
METRICS = {"classes": ("accuracy", "loss"), "numbers": ("rmse", "mae", "r2", "loss"),
           "subtokens": ("f1", "precision", "recall", "exact", "loss")}  # fmt: skip


# ------------------------------------------------------------------------------------------------ config
@dataclass
class TreeDataConfig:
    dataset: str | None = "listops"  # a registered dataset of kind "trees", or "files" (null) for the files below
    train: str | None = None  # label<TAB>tree files, either bracket style
    valid: str | None = None  # none: every 10th training tree is held out
    test: str | None = None
    labels: Literal["classes", "numbers"] = "classes"  # what the files' label column holds (files only)
    sequence: Literal["tokens", "leaves"] = "tokens"  # what lstm / bilstm / bag read (see docs/trees.md)
    binarize: bool = False  # tree encoders read ListOps' left-branching binary form of each tree
    subtrees: bool = False  # listops: every inner operation of a training tree is also an example (its value)
    node_labels: bool = False  # listops, tree encoders: the loss is on every operation node (its value), one pass
    shape: Literal["parse", "left", "balanced"] = "parse"  # sentences: the parse, or a fixed tree (docs)
    max_depth: int = 200  # trees deeper than this (edges from the root) are refused
    max_train: int | None = None  # keep at most this many training trees (spread evenly)
    min_freq: int = 1  # vocabulary: symbols seen fewer times in training become <unk>
    max_vocab: int | None = None  # vocabulary size limit (specials included)

    def __post_init__(self) -> None:
        # files only: the file paths and what their label column holds
        self.dataset = data_source(self, {"train": None, "valid": None, "test": None, "labels": "classes"})
        require_sizes(self, "max_depth", high=100_000)  # tree depth: nodes along a path from the root
        require_sizes(self, "min_freq max_train")
        require_sizes(self, "max_vocab", low=5)  # specials included: <pad> <unk> <s> </s> and one token
        require(self.shape == "parse" or self.dataset in SENTENCE_DATASETS, "shape",
                f"parse with data.dataset {self.dataset or 'files'} ('left' and 'balanced' are trees over the words "
                f"of a sentence dataset: {', '.join(SENTENCE_DATASETS)})",
                self.shape)  # fmt: skip
        require(not self.subtrees or self.dataset == "listops", "subtrees",
                "false unless data.dataset is listops (the one dataset whose inner nodes' labels are known)",
                self.subtrees)  # fmt: skip
        require(not self.node_labels or (self.dataset in ("listops", None) and self.labels == "classes"
                                         and not self.subtrees and not self.binarize),
                "node_labels", "false unless the trees are ListOps expressions (data.dataset listops or files, "
                "data.labels classes), with data.subtrees and data.binarize false", self.node_labels)  # fmt: skip


@dataclass
class TreeConfig:
    data: TreeDataConfig = field(default_factory=TreeDataConfig)
    model: TreeModelConfig = field(default_factory=TreeModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)  # metric: accuracy, rmse, f1 or loss
    batch_size: int = 64
    eval_batch_size: int = 256
    output_dir: str = "runs/tree"

    def __post_init__(self) -> None:
        require_sizes(self, "batch_size eval_batch_size")


def load_splits(data: TreeDataConfig) -> dict[str, list[TreeExample]]:
    """train / valid / test examples: the registered dataset's, or the configured files' (checked against
    `data.max_depth`)."""

    def read(path: str) -> list[TreeExample]:
        examples = read_tree_file(path, data.labels)
        for example in examples:
            check_tree(example.tree, example.where, data.max_depth)
        return examples

    section = SimpleNamespace(dataset=data.dataset, train=data.train, valid=data.valid, test=data.test,
                              max_train_sentences=data.max_train)  # fmt: skip
    splits = labelled_splits(section, "trees", read, "a label<TAB>tree file")
    if data.subtrees:  # validation and test stay whole trees
        from rnnlab.data.listops import subtree_examples

        splits = dict(splits, train=[*splits["train"], *subtree_examples(splits["train"])])
    return {name: shaped(examples, data.shape, data.dataset) for name, examples in splits.items()}


def label_kind(examples: list[TreeExample]) -> str:
    label = examples[0].label
    return "subtokens" if isinstance(label, tuple) else "numbers" if isinstance(label, float) else "classes"


def make_codec(config: TreeConfig, train: list[TreeExample], kind: str) -> TreeCodec:
    """The vocabulary, label set and target scaling, from the training examples only."""
    codec = TreeCodec(Vocabulary.build([]), kind, [], config.model.reads_trees, config.data.sequence,
                      config.data.binarize)
    codec.vocab = Vocabulary.build((codec.model_tokens(x) for x in train), config.data.min_freq, config.data.max_vocab)
    if kind == "classes":
        codec.labels = sorted({str(x.label) for x in train})
        if len(codec.labels) < 2:
            raise DataError(f"training data has {len(codec.labels)} label(s); a classifier needs at least 2")
    elif kind == "numbers":
        values = torch.tensor([float(x.label) for x in train], dtype=torch.float64)
        codec.mean = float(values.mean())
        codec.std = (float(values.std()) if len(values) > 1 else 1.0) or 1.0
    else:
        places: dict[str, list[float]] = defaultdict(list)
        for example in train:
            for i, token in enumerate(example.label):
                places[token].append(i / max(1, len(example.label) - 1))
        counts = Counter(token for example in train for token in example.label)
        codec.labels = sorted(counts, key=lambda token: (-counts[token], token))
        codec.positions = {token: round(sum(p) / len(p), 4) for token, p in places.items()}
    return codec


def listops_node_values(examples: list[TreeExample]) -> list[list[int | None]]:
    """`data.node_labels`: every node's value of each ListOps tree (`rnnlab.data.listops.node_values`, pre-order,
    None at the digits below the root), checked against the example's label: a tree that is not a ListOps expression whose
    value is its label is refused with its file and line."""
    from rnnlab.data.listops import node_values

    values = []
    for example in examples:
        try:
            nodes = node_values(example.tree)  # a bare digit: its root is the one node with a value
        except (ValueError, TypeError) as error:  # an unknown operator, a leaf that is not a digit
            raise DataError(f"{example.where}: data.node_labels needs ListOps expressions: {error}") from None
        if str(nodes[0]) != str(example.label):
            raise DataError(f"{example.where}: data.node_labels needs ListOps expressions labelled with their "
                            f"value: the tree's value is {nodes[0]}, its label {example.label!r}")  # fmt: skip
        values.append(nodes)
    return values


def node_targets(values: list[list[int | None]], codec: TreeCodec) -> tuple[torch.Tensor, torch.Tensor]:
    """(the batch indices (K,) of every operation node of these trees, their values as class indices (K,)),
    from `listops_node_values` of the batch's trees, nodes numbered as `batch_trees` numbers them (tree after
    tree, pre-order). The roots are among them, so the loss is the mean over every operation node of the
    batch: the root's label and each inner node's own value, from one pass over the whole trees."""
    index = {label: i for i, label in enumerate(codec.labels)}
    nodes, targets, offset = [], [], 0
    for tree_values in values:
        for position, value in enumerate(tree_values):
            if value is not None:
                nodes.append(offset + position)
                targets.append(index.get(str(value), -100))
        offset += len(tree_values)
    return torch.tensor(nodes, dtype=torch.long), torch.tensor(targets, dtype=torch.long)


# ---------------------------------------------------------------------------------------------- training
class TreeTask(TrainTask):
    """Size-bucketed batches of trees (or their token sequences), the label kind's loss and metrics."""

    def __init__(self, config: TreeConfig, predictor: TreePredictor, splits: dict[str, list[TreeExample]]) -> None:
        self.config, self.predictor, self.splits = config, predictor, splits
        codec = predictor.codec
        self.sizes = [x.tree.size() if codec.reads_trees else len(codec.sequence_of(x)) for x in splits["train"]]
        self.node_values = listops_node_values(splits["train"]) if config.data.node_labels else None

    def train_batches(self, epoch: int):
        batches = bucketed_batches(self.sizes, self.config.batch_size, self.config.trainer.seed, epoch)
        return EpochBatches(batches, make=self.encode)

    def encode(self, indices: list[int]):
        """(a TreeBatch or SequenceBatch, targets, the nodes the targets are for or None for the roots):
        tensors only, so the Trainer moves them to its device."""
        examples = [self.splits["train"][i] for i in indices]
        codec = self.predictor.codec
        inputs = codec.encode_inputs(examples)
        if self.node_values is not None:
            nodes, targets = node_targets([self.node_values[i] for i in indices], codec)
            return inputs, targets, nodes
        return inputs, codec.encode_targets(examples), None

    def train_step(self, model: torch.nn.Module, batch) -> StepOutput:
        inputs, targets, nodes = batch
        loss = self.predictor.codec.loss(model(inputs, nodes=nodes), targets)
        return StepOutput(loss, num_tokens=inputs.num_trees if nodes is not None else len(targets))

    def evaluate(self) -> dict[str, float]:
        result = self.predictor.evaluate(self.splits["valid"], self.config.eval_batch_size)
        self.predictor.model.train()
        return {key: float(result[key]) for key in METRICS[self.predictor.codec.kind]}

    def checkpoint_config(self) -> dict:
        return {"task": TASK, "config": config_to_dict(self.config), "codec": self.predictor.codec.to_json()}

    def checkpoint_files(self) -> dict[str, str]:
        import json

        return {"vocab.json": json.dumps({"tokens": self.predictor.codec.vocab.tokens}, ensure_ascii=False)}


def build(config: TreeConfig) -> TrainSetup:
    """The task and model of `config` for the shared Trainer (`rnnlab train` keeps the best model, by
    `trainer.metric` on the validation trees, under <output_dir>/best)."""
    splits = load_splits(config.data)
    train = splits["train"]
    if not train or not splits["valid"]:
        raise DataError("tree: expected non-empty train and valid trees")
    kind = label_kind(train)
    if config.trainer.metric not in METRICS[kind]:
        raise ConfigError(f"trainer.metric: expected one of {', '.join(METRICS[kind])} for {kind} labels, "
                          f"got {config.trainer.metric!r}")  # fmt: skip
    if config.data.node_labels and not config.model.reads_trees:
        raise ConfigError(f"data.node_labels: expected a tree encoder ({', '.join(TREE_ENCODERS)}), got "
                          f"model.encoder {config.model.encoder!r} (a sequence model reads data.subtrees instead)")
    limit = children_limit(config)
    if limit is not None:
        for example in train:
            check_tree(example.tree, example.where, max_children=limit)
    codec = make_codec(config, train, kind)
    torch.manual_seed(config.trainer.seed)
    model = TreeModel(config.model, len(codec.vocab), codec.output_size, pad_id=PAD_ID)
    predictor = TreePredictor(model, codec, config)
    parameters = sum(p.numel() for p in model.parameters())
    banner = (f"rnnlab: tree: {len(train):,} training trees ({kind}), {len(codec.vocab):,} symbols, "
              f"{config.model.encoder}, {parameters:,} parameters")  # fmt: skip
    model.train()
    return TrainSetup(task=TreeTask(config, predictor, splits), model=model, banner=banner)


DESCRIPTOR = register_task(TaskDescriptor(
    name=TASK,
    summary="a label, number or name from a tree (ListOps, Python functions, your trees) with Tree-LSTMs",
    docs="docs/trees.md",
    config_class=TreeConfig,
    build=build,
    load=load_tree_predictor,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(TREE_VERB,),
))  # fmt: skip
