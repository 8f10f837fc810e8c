"""`rnnlab train CONFIG.yaml | TASK [--config FILE] [--resume | --overwrite] [--key value ...]` and `rnnlab eval MODEL_DIR`.

Both find the task through its descriptor (rnnlab.tasks.registry): the YAML's `task:`, the task name, or a
model directory's config.json. Nothing here knows a task by name. Every task's training runs inside
`rnnlab.train.rundir.guard_run_directory` (no run lost or taken over, one training per directory, run.yaml
written); an interrupted training prints how to resume and exits 130 (SIGINT) or 143 (SIGTERM). What can be
checked before is checked before the run directory exists: the config, the directory's guard (read-only),
then the data, the model and the disk space (`rnnlab.train.run.prepare_setup`).

Data-parallel (docs/distributed.md): under `torchrun --nproc_per_node N -m rnnlab train ...` every process
runs this command; rank 0 alone makes the checks, takes the run directory's guard and lock and writes, the
other ranks wait for its go (or its refusal: then they exit 2 quietly, rank 0 says why) and train with it.
`rnnlab train ... --nproc N` runs that torchrun command for you.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

from rnnlab.commands.output import add_json_flag, print_json


def register(commands) -> None:
    from rnnlab.tasks.index import command_index

    tasks = command_index()["tasks"]  # names and summaries without importing the tasks (and torch)
    listing = "\n".join(f"  {name:<11s} {task['summary']}" for name, task in tasks.items())
    train = commands.top.add_parser(
        "train",
        help=f"train a model: rnnlab train CONFIG.yaml, or rnnlab train TASK ({', '.join(tasks)})",
        description="Train a model from a YAML config (its `task:` names the task) or a task's defaults. Any "
        "config key can be overridden after it: --trainer.lr 0.5, model.cell=gru ...\n\ntasks:\n" + listing,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,  # `rnnlab train TASK --help` lists that task's config keys instead
    )
    train.add_argument("-h", "--help", action="store_true", dest="show_help", help="show this help and exit")
    train.add_argument("target", nargs="?", help="a YAML config, or a task name")
    train.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    train.set_defaults(handler=run_train, usage=train.format_help)

    evaluate = commands.top.add_parser("eval", help="evaluate a saved model (any task) on a split or a file")
    evaluate.add_argument("checkpoint", help="model directory (or a run directory: its best/)")
    evaluate.add_argument("--split", default="test", help="train / valid / test (default: test)")
    evaluate.add_argument("--data", default=None, help="evaluate on this file instead of the split")
    evaluate.add_argument("--out", metavar="DIR", default=None,
                          help="write the evaluation's pictures (a confusion plot) here; nothing is ever "
                               "written into the model directory")  # fmt: skip
    add_json_flag(evaluate)
    evaluate.set_defaults(handler=run_eval)


def _task_parser(task) -> argparse.ArgumentParser:
    import dataclasses

    from rnnlab.config import config_fields

    rows = [(f"--{key} {type_name}", "required" if default is dataclasses.MISSING else f"default {default!r}")
            for key, type_name, default in config_fields(task.config_class)]  # fmt: skip
    width = max(len(flag) for flag, _ in rows)
    keys = "\n".join(f"  {flag:<{width}}  {default}" for flag, default in rows)
    from rnnlab.commands.options import Parser

    parser = Parser(
        prog=f"rnnlab train {task.name}",
        description=f"{task.summary}." + (f" Documentation: {task.docs}" if task.docs else "")
        + f"\n\nconfig keys (override with --key value or key=value):\n{keys}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", default=None, help=f"YAML config (see {task.presets_hint})")
    parser.add_argument("--resume", action="store_true", help="continue the run in output_dir from last/")
    parser.add_argument("--overwrite", action="store_true",
                        help="output_dir holds a run: move it aside (to DIR.old-<time>) and start afresh")  # fmt: skip
    parser.add_argument("--nproc", type=int, default=None, metavar="N",
                        help="train data-parallel in N processes on this machine (runs torchrun --standalone "
                             "--nproc_per_node N -m rnnlab train ...; at most one per CPU core, or per GPU)")  # fmt: skip
    return parser


def run_train(args: argparse.Namespace) -> int:
    target, rest = args.target, list(args.rest)
    if target is None:  # `rnnlab train [--help]`: the task list comes from the command index (no torch)
        print(args.usage())
        return 0 if args.show_help else 2
    from rnnlab.config import config_to_dict
    from rnnlab.errors import ConfigError
    from rnnlab.paths import check_writable
    from rnnlab.tasks.configs import load_task_config, yaml_task_name
    from rnnlab.tasks.registry import get_task
    from rnnlab.train.rundir import RUN_FILE, check_run_directory

    if target.endswith((".yaml", ".yml")) or Path(target).is_file():
        config_path, task = target, get_task(yaml_task_name(target), where=target)
    else:
        config_path, task = None, get_task(target)
    if task.positional and rest and not rest[0].startswith("-") and "=" not in rest[0]:
        rest = [f"--{task.positional}", rest[0], *rest[1:]]
    options, overrides = _task_parser(task).parse_known_args(rest)
    if options.config is not None:
        if config_path is not None:
            raise ConfigError(f"give the config once: {config_path} or --config {options.config}")
        config_path = options.config
    if config_path is not None and Path(config_path).name == RUN_FILE:
        # A run's own run.yaml trains that directory, wherever it was copied or moved (an explicit
        # --output_dir still wins: it comes later).
        overrides = [f"output_dir={Path(config_path).parent}", *overrides]
    task, config = load_task_config(task.name, config_path, overrides)
    run_dir = task.run_directory(config)
    if options.nproc is not None:
        return _launch(options.nproc, target, rest, task, config)
    from rnnlab.train import distributed

    if distributed.launched():
        if run_dir is None or task.build is None:
            raise ConfigError(f"task {task.name!r} trains in one pass, not under torchrun: run it without")
        distributed.init(config.trainer.device)
        try:
            return _train_distributed(task, config, run_dir, options)
        finally:
            distributed.destroy()
    if run_dir is None:  # a task that writes no run directory
        summary = _run_task(task, config, options.resume, run_dir)
    else:
        # Everything that can be checked is checked before the run directory exists: the directory (cheap,
        # first), then the data and the model (built here, before the guard writes anything), the disk.
        check_writable(run_dir, "output directory")
        check_run_directory(run_dir, task.name, resume=options.resume, overwrite=options.overwrite,
                            resumable=task.resumable, settings=config_to_dict(config))  # fmt: skip
        setup = None
        if task.build is not None:
            from rnnlab.train.run import prepare_setup

            setup = prepare_setup(task, config, run_dir, resume=options.resume)
        summary = _train_guarded(task, config, run_dir, options, setup)
        if isinstance(summary, int):
            return summary
    _print_summary(summary)
    return 0


def _train_guarded(task, config, run_dir: Path, options: argparse.Namespace, setup=None, ready=None) -> dict | int:
    """The training inside the run-directory guard and lock; an interruption becomes a hint and 130/143.
    `setup`: the task's built TrainSetup (`rnnlab.train.run.prepare_setup`), or None (a one-pass task).
    `ready`: called once the guard holds the directory, before training (rank 0 tells the other ranks)."""
    import signal

    from rnnlab.config import config_to_dict
    from rnnlab.errors import TrainingInterrupted
    from rnnlab.train.rundir import RUN_FILE, guard_run_directory

    # the config as built: a build may settle a value (the tagger's metric "loss" becomes "f1" or "accuracy")
    with guard_run_directory(run_dir, task.name, resume=options.resume, overwrite=options.overwrite,
                             resumable=task.resumable, settings=config_to_dict(config)):  # fmt: skip
        if ready is not None:
            ready()
        try:
            return _run_task(task, config, options.resume, run_dir, setup)
        except TrainingInterrupted as stop:
            hint = f"; to continue: rnnlab train {shlex.quote(str(run_dir / RUN_FILE))} --resume" if stop.checkpoint else ""
            print(f"rnnlab: {stop}{hint}", file=sys.stderr)
            return 130 if stop.signal == signal.SIGINT else 128 + int(stop.signal)


def _train_distributed(task, config, run_dir: Path, options: argparse.Namespace) -> int:
    """One rank of a torchrun run: rank 0 checks, guards and writes the run directory; the others wait for
    its go, build the same setup and train with it, writing nothing (see rnnlab.train.distributed)."""
    import signal

    from rnnlab.config import config_to_dict
    from rnnlab.errors import TrainingInterrupted
    from rnnlab.paths import check_writable
    from rnnlab.train import distributed
    from rnnlab.train.run import prepare_setup
    from rnnlab.train.rundir import check_run_directory

    if distributed.is_main():
        told = False

        def go() -> None:
            nonlocal told
            told = True
            distributed.broadcast_object(None)

        try:
            check_writable(run_dir, "output directory")
            check_run_directory(run_dir, task.name, resume=options.resume, overwrite=options.overwrite,
                                resumable=task.resumable, settings=config_to_dict(config))  # fmt: skip
            setup = prepare_setup(task, config, run_dir, resume=options.resume)
            summary = _train_guarded(task, config, run_dir, options, setup, ready=go)
        except BaseException as error:
            if not told:  # the other ranks wait for the go: tell them to stop instead
                distributed.broadcast_object(str(error) or type(error).__name__)
            raise
        if isinstance(summary, int):
            return summary
        _print_summary(summary)
        return 0
    if distributed.broadcast_object(None) is not None:  # rank 0 refused the run and says why
        return 2
    setup = prepare_setup(task, config, None)
    try:
        _run_task(task, config, options.resume, run_dir, setup)
    except TrainingInterrupted as stop:  # rank 0 prints how to resume
        return 130 if stop.signal == signal.SIGINT else 128 + int(stop.signal)
    return 0


def _launch(nproc: int, target: str, rest: list[str], task, config) -> int:
    """`rnnlab train ... --nproc N`: the same command under `torchrun --standalone --nproc_per_node N`,
    refusing more processes than CPU cores (or GPUs, for a run on CUDA)."""
    import os

    from rnnlab.errors import ConfigError
    from rnnlab.train import distributed
    from rnnlab.validation import check_option

    check_option("nproc", nproc)
    if distributed.launched():
        raise ConfigError("--nproc starts torchrun, and this process runs under torchrun already: leave --nproc out")
    if task.build is None or task.run_directory(config) is None:
        raise ConfigError(f"task {task.name!r} trains in one pass, not in parallel processes: leave --nproc out")
    device = config.trainer.device
    gpus = 0
    if device != "cpu":
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if device.startswith("cuda") and gpus == 0:
            raise ConfigError(f"trainer.device={device!r} but no CUDA GPU is available; use device=cpu or auto")
    limit, what = (gpus, "GPU(s)") if gpus else (len(os.sched_getaffinity(0)), "CPU core(s)")
    if nproc > limit:
        raise ConfigError(f"--nproc {nproc}: this machine has {limit} {what}; ask for at most {limit}")
    args = _without_nproc([target, *rest])
    env = dict(os.environ)
    if not gpus:  # share the cores out (torchrun would set 1 with a warning)
        env.setdefault("OMP_NUM_THREADS", str(max(1, limit // nproc)))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "rnnlab", "train", *args]  # fmt: skip
    print(f"rnnlab: {' '.join(shlex.quote(part) for part in command[1:])}", file=sys.stderr)
    return _run_quietly(command, env, task.run_directory(config))


def _without_nproc(args: list[str]) -> list[str]:
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            kept.append(arg)
    return kept


#: torchrun's own log lines (glog style "E1204 13:20:01.123 ...") and its failure report, not the ranks'
_TORCHRUN_NOISE = re.compile(r"^([WIE]\d{4} \d\d:\d\d:\d\d|\*{5,}|=+$|torch\.distributed\.elastic|"
                             r"\[W\d{4} |WARNING:torch\.distributed)")  # fmt: skip


def _run_quietly(command: list[str], env: dict, run_dir: Path | None = None) -> int:
    """Run torchrun with the ranks' output passed through and torchrun's own report of a failed rank (its
    log lines, a traceback through torch.distributed.run, the "FAILED" box) left out: the box becomes one
    line naming the rank that failed first and how. Returns torchrun's exit status."""
    import subprocess

    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, errors="replace", bufsize=1)
    held: list[str] = []  # a traceback, until its last line shows whose it is
    report: list[str] = []  # torchrun's box (after every rank ended)
    for line in process.stderr:
        if report or re.match(r"^\S+ FAILED\s*$", line):
            report.append(line)
            continue
        if held or line.startswith("Traceback"):
            held.append(line)
            if line[:1] in (" ", "\t") or line.startswith("Traceback"):
                continue
            text, held = "".join(held), []
            if "torch/distributed/run.py" not in text and "ChildFailedError" not in text:
                sys.stderr.write(text)  # a rank's own traceback: a bug to see
            continue
        if not _TORCHRUN_NOISE.match(line):
            sys.stderr.write(line)
    sys.stderr.write("".join(held))
    code = process.wait()
    if report:
        print(f"rnnlab: error: {_first_failure(report, run_dir)}", file=sys.stderr)
    return code


