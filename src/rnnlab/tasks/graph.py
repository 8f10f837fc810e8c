"""The `graph` and `physics` tasks: graph networks (rnnlab.nn.graph) on a social network, molecules and
learned physics.

    graph    karate    Zachary's karate club: each member's faction from the two leaders' labels (node classes)
             freesolv  a molecule's hydration free energy from its RDKit graph (the regression task's set, split)
             qm9       a molecule's HOMO-LUMO gap (eV), a fixed 20k/2k/2k subset of QM9 (rnnlab.data.qm9)
             files     your molecules: `smiles,target` CSV files (unparseable SMILES skipped, counted, with lines)
    physics  mass-spring  learn one step of a mass-spring simulator (5-8 masses), roll out on 4 and 9 masses
             n-body       the same for n-body gravity (a star and planets, 5-8 bodies; 4 and 9 for test)

Two tasks, not one, because a model directory serves one task's verbs: a graph model answers `smiles`, a
physics model `rollout`. Both keep their presets in configs/graph/ and share everything below.

Models (`model.kind`): `mpnn`, the chapter's message passing (f, g, T steps, shared or not) with a node head
or a graph readout, and `gn`, encode-process-decode around a full GN block. Two modules: this one (config,
what the Trainer trains, the descriptor) and `rnnlab.tasks.graph_predictor` (a trained model loaded,
`rnnlab eval`, the verbs `smiles` and `rollout`). docs/graphs.md has the commands and the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab.config import config_to_dict, data_source, require_sizes
from rnnlab.data.molecules import Molecule, read_molecule_csv, smiles_graph, warn_skipped
from rnnlab.data.registry import get_dataset, load_dataset
from rnnlab.errors import ConfigError, DataError
from rnnlab.nn.graph import GraphModel, GraphModelConfig, concat_graphs
from rnnlab.tasks.graph_predictor import (
    ROLLOUT,
    SMILES,
    GraphCodec,
    GraphPredictor,
    evaluate,
    evaluate_physics,
    format_evaluation,
    load_graph_predictor,
    load_physics_predictor,
    molecule_metrics,
    node_metrics,
    physics_metrics,
    problem_of,
)
from rnnlab.tasks.registry import TaskDescriptor, register_task
from rnnlab.train import EpochBatches, StepOutput, TrainerConfig, TrainSetup, TrainTask, shuffled_indices

# Registering the built-in graph datasets (importing this task module is what makes them known).
import rnnlab.data.karate  # noqa: F401  isort: skip
import rnnlab.data.physics  # noqa: F401  isort: skip
import rnnlab.data.qm9  # noqa: F401  isort: skip
import rnnlab.data.tabular  # noqa: F401  isort: skip  (freesolv)

__all__ = ["DESCRIPTOR", "PHYSICS", "GraphConfig", "GraphDataConfig", "GraphTask", "PhysicsConfig", "PhysicsDataConfig",
           "build", "load_data"]  # fmt: skip

DATASETS = ("karate", "freesolv", "qm9")
#: the validation metrics of each problem (the first: what `trainer.metric` usually is)
METRICS = {"nodes": ("accuracy", "loss", "train_loss"), "molecules": ("rmse", "mae", "r2", "loss"),
           "physics": ("rollout_error", "loss")}  # fmt: skip


# ------------------------------------------------------------------------------------------------ config
@dataclass
class GraphDataConfig:
    dataset: str | None = "karate"  # karate, freesolv, qm9, or files (the smiles,target CSVs below)
    train: str | None = None  # CSV files with a header row
    valid: str | None = None  # none: every 10th training molecule is held out
    test: str | None = None
    smiles_column: str = "smiles"
    target_column: str = "target"
    max_train: int | None = None  # keep at most this many training graphs

    def __post_init__(self) -> None:
        self.dataset = data_source(self, {"train": None, "valid": None, "test": None, "smiles_column": "smiles",
                                          "target_column": "target"})  # fmt: skip
        if self.dataset is not None and self.dataset not in DATASETS:
            raise ConfigError(f"data.dataset: expected one of {', '.join(DATASETS)} or files, got {self.dataset!r}")
        require_sizes(self, "max_train")
        if self.dataset == "karate" and self.max_train is not None:
            raise ConfigError("data.max_train: karate is one graph with two labelled members; expected null")


@dataclass
class GraphConfig:
    data: GraphDataConfig = field(default_factory=GraphDataConfig)
    model: GraphModelConfig = field(default_factory=GraphModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)  # metric: accuracy (karate), rmse ..., loss
    batch_size: int = 32  # graphs per batch (karate: its one graph)
    output_dir: str = "runs/graph"

    def __post_init__(self) -> None:
        require_sizes(self, "batch_size")
        if self.data.dataset is None and not self.data.train:
            raise ConfigError("data: expected a built-in dataset, or data.train (and data.valid) CSV files")


@dataclass
class PhysicsDataConfig:
    dataset: Literal["mass-spring", "n-body"] = "mass-spring"  # generated (rnnlab.data.physics)
    max_train: int | None = None  # keep at most this many training systems (60 one-step samples each)
    max_valid: int | None = None  # roll out at most this many validation systems at each evaluation

    def __post_init__(self) -> None:
        require_sizes(self, "max_train max_valid")


@dataclass
class PhysicsConfig:
    data: PhysicsDataConfig = field(default_factory=PhysicsDataConfig)
    model: GraphModelConfig = field(default_factory=lambda: GraphModelConfig(kind="gn"))
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(metric="rollout_error", mode="min"))
    batch_size: int = 64  # system states per batch
    output_dir: str = "runs/physics"

    def __post_init__(self) -> None:
        require_sizes(self, "batch_size")


# ------------------------------------------------------------------------------------------------- data
def _read_molecules(path: str, data: GraphDataConfig) -> list[Molecule]:
    molecules, skipped = read_molecule_csv(path, data.smiles_column, data.target_column)
    warn_skipped(path, skipped)
    return molecules


def load_data(data: GraphDataConfig | PhysicsDataConfig):
    """What the problem trains on: a KarateClub, or {split: [Molecule]} / {split: [Trajectory]}."""
    if data.dataset == "karate":
        return load_dataset("karate")
    if isinstance(data, PhysicsDataConfig):
        from rnnlab.data.physics import trajectories

        systems = load_dataset(data.dataset)
        systems = {**systems, "train": systems["train"][: data.max_train], "valid": systems["valid"][: data.max_valid]}
        return {split: trajectories(items) for split, items in systems.items()}
    if data.dataset in ("freesolv", "qm9"):
        splits = {}
        name = data.dataset
        kind = "regression" if name == "freesolv" else "graphs"
        for split, rows in load_dataset(get_dataset(name, kind=kind).name).items():
            graphs = [(text, value, smiles_graph(text, f"{name} {split} {i}")) for i, (text, value) in enumerate(rows)]
            splits[split] = [Molecule(t, v, g, f"{name} {split}") for t, v, g in graphs if g is not None]
    else:
        splits = {split: _read_molecules(path, data) if path else []
                  for split, path in (("train", data.train), ("valid", data.valid), ("test", data.test))}  # fmt: skip
        if not splits["valid"]:  # hold out every 10th training molecule
            train = splits["train"]
            splits["valid"] = train[9::10] or train[-1:]
            splits["train"] = [m for i, m in enumerate(train) if i % 10 != 9] if len(train) > 1 else train
    if data.max_train:
        splits["train"] = splits["train"][: data.max_train]
    return splits


# ---------------------------------------------------------------------------------------------- training
class GraphTask(TrainTask):
    """Batches and losses of the three problems (see rnnlab.tasks.graph_predictor)."""

    def __init__(self, config: GraphConfig | PhysicsConfig, predictor: GraphPredictor, loaded, samples) -> None:
        self.config, self.predictor, self.loaded, self.samples = config, predictor, loaded, samples

    @property
    def problem(self) -> str:
        return self.predictor.codec.problem

    def train_batches(self, epoch: int):
        if self.problem == "nodes":  # the one graph, its labelled members: one step per epoch
            club = self.loaded
            return [(club.graph, torch.tensor(club.train), club.labels[club.train])]
        order = shuffled_indices(len(self.samples), self.config.trainer.seed, epoch)
        size = self.config.batch_size
        return EpochBatches([order[s : s + size] for s in range(0, len(order), size)], make=self.encode)

    def encode(self, indices: list[int]):
        """(graphs, targets): the chosen samples' graphs concatenated, their standardised targets."""
        chosen = [self.samples[i] for i in indices]
        return concat_graphs([graph for graph, _ in chosen]), torch.cat([target for _, target in chosen])

    def train_step(self, model: torch.nn.Module, batch) -> StepOutput:
        if self.problem == "nodes":
            graph, members, labels = batch
            return StepOutput(F.cross_entropy(model(graph)[members], labels), num_tokens=len(labels))
        graphs, targets = batch
        out = model(graphs)
        out = out[:, 0] if self.problem == "molecules" else out
        return StepOutput(F.mse_loss(out, targets), num_tokens=len(targets))

    def evaluate(self) -> dict[str, float]:
        predictor, loaded = self.predictor, self.loaded
        if self.problem == "nodes":
            result = node_metrics(predictor, loaded.graph, loaded.labels, loaded.valid, loaded.train)
        elif self.problem == "molecules":
            valid = loaded["valid"]
            result = molecule_metrics(predictor, [m.graph for m in valid], [m.target for m in valid])
        else:
            result = physics_metrics(predictor, loaded["valid"])
        self.predictor.model.train()
        return {key: float(result[key]) for key in METRICS[self.problem]}

    def checkpoint_config(self) -> dict:
        task = PHYSICS if self.problem == "physics" else GRAPH
        return {"task": task, "config": config_to_dict(self.config), "codec": self.predictor.codec.to_json()}


