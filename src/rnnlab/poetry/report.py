"""One poem measured at once: shape, rhyme and meter (what `rnnlab generate --rhyme ... --json` adds)."""

from __future__ import annotations

from typing import Any

from rnnlab.data.poetry import is_han, poem_form
from rnnlab.poetry.meter import check_meter
from rnnlab.poetry.rhyme import UNKNOWN, check_rhyme


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
