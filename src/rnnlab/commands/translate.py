"""`rnnlab train translate` and `rnnlab translate CKPT "text"` (machine translation with seq2seq)."""

from __future__ import annotations

import argparse
import sys


def register(commands) -> None:
    train = commands.train.add_parser(
        "translate",
        help="train an RNN encoder-decoder translation model",
        description="Train a seq2seq translation model (see configs/translate/). Any config key can be "
        "overridden: --model.attention dot, --trainer.max_steps 500, --data.dataset en-zh ...",
    )
    train.add_argument("--config", default=None, help="YAML config (see configs/translate/)")
    train.add_argument("--resume", action="store_true", help="continue the run in output_dir from last/")
    train.set_defaults(handler=run_train, accepts_overrides=True)

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
    translate.set_defaults(handler=run_translate)


def run_train(args: argparse.Namespace) -> int:
    from rnnlab.config import load_config
    from rnnlab.tasks.translation import TranslationConfig, train

    config = load_config(TranslationConfig, args.config, args.overrides)
    summary = train(config, resume=args.resume)
    best = summary.get("best_value")
    print(f"trained {summary.get('steps')} steps in {summary.get('wall_time', 0):.0f} s; best "
          f"{summary.get('metric')} {best if best is None else round(best, 4)}")  # fmt: skip
    print(f"model: {summary.get('best_checkpoint') or summary.get('last_checkpoint')}")
    return 0


def _read_inputs(args: argparse.Namespace) -> list[str] | None:
    from rnnlab.errors import DataError

    if args.input:
        try:
            with open(args.input, encoding="utf-8") as handle:
                lines = [line.rstrip("\n") for line in handle]
        except FileNotFoundError:
            raise DataError(f"{args.input}: input file not found") from None
        except UnicodeDecodeError:
            raise DataError(f"{args.input}: not valid UTF-8 text") from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                raise DataError(f"{args.input}:{number}: empty line; one source sentence per line expected")
        return lines
    return list(args.sentences) or None


def run_translate(args: argparse.Namespace) -> int:
    from rnnlab.errors import UserError
    from rnnlab.tasks.translation import load_translator

    if args.n_best < 1 or (args.beam is not None and args.beam < 1):
        raise UserError("--beam and --n-best must be >= 1")
    translator = load_translator(args.checkpoint)
    method = "greedy" if args.greedy else "beam"
    beam = args.beam or translator.config.decode.beam_size
    if method == "greedy" and args.n_best > 1:
        raise UserError("--n-best > 1 needs beam search (drop --greedy)")
    reranker = _reranker(args, translator)
    n_best = max(args.n_best, beam if reranker else 1) if method == "beam" else 1
    if n_best > beam:
        beam = n_best

    def translate_all(sentences: list[str]) -> None:
        outputs = translator.translate(sentences, method=method, beam_size=beam, n_best=n_best, alpha=args.alpha)
        if reranker is not None:
            outputs = reranker.rerank(sentences, outputs)
        for sentence, nbest in zip(sentences, outputs):
            if args.n_best == 1:
                print(nbest[0].text)
            else:
                print(f"# {sentence}")
                for rank, t in enumerate(nbest[: args.n_best], start=1):
                    print(f"{rank}\t{t.score:.4f}\t{t.text}")
        if args.plot_attention and sentences:
            _plot_attention(translator, sentences[0], outputs[0][0].ids, args.plot_attention)

    if args.tune:
        if reranker is None:
            raise UserError("--tune needs --lm and/or --reverse")
        _tune(translator, reranker, beam)
        return 0
    sentences = _read_inputs(args)
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


def _reranker(args: argparse.Namespace, translator):
    if not (args.lm or args.reverse):
        return None
    from rnnlab.tasks.noisy_channel import NoisyChannelReranker, NoisyChannelWeights, load_language_model_dir
    from rnnlab.tasks.translation import load_translator

    lm = load_language_model_dir(args.lm) if args.lm else None
    reverse = load_translator(args.reverse) if args.reverse else None
    weights = NoisyChannelWeights(
        lm=args.lm_weight if lm else 0.0, reverse=args.reverse_weight if reverse else 0.0, length=args.length_weight
    )
    return NoisyChannelReranker(lm, reverse, weights)


def _tune(translator, reranker, beam: int) -> None:
    from rnnlab.tasks.translation import corpus_scores, load_pairs, target_language

    pairs = load_pairs(translator.config.data)["valid"]
    sources, references = [s for s, _ in pairs], [t for _, t in pairs]
    nbest = translator.translate(sources, beam_size=beam, n_best=beam, warn=False)
    weights, bleu = reranker.tune(sources, references, nbest, target_language(translator.config))
    baseline = corpus_scores([n[0].text for n in nbest], references, target_language(translator.config))["bleu"]
    print(f"valid BLEU: beam {baseline:.2f} -> reranked {bleu:.2f} with --lm-weight {weights.lm} "
          f"--reverse-weight {weights.reverse} --length-weight {weights.length}")  # fmt: skip


def _plot_attention(translator, source: str, target_ids: list[int], path: str) -> None:
    from rnnlab.errors import UserError

    src, tgt, weights = translator.attention(source, target_ids)
    if weights is None:
        raise UserError("--plot-attention: this model has no attention (plain seq2seq)")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4, 0.45 * len(src) + 2), max(3, 0.4 * len(tgt) + 1.5)))
    ax.imshow(weights.numpy(), cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(src)), src, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(tgt)), tgt, fontsize=8)
    ax.set_xlabel("source subwords")
    ax.set_ylabel("target subwords")
    ax.set_title("attention weights")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"attention heatmap: {path}", file=sys.stderr)
