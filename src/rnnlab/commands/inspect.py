"""`rnnlab inspect diagram | gates | bptt | cost | gradflow | seq2seq | tree`: look inside recurrent networks.

Each sub-command writes a picture (PNG, or SVG/PDF when `--out` ends so) and prints a short summary.
This module only parses and prints; the computations are typed functions in `rnnlab.inspect`.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

CELLS = ["rnn", "lstm", "gru"]  # the textbook cells `diagram`, `bptt` and `gradflow` are written for


class _RegisteredCells:
    """Every registered cell name (`rnnlab.nn.cell_names()`), looked up only when argparse checks or prints
    a --cell value: building the parser must not import torch (`rnnlab --help` stays fast)."""

    def __iter__(self):
        from rnnlab.nn.cell_registry import cell_names

        return iter(cell_names())

    def __contains__(self, name) -> bool:
        return name in tuple(self)


ALL_CELLS = _RegisteredCells()


def register(commands) -> None:
    inspect = commands.top.add_parser(
        "inspect", help="look inside: gate diagrams, gate traces, BPTT, gradient flow"
    )
    inspect.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads, at most the cores (default 1: small models, and a shared CPU)"
    )
    sub = inspect.add_subparsers(dest="inspect_command", metavar="WHAT", required=True)

    diagram = sub.add_parser("diagram", help="draw a cell with its gates labelled")
    diagram.add_argument("--cell", choices=CELLS, default="lstm")
    diagram.add_argument("--out", default=None, help="output file (default: diagram_CELL.png)")
    _add_overwrite(diagram)
    diagram.set_defaults(handler=_with_threads(run_diagram))

    gates = sub.add_parser(
        "gates", help="heatmaps of every gate per step and unit, and units that track features"
    )
    gates.add_argument("checkpoint", nargs="?", default=None, help="language-model directory (task 'lm')")
    gates.add_argument("text", nargs="?", default=None, help="the text to run the model on")
    gates.add_argument("--input", default=None, help="read the text from this file instead")
    gates.add_argument(
        "--random", action="store_true", help="a randomly initialised char model, no checkpoint"
    )
    gates.add_argument(
        "--cell", choices=ALL_CELLS, metavar="CELL", default="lstm", help="cell of the --random model: %(choices)s"
    )
    gates.add_argument("--hidden-size", type=int, default=32, help="units of the --random model")
    gates.add_argument("--num-layers", type=int, default=1, help="layers of the --random model")
    gates.add_argument("--bidirectional", action="store_true", help="bidirectional --random model")
    gates.add_argument(
        "--fit-steps",
        type=int,
        default=0,
        help="first train the --random model to predict the next character",
    )
    gates.add_argument(
        "--fit-file", default=None, help="text to train on with --fit-steps (default: the text)"
    )
    gates.add_argument("--max-units", type=int, default=64, help="units shown per heatmap")
    gates.add_argument(
        "--max-tokens", type=int, default=200, help="tokens shown (the rest is still correlated)"
    )
    gates.add_argument("--top", type=int, default=3, help="tracking units listed per feature")
    gates.add_argument("--seed", type=int, default=0)
    gates.add_argument(
        "--out", default="gates.png", help="heatmap file (one per layer/direction: NAME_l0...)"
    )
    _add_overwrite(gates)
    gates.set_defaults(handler=_with_threads(run_gates))

    bptt = sub.add_parser("bptt", help="the unrolled graph with the back-propagation paths that reach x_t")
    bptt.add_argument("--cell", choices=CELLS, default="rnn")
    bptt.add_argument("--steps", type=int, default=6, help="unrolled steps n (at most 100)")
    bptt.add_argument("--t", type=int, default=3, help="which input x_t (1-based)")
    bptt.add_argument("--hidden-size", type=int, default=4)
    bptt.add_argument("--seed", type=int, default=0)
    bptt.add_argument("--out", default=None, help="output file (default: bptt_CELL.png)")
    _add_overwrite(bptt)
    bptt.set_defaults(handler=_with_threads(run_bptt))

    cost = sub.add_parser("cost", help="BPTT's memory (saved activations) and time against T")
    cost.add_argument("--cell", choices=ALL_CELLS, metavar="CELL", default="lstm", help="one of %(choices)s")
    cost.add_argument("--lengths", type=int, nargs="+", default=[25, 50, 100, 200, 400])
    cost.add_argument("--batch-size", type=int, default=16)
    cost.add_argument("--hidden-size", type=int, default=64)
    cost.add_argument("--repeats", type=int, default=3)
    cost.add_argument("--out", default=None, help="output file (default: cost_CELL.png)")
    _add_overwrite(cost)
    cost.set_defaults(handler=_with_threads(run_cost))

    gradflow = sub.add_parser("gradflow", help="‖∂L_T/∂h_t‖ against t, at init and after training; clipping")
    gradflow.add_argument("--cell", choices=CELLS, default="rnn")
    gradflow.add_argument("--length", type=int, default=100, help="sequence length T")
    gradflow.add_argument("--train-steps", type=int, default=300, help="Adam steps on the adding problem")
    gradflow.add_argument("--hidden-size", type=int, default=32)
    gradflow.add_argument("--scale", type=float, default=2.0, help="W_hh scale of the exploding RNN run")
    gradflow.add_argument("--explode-steps", type=int, default=300)
    gradflow.add_argument("--ckpt", default=None, help="a language-model directory: curve of its inputs")
    gradflow.add_argument("--text", default=None, help="text for --ckpt (default: a sample from the model)")
    gradflow.add_argument("--seed", type=int, default=0)
    gradflow.add_argument("--out", default=None, help="output file (default: gradflow_CELL.png)")
    _add_overwrite(gradflow)
    gradflow.set_defaults(handler=_with_threads(run_gradflow))

    seq2seq = sub.add_parser("seq2seq", help="a translation model unrolled on a sentence: teacher forcing (with "
                             "--reference) and free running, with its attention")  # fmt: skip
    seq2seq.add_argument("checkpoint", help="model directory of task translate (or a run directory: its best/)")
    seq2seq.add_argument("source", help="the source sentence")
    seq2seq.add_argument("--reference", default=None, help="its reference translation: adds the training view "
                         "(teacher forcing) above the inference view")  # fmt: skip
    seq2seq.add_argument("--out", default="seq2seq.svg", help="output file, .svg/.png/.pdf (default: seq2seq.svg)")
    seq2seq.add_argument("--json", action="store_true", help="also print each step as JSON")
    _add_overwrite(seq2seq)
    seq2seq.set_defaults(handler=_with_threads(run_seq2seq))

    unroll = sub.add_parser("unroll", help="a deep (stacked) and bidirectional RNN unrolled over time, or a trained "
                            "model's own layer shape (--ckpt)")  # fmt: skip
    unroll.add_argument("--num-layers", type=int, default=2, help="stacked layers (at most 8)")
    unroll.add_argument("--bidirectional", action="store_true", help="a forward and a backward row per layer")
    unroll.add_argument("--cell", choices=CELLS, default="rnn")
    unroll.add_argument("--ckpt", default=None, help="a trained model: draw its first recurrent layer's shape")
    unroll.add_argument("--text", default="x1 x2 x3 x4", help="the inputs to label the steps with (words, or "
                        "characters when there is no space; at most 16)")  # fmt: skip
    unroll.add_argument("--out", default="unroll.svg", help="output file, .svg/.png/.pdf (default: unroll.svg)")
    _add_overwrite(unroll)
    unroll.set_defaults(handler=_with_threads(run_unroll))

    graph = sub.add_parser("graph", help="a message-passing graph model step by step: what each node knows after "
                           "t steps (karate factions, or a molecule's atom states with --smiles); a GN model "
                           "(model.kind: gn, physics): one GN step's edge, node and global updates")  # fmt: skip
    graph.add_argument("checkpoint", help="model directory of task graph or physics, or its run directory")
    graph.add_argument("--smiles", default=None, help="a molecule model: the molecule to draw")
    graph.add_argument("--seed", type=int, default=0, help="seed of the drawing's layout (physics: of the system)")
    graph.add_argument("--out", default="graph.png", help="output file, .png/.svg/.pdf (default: graph.png)")
    _add_overwrite(graph)
    graph.set_defaults(handler=_with_threads(run_graph))

    tree = sub.add_parser("tree", help="a tree model's view of one tree: each node's value or state norm, as SVG")
    tree.add_argument("checkpoint", help="model directory of task tree (or a run directory: its best/)")
    tree.add_argument("tree", nargs="?", default=None, help="a bracketed tree, e.g. '[MAX 2 9 [MIN 4 7 ] 0 ]'")
    tree.add_argument("--input", default=None, help="read the tree (a program model: Python source) from this file")
    tree.add_argument("--show", choices=("value", "norm"), default="value",
                      help="label each node with the head's answer for its subtree, or its state norm ‖h‖")  # fmt: skip
    tree.add_argument("--out", default="tree.svg", help="output SVG file (default: tree.svg)")
    _add_overwrite(tree)
    tree.set_defaults(handler=_with_threads(run_tree))


def _add_overwrite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true", help="replace existing picture files")


def _with_threads(handler):
    """Run `handler` with `--threads` torch threads, restoring the previous setting afterwards."""

    def run(args: argparse.Namespace) -> int:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(max(1, args.threads))
        try:
            return handler(args)
        finally:
            torch.set_num_threads(previous)

    return run


def _picture(out: str, args: argparse.Namespace, inputs: tuple = ()) -> str:
    """Refuse now a picture path matplotlib cannot write (suffix), that is an input, lies in a model or run
    directory, exists without --overwrite, or is not writable (`rnnlab.paths.check_picture`)."""
    from rnnlab.paths import check_picture

    check_picture(out, inputs=inputs, overwrite=args.overwrite)
    return out


@contextlib.contextmanager
def _drawn_into(out: str, args: argparse.Namespace, inputs: tuple = ()) -> Iterator[Path]:
    """A path to draw `out` at, in a private temporary directory; when the block ends without an exception,
    every file drawn there (`out`, and the files `gates` draws next to it) is written next to `out`
    atomically (`write_bytes_atomically`), each checked like `out` first. A failure writes nothing."""
    from rnnlab.files import write_bytes_atomically
    from rnnlab.paths import guard_output_file

    target = Path(out)
    with tempfile.TemporaryDirectory(prefix="rnnlab-inspect-") as staging:
        yield Path(staging) / target.name
        drawn = sorted(Path(staging).iterdir())
        for file in drawn:  # all checked before any is written
            guard_output_file(target.with_name(file.name), "picture", inputs=inputs, overwrite=args.overwrite)
        for file in drawn:
            write_bytes_atomically(target.with_name(file.name), file.read_bytes())


def _written(out: str, drawn: str | Path) -> Path:
    """Where a file drawn in `_drawn_into`'s temporary directory was written."""
    return Path(out).with_name(Path(drawn).name)


