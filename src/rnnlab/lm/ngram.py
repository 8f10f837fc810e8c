"""N-gram language models: train, score, next-token distributions, sampling, save/load, ARPA.

    model = NGramModel.train(lines, order=3, smoothing="mkn")      # KenLM lmplz's estimator
    model.score(["the cat sat"])[0].total_logprob                  # natural log, </s> included
    model.next_token_distribution(["the"])                         # {token: P(token | the)}
    model.generate("the", num_samples=3, seed=0)
    model.save("runs/ptb-5gram"); NGramModel.load("runs/ptb-5gram")
    model.write_arpa("model.arpa"); NGramModel.from_arpa("other.arpa")

`NGramModel` follows `rnnlab.lm.interface.LanguageModel`, so `rnnlab score / generate / eval` treat it
like a neural language model. Counting lives in `ngram_counts`, estimators in `ngram_smoothing`, the
stored trie and its vectorised lookups in `ngram_index`, the ARPA format in `arpa`.
"""

from __future__ import annotations

import json
import math
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import compress, repeat
from pathlib import Path

import numpy as np

from rnnlab.errors import CheckpointError, ConfigError
from rnnlab.lm.arpa import read_arpa_tables, write_arpa
from rnnlab.lm.interface import SentenceScore
from rnnlab.lm.ngram_counts import count_ngrams
from rnnlab.lm.ngram_index import NGramTables
from rnnlab.lm.ngram_smoothing import METHODS, BuildReport, SmoothingConfig, build_tables
from rnnlab.lm.ngram_tokens import BOS_ID, EOS, EOS_ID, LEVELS, UNK, UNK_ID, NGramVocab, detokenize, tokenize
from rnnlab.lm.ngram_words import WordLookup
from rnnlab.validation import MAX_NGRAM_ORDER, check_sampling, check_seed, is_greedy

CONFIG_FILE = "config.json"
ARRAYS_FILE = "model.npz"
VOCAB_FILE = "vocab.txt"
ARPA_FILE = "model.arpa"
FORMAT_VERSION = 1
_SEPARATOR = "\x00"  # between sentences when a batch is split in one call


@dataclass
class NGramConfig:
    """What a saved n-gram model records in config.json (besides `"task": "ngram"`)."""

    order: int = 3
    smoothing: str = "mkn"
    level: str = "word"
    min_count: int = 1
    k: float = 1.0
    prune: list[int] = field(default_factory=list)
    discount_fallback: list[float] | None = None
    corpus: str | None = None  # a built-in dataset name or a file path, for `rnnlab eval --split`
    source: str = "counts"  # "counts" (estimated here) or "arpa" (imported)
    counts: list[int] = field(default_factory=list)  # stored n-grams per order
    discounts: list[list[float]] = field(default_factory=list)
    tokens: int = 0
    sentences: int = 0

    def validate(self) -> None:
        if not isinstance(self.order, int) or self.order < 1:
            raise ConfigError(f"n-gram order must be an integer >= 1, got {self.order!r}")
        if self.smoothing not in METHODS and self.source != "arpa":
            raise ConfigError(f"unknown smoothing {self.smoothing!r}; expected one of {', '.join(METHODS)}")
        if self.level not in LEVELS:
            raise ConfigError(f"unknown token level {self.level!r}; expected 'word' or 'char'")
        if self.min_count < 1:
            raise ConfigError(f"min_count must be >= 1, got {self.min_count}")


