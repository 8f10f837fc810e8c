"""Graph networks against the issue's targets, side by side with their baselines, in one process.

    python benchmarks/graphs.py --out runs/bench-graphs [--minutes 4] [--skip karate,freesolv,physics,speed,qm9,nbody]
        [--qm9-minutes 8] [--nbody-minutes 5]

1. Karate club: accuracy on the 32 unlabelled members (two leaders labelled), seeds 0-9 (target >= 0.94).
2. FreeSolv test split (64 molecules): the GN (configs/graph/freesolv.yaml) vs the character BiGRU of
   configs/regression/freesolv.yaml, same split, each with its preset's epochs (150, 60) capped by the same
   `--minutes` wall-clock budget.
3. Mass-spring: the GN of configs/graph/mass-spring.yaml, an MLP on the same inputs (padded to 9 masses:
   every mass's features and every pair's spring features, flattened) trained on the same samples for the
   same number of epochs, and constant velocity; 50-step rollouts of the 4- and 9-mass test systems.
4. Speed: graphs/s of rnnlab's GN block vs torch_geometric's MetaLayer doing the same computation (same
   φ modules, forward + backward, FreeSolv-sized random graphs), as a ratio from the same run.
5. QM9 HOMO-LUMO gap (eV) on the fixed subset (rnnlab.data.qm9: 20k train, 2k valid, 2k test): the GN of
   configs/graph/qm9-gap.yaml vs an MLP on Morgan fingerprints (radius 2, 2048 bits), each with `--qm9-minutes`
   of training, the MLP's epoch chosen on the validation split; test MAE ratio (target <= 0.7).
6. n-body gravity (a star and planets): the same as 3. with configs/graph/n-body.yaml (trained on 5-8 bodies,
   tested on 4 and 9; the MLP reads every body's [v, m] and every ordered pair's [d, |d|], padded to 9 bodies),
   the GN trained for `--nbody-minutes`, the MLP for as long as the GN took.
One thread (`torch.set_num_threads(1)`), so the numbers hold on a shared machine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from rnnlab.cli import main as rnnlab
from rnnlab.tasks.registry import EvalRequest, get_task, resolve_model_dir

QUIET = ["--trainer.progress", "false", "--trainer.plot", "false", "--trainer.device", "cpu"]


def train(argv: list[str]) -> None:
    if rnnlab(["train", *argv, *QUIET]) != 0:
        raise SystemExit(f"training failed: {argv}")


def evaluate(task: str, run: Path, split: str = "test") -> dict:
    return get_task(task).evaluate(resolve_model_dir(run), EvalRequest(split=split))


# -------------------------------------------------------------------------------------------------- karate
def karate(out: Path) -> list[str]:
    accuracies = []
    for seed in range(10):
        run = out / f"karate-{seed}"
        train(["configs/graph/karate.yaml", "--trainer.seed", str(seed), "--output_dir", str(run)])
        accuracies.append(evaluate("graph", run)["accuracy"])
    shown = ", ".join(f"{a:.3f}" for a in accuracies)
    return [f"| karate club, 32 unlabelled members, seeds 0-9 | accuracy | GN (mpnn) mean {np.mean(accuracies):.3f}, "
            f"min {min(accuracies):.3f} | ({shown}) | target >= 0.94: {'yes' if np.mean(accuracies) >= 0.94 else 'no'} |"]


# ------------------------------------------------------------------------------------------------ freesolv
def freesolv(out: Path, minutes: float) -> list[str]:
    budget = ["--trainer.max_minutes", str(minutes)]  # the same wall clock; each preset's own epochs
    train(["configs/graph/freesolv.yaml", *budget, "--output_dir", str(out / "freesolv-gn")])
    train(["configs/regression/freesolv.yaml", *budget, "--output_dir", str(out / "freesolv-bigru")])
    gn, bigru = evaluate("graph", out / "freesolv-gn"), evaluate("regression", out / "freesolv-bigru")
    return [f"| FreeSolv test, 64 molecules ({minutes:g} min each) | RMSE kcal/mol | GN (mpnn) {gn['rmse']:.3f} | "
            f"char BiGRU {bigru['rmse']:.3f} | GN <= BiGRU: {'yes' if gn['rmse'] <= bigru['rmse'] else 'no'} "
            f"(ratio {gn['rmse'] / bigru['rmse']:.2f}) |"]  # fmt: skip


# ----------------------------------------------------------------------------------------------------- qm9
def fingerprint_mlp(splits: dict, seconds: float, max_epochs: int = 300, seed: int = 0) -> dict:
    """The baseline: an MLP (2048 -> 512 -> 512 -> 1, ReLU, dropout 0.2) on Morgan fingerprints (radius 2,
    2048 bits, rnnlab.data.fingerprints), MSE on standardised targets, AdamW 1e-3, batches of 128, for at most
    `max_epochs` epochs or `seconds`; the epoch with the best validation MAE is scored on the test split."""
    from rnnlab.data.fingerprints import morgan_fingerprints

    X = {s: torch.from_numpy(morgan_fingerprints([smiles for smiles, _ in rows])) for s, rows in splits.items()}
    Y = {s: torch.tensor([value for _, value in rows], dtype=torch.float32) for s, rows in splits.items()}
    mean, std = float(Y["train"].mean()), float(Y["train"].std())
    torch.manual_seed(seed)
    mlp = torch.nn.Sequential(torch.nn.Linear(X["train"].shape[1], 512), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                              torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(512, 1))  # fmt: skip
    optimizer = torch.optim.AdamW(mlp.parameters(), 1e-3, weight_decay=1e-4)

    def mae(split: str) -> float:
        mlp.eval()
        with torch.no_grad():
            predicted = mlp(X[split])[:, 0] * std + mean
        mlp.train()
        return float((predicted - Y[split]).abs().mean())

    started, best, best_state, best_epoch, epoch = time.perf_counter(), float("inf"), None, 0, 0
    while epoch < max_epochs and time.perf_counter() - started < seconds:
        for batch in torch.randperm(len(X["train"])).split(128):
            loss = ((mlp(X["train"][batch])[:, 0] - (Y["train"][batch] - mean) / std) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        epoch += 1
        if (valid := mae("valid")) < best:
            best, best_epoch = valid, epoch
            best_state = {k: v.clone() for k, v in mlp.state_dict().items()}
    mlp.load_state_dict(best_state)
    return {"valid_mae": best, "test_mae": mae("test"), "epochs": epoch, "best_epoch": best_epoch,
            "seconds": time.perf_counter() - started}  # fmt: skip


def qm9(out: Path, minutes: float) -> list[str]:
    from rnnlab.data.registry import load_dataset

    run = out / "qm9-gap-gn"
    started = time.perf_counter()
    train(["configs/graph/qm9-gap.yaml", "--trainer.max_minutes", str(minutes), "--output_dir", str(run)])
    gn_seconds = time.perf_counter() - started
    gn = evaluate("graph", run)
    base = fingerprint_mlp(load_dataset("qm9"), seconds=minutes * 60)
    ratio = gn["mae"] / base["test_mae"]
    return [f"| QM9 HOMO-LUMO gap, fixed 20k train / 2k test ({minutes:g} min each) | MAE eV | GN (mpnn) {gn['mae']:.3f} "
            f"({gn_seconds:.0f} s with data) | Morgan-fingerprint MLP {base['test_mae']:.3f} (best of {base['epochs']} "
            f"epochs on valid: {base['best_epoch']}, {base['seconds']:.0f} s) | ratio {ratio:.2f} (target <= 0.7): "
            f"{'yes' if ratio <= 0.7 else 'no'} |"]  # fmt: skip


# ------------------------------------------------------------------------------------------------- physics
MAX_MASSES = 9


def dense_inputs(system, x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The GN's inputs, flattened for an MLP, zero-padded to 9 masses: per mass its node features and a
    present flag, per ordered pair its edge's features and a joined flag (mass-spring: [v, 1/m, m, present]
    and [d, |d|, k, L, joined]; n-body: [v, m, present] and [d, |d|, joined], every pair joined)."""
    from rnnlab.data.physics import system_graph

    graph = system_graph(system, x, v, check=False)  # a diverging MLP rollout: NaN, an infinite error
    n, (node_width, edge_width) = len(system.masses), graph.sizes[:2]
    nodes = np.zeros((MAX_MASSES, node_width + 1))
    nodes[:n] = np.concatenate([graph.nodes.double().numpy(), np.ones((n, 1))], 1)
    pairs = np.zeros((MAX_MASSES, MAX_MASSES, edge_width + 1))
    pairs[graph.senders.numpy(), graph.receivers.numpy()] = np.concatenate(
        [graph.edges.double().numpy(), np.ones((len(graph.edges), 1))], 1)
    return np.concatenate([nodes.ravel(), pairs.ravel()])