def run_diagram(args: argparse.Namespace) -> int:
    from rnnlab.inspect.diagram import draw_cell

    out = _picture(args.out or f"diagram_{args.cell}.png", args)
    with _drawn_into(out, args) as staged:
        lines = draw_cell(args.cell, staged)
    print("\n".join(lines))
    print(f"wrote {out}")
    return 0


def _load_lm(path: str):
    from rnnlab.errors import CheckpointError
    from rnnlab.tasks.registry import resolve_model_dir, task_of_model

    task = task_of_model(path)
    if task.name != "lm":
        raise CheckpointError(f"{path}: expected a neural language model directory (task 'lm'), got a {task.name!r} model")
    return task.load(resolve_model_dir(path))


def run_gates(args: argparse.Namespace) -> int:
    from rnnlab.data.usertext import read_text_file
    from rnnlab.errors import ConfigError
    from rnnlab.inspect import gates

    if args.random and args.checkpoint is not None and args.text is None:
        args.text, args.checkpoint = args.checkpoint, None  # `inspect gates --random "text"`
    if args.input is not None:
        if args.text is not None:
            raise ConfigError("give the text either as an argument or with --input, not both")
        args.text = read_text_file(Path(args.input))
    if args.text is None:
        raise ConfigError(
            'expected a text: rnnlab inspect gates CKPT "text" (or --random "text", or --input FILE)'
        )
    from rnnlab.inspect.gates import units_path_for

    read = (args.checkpoint, args.input, args.fit_file)
    _picture(args.out, args, read)
    _picture(str(units_path_for(args.out)), args, read)  # drawn next to it
    if args.random:
        fit_text = read_text_file(Path(args.fit_file)) if args.fit_file else None
        traces = gates.random_model_traces(
            args.text,
            args.cell,
            args.hidden_size,
            args.num_layers,
            args.bidirectional,
            args.seed,
            args.fit_steps,
            fit_text,
        )
        if args.fit_steps:
            print(
                f"{args.cell} char model trained for {args.fit_steps} steps on {args.fit_file or 'the text itself'}"
            )
        else:
            print(f"random {args.cell} char model (untrained: correlations below are what chance gives)")
    elif args.checkpoint is None:
        raise ConfigError("expected a checkpoint directory, or --random for an untrained model")
    else:
        traces = gates.language_model_traces(_load_lm(args.checkpoint), args.text)
    with _drawn_into(args.out, args, read) as staged:
        report = gates.gates_report(traces, staged, args.max_units, args.max_tokens, args.top)
    print(
        f"{len(traces.tokens)} tokens; layers/directions: {len(traces.gates)}; gates: "
        f"{', '.join(next(iter(traces.gates.values())))}"
    )
    for unit in report.units:
        chance = report.chance.get(unit.feature)
        note = f"  (untrained: best |r| {chance:.3f})" if chance is not None else ""
        print(f"  {unit.feature:>18s}: {unit.where:<40s} r = {unit.correlation:+.3f}{note}")
    print("wrote " + ", ".join(str(_written(args.out, p)) for p in [*report.heatmaps, report.units_path]))
    return 0


