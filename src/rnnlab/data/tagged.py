"""Tagged-sentence file formats: readers and writers, with errors that name the file and line.

Formats (`FORMATS`):
- "slash":  one sentence per line, tokens `word/TAG` separated by spaces (Brown / OANC / People's Daily
            style). The tag is what follows the last "/", so "1/2/CD" is the word "1/2".
- "conll":  one token per line, columns separated by whitespace, token first and tag last (CoNLL-2003,
            WNUT); a blank line ends a sentence; `-DOCSTART-` lines are skipped. Tags may be BIO or BIOES.
- "conllu": Universal Dependencies CoNLL-U: 10 tab-separated columns, `#` comments, multiword ranges
            (`1-2`) and empty nodes (`1.1`) skipped; the tag is UPOS (or XPOS with tag_column="xpos").
- "text":   untagged input, one sentence per line, tokens separated by spaces.

Writers put predicted tags back in the format they came in (CoNLL and CoNLL-U keep the other columns).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rnnlab.errors import DataError

FORMATS = ("slash", "conll", "conllu", "text")
CONLLU_COLUMNS = 10
_CONLLU_TAG_INDEX = {"upos": 3, "xpos": 4}
_SLASH_TOKEN = re.compile(r"^.+/[^/\s]+$")


@dataclass
class TaggedSentence:
    """One sentence: tokens, their tags (None when untagged), and where it came from.

    `rows` keeps the original columns of CoNLL / CoNLL-U lines so a writer can round-trip them.
    """

    tokens: list[str]
    tags: list[str] | None = None
    source: str = "<input>"
    line: int = 0  # 1-based line of the sentence's first token
    rows: list[list[str]] | None = field(default=None, repr=False)
    comments: list[str] = field(default_factory=list, repr=False)
    format: str | None = field(default=None, repr=False)  # the format it was read in (slash, conll, ...)

    def __post_init__(self) -> None:
        if not self.tokens:
            raise DataError(f"{self.source}:{self.line}: empty sentence (no tokens)")
        if self.tags is not None and len(self.tags) != len(self.tokens):
            raise DataError(
                f"{self.source}:{self.line}: {len(self.tokens)} tokens but {len(self.tags)} tags"
            )


def read_lines(path: str | Path) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def detect_format(lines: Sequence[str], source: str = "<input>") -> str:
    """Guess the format from the first non-blank, non-comment line."""
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("-DOCSTART-"):
            continue
        columns = line.rstrip("\n").split("\t")
        if len(columns) == CONLLU_COLUMNS and re.fullmatch(r"\d+(-\d+|\.\d+)?", columns[0]):
            return "conllu"
        tokens = stripped.split()
        if all(_SLASH_TOKEN.match(token) for token in tokens) and (len(tokens) > 1 or "\t" not in line):
            return "slash"
        if "\t" in line or len(tokens) in (2, 3, 4):
            return "conll"
        return "text"
    raise DataError(f"{source}: no sentences found (the file is empty)")


def read_tagged(
    path: str | Path,
    fmt: str = "auto",
    tag_column: str = "upos",
    require_tags: bool = True,
) -> list[TaggedSentence]:
    """Read a tagged (or, with require_tags=False, possibly untagged) file in any of FORMATS."""
    lines = read_lines(path)
    return parse_tagged(lines, fmt, source=str(path), tag_column=tag_column, require_tags=require_tags)


def parse_tagged(
    lines: Sequence[str],
    fmt: str = "auto",
    source: str = "<input>",
    tag_column: str = "upos",
    require_tags: bool = True,
) -> list[TaggedSentence]:
    """Parse lines already in memory; see `read_tagged`."""
    if fmt == "auto":
        fmt = detect_format(lines, source)
    if fmt == "slash":
        sentences = _parse_slash(lines, source)
    elif fmt == "conll":
        sentences = _parse_conll(lines, source, require_tags)
    elif fmt == "conllu":
        if tag_column not in _CONLLU_TAG_INDEX:
            raise DataError(f"tag_column: expected 'upos' or 'xpos', got {tag_column!r}")
        sentences = _parse_conllu(lines, source, _CONLLU_TAG_INDEX[tag_column], require_tags)
    elif fmt == "text":
        if require_tags:
            raise DataError(f"{source}: plain text has no tags; expected word/TAG, CoNLL or CoNLL-U")
        sentences = _parse_text(lines, source)
    else:
        raise DataError(f"format: expected one of {', '.join(FORMATS)} or auto, got {fmt!r}")
    if not sentences:
        raise DataError(f"{source}: no sentences found")
    for sentence in sentences:
        sentence.format = fmt  # a writer gives them back in their own format
    return sentences


def _parse_slash(lines: Sequence[str], source: str) -> list[TaggedSentence]:
    sentences = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue  # blank lines separate paragraphs; they hold no sentence
        tokens, tags = [], []
        for item in line.split():
            word, slash, tag = item.rpartition("/")
            if not slash or not word or not tag:
                hint = " (mixed formats? this line looks like CoNLL columns)" if "\t" in line else ""
                raise DataError(f"{source}:{number}: expected word/TAG, found {item!r}{hint}")
            tokens.append(word)
            tags.append(tag)
        sentences.append(TaggedSentence(tokens, tags, source, number))
    return sentences


def _parse_conll(lines: Sequence[str], source: str, require_tags: bool) -> list[TaggedSentence]:
    sentences: list[TaggedSentence] = []
    rows: list[list[str]] = []
    start = 0
    width = None  # number of columns, fixed by the first token line

    def flush() -> None:
        if rows:
            tagged = width is not None and width > 1
            tokens = [row[0] for row in rows]
            tags = [row[-1] for row in rows] if tagged else None
            sentences.append(TaggedSentence(tokens, tags, source, start, rows=list(rows)))
            rows.clear()

    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        if stripped.startswith("-DOCSTART-"):
            continue
        columns = stripped.split("\t") if "\t" in stripped else stripped.split()
        if width is None:
            width = len(columns)
            if width == 1 and require_tags:
                raise DataError(f"{source}:{number}: expected 'token TAG' columns, found one column only")
        if len(columns) != width:
            hint = " (mixed formats? this line looks like word/TAG)" if len(columns) > 4 else ""
            raise DataError(
                f"{source}:{number}: expected {width} columns like the first token line, "
                f"found {len(columns)}{hint}"
            )
        if not rows:
            start = number
        rows.append(columns)
    flush()
    return sentences


def _parse_conllu(lines: Sequence[str], source: str, tag_index: int, require_tags: bool) -> list[TaggedSentence]:
    sentences: list[TaggedSentence] = []
    rows: list[list[str]] = []
    comments: list[str] = []
    start = 0

    def sentence() -> TaggedSentence:
        tags = [r[tag_index] for r in rows]
        untagged = "_" in tags  # input to be tagged may leave the column empty
        return TaggedSentence([r[1] for r in rows], None if untagged else tags, source, start,
                              rows=rows, comments=comments)

    for number, line in enumerate(lines, 1):
        if not line.strip():
            if rows:
                sentences.append(sentence())
            elif comments:
                raise DataError(f"{source}:{number}: empty sentence (comments but no token lines)")
            rows, comments = [], []
            continue
        if line.startswith("#"):
            comments.append(line)
            continue
        columns = line.split("\t")
        if len(columns) != CONLLU_COLUMNS:
            raise DataError(
                f"{source}:{number}: expected {CONLLU_COLUMNS} tab-separated CoNLL-U columns, "
                f"found {len(columns)} (mixed formats?)"
            )
        if not re.fullmatch(r"\d+(-\d+|\.\d+)?", columns[0]):
            raise DataError(f"{source}:{number}: expected a token ID in column 1, found {columns[0]!r}")
        if "-" in columns[0] or "." in columns[0]:
            continue  # multiword range or empty node: not a surface token with its own tag
        if not rows:
            start = number
        if columns[tag_index] == "_" and require_tags:
            raise DataError(f"{source}:{number}: token {columns[1]!r} has no tag in column {tag_index + 1}")
        rows.append(columns)
    if rows:
        sentences.append(sentence())
    return sentences


def _parse_text(lines: Sequence[str], source: str) -> list[TaggedSentence]:
    sentences = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise DataError(f"{source}:{number}: empty sentence; expected at least one word")
        sentences.append(TaggedSentence(line.split(), None, source, number))
    return sentences


def format_tagged(sentences: Iterable[TaggedSentence], fmt: str, tag_column: str = "upos") -> str:
    """Render sentences (with their `tags`) as text in `fmt` ("text" writes word/TAG like "slash")."""
    out: list[str] = []
    for sentence in sentences:
        tags = sentence.tags
        if tags is None:
            raise ValueError("format_tagged: sentence has no tags to write")
        if fmt in ("slash", "text"):
            out.append(" ".join(f"{token}/{tag}" for token, tag in zip(sentence.tokens, tags)))
        elif fmt == "conll":
            rows = sentence.rows or [[token] for token in sentence.tokens]
            for row, tag in zip(rows, tags):
                # Tagged input: replace the last column; untagged input: append one.
                kept = row[:-1] if len(row) > 1 else row
                out.append(" ".join([*kept, tag]))
            out.append("")
        elif fmt == "conllu":
            out.extend(sentence.comments)
            index = _CONLLU_TAG_INDEX[tag_column]
            rows = sentence.rows or [
                [str(i + 1), token, *["_"] * (CONLLU_COLUMNS - 2)] for i, token in enumerate(sentence.tokens)
            ]
            for row, tag in zip(rows, tags):
                row = list(row)
                row[index] = tag
                out.append("\t".join(row))
            out.append("")
        else:
            raise ValueError(f"format: expected one of {FORMATS}, got {fmt!r}")
    return "\n".join(out) + ("\n" if out and out[-1] != "" else "")


def write_tagged(path: str | Path, sentences: Iterable[TaggedSentence], fmt: str, tag_column: str = "upos") -> None:
    """Write tagged sentences in `fmt`, atomically: a failure leaves the previous file whole."""
    from rnnlab.files import write_text_atomically

    write_text_atomically(path, format_tagged(sentences, fmt, tag_column))


# --- Chunk tag schemes -------------------------------------------------------------------------------

def check_scheme(sentence: TaggedSentence, scheme: str) -> None:
    """Raise DataError if a tag is not O / B-X / I-X (BIO) or O / B- I- E- S- (BIOES)."""
    prefixes = {"bio": "BI", "bioes": "BIES"}.get(scheme.lower())
    if prefixes is None:
        raise DataError(f"scheme: expected BIO or BIOES, got {scheme!r}")
    for offset, tag in enumerate(sentence.tags or []):
        if tag != "O" and not (len(tag) > 2 and tag[0] in prefixes and tag[1] == "-"):
            raise DataError(
                f"{sentence.source}:{sentence.line + offset}: tag {tag!r} is not {scheme.upper()} "
                f"(expected O or {'/'.join(p + '-TYPE' for p in prefixes)})"
            )


def bio_to_bioes(tags: Sequence[str]) -> list[str]:
    """BIO (or IOB1-style, where a chunk may start with I-) to BIOES."""
    out = []
    for i, tag in enumerate(tags):
        if tag == "O":
            out.append(tag)
            continue
        kind = tag[2:]
        starts = tag[0] == "B" or i == 0 or tags[i - 1][2:] != kind or tags[i - 1] == "O"
        following = tags[i + 1] if i + 1 < len(tags) else "O"
        continues = following[0] == "I" and following[2:] == kind
        out.append(("B-" if continues else "S-") + kind if starts else ("I-" if continues else "E-") + kind)
    return out


def bioes_to_bio(tags: Sequence[str]) -> list[str]:
    return [("B-" + t[2:]) if t[:2] == "S-" else ("I-" + t[2:]) if t[:2] == "E-" else t for t in tags]