class NGramModel:
    """An order-N language model over sentences; see the module docstring."""

    #: what `generate` can do besides sampling (rnnlab.lm.interface.LanguageModel.decoding)
    decoding = frozenset({"sample", "greedy", "stream"})

    def __init__(self, vocab: NGramVocab, tables: NGramTables, config: NGramConfig):
        self.vocab = vocab
        self.tables = tables
        self.config = config
        self.report: BuildReport | None = None
        self._lookup: dict[str, int] | None = None  # vocabulary index plus the batch separator
        self._words: WordLookup | None = None  # the vocabulary by hash, for batches as bytes

    @property
    def order(self) -> int:
        return self.tables.order

    # -----------------------------------------------------------------------------------------------
    # building

    @classmethod
    def train(
        cls,
        corpus: Iterable[str] | Callable[[], Iterable[str]],
        order: int = 3,
        smoothing: str = "mkn",
        *,
        level: str = "word",
        min_count: int = 1,
        k: float = 1.0,
        prune: Sequence[int] = (),
        discount_fallback: Sequence[float] | None = None,
        chunk_tokens: int = 1_000_000,
        corpus_name: str | None = None,
    ) -> NGramModel:
        """Count `corpus` (lines, or a callable returning an iterable of lines) and estimate the model."""
        if isinstance(order, int) and order > MAX_NGRAM_ORDER:  # tables per order: 1e9 was a MemoryError
            raise ConfigError(f"n-gram order must be an integer between 1 and {MAX_NGRAM_ORDER}, got {order}")
        config = NGramConfig(
            order=order,
            smoothing=smoothing,
            level=level,
            min_count=min_count,
            k=k,
            prune=list(prune),
            discount_fallback=None if discount_fallback is None else list(discount_fallback),
            corpus=corpus_name,
        )
        config.validate()
        smoothing_config = SmoothingConfig(smoothing, k, prune, discount_fallback)
        smoothing_config.validate(order)  # fail before counting a large corpus
        counts = count_ngrams(corpus, order, level, min_count, chunk_tokens)
        tables, report = build_tables(counts, smoothing_config)
        config.counts = tables.sizes()
        config.discounts = report.discounts
        config.tokens, config.sentences = counts.token_count, counts.sentence_count
        model = cls(counts.vocab, tables, config)
        model.report = report
        return model

    # -----------------------------------------------------------------------------------------------
    # the LanguageModel interface

    def encode_sentences(
        self, sentences: Sequence[str], with_tokens: bool = True
    ) -> tuple[list[list[str]] | None, np.ndarray, np.ndarray, dict[int, list[str]]]:
        """Tokens (with </s>) per sentence, and the `<s> ... </s>` id stream of the whole batch.

        Returns (tokens or None, stream (T,) int64, starts (S,) positions of each sentence's `<s>` in the
        stream, {sentence index: its unknown words} for the sentences that have some). T = total tokens
        + 2 per sentence. Vectorised over the batch (`_encode_flat`); Python touches only the unknown
        words (and, for `tokens`, each token).
        """
        ids, lengths, text = self._encode_flat(sentences)
        padded = lengths + 2  # <s> ... </s>
        starts = np.cumsum(padded) - padded
        stream = np.full(int(padded.sum()), EOS_ID, dtype=np.int64)
        stream.put(starts, BOS_ID)
        # token i of sentence s follows 2s + 1 markers
        stream.put(np.arange(len(ids)) + np.repeat(2 * np.arange(len(lengths)) + 1, lengths), ids)
        unknown: dict[int, list[str]] = {}  # only the sentences that have some: no list per sentence
        unknown_at = np.flatnonzero(ids == UNK_ID)
        sentence_of = np.searchsorted(np.cumsum(lengths), unknown_at, side="right").tolist()
        for i, sentence in zip(unknown_at.tolist(), sentence_of):
            word = text(i)
            if word != UNK:
                unknown.setdefault(sentence, []).append(word)
        unknown_at = unknown_at.tolist()
        tokens = None
        if with_tokens:
            flat = list(map(self.vocab.tokens.__getitem__, ids.tolist()))
            for i in unknown_at:
                flat[i] = text(i)  # as written
            ends = np.cumsum(lengths).tolist()
            tokens = [flat[end - length : end] + [EOS] for end, length in zip(ends, lengths.tolist())]
        return tokens, stream, starts, unknown

    def build_lookup_indexes(self) -> float:
        """Build the word and n-gram hash indexes batched scoring uses now (the first large batch would);
        returns the seconds taken. `rnnlab eval` calls it before its timer, as KenLM loads its tables."""
        start = time.perf_counter()
        if self.config.level == "word" and self._words is None:
            self._words = WordLookup(self.vocab.tokens)
        self.tables.build_hash_indexes()
        return time.perf_counter() - start

    def _encode_flat(self, sentences: Sequence[str]) -> tuple[np.ndarray, np.ndarray, Callable[[int], str]]:
        """The batch's tokens: (ids (N,), lengths (S,), text): token i has id ids[i] (`<unk>` for words
        not in the vocabulary) and is written text(i); sentence s has lengths[s] tokens.

        Word level: on the batch's bytes (`ngram_words`), else the whole batch split in one call with a
        separator token between sentences; literal `<s>` / `</s>` are dropped (whitespace).
        """
        if self.config.level != "word":
            return self._encode_each(sentences)
        if self._words is None:
            self._words = WordLookup(self.vocab.tokens)
        encoded = self._words.encode(sentences) if self._words.usable else None
        if encoded is not None:
            codes, lengths, text = encoded.ids, encoded.lengths, encoded.text
        else:
            index = self.vocab.index
            words = f" {_SEPARATOR} ".join(sentences).split()
            if _SEPARATOR in index:  # only a vocabulary imported from a strange ARPA file could have it
                return self._encode_each(sentences)
            if self._lookup is None:
                self._lookup = _Lookup({**index, _SEPARATOR: -2})
            codes = np.fromiter(map(self._lookup.__getitem__, words), dtype=np.int64, count=len(words))
            separator = codes == -2
            if int(separator.sum()) != max(len(sentences) - 1, 0):  # a sentence holds the separator itself
                return self._encode_each(sentences)
            lengths = np.bincount(np.cumsum(separator)[~separator], minlength=len(sentences))
            codes, text = codes[~separator], list(compress(words, (~separator).tolist())).__getitem__
        special = np.flatnonzero(codes <= EOS_ID)  # (few) unknown (-1), <unk>, <s>, </s>
        if len(special):
            codes = codes.copy()
            codes.put(special, np.maximum(codes.take(special), UNK_ID))  # unknown words: <unk>
            markers = special[codes.take(special) >= BOS_ID]  # literal <s>, </s>: whitespace
            if len(markers):
                kept = np.setdiff1d(np.arange(len(codes)), markers, assume_unique=True)
                sentence_of = np.searchsorted(np.cumsum(lengths), markers, side="right")
                lengths = lengths - np.bincount(sentence_of, minlength=len(lengths))
                codes, written = codes.take(kept), text
                text = lambda i: written(int(kept[i]))  # noqa: E731
        return codes, lengths, text

    def _encode_each(self, sentences: Sequence[str]) -> tuple[np.ndarray, np.ndarray, Callable[[int], str]]:
        """`_encode_flat`, one `tokenize` call per sentence (characters, or text holding the separator)."""
        per_sentence = [tokenize(sentence, self.config.level) for sentence in sentences]
        words = [token for tokens in per_sentence for token in tokens]
        ids = np.fromiter(map(self.vocab.index.get, words, repeat(UNK_ID)), dtype=np.int64, count=len(words))
        lengths = np.fromiter(map(len, per_sentence), dtype=np.int64, count=len(per_sentence))
        return ids, lengths, words.__getitem__

    def score(self, sentences: Sequence[str]) -> list[SentenceScore]:
        """ln P of every token (words and `</s>`) of every sentence; vectorised over the whole batch."""
        tokens, stream, starts, unknown = self.encode_sentences(sentences)
        logprobs = self.tables.stream_logprobs(stream, starts).tolist()
        scores = []
        for i, (sentence, words, start) in enumerate(zip(sentences, tokens, starts.tolist())):
            values = logprobs[start + 1 : start + 1 + len(words)]  # skip <s>
            scores.append(SentenceScore(sentence, words, values, unknown.get(i, [])))
        return scores

    def corpus_logprob(self, sentences: Sequence[str]) -> tuple[float, int, int]:
        """(sum of ln P over all tokens, number of tokens incl. </s>, number of out-of-vocabulary words).

        The batched path of `rnnlab eval`: one stream for all sentences, no per-sentence lists.
        """
        _, stream, starts, unknown = self.encode_sentences(sentences, with_tokens=False)
        logprobs = self.tables.stream_logprobs(stream, starts)
        logprobs[starts] = 0.0  # <s> is not predicted
        return float(logprobs.sum()), len(stream) - len(starts), sum(map(len, unknown.values()))

    def context_ids(self, context: Sequence[str]) -> list[int]:
        """Ids of a context given as tokens; a leading `<s>` means sentence start (added when absent)."""
        context = list(context)
        if context and context[0] == "<s>":
            context = context[1:]
        ids, _ = self.vocab.encode(context)
        return [BOS_ID] + ids.tolist()

    def next_token_distribution(self, context: Sequence[str]) -> dict[str, float]:
        """P(next token | context) over the vocabulary (without `<s>`); sums to 1.

        `context` is a list of tokens from the start of the sentence (a string is tokenised first).
        """
        if isinstance(context, str):
            context = tokenize(context, self.config.level)
        probs = self.tables.distribution(self.context_ids(context))
        return {token: float(p) for token, p in zip(self.vocab.tokens, probs) if token != "<s>"}

    def generate(
        self,
        prompt: str = "",
        *,
        num_samples: int = 1,
        max_tokens: int = 100,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: Sequence[str] = (),
        greedy: bool = False,
    ) -> list[str]:
        """Sample sentence continuations of `prompt` (returned with the prompt); stop at `</s>`.

        `greedy=True` (or a temperature below `rnnlab.validation.GREEDY_BELOW`, 0 included) gives the single
        most likely continuation, token by token.
        """
        return list(self.iter_generate(prompt, num_samples=num_samples, max_tokens=max_tokens,
                                       temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, stop=stop,
                                       greedy=greedy))  # fmt: skip

    def prompt_text(self, prompt: str) -> str:
        """The prompt as the generated texts begin with it (tokenised and joined back)."""
        return detokenize(tokenize(prompt, self.config.level), self.config.level)

    def iter_generate(
        self,
        prompt: str = "",
        *,
        num_samples: int = 1,
        max_tokens: int = 100,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: Sequence[str] = (),
        greedy: bool = False,
        on_token: Callable[[str], None] | None = None,
    ) -> Iterator[str]:
        """`generate`, one sample at a time (memory does not grow with `num_samples`); `on_token` streams
        the text of the first sample as it is made (each token's text, spaces included for words)."""
        check_sampling(num_samples, max_tokens, temperature, top_k, top_p)
        if greedy or is_greedy(temperature):  # 0, or below GREEDY_BELOW: one continuation
            temperature, num_samples = 0.0, 1
        rng = np.random.default_rng(None if seed is None else check_seed(seed))
        prompt_tokens = tokenize(prompt, self.config.level)
        for sample in range(num_samples):
            history = self.context_ids(prompt_tokens)
            generated: list[str] = []
            for _ in range(max_tokens):
                probs = _filter(self.tables.distribution(history), temperature, top_k, top_p)
                token_id = int(np.argmax(probs)) if temperature == 0 else int(rng.choice(len(probs), p=probs))
                if token_id == EOS_ID:
                    break
                history.append(token_id)
                generated.append(self.vocab.tokens[token_id])
                text = detokenize(generated, self.config.level)
                if on_token is not None and sample == 0:
                    on_token(_piece(prompt_tokens, generated, self.config.level))
                if any(s and s in text for s in stop):
                    break
            yield detokenize(prompt_tokens + generated, self.config.level)

    # -----------------------------------------------------------------------------------------------
    # size, saving, loading, ARPA

    def memory_bytes(self) -> int:
        """Bytes held by the n-gram tables (keys, log-probabilities, backoffs)."""
        return self.tables.nbytes()

    def save(self, directory: str | Path, arpa: bool = False) -> Path:
        """Write config.json, model.npz (numpy arrays, no pickle), vocab.txt (and model.arpa), manifest.json.

        Atomic like a neural checkpoint (`rnnlab.train.checkpoint.save_directory_atomically`): the files go to
        a temporary directory that is renamed over `directory`, so a crash leaves the old model or the new
        one. A directory holding anything but an n-gram model is refused, never replaced, and so is a model
        whose probabilities are NaN, negative or above 1 (`_check_probabilities`): nothing is written.
        """
        from rnnlab.train.checkpoint import save_directory_atomically

        directory = Path(directory)
        _check_replaceable(directory)
        _check_probabilities(self.tables, directory)
        arrays: dict[str, np.ndarray] = {}
        t = self.tables
        for m in range(1, t.order + 1):
            if m > 1:
                arrays[f"keys_{m}"] = t.keys[m - 1]
            arrays[f"logprob_{m}"] = t.logprob[m - 1]
            if m < t.order:
                arrays[f"backoff_{m}"] = t.backoff[m - 1]
                if t.uniform_backoff:
                    arrays[f"is_context_{m}"] = t.is_context[m - 1]
        arrays["root_backoff"] = np.array([t.root_backoff])
        payload = {"task": "ngram", "format_version": FORMAT_VERSION, **asdict(self.config)}
        payload["uniform_backoff"] = t.uniform_backoff

        def fill(tmp: Path) -> None:
            with open(tmp / ARRAYS_FILE, "wb") as handle:
                np.savez(handle, **arrays)
            (tmp / VOCAB_FILE).write_bytes("".join(token + "\n" for token in self.vocab.tokens).encode("utf-8"))
            if arpa:
                self.write_arpa(tmp / ARPA_FILE)
            text = json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
            (tmp / CONFIG_FILE).write_bytes(text.encode("utf-8"))

        return save_directory_atomically(directory, fill)

    @classmethod
    def load(cls, directory: str | Path) -> NGramModel:
        """Verify (manifest sizes and sha256, field types, array shapes) and load a saved model.

        Every problem is one `CheckpointError` naming the file (and the field): a missing, empty, truncated
        or modified file, a config.json value of the wrong type, arrays that do not fit together.
        """
        from rnnlab.train.checkpoint import verify_checkpoint

        directory = Path(directory)
        if not directory.is_dir():
            raise CheckpointError(f"{directory}: expected an n-gram model directory, found none")
        payload = _read_config(directory / CONFIG_FILE)
        verify_checkpoint(directory, required=(CONFIG_FILE, ARRAYS_FILE, VOCAB_FILE))
        _check_config_types(payload, directory / CONFIG_FILE)
        uniform = payload.pop("uniform_backoff", False)
        payload.pop("task")
        payload.pop("format_version", None)
        config = NGramConfig(**payload)
        try:
            config.validate()
        except ConfigError as error:
            raise CheckpointError(f"{directory / CONFIG_FILE}: {error}") from None
        try:
            tokens = (directory / VOCAB_FILE).read_text(encoding="utf-8").split("\n")[:-1]
        except UnicodeDecodeError as error:
            raise CheckpointError(f"{directory / VOCAB_FILE}: not UTF-8 text ({error.reason})") from None
        vocab = NGramVocab(tokens)
        order = config.order
        try:
            with np.load(directory / ARRAYS_FILE, allow_pickle=False) as data:
                keys = [np.arange(len(vocab), dtype=np.int64)] + [
                    _array(data, f"keys_{m}", "i") for m in range(2, order + 1)
                ]
                logprob = [_array(data, f"logprob_{m}", "f") for m in range(1, order + 1)]
                backoff = [_array(data, f"backoff_{m}", "f") for m in range(1, order)]
                is_context = [_array(data, f"is_context_{m}", "b") for m in range(1, order)] if uniform else None
                root = float(_array(data, "root_backoff", "f")[0])
        except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as error:
            raise CheckpointError(f"{directory / ARRAYS_FILE}: damaged n-gram arrays ({error})") from None
        except KeyError as error:
            raise CheckpointError(f"{directory / ARRAYS_FILE}: missing array {error} for an order-{order} model") from None
        if len(logprob[0]) != len(vocab):
            raise CheckpointError(
                f"{directory}: vocab.txt has {len(vocab)} tokens, model.npz {len(logprob[0])}"
            )
        for m in range(2, order + 1):
            if len(keys[m - 1]) != len(logprob[m - 1]):
                raise CheckpointError(f"{directory / ARRAYS_FILE}: {m}-gram keys and log-probabilities differ in length")
        for m in range(1, order):
            if len(backoff[m - 1]) != len(logprob[m - 1]):
                raise CheckpointError(f"{directory / ARRAYS_FILE}: {m}-gram backoffs and log-probabilities differ in length")
        tables = NGramTables(
            len(vocab), vocab.predictable_size, keys, logprob, backoff, uniform, is_context, root
        )
        return cls(vocab, tables, config)

    def write_arpa(self, path: str | Path) -> None:
        """Write this model as an ARPA file (see `rnnlab.lm.arpa`)."""
        write_arpa(self, path)

    @classmethod
    def from_arpa(cls, path: str | Path, level: str = "word") -> NGramModel:
        """Load an ARPA file (SRILM, KenLM, ours) as a model that scores like KenLM does."""
        vocab, tables = read_arpa_tables(path)
        config = NGramConfig(
            order=tables.order, smoothing="arpa", level=level, source="arpa", counts=tables.sizes(), corpus=str(path)
        )
        return cls(vocab, tables, config)