def run_bptt(args: argparse.Namespace) -> int:
    from rnnlab.errors import ConfigError
    from rnnlab.inspect.bptt import bptt_report

    if not 1 <= args.t <= args.steps:
        raise ConfigError(f"--t must be between 1 and --steps ({args.steps}), got {args.t}")
    out = _picture(args.out or f"bptt_{args.cell}.png", args)
    with _drawn_into(out, args) as staged:
        report = bptt_report(args.cell, args.steps, args.t, staged, hidden_size=args.hidden_size, seed=args.seed)
    t = report.t
    print(f"{report.cell}, {report.steps} steps: ‖∂L_k/∂x_{t}‖ by autograd (and by the chain-rule product):")
    for k, (autograd, chain) in enumerate(zip(report.autograd, report.chain_rule), start=1):
        note = (
            "no path (k < t)"
            if k < t
            else f"path L_{k} -> y_{k} -> h_{k}" + (f" -> ... -> h_{t}" if k > t else "") + f" -> x_{t}"
        )
        print(f"  L_{k}: {autograd:.3e}  ({chain:.3e})  {note}")
    print(
        f"loss is the sum over steps: ‖∂L/∂x_{t}‖ = {report.total_norm:.3e} = ‖Σ_k ∂L_k/∂x_{t}‖ "
        f"(max difference {report.sum_difference:.1e})"
    )
    print(
        f"weights are shared across time: {report.parameter_count} cell parameters for any number of steps; "
        f"∂L/∂W_hh = Σ_k (step k's share) with max difference {report.sharing_difference:.1e}; "
        f"per-step shares ‖·‖ = " + " ".join(f"{v:.2e}" for v in report.step_shares)
    )
    print(f"wrote {_written(out, report.path)}")
    return 0


