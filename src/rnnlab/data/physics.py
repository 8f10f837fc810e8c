"""Mass-spring and n-body gravity systems simulated with numpy, as graphs: the learned-physics data of the
physics task.

    system = random_system(np.random.default_rng(0), masses=6)
    x, v = simulate(system, steps=50)              # positions and velocities (51, n, 2)
    graph = spring_graph(system, x[0], v[0])       # nodes: masses, edges: springs (both directions)
    planets = random_nbody(np.random.default_rng(0), bodies=6)
    graph = system_graph(planets, *simulate(planets, 1))    # either kind: nodes bodies, edges every ordered pair

A system is n point masses in the plane joined by springs: a chain (i, i+1) plus each other pair with
probability 0.2; masses uniform in [0.5, 2], stiffness k in [5, 15], rest length L in [0.5, 1.5]. The force
on mass i from a spring to mass j is k (|d| - L) d / |d| with d = x_j - x_i; a damping coefficient c adds
-c v_i (0 in the shipped data, so energy is conserved). The integrator is semi-implicit (symplectic) Euler
with step DT = 0.02:

    v_{t+1} = v_t + a(x_t, v_t) DT,    x_{t+1} = x_t + v_{t+1} DT

whose energy error stays bounded (it oscillates, O(DT)) rather than drifting as explicit Euler's does. The
learned simulator predicts a(x_t, v_t) from the graph and is rolled out with the same update (`rollout`).

Graph features (`spring_graph`): node [v_x, v_y, 1/m, m]; edge k from sender s to receiver r
[d_x, d_y, |d|, k_spring, L] with d = x_s - x_r; no globals. Only relative positions are seen, so the model
is translation invariant.

The registered dataset `mass-spring` (generated, seed 2018): 5-8 masses for train (400 systems) and valid
(50); 4 and 9 masses for test (50 each), each simulated for 60 steps from rest lengths stretched at random.
Only the systems are cached (JSON); `trajectories(systems)` simulates them again (deterministic).

**n-body gravity** (`NBodySystem`, `random_nbody`; Battaglia et al.'s other physics example): n bodies in the
plane pulling on each other with softened (Plummer) gravity, G = 1 and softening EPS = 0.2,

    a_i = Σ_{j≠i} G m_j d_ij / (|d_ij|² + EPS²)^{3/2},   d_ij = x_j - x_i,
    E   = Σ m v²/2 - Σ_{i<j} G m_i m_j / (|d_ij|² + EPS²)^{1/2}

(the softening bounds the pull of a close pass: at most 0.385 G m_j / EPS² ≈ 9.6 m_j), integrated by the
same semi-implicit Euler at the same DT. Forces come in opposite pairs, so momentum is conserved exactly.
The energy error is first order in DT and does not drift: over the 60 steps of the data its median is 0.3%
of the energy (at most 3%, 120 systems), over 400 steps 2% (90th percentile 9%: a planet thrown close to
the star by a neighbour takes a large step error; at DT / 4 the same figures are a quarter). A system is a
star (body 0, mass U[4, 6]) and n - 1 planets (masses U[0.1, 0.5]) at distances U[1, 3] from it in random
directions, each started on a roughly circular orbit, v = sqrt(G M(<r) / r) times U[0.9, 1.1] perpendicular
to its radius with M(<r) the mass inside its orbit, all turning the same way (chosen at random); then the
centre of mass is moved to the origin and its velocity removed, so the system stays bound and in view. Graph
(`nbody_graph`): fully connected (every ordered pair, n(n-1) edges), node [v_x, v_y, m], edge from sender s
to receiver r [d_x, d_y, |d|] with d = x_s - x_r; no globals. The registered dataset `n-body` (seed 2024)
has the same splits and sizes as `mass-spring`: 5-8 bodies for train and valid, 4 and 9 for test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnlab.data.registry import DatasetEntry, Source, register_dataset, register_kind
from rnnlab.errors import DataError
from rnnlab.nn.graph import Graphs, graph_from_tensors

__all__ = ["DT", "EPS", "G", "NODE_FEATURES", "EDGE_FEATURES", "NBodySystem", "SpringSystem", "Trajectory", "energy",
           "nbody_graph", "random_nbody", "random_of", "random_system", "simulate", "spring_graph", "system_graph",
           "accelerations", "trajectories"]  # fmt: skip

DT = 0.02
SEED = 2018
NODE_FEATURES, EDGE_FEATURES = 4, 5
STEPS = 60
G, EPS = 1.0, 0.2  # n-body: the gravitational constant and the softening length
NBODY_SEED = 2024
#: split -> (number of systems, the mass counts drawn from)
SPLITS = {"train": (400, (5, 6, 7, 8)), "valid": (50, (5, 6, 7, 8)), "test": (100, (4, 9))}


def _check_masses(masses: np.ndarray, when_empty: str) -> int:
    """The number of masses, after refusing none at all and any zero, negative or non-finite one."""
    if len(masses) == 0:
        raise DataError(when_empty)
    if not np.all(np.isfinite(masses)) or np.any(masses <= 0):
        raise DataError(f"masses must be positive and finite, got {np.round(masses, 4).tolist()}")
    return len(masses)


@dataclass(frozen=True)
class SpringSystem:
    """masses (n,), springs (S, 2) index pairs, stiffness (S,), rest (S,), damping c, initial x0, v0 (n, 2)."""

    masses: np.ndarray
    springs: np.ndarray
    stiffness: np.ndarray
    rest: np.ndarray
    x0: np.ndarray
    v0: np.ndarray
    damping: float = 0.0

    def __post_init__(self) -> None:
        n = _check_masses(self.masses, "a mass-spring system needs at least one mass")
        if self.springs.size and (self.springs.min() < 0 or self.springs.max() >= n):
            raise DataError(f"a spring joins a mass that does not exist (masses 0..{n - 1})")
        if np.any(self.stiffness < 0) or np.any(self.rest < 0) or self.damping < 0:
            raise DataError("stiffness, rest lengths and damping must not be negative")
        if self.x0.shape != (n, 2) or self.v0.shape != (n, 2):
            raise DataError(f"x0 and v0 must be ({n}, 2), got {self.x0.shape} and {self.v0.shape}")

    def to_json(self) -> dict:
        return {key: getattr(self, key).tolist() for key in ("masses", "springs", "stiffness", "rest", "x0", "v0")} | {
            "damping": self.damping}  # fmt: skip

    @staticmethod
    def from_json(data: dict) -> SpringSystem:
        arrays = {key: np.asarray(data[key], dtype=np.float64) for key in ("masses", "stiffness", "rest", "x0", "v0")}
        springs = np.asarray(data["springs"], dtype=np.int64).reshape(-1, 2)
        return SpringSystem(springs=springs, damping=float(data.get("damping", 0.0)), **arrays)


def random_system(rng: np.random.Generator, masses: int, damping: float = 0.0) -> SpringSystem:
    """A random connected system of `masses` masses at rest-ish: positions on a circle with noise, small
    random velocities (see the module docstring for the distributions)."""
    pairs = [(i, i + 1) for i in range(masses - 1)]
    pairs += [(i, j) for i in range(masses) for j in range(i + 2, masses) if rng.random() < 0.2]
    springs = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    angle = 2 * np.pi * np.arange(masses) / masses
    radius = 0.5 * masses / np.pi
    x0 = radius * np.stack([np.cos(angle), np.sin(angle)], 1) + rng.normal(0, 0.3, (masses, 2))
    return SpringSystem(masses=rng.uniform(0.5, 2.0, masses), springs=springs,
                        stiffness=rng.uniform(5, 15, len(springs)), rest=rng.uniform(0.5, 1.5, len(springs)),
                        x0=x0, v0=rng.normal(0, 0.5, (masses, 2)), damping=damping)  # fmt: skip


def accelerations(system: SpringSystem | NBodySystem, x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(n, 2): the spring forces (and damping) on each mass, over its mass (n-body: gravity's pull)."""
    if isinstance(system, NBodySystem):
        return gravity(system, x)
    force = np.zeros_like(x)
    if len(system.springs):
        i, j = system.springs[:, 0], system.springs[:, 1]
        d = x[j] - x[i]
        length = np.linalg.norm(d, axis=1, keepdims=True)
        pull = system.stiffness[:, None] * (length - system.rest[:, None]) * d / np.maximum(length, 1e-9)
        np.add.at(force, i, pull)
        np.add.at(force, j, -pull)
    return (force - system.damping * v) / system.masses[:, None]


