"""`rnnlab train tagger|classifier|cloze`, `rnnlab tag`, `rnnlab classify`, `rnnlab cloze`.

Handlers import torch and the task modules lazily so `rnnlab --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys


def _add_train(commands, name: str, help_text: str, handler) -> None:
    parser = commands.train.add_parser(
        name, help=help_text,
        description=f"{help_text}. Any config key can be overridden after the options: "
        "key=value or --key value, e.g. trainer.max_epochs=2 --model.output softmax.",
    )
    parser.add_argument("--config", default=None, help=f"YAML config (see configs/{name}/)")
    parser.add_argument("--resume", action="store_true", help="continue from <output_dir>/last")
    # The CLI hands every unrecognised argument (key=value, --key value) over as args.overrides.
    parser.set_defaults(handler=handler, accepts_overrides=True)


def register(commands) -> None:
    _add_train(commands, "tagger", "BiLSTM(-CRF) POS / NER tagger", train_tagger)
    _add_train(commands, "classifier", "BiRNN sentence classifier", train_classifier)
    _add_train(commands, "cloze", "bidirectional fill-in-the-blank model", train_cloze)

    tag = commands.top.add_parser("tag", help="tag sentences with a trained tagger")
    tag.add_argument("checkpoint", help="tagger model directory (e.g. runs/tagger-en-pos/best)")
    tag.add_argument("sentences", nargs="*", help="sentences, tokens separated by spaces")
    tag.add_argument("--input", default=None, help="file to tag: word/TAG, CoNLL, CoNLL-U or plain text")
    tag.add_argument("--format", default="auto", help="input format: auto, slash, conll, conllu, text")
    tag.add_argument("--output", default=None, help="write here instead of stdout (same format as input)")
    tag.add_argument("--batch-size", type=int, default=128)
    tag.set_defaults(handler=run_tag)

    classify = commands.top.add_parser("classify", help="label sentences with a trained classifier")
    classify.add_argument("checkpoint", help="classifier model directory")
    classify.add_argument("sentences", nargs="*", help="sentences to classify")
    classify.add_argument("--input", default=None, help="classify every line of this file")
    classify.add_argument("--top-k", type=int, default=None, help="show the k most probable labels")
    classify.set_defaults(handler=run_classify)

    cloze = commands.top.add_parser("cloze", help="rank fillers for the ___ in a sentence")
    cloze.add_argument("checkpoint", help="cloze model directory")
    cloze.add_argument("sentence", help='a sentence with one blank, e.g. "I am ___ hungry ."')
    cloze.add_argument("--top-k", type=int, default=10)
    cloze.add_argument("--blank", default="___", help="the blank marker (default ___)")
    cloze.set_defaults(handler=run_cloze)


def _config(cls, args: argparse.Namespace):
    from rnnlab.config import load_config

    return load_config(cls, args.config, getattr(args, "overrides", None) or [])


def _report(summary: dict) -> int:
    best = summary.get("best_checkpoint")
    print(f"best {summary.get('metric')}: {summary.get('best_value')} at step {summary.get('best_step')}; "
          f"model: {best}")
    return 0


def train_tagger(args: argparse.Namespace) -> int:
    from rnnlab.tasks.tagging import TaggerConfig, train

    return _report(train(_config(TaggerConfig, args), resume=args.resume))


def train_classifier(args: argparse.Namespace) -> int:
    from rnnlab.tasks.classification import ClassifierConfig, train

    return _report(train(_config(ClassifierConfig, args), resume=args.resume))


def train_cloze(args: argparse.Namespace) -> int:
    from rnnlab.tasks.cloze import ClozeConfig, train

    return _report(train(_config(ClozeConfig, args), resume=args.resume))


def _inputs(args: argparse.Namespace, what: str) -> None:
    from rnnlab.errors import UserError

    if bool(args.sentences) == bool(args.input):
        raise UserError(f"expected {what} on the command line or --input FILE (one of the two)")


def run_tag(args: argparse.Namespace) -> int:
    from rnnlab.data.tagged import TaggedSentence, format_tagged, read_tagged
    from rnnlab.errors import DataError
    from rnnlab.tasks.tagging import load_tagger

    _inputs(args, "sentences")
    tagger = load_tagger(args.checkpoint)
    if args.input:
        sentences = read_tagged(args.input, args.format, tagger.config.data.tag_column, require_tags=False)
        fmt = args.format if args.format != "auto" else _detected(args.input)
    else:
        for number, text in enumerate(args.sentences, 1):
            if not text.split():
                raise DataError(f"sentence {number}: empty sentence; expected tokens to tag")
        sentences = [TaggedSentence(text.split(), None, "<command line>", i + 1)
                     for i, text in enumerate(args.sentences)]
        fmt = "text"
    predicted = tagger.predict_sentences(sentences, args.batch_size)
    for sentence, tags in zip(sentences, predicted):
        sentence.tags = tags
    text = format_tagged(sentences, fmt, tagger.config.data.tag_column)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _detected(path: str) -> str:
    from pathlib import Path

    from rnnlab.data.tagged import detect_format

    return detect_format(Path(path).read_text(encoding="utf-8-sig").splitlines(), path)


def run_classify(args: argparse.Namespace) -> int:
    from rnnlab.data.tagged import read_lines
    from rnnlab.errors import DataError
    from rnnlab.tasks.classification import load_classifier

    _inputs(args, "sentences")
    texts = args.sentences
    where = "sentence"
    if args.input:
        texts = read_lines(args.input)
        where = args.input
    for number, text in enumerate(texts, 1):
        if not text.strip():
            raise DataError(f"{where}:{number}: empty sentence; expected text to classify")
    classifier = load_classifier(args.checkpoint)
    for text, probs in zip(texts, classifier.probabilities(texts)):
        ranked = sorted(probs.items(), key=lambda item: -item[1])
        shown = ranked[: args.top_k] if args.top_k else ranked[:1]
        labels = "  ".join(f"{label} {p:.3f}" for label, p in shown)
        print(f"{labels}\t{text}")
    return 0


def run_cloze(args: argparse.Namespace) -> int:
    from rnnlab.tasks.cloze import fill_blank, load_cloze

    model = load_cloze(args.checkpoint)
    both, forward = fill_blank(model, args.sentence, args.top_k, args.blank)
    width = max([len(w) for w, _ in both + forward] + [8])
    print(f"{'bidirectional':>{width + 8}s}   | {'forward only':>{width + 8}s}")
    for (w1, p1), (w2, p2) in zip(both, forward):
        print(f"{w1:>{width}s} {p1:7.4f}   | {w2:>{width}s} {p2:7.4f}")
    return 0