def _first_failure(report: list[str], run_dir: Path | None) -> str:
    """One line from torchrun's box: its "Root Cause" rank and exit code (a signal named)."""
    text = "".join(report)
    cause = text.split("Root Cause", 1)[-1]
    rank = re.search(r"rank\s*:\s*(\d+)", cause)
    code = re.search(r"exitcode\s*:\s*(-?\d+)[^\n]*?(\((SIG\w+)\))?\s*$", cause, re.M)
    how = "failed"
    if code is not None:
        how = f"was killed by {code.group(3)}" if code.group(3) else f"exited with status {code.group(1)}"
    who = f"training process rank {rank.group(1)}" if rank else "a training process"
    resume = (f"; to continue from the last checkpoint: rnnlab train {shlex.quote(str(run_dir / 'run.yaml'))} "
              "--resume --nproc N") if run_dir is not None and (run_dir / "last").exists() else ""  # fmt: skip
    return f"{who} {how}; the run was stopped{resume}"


def _run_task(task, config, resume: bool, run_dir: Path | None, setup=None) -> dict:
    """A trainable task (`build`) through the one Trainer of `rnnlab.train.run.train_task`, writing `run_dir`
    (`setup`: its TrainSetup if built already); a one-pass task (`train`) as it trains itself."""
    if task.build is not None:
        from rnnlab.train.run import train_task

        return train_task(task, config, resume, output_dir=run_dir, setup=setup)
    return task.train(config, resume)