def physics(out: Path, minutes: float, dataset: str = "mass-spring") -> list[str]:
    from rnnlab.data.physics import DT, accelerations, trajectories
    from rnnlab.data.registry import load_dataset
    from rnnlab.tasks.graph_predictor import constant_velocity, load_physics_predictor, position_errors

    run = out / f"{dataset}-gn"
    started = time.perf_counter()
    train([f"configs/graph/{dataset}.yaml", "--trainer.max_minutes", str(minutes), "--output_dir", str(run)])
    gn_seconds = time.perf_counter() - started
    predictor = load_physics_predictor(run)
    splits = {split: trajectories(systems) for split, systems in load_dataset(dataset).items()}
    test = splits["test"]
    steps = 50

    # the MLP on the same samples, the same scaling, as many epochs as the GN got in its budget
    inputs, targets, masks = [], [], []
    for t in splits["train"]:
        n = len(t.system.masses)
        for step in range(len(t.x) - 1):
            inputs.append(dense_inputs(t.system, t.x[step], t.v[step]))
            target = np.zeros((MAX_MASSES, 2))
            target[:n] = accelerations(t.system, t.x[step], t.v[step]) / predictor.codec.std
            targets.append(target.ravel())
            masks.append(np.repeat(np.arange(MAX_MASSES) < n, 2).astype(np.float32))
    X, Y, M = (torch.tensor(np.array(a), dtype=torch.float32) for a in (inputs, targets, masks))
    scale = X.abs().amax(0).clamp(min=1e-6)
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, 2 * MAX_MASSES))  # fmt: skip
    optimizer = torch.optim.Adam(mlp.parameters(), 1e-3)
    started = time.perf_counter()
    epochs = 0
    while time.perf_counter() - started < gn_seconds and epochs < 200:
        for batch in torch.randperm(len(X)).split(64):
            loss = (((mlp(X[batch] / scale) - Y[batch]) ** 2) * M[batch]).sum() / M[batch].sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        epochs += 1
    mlp_seconds = time.perf_counter() - started

    def mlp_rollout(system) -> np.ndarray:
        n = len(system.masses)
        xs, v = [system.x0.copy()], system.v0.copy()
        with torch.no_grad():
            for _ in range(steps):
                a = mlp(torch.tensor(dense_inputs(system, xs[-1], v), dtype=torch.float32) / scale)
                v = v + a.numpy().reshape(MAX_MASSES, 2)[:n] * predictor.codec.std * DT
                xs.append(xs[-1] + v * DT)
        return np.stack(xs)

    gn_rollouts = predictor.rollout([t.system for t in test], steps)
    rows = []
    for n in (4, 9):
        chosen = [i for i, t in enumerate(test) if len(t.system.masses) == n]
        errors = {"GN": [], "MLP": [], "constant velocity": []}
        for i in chosen:
            t = test[i]
            truth = t.x[: steps + 1]
            errors["GN"].append(position_errors(truth, gn_rollouts[i])[1:].mean())
            with np.errstate(all="ignore"):  # a diverging MLP rollout overflows: its error is inf / nan
                errors["MLP"].append(position_errors(truth, mlp_rollout(t.system))[1:].mean())
            errors["constant velocity"].append(position_errors(truth, constant_velocity(t.x[0], t.v[0], steps))[1:].mean())
        gn, base, still = (float(np.mean(errors[k])) for k in ("GN", "MLP", "constant velocity"))
        diverged = sum(not np.isfinite(e) for e in errors["MLP"])
        mlp_text = f"{base:.4f}" if np.isfinite(base) else f"diverged in {diverged} of {len(chosen)} systems"
        ratio = f"GN/MLP {gn / base:.3f}" if np.isfinite(base) else "GN/MLP 0 (the MLP diverged)"
        things = "masses" if dataset == "mass-spring" else "bodies"
        rows.append(f"| {dataset}, {n} {things} ({len(chosen)} systems), 50-step rollout | mean position error | "
                    f"GN {gn:.4f} ({gn_seconds / 60:.1f} min) | MLP {mlp_text} ({epochs} epochs, {mlp_seconds / 60:.1f} "
                    f"min), constant velocity {still:.4f} | "
                    f"{ratio} (target <= 0.2), below constant velocity: {'yes' if gn < still else 'no'} |")  # fmt: skip
    return rows


