"""Does a poem rhyme? The even lines' final characters checked against the Pingshui rhyme scheme.

A regular poem (近体诗) rhymes on its even lines (2, 4, 6, 8): their final characters share one rhyme group.
Line 1 may rhyme too (首句入韵), and often does in 七言; it is reported, never required. A character read
two ways counts in each of its groups, so 2 and 4 rhyme if some group holds both.

A poem whose even-line final characters the table lacks (a rare variant such as 疎, or not Chinese at all)
is "unknown": counted apart, not as non-rhyming, so a rate is over the poems it could measure.

    check_rhyme("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。")
    # Rhyme(status='rhymes', groups=('下平声十一尤',), first_line=False, ends=('流', '楼'), unknown=())
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from rnnlab.data.poetry import is_han, split_lines
from rnnlab.errors import UserError
from rnnlab.poetry.pingshui import RhymeTable, pingshui_table

RHYMES, NO_RHYME, UNKNOWN = "rhymes", "no rhyme", "unknown"


@dataclass(frozen=True)
class Rhyme:
    """How one poem rhymes.

    status: "rhymes", "no rhyme", or "unknown" (an even line's final character is not in the table, or
    the poem has fewer than 2 even lines); groups: the group(s) the even lines share (sorted; empty unless
    it rhymes); first_line: line 1 ends in one of those groups too; ends: the even lines' final characters;
    unknown: those of them the table lacks.
    """

    status: str
    groups: tuple[str, ...]
    first_line: bool
    ends: tuple[str, ...]
    unknown: tuple[str, ...]

    @property
    def rhymes(self) -> bool:
        return self.status == RHYMES


def poem_lines(poem: str) -> list[str]:
    """The half-lines of a poem; UserError for a text with no Chinese character at all."""
    if not isinstance(poem, str) or not any(is_han(char) for char in poem):
        raise UserError(f"expected a Chinese poem (lines of Chinese characters), got {str(poem)[:40]!r}")
    return split_lines(poem)


def even_line_ends(lines: Sequence[str]) -> list[str]:
    """The final characters of lines 2, 4, 6, ... (1-based)."""
    return [line[-1] for line in lines[1::2] if line]


def check_rhyme(poem: str, table: RhymeTable | None = None) -> Rhyme:
    """Whether the even lines of `poem` end in one Pingshui group (see the module docstring)."""
    table = table or pingshui_table()
    lines = poem_lines(poem)
    return rhyme_of_ends(even_line_ends(lines), lines[0][-1] if lines else "", table)


def rhyme_of_ends(ends: Sequence[str], first: str = "", table: RhymeTable | None = None) -> Rhyme:
    """The rhyme of given even-line final characters (and line 1's final character, if any)."""
    table = table or pingshui_table()
    unknown = tuple(char for char in ends if char not in table)
    if len(ends) < 2 or unknown:
        return Rhyme(UNKNOWN, (), False, tuple(ends), unknown)
    shared = frozenset.intersection(*(table.groups_of(char) for char in ends))
    if not shared:
        return Rhyme(NO_RHYME, (), False, tuple(ends), ())
    first_line = bool(first) and bool(table.groups_of(first) & shared)
    return Rhyme(RHYMES, tuple(sorted(shared)), first_line, tuple(ends), ())


@dataclass(frozen=True)
class RhymeRate:
    """Rhyme over many poems: `rate` = rhyming / measured; `unknown` poems are left out of the rate."""

    poems: int
    measured: int
    rhyming: int
    unknown: int

    @property
    def rate(self) -> float:
        return self.rhyming / self.measured if self.measured else 0.0

    def __str__(self) -> str:
        return f"{self.rate:.0%} ({self.rhyming}/{self.measured}, {self.unknown} unknown)"


def _rate(results: Sequence[Rhyme]) -> RhymeRate:
    measured = [r for r in results if r.status != UNKNOWN]
    return RhymeRate(len(results), len(measured), sum(r.rhymes for r in measured), len(results) - len(measured))


def rhyme_rate(poems: Sequence[str], table: RhymeTable | None = None) -> RhymeRate:
    """How many of `poems` rhyme. Texts without Chinese characters count as unknown here."""
    table = table or pingshui_table()
    results = []
    for poem in poems:
        try:
            results.append(check_rhyme(poem, table))
        except UserError:
            results.append(Rhyme(UNKNOWN, (), False, (), ()))
    return _rate(results)


def with_random_ends(poems: Sequence[str], seed: int = 0) -> list[str]:
    """The poems with each even line's final character replaced by one drawn at random from all the poems'
    even-line final characters (texts without Chinese characters are dropped)."""
    lined = []
    for poem in poems:
        try:
            lined.append(poem_lines(poem))
        except UserError:
            continue
    pool = [end for lines in lined for end in even_line_ends(lines)]
    rng = random.Random(seed)
    out = []
    for lines in lined:
        changed = [line[:-1] + rng.choice(pool) if i % 2 == 1 and line else line for i, line in enumerate(lines)]
        out.append("".join(line + ("，" if i % 2 == 0 else "。") for i, line in enumerate(changed)))
    return out


def chance_rate(poems: Sequence[str], seed: int = 0, table: RhymeTable | None = None) -> RhymeRate:
    """The rhyme rate of the same poems with random even-line final characters (`with_random_ends`):
    what rhyming by accident looks like."""
    return rhyme_rate(with_random_ends(poems, seed), table)


def repeated_rhyme_rate(poems: Sequence[str], table: RhymeTable | None = None) -> float:
    """Of the rhyming poems, the fraction that end two even lines with the same character (重韵, which the
    corpus almost never does: a repeated character rhymes trivially)."""
    table = table or pingshui_table()
    ends = []
    for poem in poems:
        try:
            rhyme = check_rhyme(poem, table)
        except UserError:
            continue
        if rhyme.rhymes:
            ends.append(rhyme.ends)
    return sum(len(set(e)) < len(e) for e in ends) / len(ends) if ends else 0.0