def simulate(system: SpringSystem | NBodySystem, steps: int, dt: float = DT) -> tuple[np.ndarray, np.ndarray]:
    """Positions and velocities (steps + 1, n, 2) by semi-implicit Euler from (x0, v0)."""
    xs, vs = [system.x0.copy()], [system.v0.copy()]
    for _ in range(steps):
        v = vs[-1] + accelerations(system, xs[-1], vs[-1]) * dt
        xs.append(xs[-1] + v * dt)
        vs.append(v)
    return np.stack(xs), np.stack(vs)


def energy(system: SpringSystem | NBodySystem, x: np.ndarray, v: np.ndarray) -> float:
    """Kinetic plus spring potential energy, Σ m v²/2 + Σ k (|d| - L)²/2 (n-body: plus softened gravity's)."""
    kinetic = 0.5 * float((system.masses[:, None] * v**2).sum())
    if isinstance(system, NBodySystem):
        d = x[None, :, :] - x[:, None, :]  # d[i, j] = x_j - x_i
        pair = system.masses[:, None] * system.masses[None, :] / np.sqrt((d**2).sum(-1) + EPS**2)
        return kinetic - 0.5 * G * float(pair.sum() - np.trace(pair))  # each pair once, no self-pairs
    if not len(system.springs):
        return kinetic
    d = x[system.springs[:, 1]] - x[system.springs[:, 0]]
    stretch = np.linalg.norm(d, axis=1) - system.rest
    return kinetic + 0.5 * float((system.stiffness * stretch**2).sum())


