"""ARPA back-off language model files: write ours, read anyone's, refuse malformed ones with the line.

Format (as written by SRILM, KenLM lmplz, IRSTLM):

    \\data\\
    ngram 1=5
    ngram 2=7

    \\1-grams:
    -1.2041<TAB><s><TAB>-0.3010        log10 P, the words, log10 backoff (orders below the highest)
    ...
    \\2-grams:
    -0.3010<TAB><s> a
    \\end\\

P(w | h) = 10^prob of the longest listed n-gram ending in w, times the backoffs of the longer contexts
that are listed. Our interpolated estimators store exactly these numbers, so an ARPA file written here
scores the same in KenLM; add-k (whose unseen words are uniform, not backed off) has no ARPA form.
`<s>` is written with log10 probability -99 (it is never predicted); a probability of 0 (maximum
likelihood) is written as -99 too.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TextIO

import numpy as np

from rnnlab.errors import ConfigError, DataError
from rnnlab.lm.ngram_counts import unique_rows
from rnnlab.lm.ngram_index import NGramTables
from rnnlab.lm.ngram_tokens import BOS, EOS, SPECIALS, NGramVocab

LN10 = math.log(10.0)
ZERO = -99.0  # log10 of probability 0 in ARPA files
UNK_MISSING = -100.0  # what KenLM gives <unk> when an ARPA file does not list it
_COUNT_LINE = re.compile(r"^ngram\s+(\d+)\s*=\s*(\d+)$")
_SECTION = re.compile(r"^\\(\d+)-grams:$")


# ---------------------------------------------------------------------------------------------------
# writing


def _log10_text(values: np.ndarray) -> list[str]:
    log10 = np.where(np.isneginf(values), ZERO, values / LN10)
    return [f"{v:.7g}" for v in np.maximum(log10, ZERO).tolist()]


def gram_words(tables: NGramTables, vocab: NGramVocab) -> list[list[str]]:
    """The words of every stored n-gram, per order, as space-joined strings in table order."""
    tokens = np.array(vocab.tokens, dtype=object)
    words = [list(tokens)]
    for m in range(2, tables.order + 1):
        keys = tables.keys[m - 1]
        parents = np.array(words[-1], dtype=object)[keys // tables.vocab_size]
        lasts = tokens[keys % tables.vocab_size]
        words.append([p + " " + w for p, w in zip(parents.tolist(), lasts.tolist())])
    return words


def write_arpa(model, path: str | Path | TextIO) -> None:
    """Write an `NGramModel` (anything with `.tables` and `.vocab`) as an ARPA file (UTF-8).

    A path is written atomically (`rnnlab.files.atomic_output`): a failure half-way (a full disk) leaves
    the file that was there, not a truncated one. Whether the path may be written is the caller's check
    (`rnnlab.paths.guard_output_file`)."""
    tables: NGramTables = model.tables
    if tables.uniform_backoff:
        raise ConfigError(
            "add-k smoothing gives unseen words a uniform share, which the ARPA back-off form cannot "
            "express; save without ARPA or use --smoothing wb, kn or mkn"
        )
    words = gram_words(tables, model.vocab)
    if isinstance(path, (str, Path)):
        from rnnlab.files import atomic_output

        with atomic_output(path, "w") as handle:
            _write(handle, tables, words)
    else:
        _write(path, tables, words)


def _write(out: TextIO, tables: NGramTables, words: list[list[str]]) -> None:
    order = tables.order
    out.write("\\data\\\n")
    for m in range(1, order + 1):
        out.write(f"ngram {m}={len(words[m - 1])}\n")
    for m in range(1, order + 1):
        out.write(f"\n\\{m}-grams:\n")
        probs = _log10_text(tables.logprob[m - 1])
        if m == 1:
            probs[SPECIALS.index(BOS)] = f"{ZERO:.7g}"
        if m < order:
            backoffs = _log10_text(tables.backoff[m - 1])
            contexts = (
                tables.is_context[m - 1] if tables.is_context is not None else tables.backoff[m - 1] != 0
            )
            lines = [
                f"{p}\t{w}\t{b}\n" if c else f"{p}\t{w}\n"
                for p, w, b, c in zip(probs, words[m - 1], backoffs, contexts.tolist())
            ]
        else:
            lines = [f"{p}\t{w}\n" for p, w in zip(probs, words[m - 1])]
        out.writelines(lines)
    out.write("\n\\end\\\n")


# ---------------------------------------------------------------------------------------------------
# reading


class _Lines:
    """Numbered lines of a text file, with one line of look-ahead."""

    def __init__(self, handle: TextIO, name: str):
        self.handle, self.name, self.number, self._peeked = handle, name, 0, None

    def peek(self) -> str | None:
        if self._peeked is None:
            line = self.handle.readline()
            if not line:
                return None
            self.number += 1
            self._peeked = line.strip()
        return self._peeked

    def next(self) -> str | None:
        line = self.peek()
        self._peeked = None
        return line

    def error(self, message: str) -> DataError:
        return DataError(f"{self.name}:{self.number}: {message}")


def _number(text: str, lines: _Lines, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise lines.error(f"expected a number for the {what}, got {text!r}") from None
    if not math.isfinite(value):  # `inf` backoffs once scored p=inf, perplexity 0.00
        hint = " (ARPA writes -99 for a probability of 0)" if what == "log10 probability" else ""
        raise lines.error(f"expected a finite number for the {what}, got {text!r}{hint}")
    if value > 1e-6 and what == "log10 probability":
        raise lines.error(f"expected a log10 probability <= 0, got {text!r}")
    return value


def parse_arpa(path: str | Path) -> tuple[list[list[tuple[str, ...]]], list[np.ndarray], list[np.ndarray]]:
    """Words, log10 probabilities and log10 backoffs (0 when absent) of every order, checked."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such ARPA file")
    with open(path, encoding="utf-8", errors="strict") as handle:
        try:
            return _parse(_Lines(handle, str(path)))
        except UnicodeDecodeError as error:
            raise DataError(f"{path}: not valid UTF-8 ({error.reason})") from None


