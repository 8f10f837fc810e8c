"""A trained graph model, loaded (`GraphPredictor`, `load_graph_predictor`), and what it is used for:
`rnnlab eval` and the verbs `smiles` (task `graph`: a molecule's property from its SMILES) and `rollout`
(task `physics`: a learned mass-spring or n-body simulation, true vs learned, as PNG frames and a GIF).

    predictor = load_graph_predictor("runs/graph-freesolv")     # a run directory: uses best/
    predictor.predict_molecules([smiles_graph("CCO")])          # [-4.6...] (kcal/mol)

The problem a model solves follows from its data (`GraphCodec.problem`):
  nodes      karate: a class per node (faction), cross-entropy on the labelled members; accuracy
  molecules  freesolv or your `smiles,target` CSVs: a number per graph, MSE on standardised targets; RMSE
  physics    mass-spring, n-body: each mass's acceleration (standardised by one scale), MSE; rolled out with the
             simulator's own semi-implicit Euler update (`rnnlab.data.physics`); mean position error
A model directory holds config.json (`"task": "graph"` or `"physics"`, the whole config and the codec) and
the weights.
The training side is `rnnlab.tasks.graph`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab.config import config_from_dict
from rnnlab.errors import CheckpointError, DataError, UserError
from rnnlab.nn.graph import GraphModel, Graphs, GraphSizes, concat_graphs
from rnnlab.numeric_metrics import regression_metrics
from rnnlab.tasks.registry import EvalRequest
from rnnlab.train import load_model_dir, load_model_weights
from rnnlab.verbs import Artifact, Verb

if TYPE_CHECKING:
    from rnnlab.data.physics import NBodySystem, SpringSystem
    from rnnlab.tasks.graph import GraphConfig, PhysicsConfig

__all__ = ["ROLLOUT", "SMILES", "GraphCodec", "GraphPredictor", "evaluate", "evaluate_physics", "format_evaluation",
           "load_graph_predictor", "load_physics_predictor", "problem_of"]  # fmt: skip
Problem = Literal["nodes", "molecules", "physics"]
ROLLOUT_STEPS = 50  # the rollout length
UNITS = {"freesolv": "kcal/mol", "qm9": "eV"}  # of the built-in molecule sets' targets


def problem_of(dataset: str | None) -> Problem:
    """What a dataset asks for: karate → nodes, mass-spring and n-body → physics, freesolv and files → molecules."""
    return "nodes" if dataset == "karate" else "physics" if dataset in ("mass-spring", "n-body") else "molecules"


@dataclass
class GraphCodec:
    """What turns outputs into answers: the problem, input widths, output width, the targets' scaling
    (molecules: mean and std of the training targets; physics: std of the training accelerations) and the
    class names (nodes)."""

    problem: Problem
    sizes: GraphSizes
    output_size: int
    mean: float = 0.0
    std: float = 1.0
    classes: list[str] = field(default_factory=list)

    @property
    def level(self) -> Literal["node", "graph"]:
        return "graph" if self.problem == "molecules" else "node"

    def to_json(self) -> dict:
        return {"problem": self.problem, "sizes": list(self.sizes), "output_size": self.output_size,
                "mean": self.mean, "std": self.std, "classes": self.classes}  # fmt: skip

    @staticmethod
    def from_json(data: dict) -> GraphCodec:
        return GraphCodec(data["problem"], GraphSizes(*map(int, data["sizes"])), int(data["output_size"]),
                          float(data["mean"]), float(data["std"]), list(data["classes"]))  # fmt: skip


class GraphPredictor:
    """A trained GraphModel with its codec: node classes, molecule values, or accelerations and rollouts."""

    def __init__(self, model: GraphModel, codec: GraphCodec, config: GraphConfig | PhysicsConfig) -> None:
        self.model, self.codec, self.config = model, codec, config

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def check_sizes(self, graphs: Graphs, where: str) -> None:
        if graphs.sizes != self.codec.sizes:
            raise DataError(f"{where}: features of widths (node, edge, global) {tuple(graphs.sizes)}, but the model "
                            f"reads {tuple(self.codec.sizes)}")  # fmt: skip

    @torch.no_grad()
    def outputs(self, graphs: Graphs) -> torch.Tensor:
        self.model.eval()
        from rnnlab.train.batches import move_to

        return self.model(move_to(graphs, self.device)).cpu()

    def predict_molecules(self, graphs: Sequence[Graphs], batch_size: int = 256) -> list[float]:
        values: list[float] = []
        for start in range(0, len(graphs), batch_size):
            out = self.outputs(concat_graphs(list(graphs[start : start + batch_size])))
            values += (out[:, 0] * self.codec.std + self.codec.mean).tolist()
        return values

    def accelerations(self, graphs: Graphs) -> torch.Tensor:
        """(N, 2) predicted accelerations of every mass of a batch, in the simulator's units."""
        return self.outputs(graphs) * self.codec.std

    def rollout(self, systems: Sequence[SpringSystem | NBodySystem], steps: int) -> list[np.ndarray]:
        """Each system's learned trajectory (steps + 1, n, 2): predicted accelerations, semi-implicit Euler."""
        from rnnlab.data.physics import DT, system_graph

        xs = [[s.x0.copy()] for s in systems]
        vs = [s.v0.copy() for s in systems]
        for _ in range(steps):
            batch = concat_graphs([system_graph(s, x[-1], v, check=False) for s, x, v in zip(systems, xs, vs)])
            accelerations = self.accelerations(batch).double().numpy()
            offset = 0
            for i, system in enumerate(systems):
                n = len(system.masses)
                vs[i] = vs[i] + accelerations[offset : offset + n] * DT
                xs[i].append(xs[i][-1] + vs[i] * DT)
                offset += n
        return [np.stack(x) for x in xs]