def spring_graph(system: SpringSystem, x: np.ndarray, v: np.ndarray, check: bool = True) -> Graphs:
    """The state as a graph (features in the module docstring): n nodes, 2S edges, no globals. `check:
    false` for states a model rolled out (a diverged rollout's NaN becomes a NaN metric, not an error)."""
    i, j = system.springs[:, 0], system.springs[:, 1]
    senders, receivers = np.concatenate([i, j]), np.concatenate([j, i])
    d = x[senders] - x[receivers]
    k, rest = np.concatenate([system.stiffness] * 2), np.concatenate([system.rest] * 2)
    edges = np.concatenate([d, np.linalg.norm(d, axis=1, keepdims=True), k[:, None], rest[:, None]], 1)
    nodes = np.concatenate([v, 1 / system.masses[:, None], system.masses[:, None]], 1)
    return graph_from_tensors(torch.tensor(nodes, dtype=torch.float32), torch.from_numpy(senders),
                              torch.from_numpy(receivers), torch.tensor(edges, dtype=torch.float32).reshape(-1, 5),
                              torch.zeros(0), where="mass-spring system", check=check)  # fmt: skip


# ------------------------------------------------------------------------------------------ n-body gravity
@dataclass(frozen=True)
class NBodySystem:
    """n bodies under softened gravity (module docstring): masses (n,), initial x0, v0 (n, 2)."""

    masses: np.ndarray
    x0: np.ndarray
    v0: np.ndarray

    def __post_init__(self) -> None:
        n = _check_masses(self.masses, "an n-body system needs at least one body")
        if self.x0.shape != (n, 2) or self.v0.shape != (n, 2):
            raise DataError(f"x0 and v0 must be ({n}, 2), got {self.x0.shape} and {self.v0.shape}")
        if not (np.all(np.isfinite(self.x0)) and np.all(np.isfinite(self.v0))):
            raise DataError("x0 and v0 must be finite")

    def to_json(self) -> dict:
        return {key: getattr(self, key).tolist() for key in ("masses", "x0", "v0")}

    @staticmethod
    def from_json(data: dict) -> NBodySystem:
        return NBodySystem(**{key: np.asarray(data[key], dtype=np.float64) for key in ("masses", "x0", "v0")})


def random_nbody(rng: np.random.Generator, bodies: int) -> NBodySystem:
    """A star and `bodies - 1` planets on roughly circular orbits, centre of mass at rest at the origin (see
    the module docstring for the distributions)."""
    masses = np.concatenate([rng.uniform(4.0, 6.0, 1), rng.uniform(0.1, 0.5, bodies - 1)])
    radius = np.concatenate([[0.0], rng.uniform(1.0, 3.0, bodies - 1)])
    angle = rng.uniform(0, 2 * np.pi, bodies)
    outward = np.stack([np.cos(angle), np.sin(angle)], 1)
    x = radius[:, None] * outward
    turn = rng.choice([-1.0, 1.0])  # every planet turns the same way
    inside = np.array([masses[radius < r].sum() for r in radius])  # the star and the planets inside the orbit
    speed = np.sqrt(G * inside / np.maximum(radius, 1e-9)) * rng.uniform(0.9, 1.1, bodies)
    speed[0] = 0.0
    v = turn * speed[:, None] * np.stack([-outward[:, 1], outward[:, 0]], 1)  # perpendicular to the radius
    total = masses.sum()
    x -= (masses[:, None] * x).sum(0) / total  # centre of mass at the origin, at rest
    v -= (masses[:, None] * v).sum(0) / total
    return NBodySystem(masses=masses, x0=x, v0=v)


def gravity(system: NBodySystem, x: np.ndarray) -> np.ndarray:
    """(n, 2): a_i = Σ_j G m_j d_ij / (|d_ij|² + EPS²)^{3/2}, d_ij = x_j - x_i (d_ii = 0 adds nothing)."""
    d = x[None, :, :] - x[:, None, :]
    inverse = ((d**2).sum(-1) + EPS**2) ** -1.5
    return G * np.einsum("ij,j,ijk->ik", inverse, system.masses, d)


