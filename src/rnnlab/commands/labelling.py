"""`rnnlab tag`, `rnnlab classify`, `rnnlab cloze`: the labelling tasks' prediction verbs.

Training is `rnnlab train CONFIG.yaml` (see commands/train.py); the models come from `open_model`.
"""

from __future__ import annotations

import argparse
import sys

from rnnlab.commands.output import add_json_flag, print_json


def register(commands) -> None:
    tag = commands.top.add_parser("tag", help="tag sentences with a trained tagger")
    tag.add_argument("checkpoint", help="tagger model directory (e.g. runs/tagger-en-pos/best)")
    tag.add_argument("sentences", nargs="*", help="sentences, tokens separated by spaces")
    tag.add_argument("--input", default=None, help="file to tag: word/TAG, CoNLL, CoNLL-U or plain text")
    tag.add_argument("--format", default="auto", help="input format: auto, slash, conll, conllu, text")
    tag.add_argument("--output", default=None, help="write here instead of stdout (same format as input)")
    tag.add_argument("--batch-size", type=int, default=128)
    add_json_flag(tag)
    tag.set_defaults(handler=run_tag)

    classify = commands.top.add_parser("classify", help="label sentences with a trained classifier")
    classify.add_argument("checkpoint", help="classifier model directory")
    classify.add_argument("sentences", nargs="*", help="sentences to classify")
    classify.add_argument("--input", default=None, help="classify every line of this file")
    classify.add_argument("--top-k", type=int, default=None, help="show the k most probable labels")
    add_json_flag(classify)
    classify.set_defaults(handler=run_classify)

    cloze = commands.top.add_parser("cloze", help="rank fillers for the ___ in a sentence")
    cloze.add_argument("checkpoint", help="cloze model directory")
    cloze.add_argument("sentence", help='a sentence with one blank, e.g. "I am ___ hungry ."')
    cloze.add_argument("--top-k", type=int, default=10)
    cloze.add_argument("--blank", default="___", help="the blank marker (default ___)")
    add_json_flag(cloze)
    cloze.set_defaults(handler=run_cloze)


def _inputs(args: argparse.Namespace, what: str) -> None:
    from rnnlab.errors import UserError

    if bool(args.sentences) == bool(args.input):
        raise UserError(f"expected {what} on the command line or --input FILE (one of the two)")


def run_tag(args: argparse.Namespace) -> int:
    from rnnlab.data.tagged import TaggedSentence, format_tagged, read_tagged
    from rnnlab.errors import UserError
    from rnnlab.paths import check_writable
    from rnnlab.tasks.registry import open_model
    from rnnlab.validation import check_sentences

    _inputs(args, "sentences")
    if args.json and args.output:
        raise UserError("--json prints to stdout; drop --output (or --json)")
    if args.output:
        check_writable(args.output, "output file", kind="file")
    check_sentences(args.sentences)
    tagger = open_model(args.checkpoint, "tag")
    if args.input:
        sentences = read_tagged(args.input, args.format, tagger.config.data.tag_column, require_tags=False)
        fmt = args.format if args.format != "auto" else _detected(args.input)
    else:
        sentences = [TaggedSentence(text.split(), None, "<command line>", i + 1)
                     for i, text in enumerate(args.sentences)]
        fmt = "text"
    predicted = tagger.predict_sentences(sentences, args.batch_size)
    for sentence, tags in zip(sentences, predicted):
        sentence.tags = tags
    if args.json:
        for sentence in sentences:
            print_json({"tokens": sentence.tokens, "tags": sentence.tags})
        return 0
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
    from rnnlab.tasks.registry import open_model
    from rnnlab.validation import check_sentences

    _inputs(args, "sentences")
    texts = args.sentences
    where = None
    if args.input:
        texts = read_lines(args.input)
        where = args.input
    check_sentences(texts, where)
    classifier = open_model(args.checkpoint, "classify")
    for text, probs in zip(texts, classifier.probabilities(texts)):
        ranked = sorted(probs.items(), key=lambda item: -item[1])
        shown = ranked[: args.top_k] if args.top_k else ranked[:1]
        if args.json:
            print_json({"text": text, "label": ranked[0][0], "probabilities": dict(shown)})
            continue
        labels = "  ".join(f"{label} {p:.3f}" for label, p in shown)
        print(f"{labels}\t{text}")
    return 0


def run_cloze(args: argparse.Namespace) -> int:
    from rnnlab.tasks.cloze import fill_blank
    from rnnlab.tasks.registry import open_model
    from rnnlab.validation import check_sentences

    check_sentences([args.sentence])
    model = open_model(args.checkpoint, "cloze")
    both, forward = fill_blank(model, args.sentence, args.top_k, args.blank)
    if args.json:
        print_json({"sentence": args.sentence, "bidirectional": [[w, p] for w, p in both],
                    "forward": [[w, p] for w, p in forward]})  # fmt: skip
        return 0
    width = max([len(w) for w, _ in both + forward] + [8])
    print(f"{'bidirectional':>{width + 8}s}   | {'forward only':>{width + 8}s}")
    for (w1, p1), (w2, p2) in zip(both, forward):
        print(f"{w1:>{width}s} {p1:7.4f}   | {w2:>{width}s} {p2:7.4f}")
    return 0