def training_samples(problem: str, loaded, codec: GraphCodec) -> list:
    """(graph, standardised target) pairs: a molecule and its value (1,), or a system's state and its masses'
    accelerations (n, 2) (every step of every training trajectory)."""
    from rnnlab.data.physics import accelerations, system_graph

    if problem == "molecules":
        return [(m.graph, torch.tensor([(m.target - codec.mean) / codec.std])) for m in loaded["train"]]
    samples = []
    for t in loaded["train"]:
        for step in range(len(t.x) - 1):
            target = accelerations(t.system, t.x[step], t.v[step]) / codec.std
            samples.append((system_graph(t.system, t.x[step], t.v[step]), torch.tensor(target, dtype=torch.float32)))
    return samples


def make_codec(problem: str, loaded) -> GraphCodec:
    """Input widths, output width and the targets' scaling, from the training data only."""
    from rnnlab.data.physics import accelerations

    if problem == "nodes":
        return GraphCodec("nodes", loaded.graph.sizes, len(loaded.names), classes=list(loaded.names))
    train = loaded["train"]
    if problem == "molecules":
        values = np.array([m.target for m in train], dtype=np.float64)
        std = float(values.std(ddof=1)) if len(values) > 1 else 1.0
        return GraphCodec("molecules", train[0].graph.sizes, 1, float(values.mean()), std or 1.0)
    first = train[0]
    from rnnlab.data.physics import system_graph

    sizes = system_graph(first.system, first.x[0], first.v[0]).sizes
    values = np.concatenate([accelerations(t.system, x, v) for t in train for x, v in zip(t.x, t.v)])
    return GraphCodec("physics", sizes, 2, 0.0, float(values.std()) or 1.0)