def _load_predictor(path: str | Path, task: str) -> GraphPredictor:
    from rnnlab.tasks.graph import GraphConfig, PhysicsConfig  # not at the top: that module imports this one

    checkpoint = load_model_dir(path, task)
    try:
        config_class = PhysicsConfig if task == "physics" else GraphConfig
        config = config_from_dict(config_class, checkpoint.config["config"], source=str(checkpoint.path))
        codec = GraphCodec.from_json(checkpoint.config["codec"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint.path}: config.json lacks a field ({error})") from None
    model = GraphModel(config.model, codec.sizes, codec.output_size, codec.level)
    load_model_weights(model, checkpoint)
    return GraphPredictor(model.eval(), codec, config)


def load_graph_predictor(path: str | Path) -> GraphPredictor:
    """A trained `graph` model (karate, molecules)."""
    return _load_predictor(path, "graph")


def load_physics_predictor(path: str | Path) -> GraphPredictor:
    """A trained `physics` model (a learned mass-spring or n-body simulator)."""
    return _load_predictor(path, "physics")


# ---------------------------------------------------------------------------------------------- metrics
def node_metrics(predictor: GraphPredictor, graph: Graphs, labels: torch.Tensor, members: list[int],
                 labelled: list[int]) -> dict:  # fmt: skip
    """Accuracy and loss on `members`; train_loss: the loss on the `labelled` members (what model selection
    may use without peeking at the others' labels)."""
    outputs = predictor.outputs(graph)
    logits, gold = outputs[members], labels[members]
    return {"examples": len(members), "accuracy": float((logits.argmax(1) == gold).float().mean()),
            "loss": float(F.cross_entropy(logits, gold)),
            "train_loss": float(F.cross_entropy(outputs[labelled], labels[labelled]))}  # fmt: skip


def molecule_metrics(predictor: GraphPredictor, graphs: Sequence[Graphs], targets: Sequence[float]) -> dict:
    predictions = predictor.predict_molecules(graphs)
    result = regression_metrics(predictions, list(targets))
    standard = (torch.tensor(predictions) - torch.tensor(list(targets))) / predictor.codec.std
    return {**result, "loss": float((standard**2).mean())}


def position_errors(true: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(steps + 1,) the mean distance between true and predicted positions at each step."""
    return np.linalg.norm(true - predicted, axis=-1).mean(axis=-1)


def constant_velocity(x0: np.ndarray, v0: np.ndarray, steps: int) -> np.ndarray:
    from rnnlab.data.physics import DT

    return x0[None] + v0[None] * DT * np.arange(steps + 1)[:, None, None]


def physics_metrics(predictor: GraphPredictor, trajectories: Sequence, steps: int = ROLLOUT_STEPS) -> dict:
    """One-step loss; rollout error (the mean position distance over `steps` steps, and at the last step) of
    the model and of constant velocity, overall and by number of masses."""
    from rnnlab.data.physics import accelerations, system_graph

    graphs, targets = [], []
    for t in trajectories:
        for step in range(0, len(t.x) - 1, 10):
            graphs.append(system_graph(t.system, t.x[step], t.v[step]))
            targets.append(accelerations(t.system, t.x[step], t.v[step]))
    predicted = predictor.accelerations(concat_graphs(graphs))
    gold = torch.tensor(np.concatenate(targets), dtype=torch.float32)
    loss = float(((predicted - gold) / predictor.codec.std).pow(2).mean())
    steps = min(steps, min(len(t.x) for t in trajectories) - 1)
    rollouts = predictor.rollout([t.system for t in trajectories], steps)
    model_errors = [position_errors(t.x[: steps + 1], r) for t, r in zip(trajectories, rollouts)]
    still_errors = [position_errors(t.x[: steps + 1], constant_velocity(t.x[0], t.v[0], steps)) for t in trajectories]
    by_size: dict[str, dict[str, float]] = {}
    for n in sorted({len(t.system.masses) for t in trajectories}):
        chosen = [i for i, t in enumerate(trajectories) if len(t.system.masses) == n]
        by_size[str(n)] = {"systems": len(chosen),
                           "rollout_error": float(np.mean([model_errors[i][1:].mean() for i in chosen])),
                           "constant_velocity_error": float(np.mean([still_errors[i][1:].mean() for i in chosen]))}  # fmt: skip
    return {"examples": len(trajectories), "steps": steps, "loss": loss,
            "rollout_error": float(np.mean([e[1:].mean() for e in model_errors])),
            "final_error": float(np.mean([e[-1] for e in model_errors])),
            "constant_velocity_error": float(np.mean([e[1:].mean() for e in still_errors])),
            "by_masses": by_size}  # fmt: skip


# --------------------------------------------------------------------------------------------------- eval
def evaluate(path: str | Path, request: EvalRequest) -> dict:
    """The problem's metrics on a split of the model's data (or, for a molecule model, a `smiles,target`
    CSV); a karate model adds a picture of its node embeddings."""
    return evaluate_predictor(load_graph_predictor(path), request)


def evaluate_physics(path: str | Path, request: EvalRequest) -> dict:
    """One-step loss and 50-step rollout errors (model, constant velocity) on a split, by number of masses."""
    return evaluate_predictor(load_physics_predictor(path), request)


def evaluate_predictor(predictor: GraphPredictor, request: EvalRequest) -> dict:
    from rnnlab.data.molecules import read_molecule_csv, warn_skipped
    from rnnlab.tasks.graph import load_data

    data, problem = predictor.config.data, predictor.codec.problem
    if request.data_file and problem != "molecules":
        raise UserError(f"eval --data reads a smiles,target CSV, for a molecule model; this model's data is {data.dataset}")
    result: dict = {"problem": problem, "model": predictor.config.model.kind}
    if request.data_file:
        molecules, skipped = read_molecule_csv(request.data_file, data.smiles_column, data.target_column)
        warn_skipped(request.data_file, skipped)
        for molecule in molecules:
            predictor.check_sizes(molecule.graph, molecule.where)
        result.update(data=request.data_file, skipped_lines=skipped,
                      **molecule_metrics(predictor, [m.graph for m in molecules], [m.target for m in molecules]))
        return result
    loaded = load_data(data)
    result["data"] = f"{data.dataset or 'files'} {request.split}"
    if data.dataset in UNITS:  # the built-in molecule sets' target unit (RMSE and MAE are in it)
        result["unit"] = UNITS[data.dataset]
    if problem == "nodes":
        members = request.examples_of({"train": loaded.train, "valid": loaded.valid, "test": loaded.test})
        result.update(node_metrics(predictor, loaded.graph, loaded.labels, list(members), loaded.train))
        result["artifacts"] = [embedding_artifact(predictor, loaded)]
    elif problem == "molecules":
        molecules = request.examples_of(loaded)
        result.update(molecule_metrics(predictor, [m.graph for m in molecules], [m.target for m in molecules]))
    else:
        result.update(physics_metrics(predictor, request.examples_of(loaded)))
    return result


def format_evaluation(result: dict) -> str:
    head = f"{result['data']}: {result['examples']} "
    if result["problem"] == "nodes":
        return head + f"members  accuracy {result['accuracy']:.4f}  loss {result['loss']:.4f}"
    if result["problem"] == "molecules":
        skipped = f"  ({len(result['skipped_lines'])} unparseable SMILES skipped)" if result.get("skipped_lines") else ""
        unit = f" {result['unit']}" if result.get("unit") else ""
        return head + (f"molecules  RMSE {result['rmse']:.3f}{unit}  MAE {result['mae']:.3f}{unit}  R² {result['r2']:.3f}"
                       f"{skipped}")  # fmt: skip
    lines = [head + f"systems, {result['steps']}-step rollouts: mean position error {result['rollout_error']:.4f} "
             f"(constant velocity {result['constant_velocity_error']:.4f}), at the last step {result['final_error']:.4f}"]
    for n, row in result["by_masses"].items():
        lines.append(f"  {n} masses: {row['systems']} systems  model {row['rollout_error']:.4f}  "
                     f"constant velocity {row['constant_velocity_error']:.4f}")  # fmt: skip
    return "\n".join(lines)


def embedding_artifact(predictor: GraphPredictor, club) -> Artifact:
    """A PNG of the members' last node states (first two principal components), coloured by true faction,
    the two labelled leaders ringed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnnlab.train.batches import move_to

    with torch.no_grad():
        predictor.model.eval()
        states = predictor.model.node_states(move_to(club.graph, predictor.device)).cpu()
    centred = states - states.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    points = (centred @ v[:2].T).numpy()
    figure, axes = plt.subplots(figsize=(5, 4.2))
    for label, name in enumerate(club.names):
        chosen = (club.labels == label).numpy()
        axes.scatter(points[chosen, 0], points[chosen, 1], label=name, s=40)
    axes.scatter(points[club.train, 0], points[club.train, 1], s=160, facecolors="none", edgecolors="black",
                 label="labelled")  # fmt: skip
    for i, (x, y) in enumerate(points):
        axes.annotate(str(i), (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    axes.set_title("karate club: learned node states (PCA)")
    axes.legend(fontsize=8)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return Artifact("image/png", buffer.getvalue(), "karate-embeddings.png")


# ---------------------------------------------------------------------------------------------------- verbs
@dataclass
class SmilesOptions:
    batch_size: int = field(default=256, metadata={"help": "molecules per batch"})


def run_smiles(predictor: GraphPredictor, inputs: list[str], options: SmilesOptions) -> Iterator[dict]:
    """The `smiles` verb: one `{"input", "prediction", "atoms"}` per SMILES string (all parsed first)."""
    from rnnlab.data.molecules import smiles_graphs

    if predictor.codec.problem != "molecules":
        raise UserError(f"smiles: this graph model was trained on {predictor.config.data.dataset}, not molecules")
    graphs = smiles_graphs(inputs)
    for text, graph, value in zip(inputs, graphs, predictor.predict_molecules(graphs, options.batch_size)):
        yield {"input": text, "prediction": round(value, 4), "atoms": len(graph.nodes)}


SMILES = Verb(name="smiles", help="predict a molecule's property from its SMILES string (a graph model)",
              options=SmilesOptions, run=run_smiles, what="SMILES strings")  # fmt: skip


@dataclass
class RolloutOptions:
    masses: int = field(default=9, metadata={"help": "masses (n-body: bodies) in the simulated system (2 to 50)"})
    steps: int = field(default=ROLLOUT_STEPS, metadata={"help": "steps to roll out (1 to 1000)"})
    seed: int = field(default=0, metadata={"help": "seed of the random system"})
    frames: int = field(default=6, metadata={"help": "frames in the PNG strip (1 to 20)"})
    gif: bool = field(default=True, metadata={"help": "no animated GIF, only the PNG strip"})


def run_rollout(predictor: GraphPredictor, inputs: list[str], options: RolloutOptions) -> Iterator[dict | Artifact]:
    """The `rollout` verb: a random system of the model's kind (mass-spring or n-body) simulated and rolled
    out by the model; its mean and last-step position errors (and constant velocity's), a PNG strip of frames
    (true: filled, learned: open circles) and an animated GIF."""
    from rnnlab.data.physics import random_of, simulate

    for name, value, low, high in (("masses", options.masses, 2, 50), ("steps", options.steps, 1, 1000),
                                   ("frames", options.frames, 1, 20), ("seed", options.seed, 0, 2**32 - 1)):  # fmt: skip
        if not low <= value <= high:
            raise UserError(f"--{name}: expected an integer from {low} to {high}, got {value}")
    system = random_of(predictor.config.data.dataset, np.random.default_rng(options.seed), options.masses)
    true, _ = simulate(system, options.steps)
    learned = predictor.rollout([system], options.steps)[0]
    errors = position_errors(true, learned)
    still = position_errors(true, constant_velocity(system.x0, system.v0, options.steps))
    yield {"masses": options.masses, "steps": options.steps, "seed": options.seed,
           "rollout_error": round(float(errors[1:].mean()), 5), "final_error": round(float(errors[-1]), 5),
           "constant_velocity_error": round(float(still[1:].mean()), 5)}  # fmt: skip
    yield Artifact("image/png", rollout_strip(system, true, learned, options.frames), "rollout.png")
    if options.gif:
        yield Artifact("image/gif", rollout_gif(system, true, learned), "rollout.gif")


def _draw(axes, system, true: np.ndarray, learned: np.ndarray, limits) -> None:
    for i, j in getattr(system, "springs", ()):  # n-body: every pair pulls, no lines drawn
        axes.plot(true[[i, j], 0], true[[i, j], 1], color="0.75", lw=1, zorder=1)
    size = 30 * system.masses if hasattr(system, "springs") else 25 + 10 * system.masses  # planets stay visible
    axes.scatter(true[:, 0], true[:, 1], s=size, color="tab:blue", zorder=2, label="true")
    axes.scatter(learned[:, 0], learned[:, 1], s=size, facecolors="none", edgecolors="tab:red",
                 zorder=3, label="learned")  # fmt: skip
    axes.set_xlim(*limits[0])
    axes.set_ylim(*limits[1])
    axes.set_aspect("equal")
    axes.set_xticks([])
    axes.set_yticks([])


def _limits(true: np.ndarray, learned: np.ndarray):
    both = np.concatenate([true.reshape(-1, 2), learned.reshape(-1, 2)])
    both = both[np.isfinite(both).all(1)]
    low, high = both.min(0) - 0.3, both.max(0) + 0.3
    side = float((high - low).max())
    middle = (low + high) / 2
    return [(middle[0] - side / 2, middle[0] + side / 2), (middle[1] - side / 2, middle[1] + side / 2)]


def rollout_strip(system, true: np.ndarray, learned: np.ndarray, frames: int) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.linspace(0, len(true) - 1, frames).round().astype(int)
    figure, axes = plt.subplots(1, frames, figsize=(2.2 * frames, 2.5), squeeze=False)
    limits = _limits(true, learned)
    for axis, step in zip(axes[0], steps):
        _draw(axis, system, true[step], learned[step], limits)
        axis.set_title(f"step {step}", fontsize=9)
    axes[0][0].legend(fontsize=7, loc="lower left")
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def rollout_gif(system, true: np.ndarray, learned: np.ndarray) -> bytes:
    """An animated GIF of every second step (of fewer steps for long rollouts: at most about 60 frames)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    limits = _limits(true, learned)
    images = []
    every = max(2, len(true) // 60)
    for step in range(0, len(true), every):
        figure, axis = plt.subplots(figsize=(3, 3))
        _draw(axis, system, true[step], learned[step], limits)
        axis.set_title(f"step {step}", fontsize=9)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=60)
        plt.close(figure)
        images.append(Image.open(io.BytesIO(buffer.getvalue())).convert("P"))
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=80, loop=0)
    return out.getvalue()


ROLLOUT = Verb(name="rollout", help="roll out a learned mass-spring or n-body simulator: errors, PNG frames and a GIF",
               options=RolloutOptions, run=run_rollout, inputs="none", what="a simulation", artifacts=True)  # fmt: skip
