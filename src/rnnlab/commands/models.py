"""`rnnlab eval / generate / score`: commands that open a saved model directory of any task."""

from __future__ import annotations

import argparse
import sys


def register(commands) -> None:
    evaluate = commands.top.add_parser("eval", help="evaluate a saved model on a data split")
    evaluate.add_argument("checkpoint", help="model directory")
    evaluate.add_argument("--split", default="test", help="train / valid / test (default: test)")
    evaluate.add_argument("--data", default=None, help="evaluate on this text file instead of the split")
    evaluate.set_defaults(handler=run_eval)

    generate = commands.top.add_parser("generate", help="sample text from a language model")
    generate.add_argument("checkpoint", help="model directory (neural or n-gram LM)")
    generate.add_argument("--prompt", default="", help="text the samples continue")
    generate.add_argument("--num-samples", type=int, default=1)
    generate.add_argument("--max-tokens", type=int, default=200)
    generate.add_argument("--temperature", type=float, default=1.0)
    generate.add_argument("--top-k", type=int, default=None)
    generate.add_argument("--top-p", type=float, default=None)
    generate.add_argument("--seed", type=int, default=None)
    generate.add_argument("--stop", action="append", default=[], help="stop at this string (repeatable)")
    generate.add_argument("--greedy", action="store_true", help="greedy decoding instead of sampling")
    generate.add_argument("--beam", type=int, default=None, help="beam search with this beam size")
    generate.add_argument("--form", default=None, help="poem form for poem models, e.g. 五言绝句")
    generate.add_argument("--acrostic", default=None, help="characters that start each poem line")
    generate.add_argument("--no-stream", action="store_true", help="print samples only when complete")
    generate.set_defaults(handler=run_generate)

    score = commands.top.add_parser("score", help="log-probability and perplexity of sentences")
    score.add_argument("checkpoint", help="model directory (neural or n-gram LM)")
    score.add_argument("sentences", nargs="*", help="sentences to score")
    score.add_argument("--input", default=None, help="score every line of this file")
    score.add_argument("--tokens", action="store_true", help="print the per-token breakdown")
    score.set_defaults(handler=run_score)


def run_eval(args: argparse.Namespace) -> int:
    from rnnlab.tasks.registry import load_task_module

    return load_task_module(args.checkpoint).evaluate_command(args) or 0


def run_generate(args: argparse.Namespace) -> int:
    from rnnlab.tasks.registry import load_task_module

    return load_task_module(args.checkpoint).generate_command(args) or 0


def run_score(args: argparse.Namespace) -> int:
    from rnnlab.errors import UserError
    from rnnlab.lm.scoring import print_scores, read_sentences
    from rnnlab.tasks.registry import load_task_module

    sentences = read_sentences(args.sentences, args.input)
    module = load_task_module(args.checkpoint)
    if not hasattr(module, "load_language_model"):
        raise UserError(f"{args.checkpoint}: this model is not a language model; `score` needs one")
    model = module.load_language_model(args.checkpoint)
    print_scores(model.score(sentences), show_tokens=args.tokens or len(sentences) <= 4, out=sys.stdout)
    return 0