def build(config: GraphConfig | PhysicsConfig) -> TrainSetup:
    """The task and model of `config` for the shared Trainer (`rnnlab train` keeps the best model, by
    `trainer.metric` on the validation data, under <output_dir>/best)."""
    problem = problem_of(config.data.dataset)
    name = config.data.dataset or "files"
    if config.trainer.metric not in METRICS[problem]:
        raise ConfigError(f"trainer.metric: expected one of {', '.join(METRICS[problem])} for {name}, "
                          f"got {config.trainer.metric!r}")  # fmt: skip
    loaded = load_data(config.data)
    if problem != "nodes" and (not loaded["train"] or not loaded["valid"]):
        raise DataError("graph: expected non-empty train and valid data")
    codec = make_codec(problem, loaded)
    samples = [] if problem == "nodes" else training_samples(problem, loaded, codec)
    torch.manual_seed(config.trainer.seed)
    model = GraphModel(config.model, codec.sizes, codec.output_size, codec.level)
    predictor = GraphPredictor(model, codec, config)
    parameters = sum(p.numel() for p in model.parameters())
    count = 1 if problem == "nodes" else len(loaded["train"])
    banner = (f"rnnlab: {name} ({problem}), {count:,} training {'systems' if problem == 'physics' else 'graphs'}, "
              f"{len(samples):,} samples, {config.model.kind}, {parameters:,} parameters")  # fmt: skip
    model.train()
    return TrainSetup(task=GraphTask(config, predictor, loaded, samples), model=model, banner=banner)


GRAPH, PHYSICS = "graph", "physics"

DESCRIPTOR = register_task(TaskDescriptor(
    name=GRAPH,
    summary="graph networks: karate-club factions, molecule properties from RDKit graphs (FreeSolv, your CSVs)",
    docs="docs/graphs.md",
    config_class=GraphConfig,
    build=build,
    load=load_graph_predictor,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(SMILES,),
))  # fmt: skip

PHYSICS_DESCRIPTOR = register_task(TaskDescriptor(
    name=PHYSICS,
    summary="a graph network learns a mass-spring or n-body gravity simulator's step and is rolled out (4-9 masses)",
    docs="docs/graphs.md#learned-physics",
    config_class=PhysicsConfig,
    config_folder="graph",
    build=build,
    load=load_physics_predictor,
    evaluate=evaluate_physics,
    format_eval=format_evaluation,
    verbs=(ROLLOUT,),
))  # fmt: skip
