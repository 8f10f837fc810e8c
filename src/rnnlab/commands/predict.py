"""`rnnlab predict MODEL_DIR INPUT...`: the prediction verb of tasks that bring their own `predict`."""

from __future__ import annotations

import argparse

from rnnlab.commands.output import add_json_flag, print_json


def register(commands) -> None:
    predict = commands.top.add_parser("predict", help="run a trained model of a task with its own `predict`")
    predict.add_argument("checkpoint", help="model directory")
    predict.add_argument("inputs", nargs="*", help="inputs, one per argument")
    predict.add_argument("--input", default=None, help="one input per line of this file")
    add_json_flag(predict)
    predict.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    from rnnlab.data.tagged import read_lines
    from rnnlab.errors import UserError
    from rnnlab.tasks.registry import open_model, task_of_model

    if bool(args.inputs) == bool(args.input):
        raise UserError("expected inputs on the command line or --input FILE (one of the two)")
    inputs = read_lines(args.input) if args.input else list(args.inputs)
    model = open_model(args.checkpoint, "predict")
    for result in task_of_model(args.checkpoint).predict(model, inputs):
        if args.json:
            print_json(result)
        else:
            print("\t".join(str(value) for value in result.values()))
    return 0
