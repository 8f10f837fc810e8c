"""`rnnlab train ngram` (count a corpus, estimate a model) and `rnnlab ngram import|export|info`."""

from __future__ import annotations

import argparse

SMOOTHINGS = ("mle", "addk", "wb", "kn", "mkn")


def register(commands) -> None:
    parser = commands.train.add_parser(
        "ngram",
        help="n-gram language model (modified Kneser-Ney like KenLM, and simpler estimators)",
        description="Count CORPUS (a text file, one sentence per line, or a built-in dataset such as "
        "ptb or tang) and estimate an n-gram model; or import an ARPA file with --from-arpa.",
    )
    parser.add_argument("corpus", nargs="?", help="text file or built-in dataset name")
    parser.add_argument("--order", type=int, default=3, help="n (default 3)")
    parser.add_argument(
        "--smoothing",
        choices=SMOOTHINGS,
        default="mkn",
        help="mle, addk, wb (Witten-Bell), kn, mkn (modified Kneser-Ney, default)",
    )
    parser.add_argument("--k", type=float, default=1.0, help="add-k constant (default 1: Laplace)")
    parser.add_argument(
        "--level",
        choices=("word", "char"),
        default=None,
        help="token level (default: word, or the dataset's)",
    )
    parser.add_argument("--min-count", type=int, default=1, help="words seen fewer times become <unk>")
    parser.add_argument(
        "--prune",
        type=int,
        nargs="+",
        default=None,
        metavar="T",
        help="per order, drop n-grams seen at most T times (e.g. 0 0 1: singleton 3-grams and up)",
    )
    parser.add_argument(
        "--discount-fallback",
        type=float,
        nargs="*",
        default=None,
        metavar="D",
        help="Kneser-Ney discounts to use when the data is too small to estimate them "
        "(no value: mkn 0.5 1 1.5 as lmplz, kn 0.75)",
    )
    parser.add_argument("--output", default=None, help="model directory (default runs/ngram-NAME-Ngram)")
    parser.add_argument("--arpa", default=None, help="also write the model as this ARPA file")
    parser.add_argument(
        "--from-arpa", default=None, metavar="FILE", help="import an ARPA file instead of counting"
    )
    parser.add_argument(
        "--chunk-tokens",
        type=int,
        default=1_000_000,
        help="about this many tokens are counted per chunk before merging (memory bound)",
    )
    parser.set_defaults(handler=run_train)

    tools = commands.top.add_parser("ngram", help="n-gram model tools: ARPA import/export, info")
    actions = tools.add_subparsers(dest="ngram_action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write a saved n-gram model as an ARPA file")
    export.add_argument("checkpoint", help="model directory")
    export.add_argument("arpa", help="ARPA file to write")
    export.set_defaults(handler=run_tool)
    imports = actions.add_parser(
        "import", help="turn an ARPA file (SRILM, KenLM, ...) into a model directory"
    )
    imports.add_argument("arpa", help="ARPA file to read")
    imports.add_argument("--output", required=True, help="model directory to write")
    imports.add_argument("--level", choices=("word", "char"), default="word", help="how its tokens were made")
    imports.set_defaults(handler=run_tool)
    info = actions.add_parser("info", help="order, estimator, n-gram counts, discounts and memory of a model")
    info.add_argument("checkpoint", help="model directory")
    info.set_defaults(handler=run_tool)


def run_tool(args: argparse.Namespace) -> int:
    from rnnlab.tasks.ngram import tool_command

    return tool_command(args)


def run_train(args: argparse.Namespace) -> int:
    from rnnlab.tasks.ngram import train_command

    return train_command(args)
