"""The `tag` verb of taggers: sentences typed on the command line, or a file written back in its own format.

    rnnlab tag runs/tagger-en-pos/best "The cat sat on the mat ."
    rnnlab tag runs/tagger-en-ner/best --input tweets.conll --output tagged.conll

`--output FILE` is checked by the verb command (`rnnlab.commands.verbs`, `rnnlab.paths.guard_output_file`)
before anything is read, and written atomically.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from rnnlab.data.tagged import TaggedSentence, format_tagged, parse_tagged, read_tagged
from rnnlab.labelling.tagger import Tagger
from rnnlab.verbs import Verb

__all__ = ["TAG", "TagOptions", "format_tagged_results", "read_tag_input", "run_tag"]


@dataclass
class TagOptions:
    format: Literal["auto", "slash", "conll", "conllu", "text"] = field(
        default="auto", metadata={"help": "input file format (auto: detected)"})
    output: str | None = field(default=None, metadata={
        "help": "write here instead of stdout (the input's format; never the --input file, an existing file only "
                "with --overwrite)", "path": True})  # fmt: skip
    batch_size: int = field(default=128, metadata={"help": "sentences per batch"})


def read_tag_input(path: str, options: TagOptions) -> list[TaggedSentence]:
    """`--input FILE` ('-': stdin): word/TAG, CoNLL, CoNLL-U or plain text, tags not needed."""
    if path == "-":
        return parse_tagged(sys.stdin.read().splitlines(), options.format, "<stdin>", require_tags=False)
    return read_tagged(path, options.format, require_tags=False)


def run_tag(tagger: Tagger, inputs: list, options: TagOptions) -> Iterator[dict]:
    """Per sentence: tokens, predicted tags, and the sentence written back in its input's format ("text").

    Inputs are strings (tokens separated by spaces) or `TaggedSentence`s read from a file (`read_tag_input`),
    which keep their columns and comments so CoNLL / CoNLL-U round-trip.
    """
    sentences = [item if isinstance(item, TaggedSentence) else TaggedSentence(item.split(), None, "<command line>", i + 1)
                 for i, item in enumerate(inputs)]  # fmt: skip
    column = tagger.config.data.tag_column
    for sentence, tags in zip(sentences, tagger.predict_sentences(sentences, options.batch_size)):
        tagged = TaggedSentence(sentence.tokens, tags, sentence.source, sentence.line, sentence.rows, sentence.comments)
        fmt = sentence.format or "text"  # typed on the command line: word/TAG
        block = fmt in ("conll", "conllu")  # sentences of these are separated by a blank line
        yield {"tokens": tagged.tokens, "tags": tags, "text": format_tagged([tagged], fmt, column) + "\n" * block}


def format_tagged_results(results: list[dict], options: TagOptions) -> str:
    """All sentences as the input had them (CoNLL blocks separated by one blank line, none after the last)."""
    text = "".join(result["text"] for result in results)
    return text[:-1] if text.endswith("\n\n") else text


TAG = Verb(
    name="tag", help="tag sentences with a trained tagger", options=TagOptions, run=run_tag, what="sentences",
    read_file=read_tag_input, format_all=format_tagged_results,
    description="Tag sentences (tokens separated by spaces) or a file: word/TAG, CoNLL, CoNLL-U or plain text",
)
