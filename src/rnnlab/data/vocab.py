"""`Vocabulary`: a fixed, ordered mapping between tokens and integer ids.

The four specials always have the same ids: `<pad>` 0, `<unk>` 1, `<s>` 2, `</s>` 3. The other tokens
follow in a deterministic order (frequency descending, then the token itself), so the same corpus gives
the same ids on every machine. Saved as JSON: `{"format": "rnnlab-vocabulary", "version": 1, "tokens": [...]}`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from rnnlab.errors import DataError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS: tuple[str, ...] = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
FORMAT = "rnnlab-vocabulary"
FORMAT_VERSION = 1


class Vocabulary:
    """Tokens <-> ids with the specials at ids 0..3.

    Args:
        tokens: every token in id order, starting with `SPECIALS`; no duplicates.
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {list(SPECIALS)}, got {tokens[: len(SPECIALS)]}")
        if not all(isinstance(token, str) for token in tokens):
            raise ValueError("vocabulary tokens must be strings")
        index = {token: i for i, token in enumerate(tokens)}
        if len(index) != len(tokens):
            duplicates = sorted(token for token, n in Counter(tokens).items() if n > 1)
            raise ValueError(f"duplicate tokens in vocabulary: {duplicates[:5]}")
        self._tokens = tokens
        self._index = index

    @classmethod
    def build(
        cls,
        tokens: Iterable[str] | Iterable[Iterable[str]],
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> Vocabulary:
        """Count tokens and keep the frequent ones.

        Args:
            tokens: an iterable of tokens (strings) or of token sequences (e.g. one list per line); may
                be a generator, it is read once.
            min_freq: keep tokens seen at least this often.
            max_size: the largest total size, specials included (e.g. 10000 for PTB); None for no limit.
        Returns:
            A vocabulary: specials, then tokens by frequency descending, ties broken by the token.
        """
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < len(SPECIALS):
            raise ValueError(f"max_size must be >= {len(SPECIALS)} (the specials), got {max_size}")
        counts: Counter[str] = Counter()
        for item in tokens:
            if isinstance(item, str):
                counts[item] += 1
            else:
                counts.update(item)
        for special in SPECIALS:
            counts.pop(special, None)  # already in, at its fixed id
        ordered = sorted((t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            ordered = ordered[: max_size - len(SPECIALS)]
        return cls([*SPECIALS, *ordered])

    # --- lookups -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._tokens == other._tokens

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)})"

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order (a copy)."""
        return list(self._tokens)

    pad_id, unk_id, bos_id, eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    def token_to_id(self, token: str) -> int:
        """The id of `token`, or `unk_id` if it is not in the vocabulary."""
        return self._index.get(token, UNK_ID)

    def id_to_token(self, index: int) -> str:
        """The token with id `index`; IndexError names the valid range."""
        if not 0 <= index < len(self._tokens):
            raise IndexError(f"token id {index} is outside the vocabulary (0..{len(self._tokens) - 1})")
        return self._tokens[index]

    # --- sequences -----------------------------------------------------------------------------------
    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The distinct tokens of `tokens` not in the vocabulary, in order of first appearance."""
        return list(dict.fromkeys(t for t in tokens if t not in self._index))

    def encode(
        self, tokens: Iterable[str], add_bos: bool = False, add_eos: bool = False, strict: bool = False
    ) -> list[int]:
        """Token ids of `tokens`; unknown tokens become `unk_id`, or raise DataError if `strict`.

        Use `unknown(tokens)` to see which symbols would map to `<unk>`.
        """
        tokens = list(tokens)
        if strict and (missing := self.unknown(tokens)):
            shown = ", ".join(repr(t) for t in missing[:10])
            raise DataError(f"{len(missing)} symbol(s) not in the vocabulary: {shown}")
        ids = [self._index.get(token, UNK_ID) for token in tokens]
        return ([BOS_ID] if add_bos else []) + ids + ([EOS_ID] if add_eos else [])

    def decode(self, ids: Iterable[int], skip_specials: bool = False) -> list[str]:
        """Tokens of `ids` (ints or 0-d tensors); `skip_specials` drops `<pad>`, `<s>`, `</s>`."""
        skipped = {PAD_ID, BOS_ID, EOS_ID} if skip_specials else set()
        return [self.id_to_token(int(i)) for i in ids if int(i) not in skipped]

    # --- files ---------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON (UTF-8)."""
        payload = {"format": FORMAT, "version": FORMAT_VERSION, "tokens": self._tokens}
        Path(path).write_text(json.dumps(payload, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a vocabulary written by `save`; DataError names the file and what is wrong."""
        path = Path(path)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{path}: vocabulary file not found") from None
        except UnicodeDecodeError as error:
            raise DataError(
                f"{path}: expected a UTF-8 JSON vocabulary file, got undecodable bytes ({error.reason})"
            ) from None
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{error.lineno}: expected a JSON vocabulary file ({error.msg})") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise DataError(f'{path}: expected a JSON object with "format": "{FORMAT}"')
        if payload.get("version") != FORMAT_VERSION:
            raise DataError(
                f"{path}: expected vocabulary format version {FORMAT_VERSION}, got {payload.get('version')!r}"
            )
        tokens = payload.get("tokens")
        if not isinstance(tokens, list):
            raise DataError(f'{path}: expected a list under "tokens", got {type(tokens).__name__}')
        try:
            return cls(tokens)
        except ValueError as error:
            raise DataError(f"{path}: {error}") from None
