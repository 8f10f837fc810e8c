"""Rhyme-constrained generation: `rnnlab generate MODEL --rhyme auto|GROUP|off` for neural poem models.

The model writes as it always does, sampling every character from its own distribution; only the final
character of each even line (2, 4, 6, 8) is drawn from the model's distribution RESTRICTED to the rhyme
group's characters (renormalised, then temperature / top-k / top-p as usual):

- `--rhyme GROUP` (七阳, 下平声七阳, 七陽, ...): every even line ends in that group;
- `--rhyme auto`: line 2 ends in a character of some level-tone (平) group, the group(s) of the
  character the model chose there constrain lines 4, 6, 8 (as a poet picks the rhyme with the first one);
- a rhyme character is not used twice in a poem (重韵) while the group has others the model knows;
- `--rhyme off`: no constraint (free samples); `--json` still reports each sample's rhyme and meter.

Where the final character is: with `--form`/`--acrostic` the template fixes it; free samples take line 1's
length (the line before the first ，。！？；) as the length of every line, so the character at that
position of an even line is constrained; the model still decides where lines and the poem end. Free
samples never contain the vocabulary's special symbols (<unk>, <pad>, ...).

This picks rhyme characters on purpose: it is a separate, clearly named option, and its poems never go
into the free-sample figures (docs/poetry.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from rnnlab.data.poetry import PUNCTUATION, is_han
from rnnlab.data.vocab import SPECIALS
from rnnlab.errors import UserError
from rnnlab.nn.decoding import filter_logits
from rnnlab.poetry.pingshui import RhymeTable, pingshui_table
from rnnlab.validation import check_sampling, is_greedy

AUTO, OFF = "auto", "off"


def parse_rhyme(value: str | None, table: RhymeTable | None = None) -> str | None:
    """None or "off" -> None (no constraint); "auto" -> "auto"; a group name -> its canonical name."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise UserError(f"--rhyme expects auto, off or a Pingshui group name such as 七阳, got {value!r}")
    text = value.strip()
    if text in (OFF, ""):
        if text == "":
            raise UserError("--rhyme expects auto, off or a Pingshui group name such as 七阳, got an empty value")
        return None
    if text == AUTO:
        return AUTO
    return (table or pingshui_table()).resolve(text)


class RhymeMasks:
    """Boolean masks over a vocabulary: Han characters, and the characters of each rhyme group."""

    def __init__(self, tokens: list[str], table: RhymeTable, device: torch.device) -> None:
        self.table = table
        self.device = device
        self.han = torch.tensor([len(t) == 1 and t not in SPECIALS and is_han(t) for t in tokens], device=device)
        self.groups_of_id = [table.groups_of(t) if len(t) == 1 else frozenset() for t in tokens]
        self.level = torch.tensor([bool(table.level_groups(t)) if len(t) == 1 else False for t in tokens],
                                  device=device)  # fmt: skip
        self._cache: dict[frozenset[str], Tensor] = {}

    def of_groups(self, groups: frozenset[str]) -> Tensor:
        """(V,) True for the tokens in any of `groups`."""
        if groups not in self._cache:
            self._cache[groups] = torch.tensor([bool(g & groups) for g in self.groups_of_id], device=self.device)
        return self._cache[groups]


