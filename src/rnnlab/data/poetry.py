"""Regular forms of classical Chinese poems (近体诗): 五言/七言 绝句 (4 lines) and 律诗 (8 lines).

A "line" here is a half-line between punctuation marks, e.g. 白日依山尽 in
白日依山尽，黄河入海流。欲穷千里目，更上一层楼。 (a 五言绝句: 4 lines of 5 characters).
Used to build the embedded Tang corpus and to check what a language model generates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The marks that end a line in the corpus (full-width, as in chinese-poetry).
PUNCTUATION = "，。！？；"
# A poem ends with one of these.
TERMINAL_PUNCTUATION = "。！？"

_SPLIT = re.compile(f"[{PUNCTUATION}]")


@dataclass(frozen=True)
class PoemForm:
    """A regular form: `lines` half-lines of `chars` characters each."""

    name: str
    lines: int
    chars: int


FORMS: dict[str, PoemForm] = {
    "五言绝句": PoemForm("五言绝句", lines=4, chars=5),
    "七言绝句": PoemForm("七言绝句", lines=4, chars=7),
    "五言律诗": PoemForm("五言律诗", lines=8, chars=5),
    "七言律诗": PoemForm("七言律诗", lines=8, chars=7),
}


def is_han(char: str) -> bool:
    """True for a CJK ideograph (basic block, extension A, compatibility, extensions B and later)."""
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x3FFFF
    )


def split_lines(poem: str) -> list[str]:
    """The half-lines of `poem`, split on ，。！？； (and newlines), stripped, empty pieces dropped."""
    pieces = _SPLIT.split(poem.replace("\n", "。"))
    return [piece.strip() for piece in pieces if piece.strip()]


def poem_form(text: str) -> str | None:
    """The name of the regular form `text` has (a key of `FORMS`), or None if it is malformed.

    Well formed means: only Han characters and ，。！？；, every line followed by exactly one mark,
    the poem ending with 。！？, and the line count and length of one of `FORMS`.
    Leading and trailing whitespace is ignored; whitespace inside is malformed.
    """
    text = text.strip()
    if not text or text[-1] not in TERMINAL_PUNCTUATION:
        return None
    pieces = _SPLIT.split(text)
    if pieces[-1] != "":  # cannot happen after the check above, kept for clarity
        return None
    lines = pieces[:-1]
    if any(not line or not all(is_han(char) for char in line) for line in lines):
        return None  # doubled punctuation, a mark at the start, or a foreign character
    lengths = {len(line) for line in lines}
    if len(lengths) != 1:
        return None
    (chars,) = lengths
    for form in FORMS.values():
        if form.lines == len(lines) and form.chars == chars:
            return form.name
    return None


def is_well_formed(text: str) -> bool:
    """True if `text` is a poem in one of the regular forms of `FORMS`."""
    return poem_form(text) is not None


# --- what a poem generator is judged by ---------------------------------------------------------------
_COUPLET = re.compile(f"[^{TERMINAL_PUNCTUATION}]*[{TERMINAL_PUNCTUATION}]")


def couplets(poem: str) -> list[str]:
    """The sentences of a poem, each ending with 。！？ (a couplet of a regular poem): 白日依山尽，黄河入海流。"""
    return [piece.strip() for piece in _COUPLET.findall(poem.strip()) if piece.strip()]


def is_verse(line: str) -> bool:
    """A half-line of verse: Han characters only (not an editorial note such as （同前） or a stray mark)."""
    return bool(line) and all(is_han(char) for char in line)


def verse_couplets(poem: str) -> list[str]:
    """The couplets of a poem that are verse: two or more half-lines of Han characters. The full Tang
    collection carries editorial notes (（同前）。, （一作…）) that would otherwise count as copied couplets."""
    return [c for c in couplets(poem) if len(lines := split_lines(c)) >= 2 and all(map(is_verse, lines))]


@dataclass(frozen=True)
class PoemQuality:
    """How a set of generated poems looks, each figure a fraction in [0, 1].

    regular: samples with a regular form (`poem_form`); repeated_chars: characters of a line that repeat
    an earlier character of the same line; copied_samples: samples holding a couplet of verse (a sentence
    up to 。！？ of two or more half-lines of Han characters, `verse_couplets`) that occurs verbatim in the
    training poems; copied_lines: lines (half-lines of verse) that do, over all lines.
    """

    samples: int
    regular: float
    repeated_chars: float
    copied_samples: float
    copied_lines: float


def poem_quality(samples: list[str], training_poems: list[str]) -> PoemQuality:
    """Measure `samples` (one poem each) against the poems the model was trained on."""
    if not samples:
        raise ValueError("expected at least one sample")
    train_couplets = {c for poem in training_poems for c in verse_couplets(poem)}
    train_lines = {line for poem in training_poems for line in split_lines(poem) if is_verse(line)}
    chars = repeats = lines = copied_lines = copied_samples = 0
    for sample in samples:
        sample_lines = split_lines(sample)
        for line in sample_lines:
            chars += len(line)
            repeats += len(line) - len(set(line))
        lines += len(sample_lines)
        copied_lines += sum(line in train_lines for line in sample_lines)
        copied_samples += any(c in train_couplets for c in verse_couplets(sample))
    return PoemQuality(
        samples=len(samples),
        regular=sum(poem_form(s) is not None for s in samples) / len(samples),
        repeated_chars=repeats / chars if chars else 0.0,
        copied_samples=copied_samples / len(samples),
        copied_lines=copied_lines / lines if lines else 0.0,
    )