def _parse(lines: _Lines):
    while (line := lines.next()) is not None and line != "\\data\\":
        pass  # anything before \data\ is a comment
    if line is None:
        raise lines.error("missing the \\data\\ header: not an ARPA file")
    declared: list[int] = []
    while (line := lines.peek()) is not None and not line.startswith("\\"):
        lines.next()
        if not line:
            continue
        match = _COUNT_LINE.match(line)
        if not match:
            raise lines.error(f"expected 'ngram N=COUNT' in \\data\\, got {line!r}")
        m, count = int(match.group(1)), int(match.group(2))
        if m != len(declared) + 1:
            raise lines.error(f"expected the count of {len(declared) + 1}-grams, got one for {m}-grams")
        declared.append(count)
    if not declared:
        raise lines.error("the \\data\\ section declares no n-gram counts")
    order = len(declared)
    all_words, all_probs, all_backoffs = [], [], []
    for m in range(1, order + 1):
        while (line := lines.next()) is not None and not line:
            pass
        if line is None:
            raise lines.error(f"missing the \\{m}-grams: section (file ends)")
        if line != f"\\{m}-grams:":
            raise lines.error(f"expected the \\{m}-grams: section, got {line!r}")
        grams, probs, backoffs = [], [], []
        while (line := lines.peek()) is not None and not line.startswith("\\"):
            lines.next()
            if not line:
                continue
            fields = line.split()
            if len(fields) == m + 2:
                if m == order:
                    raise lines.error(f"a backoff weight on a {m}-gram, the highest order (none allowed)")
                backoffs.append(_number(fields[-1], lines, "backoff"))
            elif len(fields) == m + 1:
                backoffs.append(0.0)
            else:
                raise lines.error(
                    f"expected a probability, {m} word(s) and maybe a backoff; got {len(fields)} fields"
                )
            probs.append(_number(fields[0], lines, "log10 probability"))
            grams.append(tuple(fields[1 : m + 1]))
        if len(grams) != declared[m - 1]:
            raise lines.error(
                f"\\data\\ declares {declared[m - 1]} {m}-grams but the section lists {len(grams)}"
            )
        all_words.append(grams)
        all_probs.append(np.array(probs, dtype=np.float64))
        all_backoffs.append(np.array(backoffs, dtype=np.float64))
    while (line := lines.next()) is not None and not line:
        pass
    if line is None:
        raise lines.error("missing \\end\\ (the file is truncated?)")
    if line != "\\end\\":
        if _SECTION.match(line):
            raise lines.error(f"section {line!r} is not declared in \\data\\")
        raise lines.error(f"expected \\end\\, got {line!r}")
    return all_words, all_probs, all_backoffs