# --------------------------------------------------------------------------------------------------- speed
def speed(repeats: int = 20) -> list[str]:
    try:
        from torch_geometric.nn import MetaLayer
        from torch_geometric.utils import scatter
    except ImportError:
        return ["| GN block speed | graphs/s | torch_geometric is not installed: no comparison |"]
    from rnnlab.nn.graph import GNBlock, GraphSizes, concat_graphs, graph_from_tensors

    generator = torch.Generator().manual_seed(0)
    graphs = []
    for _ in range(128):  # FreeSolv-sized: 3-20 atoms, about 2 edges per atom
        n = int(torch.randint(3, 21, (1,), generator=generator))
        e = 2 * n
        graphs.append(graph_from_tensors(torch.randn(n, 32, generator=generator),
                                         torch.randint(0, n, (e,), generator=generator),
                                         torch.randint(0, n, (e,), generator=generator),
                                         torch.randn(e, 16, generator=generator), torch.randn(8, generator=generator)))  # fmt: skip
    batch = concat_graphs(graphs)
    torch.manual_seed(0)
    block = GNBlock(GraphSizes(32, 16, 8), GraphSizes(32, 16, 8), reduce="sum")
    edge_index = torch.stack([batch.senders, batch.receivers])
    node_graph, size = batch.node_graph(), batch.num_graphs

    class Edge(torch.nn.Module):
        def forward(self, src, dest, edge_attr, u, graph):
            return block.edge.phi(torch.cat([edge_attr, dest, src, u[graph]], 1))

    class Node(torch.nn.Module):
        def forward(self, x, edge_index, edge_attr, u, graph):
            received = scatter(edge_attr, edge_index[1], 0, dim_size=x.size(0), reduce="sum")
            return block.node.phi(torch.cat([received, x, u[graph]], 1))

    class Global(torch.nn.Module):
        def forward(self, x, edge_index, edge_attr, u, graph):
            edges = scatter(edge_attr, graph[edge_index[0]], 0, dim_size=size, reduce="sum")
            return block.globals.phi(torch.cat([edges, scatter(x, graph, 0, dim_size=size, reduce="sum"), u], 1))

    meta = MetaLayer(Edge(), Node(), Global())

    def ours():
        out = block(batch)
        (out.nodes.sum() + out.edges.sum() + out.globals.sum()).backward()

    def theirs():
        x, e, u = meta(batch.nodes, edge_index, batch.edges, batch.globals, node_graph)
        (x.sum() + e.sum() + u.sum()).backward()

    timings = {"rnnlab": [], "torch_geometric": []}
    for _ in range(3):  # interleaved rounds, best of each
        for name, run in (("rnnlab", ours), ("torch_geometric", theirs)):
            run()
            started = time.perf_counter()
            for _ in range(repeats):
                run()
            timings[name].append(size * repeats / (time.perf_counter() - started))
    a, b = max(timings["rnnlab"]), max(timings["torch_geometric"])
    return [f"| GN block, forward + backward, 128 graphs a batch | graphs/s | rnnlab {a:,.0f} | torch_geometric {b:,.0f} "
            f"| ratio {a / b:.2f} (target >= 0.9) |"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/bench-graphs", help="where the runs go")
    parser.add_argument("--minutes", type=float, default=4.0, help="training budget of each FreeSolv / physics run")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: karate,freesolv,physics,speed,qm9,"
                        "nbody")  # fmt: skip
    parser.add_argument("--nbody-minutes", type=float, default=5.0, help="training budget of the n-body GN (the MLP "
                        "gets as long)")  # fmt: skip
    parser.add_argument("--qm9-minutes", type=float, default=8.0, help="training budget of each QM9 model")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out, skip = Path(args.out), set(filter(None, args.skip.split(",")))
    rows = ["| experiment | measure | rnnlab | baseline(s) | verdict |", "|---|---|---|---|---|"]
    if "speed" not in skip:
        rows += speed()
    if "karate" not in skip:
        rows += karate(out)
    if "freesolv" not in skip:
        rows += freesolv(out, args.minutes)
    if "physics" not in skip:
        rows += physics(out, args.minutes)
    if "nbody" not in skip:
        rows += physics(out, args.nbody_minutes, "n-body")
    if "qm9" not in skip:
        rows += qm9(out, args.qm9_minutes)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
