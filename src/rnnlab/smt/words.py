"""Words for the statistical translator: lowercased word and punctuation tokens, and back to text.

    words("Es regnet, oder?")         -> ["es", "regnet", ",", "oder", "?"]
    detokenize(["it", "rains", "."])  -> "It rains."

Word-based translation tables are sparse, so both sides are lowercased (a German noun is capitalised, its
English translation not); the output gets a capital first letter and a capital "I" back, and a word passed
through untranslated (a name the model never saw) keeps its own case. Hyphens and
apostrophes inside a word stay in it ("don't", "E-Mail").
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]")
_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}'’»“])")
_NO_SPACE_AFTER = re.compile(r"([(\[{«„‘]) ")


def words(text: str, lower: bool = True) -> list[str]:
    """Word and punctuation tokens of a sentence, lowercased unless `lower` is False (the same tokens)."""
    return _TOKEN.findall(text.lower() if lower else text)


def detokenize(tokens: list[str]) -> str:
    """A sentence from tokens: no space before closing punctuation, capital first letter and "I"."""
    text = " ".join("I" if token == "i" else token for token in tokens)
    text = _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))
    return text[:1].upper() + text[1:]