def run_cost(args: argparse.Namespace) -> int:
    from rnnlab.inspect.cost import format_costs, measure_costs, plot_costs

    out = _picture(args.out or f"cost_{args.cell}.png", args)
    rows = measure_costs(args.cell, args.lengths, args.batch_size, args.hidden_size, args.repeats)
    print(format_costs(rows, args.cell))
    with _drawn_into(out, args) as staged:
        plot_costs(rows, args.cell, staged)
    print(f"wrote {out}")
    return 0


def run_gradflow(args: argparse.Namespace) -> int:
    from rnnlab.inspect import gradflow

    out = _picture(args.out or f"gradflow_{args.cell}.png", args, (args.ckpt,))
    if args.ckpt is None:
        report = gradflow.gradflow_report(
            args.cell,
            args.length,
            args.train_steps,
            args.hidden_size,
            args.scale,
            args.explode_steps,
            args.seed,
        )
    else:
        report = gradflow.checkpoint_report(
            _load_lm(args.ckpt),
            args.ckpt,
            args.text,
            args.length,
            args.cell,
            args.scale,
            args.explode_steps,
            args.seed,
        )
    print(report.summary())
    with _drawn_into(out, args, (args.ckpt,)) as staged:
        gradflow.plot_gradflow(report, staged)
    print(f"wrote {out}")
    return 0


