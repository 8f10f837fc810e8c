"""`rnnlab generate` and `rnnlab score` (any language model: neural or n-gram) and `rnnlab demo`."""

from __future__ import annotations

import argparse
import inspect
import sys

from rnnlab.commands.output import add_json_flag, print_json


def register(commands) -> None:
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
    add_json_flag(generate)
    generate.set_defaults(handler=run_generate)

    score = commands.top.add_parser("score", help="log-probability and perplexity of sentences")
    score.add_argument("checkpoint", help="model directory (neural or n-gram LM)")
    score.add_argument("sentences", nargs="*", help="sentences to score")
    score.add_argument("--input", default=None, help="score every line of this file")
    score.add_argument("--tokens", action="store_true", help="print the per-token breakdown")
    add_json_flag(score)
    score.set_defaults(handler=run_score)

    demo = commands.top.add_parser(
        "demo", help="Tang poems: a character 3-gram and an RNN trained for a few minutes, side by side"
    )
    demo.add_argument("--output-dir", default="runs/demo")
    demo.add_argument("--minutes", type=float, default=4.0, help="the RNN's training wall-clock budget (default 4)")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--steps", type=int, default=None, help="train exactly this many steps instead of --minutes")
    demo.add_argument("--threads", type=int, default=None, help="torch threads (default: the idle cores, at most 4)")
    demo.add_argument("--overwrite", action="store_true", help="replace a run already in --output-dir")
    demo.set_defaults(handler=run_demo)


def run_generate(args: argparse.Namespace) -> int:
    from rnnlab.errors import UserError
    from rnnlab.tasks.registry import open_model

    lm = open_model(args.checkpoint, "generate")
    sampling = dict(num_samples=args.num_samples, temperature=args.temperature, top_k=args.top_k,
                    top_p=args.top_p, seed=args.seed)  # fmt: skip
    if args.form or args.acrostic:
        if not hasattr(lm, "generate_poem"):
            raise UserError("--form / --acrostic need a neural poem model; this model cannot constrain forms")
        poems = getattr(lm, "iter_generate_poem", lm.generate_poem)  # samples as they are made, if it can
        _print_samples(poems(args.form, args.acrostic, **sampling), args.json, separate=False)
        return 0
    generate = getattr(lm, "iter_generate", lm.generate)  # chunk by chunk: memory does not grow with the count
    options = inspect.signature(generate).parameters
    for flag, value in (("beam", args.beam), ("greedy", args.greedy)):
        if value and flag not in options:
            raise UserError(f"--{flag} is not available for this model")
    extra = {name: value for name, value in (("beam", args.beam), ("greedy", args.greedy)) if name in options}
    stream = (args.num_samples == 1 and not args.no_stream and not args.beam and not args.stop and not args.json
              and "on_token" in options)  # fmt: skip
    if stream:
        extra["on_token"] = _write_now
        sys.stdout.write(args.prompt)
        sys.stdout.flush()
    texts = generate(args.prompt, max_tokens=args.max_tokens, stop=args.stop, **sampling, **extra)
    if stream:
        for _ in texts:  # the text went out token by token
            pass
        print()
    else:
        # greedy decoding (or temperature 0) gives one text; beam search its n best
        count = 1 if args.greedy or args.temperature == 0 else min(args.beam or args.num_samples, args.num_samples)
        _print_samples(texts, args.json, separate=count > 1)
    return 0


def _write_now(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _print_samples(texts, as_json: bool, separate: bool) -> None:
    for index, text in enumerate(texts, start=1):
        if as_json:
            print_json({"sample": index, "text": text})
        else:
            print(f"--- sample {index}\n{text}" if separate else text)


def run_score(args: argparse.Namespace) -> int:
    from rnnlab.lm.scoring import print_scores, read_sentences
    from rnnlab.tasks.registry import open_model

    sentences = read_sentences(args.sentences, args.input)
    model = open_model(args.checkpoint, "score")
    scores = model.score(sentences)
    if args.json:
        for score in scores:
            print_json({"text": score.text, "logprob": score.total_logprob, "log10prob": score.total_log10prob,
                        "tokens": len(score.tokens), "perplexity": score.perplexity, "unknown": score.unknown,
                        "token_logprobs": [[t, p] for t, p in zip(score.tokens, score.token_logprobs)]})  # fmt: skip
        return 0
    print_scores(scores, show_tokens=args.tokens or len(sentences) <= 4, out=sys.stdout)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from rnnlab.tasks.demo import run_demo as demo

    result = demo(output_dir=args.output_dir, minutes=args.minutes, seed=args.seed, steps=args.steps,
                  overwrite=args.overwrite, threads=args.threads)  # fmt: skip
    return 130 if result.get("interrupted") else 0
