"""`rnnlab runs [DIR] [--json]`: the training runs under DIR (default runs/) with task, best metric, steps, size."""

from __future__ import annotations

import argparse

from rnnlab.commands.output import add_json_flag, print_json


def register(commands) -> None:
    runs = commands.top.add_parser(
        "runs", help="list trained runs under a folder (task, best metric and value, steps, size on disk)"
    )
    runs.add_argument("directory", nargs="?", default="runs", help="folder of runs, or one run (default: runs)")
    add_json_flag(runs)
    runs.set_defaults(handler=run_runs)


def run_runs(args: argparse.Namespace) -> int:
    from rnnlab.train.rundir import format_runs, list_runs

    found = list_runs(args.directory)
    if args.json:
        for run in found:
            print_json(run.to_dict())
    else:
        print(format_runs(found))
    return 0