def run_tree(args: argparse.Namespace) -> int:
    """Draw one tree as the model sees it (`rnnlab.tasks.tree_predictor.inspect_tree`); the same drawing as
    `rnnlab tree MODEL TREE --draw value|norm`, for one tree at a chosen path."""
    from rnnlab.errors import ConfigError
    from rnnlab.files import read_input_lines, write_bytes_atomically
    from rnnlab.paths import guard_output_file
    from rnnlab.tasks.registry import resolve_model_dir, task_of_model
    from rnnlab.tasks.tree_predictor import inspect_tree

    if (args.tree is None) == (args.input is None):
        raise ConfigError("expected a tree on the command line or --input FILE (one of the two)")
    if not args.out.endswith(".svg"):
        raise ConfigError(f"--out {args.out}: expected an .svg file (the tree is drawn as SVG)")
    inputs = (args.checkpoint, args.input)
    guard_output_file(args.out, "picture", inputs=inputs, overwrite=args.overwrite)
    text = args.tree if args.input is None else "\n".join(read_input_lines(args.input, "a tree", keep_empty=True))
    task = task_of_model(args.checkpoint)
    if task.name != "tree":
        raise ConfigError(f"{args.checkpoint}: expected a tree model (task 'tree'), got a {task.name!r} model")
    svg, report = inspect_tree(task.load(resolve_model_dir(args.checkpoint)), text, args.show)
    write_bytes_atomically(Path(args.out), svg.encode("utf-8"))
    print(report)
    print(f"wrote {args.out}")
    return 0


def run_seq2seq(args: argparse.Namespace) -> int:
    """Draw a translation model unrolled on one sentence (`rnnlab.inspect.seq2seq`)."""
    import json
    from dataclasses import asdict

    from rnnlab.errors import ConfigError
    from rnnlab.inspect.seq2seq import draw_unrolled, unroll_run
    from rnnlab.tasks.registry import resolve_model_dir, task_of_model

    for name, text in (("source", args.source), ("--reference", args.reference)):
        if text is not None and not text.strip():
            raise ConfigError(f"{name}: expected a sentence, got an empty one")
    out = _picture(args.out, args, inputs=(args.checkpoint,))
    task = task_of_model(args.checkpoint)
    if task.name != "translate":
        raise ConfigError(f"{args.checkpoint}: expected a neural translation model (task 'translate'), got a "
                          f"{task.name!r} model")  # fmt: skip
    translator = task.load(resolve_model_dir(args.checkpoint))
    runs = ([unroll_run(translator, args.source, args.reference)] if args.reference else []) + [
        unroll_run(translator, args.source)]  # fmt: skip
    with _drawn_into(out, args, inputs=(args.checkpoint,)) as staged:
        draw_unrolled(runs, staged, title=args.source)
    for run in runs:
        if args.json:
            print(json.dumps(asdict(run), ensure_ascii=False))
        else:
            steps = "  ".join(f"{i}->{p}" for i, p in zip(run.inputs, run.predicted))
            print(f"{run.mode}: {steps}")
    print(f"wrote {out}")
    return 0


def run_unroll(args: argparse.Namespace) -> int:
    """Draw a stacked / bidirectional RNN unrolled over time (`rnnlab.inspect.stack`)."""
    from rnnlab.errors import ConfigError
    from rnnlab.inspect.stack import draw_stack, layer_shape
    from rnnlab.tasks.registry import resolve_model_dir, task_of_model
    from rnnlab.validation import check_option

    tokens = args.text.split() if " " in args.text.strip() else list(args.text.strip())
    if not tokens:
        raise ConfigError("--text: expected at least one input token")
    out = _picture(args.out, args, inputs=(args.ckpt,) if args.ckpt else ())
    if args.ckpt:
        task = task_of_model(args.ckpt)
        loaded = task.load(resolve_model_dir(args.ckpt))
        shape = layer_shape(getattr(loaded, "model", loaded))
        layers, bidirectional, cell = shape.layers, shape.bidirectional, shape.cell
        print(f"{args.ckpt}: {shape.where} is a {layers}-layer {'bidirectional ' if bidirectional else ''}{cell}")
    else:
        layers, bidirectional, cell = check_option("num_layers", args.num_layers), args.bidirectional, args.cell
        if layers > 8:
            raise ConfigError(f"--num-layers must be at most 8 to be drawn, got {layers}")
    with _drawn_into(out, args, inputs=(args.ckpt,) if args.ckpt else ()) as staged:
        draw_stack(layers, bidirectional, tokens, staged, cell)
    print(f"wrote {out}")
    return 0