def _filter(probs: np.ndarray, temperature: float, top_k: int | None, top_p: float | None) -> np.ndarray:
    """Temperature, top-k and nucleus (top-p) filtering of a distribution; returns one that sums to 1.

    A temperature below `GREEDY_BELOW` (0 included) keeps only the most probable token (greedy: 1e-300 once
    gave NaN); a tiny top-p keeps at least the most probable one. Never NaN or inf.
    """
    probs = probs.astype(np.float64)
    if is_greedy(temperature):
        greedy = np.zeros_like(probs)
        greedy[int(np.argmax(probs))] = 1.0
        return greedy
    if temperature != 1.0:
        with np.errstate(divide="ignore", over="ignore", under="ignore"):
            logits = np.log(probs) / temperature
        logits -= logits.max()  # finite: log p / T of the most probable token, T >= GREEDY_BELOW
        probs = np.exp(logits)
    if top_k is not None and top_k < np.count_nonzero(probs):
        cutoff = np.partition(probs, -top_k)[-top_k]
        probs = np.where(probs >= cutoff, probs, 0.0)
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-probs)
        cumulative = np.cumsum(probs[order]) / probs.sum()
        keep = order[: int(np.searchsorted(cumulative, top_p)) + 1]  # at least the most probable token
        filtered = np.zeros_like(probs)
        filtered[keep] = probs[keep]
        probs = filtered
    return probs / probs.sum()