def nbody_graph(system: NBodySystem, x: np.ndarray, v: np.ndarray, check: bool = True) -> Graphs:
    """The state as a fully connected graph: n nodes [v, m], n(n-1) edges [d, |d|] with d = x_s - x_r, no
    globals (`check` as in `spring_graph`)."""
    n = len(system.masses)
    senders, receivers = (index.ravel() for index in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    keep = senders != receivers
    senders, receivers = senders[keep], receivers[keep]
    d = x[senders] - x[receivers]
    edges = np.concatenate([d, np.linalg.norm(d, axis=1, keepdims=True)], 1)
    nodes = np.concatenate([v, system.masses[:, None]], 1)
    return graph_from_tensors(torch.tensor(nodes, dtype=torch.float32), torch.from_numpy(senders),
                              torch.from_numpy(receivers), torch.tensor(edges, dtype=torch.float32).reshape(-1, 3),
                              torch.zeros(0), where="n-body system", check=check)  # fmt: skip


def system_graph(system: SpringSystem | NBodySystem, x: np.ndarray, v: np.ndarray, check: bool = True) -> Graphs:
    """Either kind of system's state as the graph its model reads (`spring_graph` or `nbody_graph`)."""
    return nbody_graph(system, x, v, check) if isinstance(system, NBodySystem) else spring_graph(system, x, v, check)


#: dataset name -> (a random system of n bodies, the system class, the generator's seed)
KINDS = {"mass-spring": (random_system, SpringSystem, SEED), "n-body": (random_nbody, NBodySystem, NBODY_SEED)}


def random_of(dataset: str, rng: np.random.Generator, count: int) -> SpringSystem | NBodySystem:
    """A random system of `count` masses / bodies of the kind `dataset` ("mass-spring" or "n-body") holds."""
    return KINDS[dataset][0](rng, count)


# ---------------------------------------------------------------------------------------------- datasets
@dataclass(frozen=True)
class Trajectory:
    """A system and its simulated positions and velocities (steps + 1, n, 2)."""

    system: SpringSystem | NBodySystem
    x: np.ndarray
    v: np.ndarray


def make_systems(seed: int, dataset: str = "mass-spring") -> dict[str, list[SpringSystem | NBodySystem]]:
    """The dataset's systems per split (a pure function of the seed)."""
    rng = np.random.default_rng(seed)
    return {split: [random_of(dataset, rng, int(rng.choice(sizes))) for _ in range(count)]
            for split, (count, sizes) in SPLITS.items()}  # fmt: skip


def _generate(entry: DatasetEntry, out: Path, seed: int) -> tuple[str, dict[str, int]]:
    systems = make_systems(seed, entry.name)
    for split, items in systems.items():
        (out / f"{split}.json").write_text(json.dumps([s.to_json() for s in items]), encoding="utf-8")
    how = "no damping" if entry.name == "mass-spring" else f"softened gravity, G = {G}, EPS = {EPS}"
    return f"{STEPS} steps of DT = {DT} each, semi-implicit Euler, {how}", {k: len(v) for k, v in systems.items()}


def trajectories(systems: list[SpringSystem | NBodySystem], steps: int = STEPS) -> list[Trajectory]:
    """Each system simulated for `steps` steps."""
    return [Trajectory(s, *simulate(s, steps)) for s in systems]


def _load(entry: DatasetEntry, directory: Path | None) -> dict[str, list[SpringSystem | NBodySystem]]:
    """The systems of each split (simulate them with `trajectories`)."""
    assert directory is not None  # a generated dataset is always cached
    kind = KINDS[entry.name][1]
    return {split: [kind.from_json(item) for item in json.loads((directory / f"{split}.json").read_text())]
            for split in entry.splits}  # fmt: skip


register_kind("graphs", "graphs with node labels or per-node targets (the graph task)")
for name, description in (
    ("mass-spring", "mass-spring systems (5-8 masses for training, 4 and 9 for test), simulated 60 steps: learn one step"),
    ("n-body", "n-body gravity (a star and planets; 5-8 bodies for training, 4 and 9 for test), simulated 60 steps: "
               "learn one step"),
):  # fmt: skip
    register_dataset(DatasetEntry(
        name=name,
        kind="graphs",
        description=description,
        source=Source("generated", "rnnlab.data.physics", seed=KINDS[name][2]),
        licence="CC0 (generated here)",
        attribution="after P. Battaglia et al., Interaction Networks for Learning about Objects, Relations and "
        "Physics (NeurIPS 2016) and Relational inductive biases, deep learning, and graph networks (2018)",
        fetch=_generate,
        load=_load,
        unit="systems",
        sizes={split: count for split, (count, _) in SPLITS.items()},
    ))  # fmt: skip