def _print_summary(summary: dict) -> None:
    if summary.get("metric") is not None and summary.get("best_value") is not None:
        print(f"trained {summary.get('steps')} steps in {summary.get('wall_time', 0):.0f} s; best "
              f"{summary['metric']} {summary['best_value']:.4f} at step {summary.get('best_step')}")  # fmt: skip
    test = summary.get("test")
    if test:
        print(f"test: loss {test['loss']:.4f}, perplexity {test['ppl']:.2f}, bits/token {test['bpc']:.4f}")
    model = summary.get("best_checkpoint") or summary.get("last_checkpoint")
    if model and summary.get("metric") is not None:
        print(f"model: {model}")


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate; the result's artifacts (pictures) are written under --out DIR only, never into the model."""
    from rnnlab.paths import guard_output_dir
    from rnnlab.tasks.registry import EvalRequest, resolve_model_dir, task_of_model

    if args.out is not None:  # before evaluating: fails now, not after the work; never into a model or run
        guard_output_dir(args.out, "artifact directory", inputs=[args.checkpoint, args.data])
    task = task_of_model(args.checkpoint)
    result = task.evaluate(resolve_model_dir(args.checkpoint), EvalRequest(split=args.split, data_file=args.data))
    artifacts = list(result.pop("artifacts", None) or [])
    saved = _write_artifacts(artifacts, Path(args.out)) if args.out is not None else []
    if args.json:
        record = {"model": str(args.checkpoint), "task": task.name, **result}
        if saved:
            record["artifacts"] = [{"name": path.name, "media_type": artifact.media_type, "path": str(path)}
                                   for artifact, path in saved]  # fmt: skip
        print_json(record)
    else:
        print(task.format_eval(result))
    for artifact, path in saved:
        print(f"{_artifact_label(artifact)}: {path}", file=sys.stderr)
    if artifacts and args.out is None:
        names = ", ".join(artifact.name for artifact in artifacts)
        print(f"rnnlab: pass --out DIR to save: {names}", file=sys.stderr)
    return 0


def _write_artifacts(artifacts: list, out_dir: Path) -> list:
    """Write each artifact into `out_dir` (created if missing) atomically as a new file; [(artifact, path)].
    An existing file is never replaced: the artifact takes the next free name, -2, -3, ... before the
    suffix (`rnnlab.files.write_new_file`, as a verb's --out does)."""
    from rnnlab.files import write_new_file

    taken: set[str] = set()
    return [(artifact, write_new_file(out_dir, artifact.name, artifact.data, taken)) for artifact in artifacts]


def _artifact_label(artifact) -> str:
    """"confusion plot" for confusion.png (an image), else the file's stem and media type."""
    stem = artifact.name.rpartition(".")[0] or artifact.name
    return f"{stem} {'plot' if artifact.media_type.startswith('image/') else f'({artifact.media_type})'}"