#: config.json of a saved model: field -> (check, what the message says was expected).
_CONFIG_TYPES: dict[str, tuple[Callable[[object], bool], str]] = {}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _list_of(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: isinstance(value, list) and all(check(item) for item in value)


def _or_none(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: value is None or check(value)


_CONFIG_TYPES.update({
    "task": (lambda value: value == "ngram", '"ngram"'),
    "format_version": (lambda value: value == FORMAT_VERSION, f"{FORMAT_VERSION}"),
    "uniform_backoff": (lambda value: isinstance(value, bool), "true or false"),
    "order": (lambda value: _is_int(value) and value >= 1, "an integer >= 1"),
    "smoothing": (lambda value: isinstance(value, str), "a string"),
    "level": (lambda value: value in LEVELS, " or ".join(repr(level) for level in LEVELS)),
    "min_count": (lambda value: _is_int(value) and value >= 1, "an integer >= 1"),
    "k": (_is_number, "a number"),
    "prune": (_list_of(_is_int), "a list of integers"),
    "discount_fallback": (_or_none(_list_of(_is_number)), "a list of numbers or null"),
    "corpus": (_or_none(lambda value: isinstance(value, str)), "a string or null"),
    "source": (lambda value: value in ("counts", "arpa"), "'counts' or 'arpa'"),
    "counts": (_list_of(_is_int), "a list of integers"),
    "discounts": (_list_of(_list_of(_is_number)), "a list of lists of numbers"),
    "tokens": (lambda value: _is_int(value) and value >= 0, "an integer >= 0"),
    "sentences": (lambda value: _is_int(value) and value >= 0, "an integer >= 0"),
})  # fmt: skip


def _read_config(path: Path) -> dict:
    """config.json of an n-gram model, refused unless it is a JSON object of task "ngram"."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing; not an n-gram model directory") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(payload).__name__}")
    if payload.get("task") != "ngram":
        raise CheckpointError(f"{path.parent}: not an n-gram model (task {payload.get('task')!r})")
    return payload


def _check_config_types(payload: dict, path: Path) -> None:
    for key, value in payload.items():
        if key not in _CONFIG_TYPES:
            raise CheckpointError(f"{path}: unknown field {key!r}")
        check, expected = _CONFIG_TYPES[key]
        if not check(value):
            raise CheckpointError(f"{path}: field {key!r} must be {expected}, got {json.dumps(value)[:60]}")


def _array(data, name: str, kind: str) -> np.ndarray:
    """One array of model.npz, checked to be 1-D of the right kind ('i' integer, 'f' float, 'b' bool)."""
    array = data[name]
    kinds = {"i": "iu", "f": "f", "b": "b"}[kind]
    if array.ndim != 1 or array.dtype.kind not in kinds:
        raise ValueError(f"array {name!r} is {array.dtype} with shape {array.shape}, expected a 1-D {kind} array")
    return array


def _check_probabilities(tables: NGramTables, directory: Path) -> None:
    """Refuse (CheckpointError) to save log-probabilities that are NaN or above 0 (a probability that was
    negative, NaN or > 1: bad discounts), or NaN / +inf backoffs; -inf (probability 0) is allowed."""
    for m, values in enumerate(tables.logprob, start=1):
        if np.isnan(values).any() or (values > 1e-6).any():
            raise CheckpointError(f"{directory}: not saved: the {m}-gram probabilities are NaN, negative or above 1 "
                                  "(check the discounts)")  # fmt: skip
    for m, values in enumerate(tables.backoff, start=1):
        if np.isnan(values).any() or np.isposinf(values).any():
            raise CheckpointError(f"{directory}: not saved: the {m}-gram backoff weights are NaN or infinite "
                                  "(check the discounts)")  # fmt: skip
    if math.isnan(tables.root_backoff) or tables.root_backoff == math.inf:
        raise CheckpointError(f"{directory}: not saved: the unigram backoff weight is NaN or infinite")


def _check_replaceable(directory: Path) -> None:
    """Saving replaces `directory` as a whole: refuse one that holds anything but an n-gram model."""
    if not directory.exists():
        return
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: is a file; expected a directory for the n-gram model")
    if not any(directory.iterdir()):
        return
    config = directory / CONFIG_FILE
    try:
        task = json.loads(config.read_text(encoding="utf-8")).get("task")
    except (OSError, ValueError, AttributeError):
        task = None
    if task != "ngram":
        raise CheckpointError(
            f"{directory}: holds files that are not an n-gram model; saving would replace them "
            "(choose an empty or new directory)"
        )


class _Lookup(dict):
    """token -> id, and -1 for a token not in it, without a Python call per known token."""

    def __missing__(self, key: str) -> int:
        return -1


def perplexity(total_logprob: float, count: int) -> float:
    return math.exp(-total_logprob / count) if count else float("nan")


def _piece(prompt_tokens: list[str], generated: list[str], level: str) -> str:
    """The text the last generated token adds to the detokenised prompt + sample (what streaming prints)."""
    before = detokenize(prompt_tokens + generated[:-1], level)
    after = detokenize(prompt_tokens + generated, level)
    return after[len(before):] if after.startswith(before) else " " + generated[-1]
