"""`rnnlab translate CKPT "text"`: the translation task's prediction verb (training: `rnnlab train CONFIG`)."""

from __future__ import annotations

import argparse
import sys

from rnnlab.commands.output import add_json_flag, print_json


def register(commands) -> None:
    translate = commands.top.add_parser(
        "translate",
        help="translate sentences with a trained model",
        description="Translate sentences given as arguments, from --input FILE, or typed interactively.",
    )
    translate.add_argument("checkpoint", help="model directory written by `rnnlab train translate`")
    translate.add_argument("sentences", nargs="*", help="sentences to translate")
    translate.add_argument("--input", default=None, help="translate every line of this file")
    translate.add_argument("--beam", type=int, default=None, help="beam size (default: the model's config)")
    translate.add_argument("--n-best", type=int, default=1, help="print this many hypotheses per sentence")
    translate.add_argument("--greedy", action="store_true", help="greedy decoding instead of beam search")
    translate.add_argument("--alpha", type=float, default=None, help="length penalty ((5+len)/6)^alpha")
    translate.add_argument("--plot-attention", default=None, metavar="PNG",
                           help="write the attention heatmap of the (first) translation here")  # fmt: skip
    translate.add_argument("--lm", default=None, help="target-side language model for noisy-channel reranking")
    translate.add_argument("--reverse", default=None, help="reverse (target->source) model for reranking")
    translate.add_argument("--lm-weight", type=float, default=0.3)
    translate.add_argument("--reverse-weight", type=float, default=0.5)
    translate.add_argument("--length-weight", type=float, default=0.0)
    translate.add_argument("--tune", action="store_true",
                           help="tune the reranking weights on the valid split (grid search) and print them")  # fmt: skip
    add_json_flag(translate)
    translate.set_defaults(handler=run_translate)


def _read_inputs(args: argparse.Namespace) -> list[str] | None:
    from rnnlab.errors import DataError
    from rnnlab.validation import check_sentences

    if args.input:
        try:
            with open(args.input, encoding="utf-8") as handle:
                lines = [line.rstrip("\n") for line in handle]
        except FileNotFoundError:
            raise DataError(f"{args.input}: input file not found") from None
        except UnicodeDecodeError:
            raise DataError(f"{args.input}: not valid UTF-8 text") from None
        check_sentences(lines, args.input)
        return lines
    check_sentences(args.sentences)
    return list(args.sentences) or None


def run_translate(args: argparse.Namespace) -> int:
    from rnnlab.errors import UserError
    from rnnlab.paths import check_picture
    from rnnlab.tasks.noisy_channel import build_reranker
    from rnnlab.tasks.registry import open_model
    from rnnlab.tasks.translation import plot_attention, tune_reranker

    if args.n_best < 1 or (args.beam is not None and args.beam < 1):
        raise UserError("--beam and --n-best must be >= 1")
    if args.json and not (args.sentences or args.input or args.tune) and sys.stdin.isatty():
        raise UserError("--json needs sentences as arguments, --input FILE or piped stdin, not the interactive prompt")
    if args.plot_attention:
        check_picture(args.plot_attention, "attention heatmap")
    sentences = None if args.tune else _read_inputs(args)  # a mistake in the input fails before loading the model
    translator = open_model(args.checkpoint, "translate")
    method = "greedy" if args.greedy else "beam"
    beam = args.beam or translator.config.decode.beam_size
    if method == "greedy" and args.n_best > 1:
        raise UserError("--n-best > 1 needs beam search (drop --greedy)")
    reranker = build_reranker(args.lm, args.reverse, args.lm_weight, args.reverse_weight, args.length_weight)
    n_best = max(args.n_best, beam if reranker else 1) if method == "beam" else 1
    if n_best > beam:
        beam = n_best

    def translate_all(sentences: list[str]) -> None:
        outputs = translator.translate(sentences, method=method, beam_size=beam, n_best=n_best, alpha=args.alpha)
        if reranker is not None:
            outputs = reranker.rerank(sentences, outputs)
        for sentence, nbest in zip(sentences, outputs):
            if args.json:
                print_json({"source": sentence, "translations": [
                    {"text": t.text, "score": t.score} for t in nbest[: args.n_best]]})  # fmt: skip
            elif args.n_best == 1:
                print(nbest[0].text)
            else:
                print(f"# {sentence}")
                for rank, t in enumerate(nbest[: args.n_best], start=1):
                    print(f"{rank}\t{t.score:.4f}\t{t.text}")
        if args.plot_attention and sentences:
            plot_attention(translator, sentences[0], outputs[0][0].ids, args.plot_attention)
            print(f"attention heatmap: {args.plot_attention}", file=sys.stderr)

    if args.tune:
        if reranker is None:
            raise UserError("--tune needs --lm and/or --reverse")
        tuned = tune_reranker(translator, reranker, beam)
        if args.json:
            print_json(tuned)
        else:
            print(f"valid BLEU: beam {tuned['bleu_beam']:.2f} -> reranked {tuned['bleu_reranked']:.2f} with "
                  f"--lm-weight {tuned['lm_weight']} --reverse-weight {tuned['reverse_weight']} "
                  f"--length-weight {tuned['length_weight']}")  # fmt: skip
        return 0
    if sentences is not None:
        translate_all(sentences)
        return 0
    interactive = sys.stdin.isatty()
    if interactive:
        print("Type a sentence to translate (Ctrl-D to quit).", file=sys.stderr)
    for line in sys.stdin:
        if line.strip():
            translate_all([line.rstrip("\n")])
    return 0