def run_graph(args: argparse.Namespace) -> int:
    """Draw a graph model: a message-passing network's node values after each step (`model.kind: mpnn`,
    `rnnlab.inspect.graph`), or one full GN block step, its edge, node and global updates (`model.kind: gn`
    and the physics models, `rnnlab.inspect.gn_step`)."""
    from rnnlab.errors import ConfigError
    from rnnlab.inspect.gn_step import draw_gn_step, gn_model_step
    from rnnlab.inspect.graph import draw_steps, message_passing_steps
    from rnnlab.tasks.registry import resolve_model_dir, task_of_model
    from rnnlab.validation import check_option

    check_option("seed", args.seed)
    out = _picture(args.out, args, inputs=(args.checkpoint,))
    task = task_of_model(args.checkpoint)
    if task.name not in ("graph", "physics"):
        raise ConfigError(f"{args.checkpoint}: expected a graph model (task 'graph') or a physics model, got a "
                          f"{task.name!r} model")  # fmt: skip
    predictor = task.load(resolve_model_dir(args.checkpoint))
    gn = predictor.model.kind == "gn"
    what = "one GN step" if gn else None
    positions = None
    if predictor.codec.problem == "physics":
        if args.smiles is not None:
            raise ConfigError("--smiles is for a molecule model; this one is a learned physics simulator")
        if not gn:
            raise ConfigError("inspect graph draws a physics model's GN step (model.kind: gn); this one is an mpnn")
        import numpy as np

        from rnnlab.data.physics import random_of, system_graph

        dataset = predictor.config.data.dataset
        system = random_of(dataset, np.random.default_rng(args.seed), 5)
        graph, positions = system_graph(system, system.x0, system.v0), system.x0
        labels, ringed = [str(i) for i in range(5)], []
        title = f"a {dataset} system of 5 bodies (--seed {args.seed}) at its positions: {what}"
    elif predictor.codec.level == "node":
        if args.smiles is not None:
            raise ConfigError("--smiles is for a molecule model; this one labels the karate club's members")
        from rnnlab.tasks.graph import load_data

        club = load_data(predictor.config.data)
        graph, labels, ringed = club.graph, [str(i) for i in range(club.graph.nodes.shape[0])], list(club.train)
        title = f"karate club: {what}" if gn else "karate club: each member's answer if the network stopped after t steps"
    else:
        from rnnlab.data.molecules import smiles_graph

        if not args.smiles:
            raise ConfigError("a molecule model: give the molecule to draw with --smiles (e.g. --smiles CCO)")
        graph = smiles_graph(args.smiles, "--smiles")
        if graph is None:
            raise ConfigError(f"--smiles {args.smiles!r}: RDKit cannot parse this SMILES string")
        predictor.check_sizes(graph, "--smiles")
        from rnnlab.data.molecules import _rdkit

        molecule = _rdkit().MolFromSmiles(args.smiles)
        labels, ringed = [atom.GetSymbol() for atom in molecule.GetAtoms()], []
        title = f"{args.smiles}: {what}" if gn else f"{args.smiles}: each atom's state norm per step"
    if gn:
        step = gn_model_step(predictor, graph, labels, title, positions)
        with _drawn_into(out, args, inputs=(args.checkpoint,)) as staged:
            draw_gn_step(step, staged, seed=args.seed)
        norms = step.norms
        print(f"one GN step (the core block's application 1 of {step.calls}): mean ‖e'‖ {norms['edges'].mean():.3f} "
              f"over {len(norms['edges'])} edges, mean ‖v'‖ {norms['nodes'].mean():.3f} over {len(norms['nodes'])} "
              f"nodes, ‖u'‖ {float(norms['globals'][0]):.3f}")  # fmt: skip
        print(f"wrote {out}")
        return 0
    steps = message_passing_steps(predictor, graph, labels, ringed, title)
    with _drawn_into(out, args, inputs=(args.checkpoint,)) as staged:
        draw_steps(steps, staged, seed=args.seed)
    last = steps.values[-1]
    print(f"{len(steps.values) - 1} message-passing steps; {steps.meaning} after the last: min {last.min():.3f}, "
          f"mean {last.mean():.3f}, max {last.max():.3f}")  # fmt: skip
    print(f"wrote {out}")
    return 0
