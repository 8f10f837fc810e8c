"""Tokenizers: text -> list of string tokens and back. Token ids come from a `Vocabulary`.

All share one interface: `kind`, `tokenize(text) -> list[str]`, `detokenize(tokens) -> str`,
`save(directory)`; `load_tokenizer(directory)` reads any of them back (`tokenizer.json`, plus
`tokenizer.model` for the subword one).

- `CharTokenizer`: one token per character; a newline is the token "\\n" (poems are separated by it).
- `WordTokenizer`: whitespace split (PTB is already tokenised); each line ends with `eol` ("</s>"),
  the Mikolov PTB convention.
- `SubwordTokenizer`: sentencepiece (unigram or BPE) trained from text; lines are encoded one by one and
  joined by the token "\\n", so newlines survive.
"""

from __future__ import annotations

import io
import json
import unicodedata
from pathlib import Path
from typing import ClassVar

from rnnlab.errors import DataError

CONFIG_FILE = "tokenizer.json"
MODEL_FILE = "tokenizer.model"
NEWLINE = "\n"


class Tokenizer:
    """Base class; subclasses set `kind` and implement `tokenize` / `detokenize`."""

    kind: ClassVar[str] = ""

    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def detokenize(self, tokens: list[str]) -> str:
        raise NotImplementedError

    def config(self) -> dict:
        """What `save` writes to tokenizer.json besides `kind`."""
        return {}

    def save(self, directory: str | Path) -> None:
        """Write `tokenizer.json` (and model files) into `directory`, created if needed."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        payload = {"kind": self.kind, **self.config()}
        (directory / CONFIG_FILE).write_text(json.dumps(payload, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def from_config(cls, config: dict, directory: Path) -> Tokenizer:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


class CharTokenizer(Tokenizer):
    """Characters as tokens: "床前\\n" -> ["床", "前", "\\n"].

    normalize="NFKC" first applies Unicode NFKC normalisation, so full-width and ASCII forms of the same
    symbol are one token (！ and ! both become "!", １ becomes "1"); used for modern Chinese, whose
    corpus (zh-news) is stored NFKC-normalised. Saved in tokenizer.json, so scoring input is normalised
    the way the training text was.
    """

    kind = "char"
    NORMS: ClassVar[tuple[str, ...]] = ("NFC", "NFKC")

    def __init__(self, normalize: str | None = None):
        if normalize is not None and normalize not in self.NORMS:
            raise DataError(f"expected a character normalisation in {self.NORMS} or none, got {normalize!r}")
        self.normalize = normalize

    def config(self) -> dict:
        return {"normalize": self.normalize} if self.normalize else {}

    def tokenize(self, text: str) -> list[str]:
        if self.normalize:
            text = unicodedata.normalize(self.normalize, text)
        return list(text)

    def detokenize(self, tokens: list[str]) -> str:
        return "".join(tokens)


class WordTokenizer(Tokenizer):
    """Whitespace-separated words; every line ends with the token `eol` (None: newlines are dropped).

    "a b\\nc\\n" -> ["a", "b", "</s>", "c", "</s>"]; detokenize joins words with spaces and turns `eol`
    back into a newline.
    """

    kind = "word"

    def __init__(self, eol: str | None = "</s>"):
        self.eol = eol

    def config(self) -> dict:
        return {"eol": self.eol}

    def tokenize(self, text: str) -> list[str]:
        if self.eol is None:
            return text.split()
        tokens: list[str] = []
        for line in text.splitlines():
            tokens.extend(line.split())
            tokens.append(self.eol)
        return tokens

    def detokenize(self, tokens: list[str]) -> str:
        lines, current = [], []
        for token in tokens:
            if token == self.eol:
                lines.append(" ".join(current))
                current = []
            else:
                current.append(token)
        text = "".join(line + NEWLINE for line in lines)
        return text + " ".join(current)


class SubwordTokenizer(Tokenizer):
    """Sentencepiece pieces ("▁the", "re"); build with `SubwordTokenizer.train(text, vocab_size)`.

    Args:
        model_proto: the serialized sentencepiece model (the bytes of a .model file).
    """

    kind = "subword"

    def __init__(self, model_proto: bytes):
        import sentencepiece as spm

        self.model_proto = model_proto
        self._processor = spm.SentencePieceProcessor(model_proto=model_proto)

    @classmethod
    def train(
        cls, text: str, vocab_size: int, model_type: str = "unigram", character_coverage: float = 1.0
    ) -> SubwordTokenizer:
        """Train on the non-empty lines of `text`.

        Text is kept exactly (no normalisation, whitespace kept) so detokenize(tokenize(x)) == x for
        characters seen in training. `vocab_size` is a soft limit: small texts may give fewer pieces.
        """
        import sentencepiece as spm

        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            raise DataError("cannot train a subword tokenizer on empty text")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines),
            model_writer=model,
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            hard_vocab_limit=False,
            num_threads=1,  # deterministic
            minloglevel=2,  # quiet
        )
        return cls(model.getvalue())

    @property
    def piece_count(self) -> int:
        """Number of pieces in the sentencepiece model."""
        return self._processor.get_piece_size()

    def config(self) -> dict:
        return {"model_file": MODEL_FILE, "pieces": self.piece_count}

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        lines = text.split(NEWLINE)
        for i, line in enumerate(lines):
            if line:
                tokens.extend(self._processor.encode(line, out_type=str))
            if i < len(lines) - 1:
                tokens.append(NEWLINE)
        return tokens

    def detokenize(self, tokens: list[str]) -> str:
        lines, current = [], []
        for token in tokens:
            if token == NEWLINE:
                lines.append(current)
                current = []
            else:
                current.append(token)
        lines.append(current)
        return NEWLINE.join(self._processor.decode_pieces(line) if line else "" for line in lines)

    def save(self, directory: str | Path) -> None:
        super().save(directory)
        (Path(directory) / MODEL_FILE).write_bytes(self.model_proto)

    @classmethod
    def from_config(cls, config: dict, directory: Path) -> Tokenizer:
        path = directory / config.get("model_file", MODEL_FILE)
        try:
            return cls(path.read_bytes())
        except FileNotFoundError:
            raise DataError(f"{path}: sentencepiece model file not found") from None
        except RuntimeError as error:  # sentencepiece's parse error
            raise DataError(f"{path}: not a sentencepiece model ({error})") from None


TOKENIZERS: dict[str, type[Tokenizer]] = {
    cls.kind: cls for cls in (CharTokenizer, WordTokenizer, SubwordTokenizer)
}


def load_tokenizer(directory: str | Path) -> Tokenizer:
    """Read a tokenizer saved with `save(directory)`; DataError names the file and what is wrong."""
    path = Path(directory) / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: tokenizer file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: expected a JSON tokenizer file ({error})") from None
    kind = config.pop("kind", None) if isinstance(config, dict) else None
    if kind not in TOKENIZERS:
        raise DataError(f'{path}: expected "kind" to be one of {sorted(TOKENIZERS)}, got {kind!r}')
    if kind == "subword":
        config = {key: config[key] for key in ("model_file",) if key in config}
    try:
        return TOKENIZERS[kind].from_config(config, Path(directory))
    except TypeError as error:
        raise DataError(f"{path}: unexpected settings for a {kind} tokenizer ({error})") from None


def make_tokenizer(kind: str, **options) -> Tokenizer:
    """A char or word tokenizer by name (subword ones must be trained: `SubwordTokenizer.train`)."""
    if kind not in ("char", "word"):
        raise ValueError(f"expected tokenizer kind 'char' or 'word', got {kind!r}")
    return TOKENIZERS[kind](**options)