def _choose(logits: Tensor, temperature: float, top_k, top_p, generator: torch.Generator) -> Tensor:
    """(B, V) logits -> (B,) token ids, greedy or sampled."""
    if is_greedy(temperature):
        return logits.argmax(-1)
    probs = filter_logits(logits, temperature, top_k, top_p).softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def iter_generate_rhyming(
    lm,
    rhyme: str,
    *,
    form: str | None = None,
    acrostic: str | None = None,
    num_samples: int = 1,
    max_tokens: int = 200,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> Iterator[str]:
    """Poems from a `NeuralLanguageModel` whose even lines end in one rhyme group (module docstring).

    `rhyme` is "auto" or a canonical group name (`parse_rhyme`). With `form`/`acrostic` the poem follows
    the template of `rnnlab.lm.neural.poem_template`; otherwise it is a free sample of at most `max_tokens`.
    """
    from rnnlab.lm.neural import CHUNK_SAMPLES, poem_template

    check_sampling(num_samples, max_tokens, temperature, top_k, top_p)
    if is_greedy(temperature):
        num_samples = 1
    table = pingshui_table()
    template = poem_template(form, acrostic) if (form or acrostic) else None
    for token in {t for t in template or () if t is not None}:
        if token not in lm.vocab:
            raise UserError(f"{token!r} is not in this model's vocabulary; choose other acrostic characters")
    masks = RhymeMasks(list(lm.vocab.tokens), table, lm.device)
    if not bool(masks.han.any()):
        raise UserError("this model knows no Chinese characters; --rhyme needs a Chinese poem model")
    fixed = None if rhyme == AUTO else frozenset({rhyme})
    start_allowed = masks.level if fixed is None else masks.of_groups(fixed)
    if not bool((start_allowed & masks.han).any()):
        raise UserError(f"this model knows no character of the rhyme group {rhyme}; choose another group")
    generator = torch.Generator(device=lm.device)
    generator.manual_seed(seed if seed is not None else int(torch.seed() % 2**63))
    for first in range(0, num_samples, CHUNK_SAMPLES):
        rows = min(CHUNK_SAMPLES, num_samples - first)
        if template is not None:
            yield from _template_chunk(lm, template, rows, masks, fixed, temperature, top_k, top_p, generator)
        else:
            yield from _free_chunk(lm, rows, max_tokens, masks, fixed, temperature, top_k, top_p, generator)


def _rhyme_mask(masks: RhymeMasks, groups: frozenset[str] | None, used: set[int]) -> Tensor:
    """(V,) the characters allowed at an even line's end: the rhyme's groups (or any level-tone character),
    less the rhyme characters this poem already used (重韵, which poets avoid) while others remain."""
    allowed = masks.han & (masks.level if groups is None else masks.of_groups(groups))
    if used:
        fresh = allowed.clone()
        fresh[list(used)] = False
        if bool(fresh.any()):
            return fresh
    return allowed


def _narrow(masks: RhymeMasks, groups: frozenset[str] | None, token: int) -> frozenset[str]:
    """The rhyme groups once `token` ended an even line: its level groups first, then the intersection."""
    chosen = masks.groups_of_id[token]
    if groups is None:
        return frozenset(g for g in chosen if masks.table.groups[g].tone == "平")
    return groups & chosen


def _template_chunk(lm, template, rows, masks, fixed, temperature, top_k, top_p, generator) -> Iterator[str]:
    token, state, _ = lm._prime("", rows)
    groups: list[frozenset[str] | None] = [fixed] * rows
    used: list[set[int]] = [set() for _ in range(rows)]  # rhyme characters each poem has used
    produced: list[Tensor] = []
    for index, slot in enumerate(template):
        logits, state = lm._step(token, state)
        if slot is not None:
            token = torch.full((rows,), lm.vocab.token_to_id(slot), device=lm.device)
        else:
            rhyme_slot = index + 1 < len(template) and template[index + 1] == "。"  # even lines end in 。
            if rhyme_slot:
                allowed = torch.stack([_rhyme_mask(masks, g, u) for g, u in zip(groups, used)])
            else:
                allowed = masks.han.expand(rows, -1)
            token = _choose(logits.masked_fill(~allowed, float("-inf")), temperature, top_k, top_p, generator)
            if rhyme_slot:
                groups = [_narrow(masks, g, t) for g, t in zip(groups, token.tolist())]
                for chosen, t in zip(used, token.tolist()):
                    chosen.add(t)
        produced.append(token.cpu())
    for row in torch.stack(produced, dim=1).tolist():
        yield "".join(lm.vocab.decode(row))


def _free_chunk(lm, rows, max_tokens, masks, fixed, temperature, top_k, top_p, generator) -> Iterator[str]:
    token, state, _ = lm._prime("", rows)
    marks = {lm.vocab.token_to_id(m) for m in PUNCTUATION if m in lm.vocab}
    groups: list[frozenset[str] | None] = [fixed] * rows
    used: list[set[int]] = [set() for _ in range(rows)]  # rhyme characters each poem has used
    line = [0] * rows  # 0-based line index
    length = [0] * rows  # characters in the current line so far
    first_length: list[int | None] = [None] * rows
    done = [False] * rows
    outputs: list[list[int]] = [[] for _ in range(rows)]
    # any token but the vocabulary's specials (<pad>, <unk>, ...), which are no part of a poem
    everything = torch.tensor([t not in SPECIALS or t == lm.boundary for t in lm.vocab.tokens], device=lm.device)
    for _ in range(max_tokens):
        logits, state = lm._step(token, state)
        at_end = [not done[r] and line[r] % 2 == 1 and first_length[r] is not None
                  and length[r] == first_length[r] - 1 for r in range(rows)]  # fmt: skip
        allowed = torch.stack([_rhyme_mask(masks, groups[r], used[r]) if at_end[r] else everything
                               for r in range(rows)])  # fmt: skip
        token = _choose(logits.masked_fill(~allowed, float("-inf")), temperature, top_k, top_p, generator)
        for r, t in enumerate(token.tolist()):
            if done[r]:
                continue
            if t == lm.boundary_id and lm.stop_at_boundary:
                done[r] = True
                continue
            outputs[r].append(t)
            if at_end[r]:
                groups[r] = _narrow(masks, groups[r], t)
                used[r].add(t)
            if t in marks:
                if first_length[r] is None:
                    first_length[r] = length[r]
                line[r] += 1
                length[r] = 0
            elif t != lm.boundary_id:
                length[r] += 1
        if all(done):
            break
    for ids in outputs:
        yield lm.tokenizer.detokenize(lm.vocab.decode(ids)).rstrip("\n")


def run_rhyming(lm, options, can: frozenset[str], run_generate) -> Iterator:
    """The `generate` verb with `--rhyme` (rnnlab.lm.verbs.SamplingOptions): samples as
    `{"sample": i, "text": ..., "poem": measure_poem(text)}`.

    "off" runs the verb unchanged (`run_generate` with `rhyme=None`) and measures each text; "auto" or a
    group samples rhyme-constrained poems (`iter_generate_rhyming`), a neural poem model's only.
    """
    from dataclasses import replace

    from rnnlab.poetry.report import measure_poem

    rhyme = parse_rhyme(options.rhyme)
    if rhyme is None:
        for item in run_generate(lm, [], replace(options, rhyme=None)):
            yield {**item, "poem": measure_poem(item["text"])} if isinstance(item, dict) else item
        return
    if "poem" not in can:
        raise UserError("--rhyme auto or a group needs a neural poem model; this model cannot constrain rhymes "
                        "(--rhyme off measures its samples)")  # fmt: skip
    for name, value in (("prompt", options.prompt), ("beam", options.beam), ("stop", options.stop)):
        if value:
            raise UserError(f"--rhyme {options.rhyme} writes whole poems from the start; it cannot be combined with "
                            f"--{name}")  # fmt: skip
    temperature = 0.0 if options.greedy else options.temperature
    texts = iter_generate_rhyming(lm, rhyme, form=options.form, acrostic=options.acrostic,
                                  num_samples=options.num_samples, max_tokens=options.max_tokens,
                                  temperature=temperature, top_k=options.top_k, top_p=options.top_p,
                                  seed=options.seed)  # fmt: skip
    for index, text in enumerate(texts, start=1):
        yield {"sample": index, "text": text, "poem": measure_poem(text)}