def arpa_order(path: str | Path) -> int | None:
    """The highest order an ARPA file's \\data\\ section declares, read from the header alone (None if the
    file cannot be read or declares none): what a run directory is named after before the import runs."""
    order, in_header = 0, False
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if line == "\\data\\":
                    in_header = True
                elif in_header and (match := re.match(r"ngram\s+(\d+)\s*=", line)):
                    order = max(order, int(match.group(1)))
                elif in_header and line.startswith("\\"):
                    break
    except OSError:
        return None
    return order or None


def read_arpa_tables(path: str | Path) -> tuple[NGramVocab, NGramTables]:
    """The vocabulary and n-gram tables of an ARPA file, scoring like KenLM does.

    `NGramModel.from_arpa(path)` wraps them in a model; this module never imports `rnnlab.lm.ngram`, so
    the model can import the file format and not the other way round.
    """
    path = Path(path)
    words, probs, backoffs = parse_arpa(path)
    order = len(words)
    unigrams = [w[0] for w in words[0]]
    index = {}
    for i, word in enumerate(unigrams):
        if word in index:
            raise DataError(f"{path}: the unigram {word!r} is listed twice")
        index[word] = i
    for special in (BOS, EOS):
        if special not in index:
            raise DataError(f"{path}: the unigrams do not list {special}; rnnlab needs both <s> and </s>")
    tokens = list(SPECIALS) + [w for w in unigrams if w not in SPECIALS]
    vocab = NGramVocab(tokens)
    size = len(vocab)
    unigram_logprob = np.full(size, UNK_MISSING * LN10)  # KenLM's value for an unlisted <unk>
    unigram_backoff = np.zeros(size)
    ids = np.array([vocab.index[w] for w in unigrams], dtype=np.int64)
    unigram_logprob[ids] = probs[0] * LN10
    unigram_backoff[ids] = backoffs[0] * LN10
    unigram_logprob[vocab.index[BOS]] = -np.inf  # never predicted
    keys = [np.arange(size, dtype=np.int64)]
    logprob = [unigram_logprob]
    backoff = [unigram_backoff]
    tables = NGramTables(size, vocab.predictable_size, keys, logprob, backoff)
    for m in range(2, order + 1):
        grams = np.array([[vocab.index.get(w, -1) for w in gram] for gram in words[m - 1]], dtype=np.int64)
        grams = grams.reshape(len(words[m - 1]), m)
        unknown = (grams < 0).any(axis=1)
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise DataError(
                f"{path}: the {m}-gram {' '.join(words[m - 1][row])!r} has a word missing from the unigrams"
            )
        prefix_rows = tables.lookup(grams[:, :-1])[-1]
        if (prefix_rows < 0).any():
            row = int(np.flatnonzero(prefix_rows < 0)[0])
            raise DataError(
                f"{path}: the {m}-gram {' '.join(words[m - 1][row])!r} has no context "
                f"{' '.join(words[m - 1][row][:-1])!r} among the {m - 1}-grams; rnnlab needs every context listed"
            )
        gram_keys = prefix_rows * size + grams[:, -1]
        permutation = np.argsort(gram_keys)
        sorted_keys = gram_keys[permutation]
        if len(sorted_keys) > 1 and (sorted_keys[1:] == sorted_keys[:-1]).any():
            _, counts = unique_rows(grams, np.ones(len(grams), dtype=np.int64))
            raise DataError(f"{path}: a {m}-gram is listed twice ({int((counts > 1).sum())} duplicates)")
        keys.append(sorted_keys)
        logprob.append(probs[m - 1][permutation] * LN10)
        backoff.append(backoffs[m - 1][permutation] * LN10)
    tables.backoff = backoff[:-1] if order > 1 else []
    return vocab, tables
