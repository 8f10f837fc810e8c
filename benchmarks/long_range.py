"""Long-range dependency benchmark: the adding problem and the copy task for RNN, LSTM, GRU, LN-LSTM.

For each task, cell, clipping setting and T in the list, a few seeds are trained for at most a fixed
step budget (Adam, lr 0.01, batch 32, early stop once solved; clipping = gradient norm 1.0). A cell
"solves" T when at least half its seeds reach the threshold (adding: test MSE < 0.01 against the 0.167
baseline; copy: per-symbol accuracy >= 99% on the recalled symbols). Once no seed solves some T, longer
T are skipped for that cell and counted as unsolved (they are harder; skipping keeps the CPU budget).
The layer-norm LSTM (explicit path, slow) runs with clipping only and up to T=100 in the full run, and
no new T starts after --budget-minutes. Prints a table, writes a PNG and a JSON.

    nice -n 10 .venv/bin/python benchmarks/long_range.py            # full (~20 min on 2 shared cores)
    nice -n 10 .venv/bin/python benchmarks/long_range.py --quick    # a minute, for a smoke check
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from rnnlab.inspect.longrange import RunConfig, train_run

FULL = dict(
    lengths=[10, 25, 50, 100, 200],
    seeds=2,
    seeds_noclip=1,
    steps=1500,
    cells=["rnn", "lstm", "gru", "lnlstm"],
)
QUICK = dict(lengths=[10, 25], seeds=1, seeds_noclip=1, steps=300, cells=["rnn", "lstm", "gru", "lnlstm"])
TASK_SETTINGS = {
    # hidden sizes and copy length chosen so the whole run fits ~20 min of one shared CPU core.
    "adding": dict(hidden_size=32, learning_rate=1e-2, batch_size=32),
    "copy": dict(hidden_size=128, learning_rate=1e-2, batch_size=32, copy_length=5),
}
# The layer-norm LSTM runs on the explicit (Python-stepped) path, ~5x slower than the fused kernels:
# in the full run it is trained with clipping only and up to this T.
LNLSTM_MAX_LENGTH = 100


def run(args: argparse.Namespace) -> list[dict]:
    plan = QUICK if args.quick else FULL
    lengths = args.lengths or plan["lengths"]
    cells = args.cells or plan["cells"]
    steps = args.steps or plan["steps"]
    deadline = time.perf_counter() + 60 * args.budget_minutes
    rows = []
    # Task by task, clipping on then off, so a run cut by the time budget still compares clipping.
    for task in args.tasks:
        for clip in (1.0, None):
            seeds = (args.seeds or plan["seeds"]) if clip else (args.seeds_noclip or plan["seeds_noclip"])
            for cell in cells:
                if cell == "lnlstm" and not args.quick and clip is None:
                    continue
                blocked = None
                for length in lengths:
                    row = dict(
                        task=task,
                        cell=cell,
                        clip=clip,
                        length=length,
                        seeds=seeds,
                        solved=0,
                        metrics=[],
                        seconds=0.0,
                        steps=[],
                        diverged=0,
                        skipped=None,
                    )
                    if cell == "lnlstm" and not args.quick and length > LNLSTM_MAX_LENGTH:
                        row["skipped"] = "not run (explicit path, CPU budget)"
                    elif blocked:
                        row["skipped"] = blocked
                    elif time.perf_counter() > deadline:
                        row["skipped"] = "not run (time budget spent)"
                    else:
                        for seed in range(seeds):
                            config = RunConfig(
                                task=task,
                                cell=cell,
                                length=length,
                                steps=steps,
                                clip_norm=clip,
                                seed=seed,
                                **TASK_SETTINGS[task],
                            )
                            result = train_run(config)
                            row["solved"] += int(result.solved)
                            row["diverged"] += int(result.diverged)
                            row["metrics"].append(result.metric)
                            row["steps"].append(result.steps_taken)
                            row["seconds"] += result.seconds
                        if row["solved"] == 0:
                            blocked = f"skipped (T={length} unsolved)"
                    rows.append(row)
                    print(format_row(row), flush=True)
    return rows


def format_row(row: dict) -> str:
    clip = "clip=1" if row["clip"] else "noclip"
    if row["skipped"]:
        return f"{row['task']:6s} {row['cell']:6s} {clip:6s} T={row['length']:<4d} {row['skipped']}"
    metrics = " ".join(f"{m:.4f}" for m in row["metrics"])
    return (
        f"{row['task']:6s} {row['cell']:6s} {clip:6s} T={row['length']:<4d} solved {row['solved']}/{row['seeds']}"
        f"  metric [{metrics}]  steps {row['steps']}  {row['seconds']:.1f}s"
        + (f"  diverged {row['diverged']}" if row["diverged"] else "")
    )


def longest_solved(rows: list[dict], task: str, cell: str, clip) -> int:
    """The longest T solved by at least half the seeds (0: none)."""
    best = 0
    for row in rows:
        if (row["task"], row["cell"], row["clip"]) == (task, cell, clip) and not row["skipped"]:
            if 2 * row["solved"] >= row["seeds"] and row["solved"] > 0:
                best = max(best, row["length"])
    return best


def summary_table(rows: list[dict], tasks: list[str], cells: list[str]) -> str:
    lines = [
        "| task | cell | longest T solved, clip 1.0 | longest T solved, no clipping |",
        "|---|---|---|---|",
    ]
    for task in tasks:
        for cell in cells:
            ran = {row["clip"] for row in rows if (row["task"], row["cell"]) == (task, cell)}
            on = longest_solved(rows, task, cell, 1.0) if 1.0 in ran else None
            off = longest_solved(rows, task, cell, None) if None in ran else None
            fmt = lambda v: "not run" if v is None else ("none" if v == 0 else str(v))  # noqa: E731
            lines.append(f"| {task} | {cell} | {fmt(on)} | {fmt(off)} |")
    return "\n".join(lines)


def detail_table(rows: list[dict], lengths: list[int]) -> str:
    """Per task, cell and clipping: 'solved/seeds (best metric)' for every T; '-' where not run."""
    header = "| task | cell | clip | " + " | ".join(f"T={t}" for t in lengths) + " |"
    lines = [header, "|" + "---|" * (3 + len(lengths))]
    groups: dict[tuple, dict[int, dict]] = {}
    for row in rows:
        groups.setdefault((row["task"], row["cell"], row["clip"]), {})[row["length"]] = row
    for (task, cell, clip), by_length in groups.items():
        cells = []
        for length in lengths:
            row = by_length.get(length)
            if row is None or row["skipped"]:
                cells.append("-")
                continue
            finite = [m for m in row["metrics"] if m == m]  # drop NaN (diverged)
            best = (min(finite) if task == "adding" else max(finite)) if finite else float("nan")
            cells.append(f"{row['solved']}/{row['seeds']} ({best:.3f})")
        lines.append(f"| {task} | {cell} | {'1.0' if clip else 'off'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], tasks: list[str], cells: list[str], lengths: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for i, cell in enumerate(cells):
            for j, clip in enumerate((1.0, None)):
                value = longest_solved(rows, task, cell, clip)
                ran = any((r["task"], r["cell"], r["clip"]) == (task, cell, clip) for r in rows)
                if not ran:
                    continue
                height = lengths.index(value) + 1 if value else 0
                ax.bar(
                    i + (j - 0.5) * 0.38,
                    height,
                    width=0.36,
                    color=f"C{i}",
                    alpha=1.0 if clip else 0.45,
                    hatch=None if clip else "//",
                    label=None,
                )
        ax.set_xticks(range(len(cells)), cells)
        ax.set_yticks(range(len(lengths) + 1), ["none"] + [str(v) for v in lengths])
        ax.set_ylabel("longest T solved")
        ax.set_title(f"{task}: solid = clip 1.0, hatched = no clipping")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T in {10, 25}, one seed, 300 steps")
    parser.add_argument("--tasks", nargs="+", default=["adding", "copy"], choices=["adding", "copy"])
    parser.add_argument("--cells", nargs="+", default=None, choices=["rnn", "lstm", "gru", "lnlstm"])
    parser.add_argument("--lengths", nargs="+", type=int, default=None)
    parser.add_argument("--seeds", type=int, default=None, help="seeds per T with clipping (full: 2)")
    parser.add_argument(
        "--seeds-noclip", type=int, default=None, help="seeds per T without clipping (full: 1)"
    )
    parser.add_argument("--budget-minutes", type=float, default=25.0, help="start no new T after this")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the CPU is shared)")
    parser.add_argument("--out", default="docs/figures/long_range", help="PNG/JSON path prefix")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    plan = QUICK if args.quick else FULL
    cells = args.cells or plan["cells"]
    lengths = args.lengths or plan["lengths"]
    start = time.perf_counter()
    rows = run(args)
    wall = time.perf_counter() - start
    print()
    print(summary_table(rows, args.tasks, cells))
    print()
    print(detail_table(rows, lengths))
    print(
        f"\nwall time {wall / 60:.1f} min; settings {json.dumps(TASK_SETTINGS)}; "
        f"max steps {args.steps or plan['steps']}, seeds {args.seeds or plan['seeds']} with clipping, "
        f"{args.seeds_noclip or plan['seeds_noclip']} without; torch threads {args.threads}"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, args.tasks, cells, lengths, out.with_suffix(".png"))
    record = dict(rows=rows, wall_seconds=wall, settings=TASK_SETTINGS, plan=plan, quick=args.quick)
    out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    print(f"wrote {out.with_suffix('.png')} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
