"""A trained RNN language model together with its tokenizer and vocabulary.

`NeuralLanguageModel` is what `rnnlab score / generate / eval` use for a neural LM; it follows the
`rnnlab.lm.interface.LanguageModel` protocol that the n-gram models follow too.

Sentences are scored like an n-gram model scores them: the model starts from the boundary token (the line
end, "\\n" for characters or "</s>" for words, which is what precedes a line in the training stream) and
predicts every token of the sentence followed by the boundary token.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnlab.data.poetry import FORMS, is_han
from rnnlab.data.tokenizers import Tokenizer
from rnnlab.data.vocab import SPECIALS, Vocabulary
from rnnlab.errors import UserError
from rnnlab.lm.batching import BPTTWindows, batchify
from rnnlab.lm.interface import SentenceScore
from rnnlab.nn.decoding import (
    beam_search,
    filter_logits,
    greedy_decode,
    index_select_state,
    map_state,
    sample_decode,
)
from rnnlab.nn.language_model import RNNLanguageModel, detach_state
from rnnlab.validation import check_option, check_sampling, is_greedy

#: Samples decoded at once: `generate(num_samples=100_000)` runs in batches of this many rows, so its memory
#: does not grow with the number of samples (one batch of 100,000 rows took 7 GB).
CHUNK_SAMPLES = 64
#: Logits (rows x steps, each a vocabulary's floats) computed at once by `score`: about 300 MB at 9,000 symbols.
SCORE_TOKENS = 8192


@torch.no_grad()
def stream_loss(model: RNNLanguageModel, ids: Tensor, batch_size: int, bptt: int) -> tuple[float, int]:
    """Mean cross-entropy (nats/token) of a token stream, read as `batch_size` parallel streams.

    Returns (mean loss, number of predicted tokens). The hidden state is carried across windows, so the
    result does not depend on `bptt` beyond float rounding.
    """
    was_training = model.training
    model.eval()
    device = model.embedding.weight.device
    streams = batchify(ids, min(batch_size, max(1, ids.numel() // 2))).to(device)
    total, count, state = 0.0, 0, None
    for inputs, targets in BPTTWindows(streams, bptt):
        logits, state = model(inputs, state)
        total += F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="sum").item()
        count += targets.numel()
        state = detach_state(state)
    model.train(was_training)
    return total / count, count


class NeuralLanguageModel:
    """Scoring, next-token distributions and generation with a trained `RNNLanguageModel`.

    Args:
        model: the network (its device is used for everything).
        tokenizer: turns text into the tokens the vocabulary knows.
        vocab: token <-> id.
        boundary: the token that ends a line in the training stream ("\\n" or "</s>").
        stop_at_boundary: generation ends a sample at the boundary token (poems, sentences) by default.
        primer: text ending at a line boundary (the end of the training text) that the model reads before
            every sentence it scores or generates. Trained on a continuous stream, the model only ever saw
            a boundary with the state left by the previous line; from an all-zero state it miscounts
            (a Tang model then starts poems with 3-character lines). Empty: start from zeros.
    """

    #: what `generate` can do besides sampling (rnnlab.lm.interface.LanguageModel.decoding)
    decoding = frozenset({"sample", "greedy", "beam", "stream", "poem"})

    def __init__(
        self,
        model: RNNLanguageModel,
        tokenizer: Tokenizer,
        vocab: Vocabulary,
        boundary: str,
        stop_at_boundary: bool = True,
        primer: str = "",
    ) -> None:
        if boundary not in vocab:
            raise UserError(f"the boundary token {boundary!r} is not in the model's vocabulary")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.boundary = boundary
        self.boundary_id = vocab.token_to_id(boundary)
        self.stop_at_boundary = stop_at_boundary
        self.primer_ids = self.vocab.encode(self.tokenizer.tokenize(primer)) if primer else []
        self._primer_state = None  # state after reading the primer, computed once

    @property
    def device(self) -> torch.device:
        return self.model.embedding.weight.device

    # --------------------------------------------------------------------------------------- tokens
    def _tokens(self, text: str) -> list[str]:
        tokens = self.tokenizer.tokenize(text)
        while tokens and tokens[-1] == self.boundary:  # the word tokenizer ends each line with </s>
            tokens.pop()
        return tokens

    def _start_state(self, batch: int):
        """The state in which the model reads the boundary token that opens a sentence, for `batch` rows."""
        if len(self.primer_ids) < 2:  # no primer (or only the boundary): start from zeros
            return self.model.init_state(batch)
        if self._primer_state is None:
            _, self._primer_state = self._forward(torch.tensor(self.primer_ids[:-1]).unsqueeze(1))
        return map_state(self._primer_state, lambda s: s.expand(-1, batch, -1).contiguous())

    def _forward(self, ids: Tensor, state=None) -> tuple[Tensor, object]:
        with torch.no_grad():
            logits, state = self.model(ids.to(self.device), state)
        return logits.float(), state

    # -------------------------------------------------------------------------------------- scoring
    def score(self, sentences: Sequence[str]) -> list[SentenceScore]:
        """Log-probability of each sentence and its boundary token, conditioned on a preceding boundary.

        Memory stays bounded whatever the input: sentences of similar length are scored together, at most
        `SCORE_TOKENS` (rows x steps) logits at a time, long ones in windows of steps with the state carried
        (2,878 Tang poems of up to 2,000 characters at once took 22 GB before).
        """
        if not sentences:
            return []
        encoded = []
        for sentence in sentences:
            tokens = self._tokens(sentence.strip())
            encoded.append((sentence, [*tokens, self.boundary], self.vocab.unknown(tokens)))
        log_probs: list[list[float]] = [[] for _ in encoded]
        by_length = sorted(range(len(encoded)), key=lambda i: len(encoded[i][1]))
        first = 0
        while first < len(by_length):
            rows = 1  # grow the batch while its padded size stays within the budget
            while first + rows < len(by_length) and (rows + 1) * len(encoded[by_length[first + rows]][1]) <= SCORE_TOKENS:
                rows += 1
            batch = by_length[first : first + rows]
            for column, values in zip(batch, self._score_batch([encoded[i][1] for i in batch])):
                log_probs[column] = values
            first += rows
        return [SentenceScore(text=sentence, tokens=tokens, token_logprobs=values, unknown=unknown)
                for (sentence, tokens, unknown), values in zip(encoded, log_probs)]  # fmt: skip

    def _score_batch(self, token_lists: list[list[str]]) -> list[list[float]]:
        """Each token's log-probability for a few token lists (each ending with the boundary), read in
        windows of steps so that at most about `SCORE_TOKENS` logits exist at once."""
        longest = max(len(tokens) for tokens in token_lists)
        inputs = torch.full((longest, len(token_lists)), self.vocab.pad_id, dtype=torch.long)
        targets = torch.full((longest, len(token_lists)), self.vocab.pad_id, dtype=torch.long)
        for column, tokens in enumerate(token_lists):
            ids = self.vocab.encode(tokens)
            inputs[: len(ids), column] = torch.tensor([self.boundary_id, *ids[:-1]])
            targets[: len(ids), column] = torch.tensor(ids)
        # Padding sits after each sentence, and the model reads left to right: it cannot affect the scores.
        window = max(1, SCORE_TOKENS // len(token_lists))
        state, pieces = self._start_state(len(token_lists)), []
        for start in range(0, longest, window):
            logits, state = self._forward(inputs[start : start + window], state)
            step_targets = targets[start : start + window].to(self.device).unsqueeze(2)
            pieces.append(logits.log_softmax(-1).gather(2, step_targets).squeeze(2).cpu())
        log_probs = torch.cat(pieces)  # (longest, rows)
        return [log_probs[: len(tokens), column].tolist() for column, tokens in enumerate(token_lists)]

    def next_token_distribution(self, context: Sequence[str]) -> dict[str, float]:
        """P(next token | boundary + context tokens) over the whole vocabulary (sums to 1).

        `context` is a list of tokens (a string is tokenised first, as `score` does).
        """
        if isinstance(context, str):
            context = self._tokens(context)
        ids = [self.boundary_id, *self.vocab.encode(list(context))]
        logits, _ = self._forward(torch.tensor(ids).unsqueeze(1), self._start_state(1))
        probs = logits[-1, 0].double().softmax(-1).tolist()
        return dict(zip(self.vocab.tokens, probs))

    def evaluate_sentences(self, sentences: Sequence[str], batch_size: int = 64) -> dict[str, float]:
        """Loss (nats/token), perplexity and bits per token of sentences scored exactly as `score` scores them.

        Each sentence starts from the primed state and the boundary token, and every one of its tokens and
        its closing boundary is predicted: the totals are those of `rnnlab score --input` on the same lines.
        Sentences are scored `batch_size` at a time, so a long file does not become one huge batch.
        """
        check_option("batch_size", batch_size)
        total, count, unknown = 0.0, 0, 0
        for first in range(0, len(sentences), batch_size):
            for score in self.score(sentences[first : first + batch_size]):
                total += score.total_logprob
                count += len(score.token_logprobs)
                unknown += len(score.unknown)
        if count == 0:
            raise UserError("no sentences to evaluate")
        loss = -total / count
        return {"loss": loss, "ppl": math.exp(loss), "bpc": loss / math.log(2), "tokens": count,
                "unknown": unknown, "sentences": len(sentences)}  # fmt: skip

    def evaluate_text(self, text: str, batch_size: int = 10, bptt: int = 35) -> dict[str, float]:
        """Loss (nats/token), perplexity and bits per token of a text read as one stream.

        This is how training measures its splits: the stream is cut into `batch_size` parallel streams
        (the remainder, fewer than `batch_size` tokens, is dropped) read from a zero state. For a file of
        sentences, `evaluate_sentences` scores every token the way `score` does.
        """
        tokens = self.tokenizer.tokenize(text)
        if len(tokens) < 2:
            raise UserError("the text to evaluate has fewer than 2 tokens")
        ids = torch.tensor(self.vocab.encode(tokens))
        loss, count = stream_loss(self.model, ids, batch_size, bptt)
        return {"loss": loss, "ppl": math.exp(loss), "bpc": loss / math.log(2), "tokens": count,
                "unknown": int((ids == self.vocab.unk_id).sum())}  # fmt: skip

    # ----------------------------------------------------------------------------------- generation
    def prompt_text(self, prompt: str) -> str:
        """The prompt as the generated texts begin with it (tokenised and joined back)."""
        return self.tokenizer.detokenize(self._tokens(prompt)) if prompt else ""

    def _prime(self, prompt: str, batch: int) -> tuple[Tensor, object, list[str]]:
        """Run the boundary + prompt through the model; returns (last token (B,), state, prompt tokens)."""
        tokens = self._tokens(prompt) if prompt else []
        if tokens and all(self.vocab.token_to_id(t) == self.vocab.unk_id for t in tokens):
            raise UserError(f"every symbol of the prompt {prompt!r} is unknown to this model; nothing to continue")
        ids = [self.boundary_id, *self.vocab.encode(tokens)]
        context = torch.tensor(ids[:-1], dtype=torch.long).unsqueeze(1).expand(-1, batch)
        state = self._start_state(batch)
        if context.shape[0] > 0:
            _, state = self._forward(context, state)
        return torch.full((batch,), ids[-1], dtype=torch.long, device=self.device), state, tokens

    def _step(self, tokens: Tensor, state) -> tuple[Tensor, object]:
        logits, state = self._forward(tokens.unsqueeze(0), state)
        return logits[0], state

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
        beam: int | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> list[str]:
        """Continue `prompt` `num_samples` times; returns the texts, prompt included.

        Sampling (temperature / top-k / top-p) by default; `greedy=True` (or temperature 0) for the single
        most likely continuation token by token, `beam=K` for the K best by beam search. `on_token` streams the
        text of sample 0 as it is made. Samples are decoded `CHUNK_SAMPLES` rows at a time (`iter_generate`).
        """
        return list(self.iter_generate(prompt, num_samples=num_samples, max_tokens=max_tokens,
                                       temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, stop=stop,
                                       greedy=greedy, beam=beam, on_token=on_token))  # fmt: skip

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
        beam: int | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Iterator[str]:
        """`generate`, one text at a time as each chunk of `CHUNK_SAMPLES` samples is finished."""
        check_sampling(num_samples, max_tokens, temperature, top_k, top_p)
        check_option("beam", beam)  # None: no beam search
        greedy = greedy or is_greedy(temperature)  # 0, or so small that dividing by it overflows
        eos = self.boundary_id if self.stop_at_boundary else None
        callback = None
        if on_token is not None:
            def callback(tokens: Tensor) -> None:
                token = self.vocab.id_to_token(int(tokens[0]))
                if token != self.boundary or not self.stop_at_boundary:
                    on_token(self.tokenizer.detokenize([token]) if token != self.boundary else "\n")
        if beam or greedy:
            start, state, prompt_tokens = self._prime(prompt, 1)
            if beam:
                reorder = partial(index_select_state, dim=1)
                hypotheses = beam_search(self._step, state, start, reorder_state=reorder, beam_size=beam,
                                         eos_id=self.boundary_id, max_len=max_tokens, n_best=min(beam, num_samples))  # fmt: skip
            else:
                hypotheses = greedy_decode(self._step, state, start, eos_id=eos, max_len=max_tokens, callback=callback)
            yield from self._texts(hypotheses, prompt_tokens, prompt, stop)
            return
        generator = torch.Generator(device=self.device)
        generator.manual_seed(seed if seed is not None else int(torch.seed() % 2**63))
        for first in range(0, num_samples, CHUNK_SAMPLES):
            rows = min(CHUNK_SAMPLES, num_samples - first)
            start, state, prompt_tokens = self._prime(prompt, rows)
            hypotheses = sample_decode(self._step, state, start, eos_id=eos, max_len=max_tokens,
                                       temperature=temperature, top_k=top_k, top_p=top_p, generator=generator,
                                       callback=callback if first == 0 else None)  # fmt: skip
            yield from self._texts(hypotheses, prompt_tokens, prompt, stop)

    def _texts(self, hypotheses, prompt_tokens: list[str], prompt: str, stop: Sequence[str]) -> Iterator[str]:
        for hypothesis in _flatten(hypotheses):
            tokens = [*prompt_tokens, *self.vocab.decode(hypothesis.tokens)]
            text = self.tokenizer.detokenize(tokens).rstrip("\n") if tokens else ""
            yield _cut_at_stop(text, stop, len(prompt))

    def generate_poem(
        self,
        form: str | None = None,
        acrostic: str | None = None,
        *,
        num_samples: int = 1,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> list[str]:
        """Poems of a regular form (e.g. 五言绝句), optionally acrostic (line k starts with acrostic[k]).

        Sampling follows a template: each character slot draws only from Han characters, each line
        ends with the form's punctuation (，。alternating), and acrostic slots are fixed. The model's
        state sees every token, fixed or sampled, so later lines are conditioned on the forced ones.
        Temperature 0 is greedy (one poem). Poems are made `CHUNK_SAMPLES` at a time (`iter_generate_poem`).
        """
        return list(self.iter_generate_poem(form, acrostic, num_samples=num_samples, temperature=temperature,
                                            top_k=top_k, top_p=top_p, seed=seed))  # fmt: skip

    def iter_generate_poem(
        self,
        form: str | None = None,
        acrostic: str | None = None,
        *,
        num_samples: int = 1,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        """`generate_poem`, one poem at a time as each chunk of `CHUNK_SAMPLES` is finished."""
        check_sampling(num_samples, 1, temperature, top_k, top_p)
        if is_greedy(temperature):
            num_samples = 1
        template = poem_template(form, acrostic)
        for token in {t for t in template if t is not None}:
            if token not in self.vocab:
                raise UserError(f"{token!r} is not in this model's vocabulary; choose other acrostic characters")
        han = torch.tensor([is_han(t[0]) and len(t) == 1 and t not in SPECIALS for t in self.vocab.tokens],
                           device=self.device)  # fmt: skip
        if not bool(han.any()):
            raise UserError("this model knows no Chinese characters; poem forms need a Chinese character model")
        generator = torch.Generator(device=self.device)
        generator.manual_seed(seed if seed is not None else int(torch.seed() % 2**63))
        for first in range(0, num_samples, CHUNK_SAMPLES):
            rows = min(CHUNK_SAMPLES, num_samples - first)
            token, state, _ = self._prime("", rows)
            produced: list[Tensor] = []
            for slot in template:
                logits, state = self._step(token, state)
                if slot is None:
                    logits = logits.masked_fill(~han, float("-inf"))
                    if is_greedy(temperature):
                        token = logits.argmax(-1)
                    else:
                        probs = filter_logits(logits, temperature, top_k, top_p).softmax(-1)
                        token = torch.multinomial(probs, 1, generator=generator).squeeze(1)
                else:
                    token = torch.full((rows,), self.vocab.token_to_id(slot), device=self.device)
                produced.append(token.cpu())
            for row in torch.stack(produced, dim=1).tolist():
                yield "".join(self.vocab.decode(row))


def poem_template(form: str | None, acrostic: str | None) -> list[str | None]:
    """The slots of a regular poem: None for a free Han character, else the fixed token.

    Without a form, an acrostic of 4 (8) characters gives a 五言绝句 (五言律诗).
    """
    if acrostic is not None:
        acrostic = acrostic.strip()
        if not acrostic or not all(is_han(c) for c in acrostic):
            raise UserError(f"--acrostic expects Chinese characters, got {acrostic!r}")
    if form is None:
        if acrostic is None:
            raise UserError("give a poem form (e.g. 五言绝句) or an acrostic")
        form = {4: "五言绝句", 8: "五言律诗"}.get(len(acrostic))
        if form is None:
            raise UserError(f"an acrostic needs 4 or 8 characters without --form, got {len(acrostic)}")
    if form not in FORMS:
        raise UserError(f"unknown poem form {form!r}; expected one of {', '.join(FORMS)}")
    shape = FORMS[form]
    if acrostic is not None and len(acrostic) != shape.lines:
        raise UserError(f"{form} has {shape.lines} lines but the acrostic has {len(acrostic)} characters")
    template: list[str | None] = []
    for line in range(shape.lines):
        first = acrostic[line] if acrostic is not None else None
        template += [first] + [None] * (shape.chars - 1)
        template.append("，" if line % 2 == 0 else "。")
    return template


def _flatten(hypotheses) -> list:
    flat = []
    for item in hypotheses:
        flat.extend(item if isinstance(item, list) else [item])
    return flat


def _cut_at_stop(text: str, stop: Sequence[str], skip: int) -> str:
    """Cut `text` at the first stop string found after the first `skip` characters (the prompt)."""
    cut = len(text)
    for marker in stop:
        if marker:
            position = text.find(marker, skip)
            if position != -1:
                cut = min(cut, position)
    return text[:cut]
