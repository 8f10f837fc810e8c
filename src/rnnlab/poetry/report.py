"""One poem measured at once: shape, rhyme and meter (what `rnnlab generate --rhyme ... --json` adds, and
`rnnlab poem` prints for a poem of the user's)."""

from __future__ import annotations

from typing import Any

from rnnlab.data.poetry import is_han, poem_form
from rnnlab.poetry.meter import check_meter
from rnnlab.poetry.rhyme import RHYMES, UNKNOWN, check_rhyme


def measure_poem(text: str) -> dict[str, Any]:
    """{"form", "rhyme", "rhyme_groups", "first_line_rhymes", "meter", "meter_scheme"} of one text.

    form: the regular form (五言绝句, ...) or None; rhyme: "rhymes", "no rhyme" or "unknown"; meter:
    "conforms", "breaks" or "unknown". A text without Chinese characters is unknown on both.
    """
    if not any(is_han(char) for char in text):
        return {"form": None, "rhyme": UNKNOWN, "rhyme_groups": [], "first_line_rhymes": False,
                "meter": UNKNOWN, "meter_scheme": None}  # fmt: skip
    rhyme = check_rhyme(text)
    meter = check_meter(text)
    return {"form": poem_form(text), "rhyme": rhyme.status, "rhyme_groups": list(rhyme.groups),
            "first_line_rhymes": rhyme.first_line, "meter": meter.status, "meter_scheme": meter.scheme}  # fmt: skip


def describe_poem(text: str) -> dict[str, Any]:
    """Everything `rnnlab poem` says of one poem: its form, rhyme (even-line ends, shared groups, line 1,
    characters the table lacks), meter (best scheme, lines that fit, each line's tones) and, when pypinyin
    is installed, the modern 十三辙 rhyme. UserError for a text without Chinese characters."""
    from rnnlab.errors import UserError
    from rnnlab.poetry.pinyin import check_pinyin_rhyme
    from rnnlab.poetry.rhyme import poem_lines

    lines = poem_lines(text)  # UserError for a text with no Chinese character
    rhyme = check_rhyme(text)
    meter = check_meter(text)
    try:
        modern: str | None = check_pinyin_rhyme(text)
    except UserError:  # pypinyin is optional
        modern = None
    return {
        "text": text, "form": poem_form(text), "lines": lines,
        "rhyme": {"status": rhyme.status, "groups": list(rhyme.groups), "ends": list(rhyme.ends),
                  "first_line_rhymes": rhyme.first_line, "unknown_characters": list(rhyme.unknown)},
        "meter": {"status": meter.status, "scheme": meter.scheme, "lines_fit": meter.lines_fit,
                  "lines": meter.lines, "tones": list(meter.tones)},
        "modern_rhyme": modern,
    }  # fmt: skip


def format_description(poem: dict[str, Any]) -> str:
    """`describe_poem`'s dict as the lines `rnnlab poem` prints."""
    rhyme, meter = poem["rhyme"], poem["meter"]
    ends = " ".join(rhyme["ends"])
    if rhyme["status"] == RHYMES:
        said = f"rhymes in {' / '.join(rhyme['groups'])} ({ends})" + ("; line 1 rhymes too" if rhyme["first_line_rhymes"] else "")
    elif rhyme["unknown_characters"]:
        said = (f"unknown: the Pingshui table lacks {' '.join(rhyme['unknown_characters'])} (counted as unknown, "
                "not as non-rhyming)")  # fmt: skip
    elif len(rhyme["ends"]) < 2:
        said = "unknown: fewer than two even lines"
    else:
        said = f"no rhyme: {ends} share no Pingshui group"
    if meter["status"] == UNKNOWN:
        metered = "unknown (not 4 or 8 lines of 5 or 7 characters, or a key character the table lacks)"
    else:
        metered = f"{meter['status']} ({meter['scheme']}: {meter['lines_fit']}/{meter['lines']} lines fit)"
    out = [poem["text"], f"  form: {poem['form'] or 'not a regular form'}", f"  rhyme (Pingshui): {said}",
           f"  meter: {metered}"]  # fmt: skip
    out += [f"    {line}  {tones}" for line, tones in zip(poem["lines"], meter["tones"])]
    if poem["modern_rhyme"] is not None:
        out.append(f"  rhyme (modern 十三辙): {poem['modern_rhyme']}")
    return "\n".join(out)
