"""`rnnlab ngram import|export|info`: n-gram model tools (training is `rnnlab train ngram`, see tasks/ngram.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnlab.commands.output import add_json_flag, print_json


def register(commands) -> None:
    tools = commands.top.add_parser("ngram", help="n-gram model tools: ARPA import/export, info")
    actions = tools.add_subparsers(dest="ngram_action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write a saved n-gram model as an ARPA file")
    export.add_argument("checkpoint", help="model directory")
    export.add_argument("arpa", help="ARPA file to write (outside any model or run directory)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing ARPA file")
    export.set_defaults(handler=run_tool)
    imports = actions.add_parser(
        "import", help="turn an ARPA file (SRILM, KenLM, ...) into a model directory"
    )
    imports.add_argument("arpa", help="ARPA file to read")
    imports.add_argument("--output", required=True, help="model directory to write")
    imports.add_argument("--overwrite", action="store_true", help="replace an n-gram model already in --output")
    imports.add_argument("--level", choices=("word", "char"), default="word", help="how its tokens were made")
    imports.set_defaults(handler=run_tool)
    info = actions.add_parser("info", help="order, estimator, n-gram counts, discounts and memory of a model")
    info.add_argument("checkpoint", help="model directory")
    add_json_flag(info)
    info.set_defaults(handler=run_tool)


def run_tool(args: argparse.Namespace) -> int:
    from rnnlab.lm.ngram import NGramModel
    from rnnlab.paths import check_writable, guard_output_file
    from rnnlab.tasks.ngram_eval import format_info, info
    from rnnlab.tasks.registry import resolve_model_dir

    if args.ngram_action == "export":  # checked before loading: never the model's own files, never a file unasked
        guard_output_file(args.arpa, "ARPA file", inputs=[args.checkpoint], overwrite=args.overwrite)
        model = NGramModel.load(resolve_model_dir(args.checkpoint))
        model.write_arpa(args.arpa)
        print(f"wrote {args.arpa}: order {model.order}, n-grams {model.tables.sizes()}")
    elif args.ngram_action == "import":
        check_writable(args.output, "model directory")
        _check_import_target(Path(args.output), args.overwrite)
        model = NGramModel.from_arpa(args.arpa, level=args.level)
        model.save(args.output)
        print(f"imported {args.arpa} into {args.output}: order {model.order}, n-grams {model.tables.sizes()}")
    elif args.json:
        print_json(info(args.checkpoint))
    else:
        print(format_info(info(args.checkpoint)))
    return 0


def _check_import_target(output: Path, overwrite: bool) -> None:
    """`ngram import` writes a bare model directory: never into a training run, never over a model unasked."""
    from rnnlab.errors import UserError
    from rnnlab.train.rundir import RUN_FILE, holds_run

    for place in (output, output.parent):
        if (place / RUN_FILE).is_file():
            raise UserError(f"{output}: part of the training run in {place}; import into a new directory "
                            "(or retrain with rnnlab train ngram --from-arpa FILE --output-dir DIR)")  # fmt: skip
    if holds_run(output) and not overwrite:
        raise UserError(f"{output} already holds a model; --overwrite replaces it, or choose a new --output")
