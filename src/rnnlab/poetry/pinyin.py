"""A second, rougher rhyme measure: modern Mandarin finals (PyPI `pypinyin`) in the 13 rhyme classes (十三辙).

The Pingshui scheme (`rnnlab.poetry.rhyme`) is how Tang poems were judged; modern readers hear rhymes in
today's pronunciation. Here each character gets its most common reading's final (`pypinyin`, strict
finals: 流 iou, 光 uang) and the final its class of the 十三辙 of Northern folk verse (发花, 梭波, 乜斜,
一七, 姑苏, 怀来, 灰堆, 遥条, 由求, 言前, 人辰, 江阳, 中东). A poem rhymes if its even lines' final characters
share a class. Sound change since the Tang makes this rougher: 斜 (xié) and 家 (jiā) rhymed in 六麻, and
入声 characters such as 国, 日 lost their stop; and only the most common reading counts (还 is hái, so
李白's 间/还/山 does not rhyme here). Characters pypinyin cannot read count as unknown.

`pypinyin` is needed only for this measure (`pip install pypinyin`; in rnnlab's `dev` and `bench` extras).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rnnlab.errors import UserError
from rnnlab.poetry.rhyme import NO_RHYME, RHYMES, UNKNOWN, RhymeRate, even_line_ends, poem_lines

#: strict pypinyin finals (ü written v) -> 十三辙 rhyme class
THIRTEEN_CLASSES: dict[str, str] = {
    **dict.fromkeys(("a", "ia", "ua"), "发花"),
    **dict.fromkeys(("o", "e", "uo", "io"), "梭波"),
    **dict.fromkeys(("ie", "ve"), "乜斜"),
    **dict.fromkeys(("i", "v", "er"), "一七"),
    "u": "姑苏",
    **dict.fromkeys(("ai", "uai"), "怀来"),
    **dict.fromkeys(("ei", "uei"), "灰堆"),
    **dict.fromkeys(("ao", "iao"), "遥条"),
    **dict.fromkeys(("ou", "iou"), "由求"),
    **dict.fromkeys(("an", "ian", "uan", "van"), "言前"),
    **dict.fromkeys(("en", "in", "uen", "vn"), "人辰"),
    **dict.fromkeys(("ang", "iang", "uang"), "江阳"),
    **dict.fromkeys(("eng", "ing", "ong", "iong", "ueng"), "中东"),
}


@lru_cache(maxsize=65536)
def rhyme_class(char: str) -> str | None:
    """The 十三辙 class of `char`'s most common modern reading, or None if pypinyin has no reading."""
    try:
        from pypinyin import Style, pinyin
    except ImportError as error:  # an optional measure: say how to get it
        raise UserError("the modern-pinyin rhyme measure needs pypinyin: pip install pypinyin") from error
    final = pinyin(char, style=Style.FINALS, strict=True, errors=lambda _: [""])[0][0]
    return THIRTEEN_CLASSES.get(final)


def check_pinyin_rhyme(poem: str) -> str:
    """"rhymes", "no rhyme" or "unknown" for the even lines' final characters by 十三辙 class."""
    ends = even_line_ends(poem_lines(poem))
    classes = [rhyme_class(char) for char in ends]
    if len(ends) < 2 or None in classes:
        return UNKNOWN
    return RHYMES if len(set(classes)) == 1 else NO_RHYME


def pinyin_rhyme_rate(poems: Sequence[str]) -> RhymeRate:
    """How many of `poems` rhyme by modern finals; texts without Chinese characters count as unknown."""
    statuses = []
    for poem in poems:
        try:
            statuses.append(check_pinyin_rhyme(poem))
        except UserError as error:
            if "pypinyin" in str(error):
                raise
            statuses.append(UNKNOWN)
    measured = [s for s in statuses if s != UNKNOWN]
    return RhymeRate(len(poems), len(measured), measured.count(RHYMES), len(poems) - len(measured))
