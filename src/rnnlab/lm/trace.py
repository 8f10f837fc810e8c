"""`next` and `trace`: what a language model expects next, and what happens inside it while it reads.

    rnnlab next MODEL "the cat sat on the"      # the most probable next tokens, with their probabilities
    rnnlab trace RUN "the cat sat on the mat"   # gates per token, next-token bars, gradient norms through time

`next` works for every language model (neural and n-gram alike, `LanguageModel.next_token_distribution`).
`trace` is the web playground's "look inside" tab as a verb (so the server serves it with no code of its
own, and `--json` gives the same numbers): it runs a neural model on one text and returns

- `gates`: every gate of every recurrent layer at every token (`rnnlab.nn.record_gates`, the explicit path),
  the first `max_units` units of each: the numbers behind `rnnlab inspect gates`' heatmaps;
- `next`: after each token, the `top_k` most probable next tokens (the bars under the text);
- `gradient_norms`: ‖∂ log P(x_T | x_<T) / ∂e_t‖ for every input embedding e_t: how strongly each earlier
  token still moves the last prediction. Through a plain RNN it decays geometrically with distance (the
  vanishing gradient of `rnnlab inspect gradflow`); through an LSTM it decays more slowly.

With `--out DIR` the command line also writes the gate heatmaps as PNG (one per layer and direction).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rnnlab.errors import UserError
from rnnlab.verbs import Artifact, Verb

MAX_TEXTS = 16  # per call of `trace`


@dataclass
class NextOptions:
    top_k: int = field(default=10, metadata={"help": "show the k most probable next tokens"})


def run_next(lm, contexts: list[str], options: NextOptions) -> Iterator[dict]:
    """Per context: the `top_k` most probable next tokens as [token, probability] pairs, most probable first."""
    for context in contexts:
        distribution = lm.next_token_distribution(context)
        top = sorted(distribution.items(), key=lambda item: -item[1])[: options.top_k]
        yield {"context": context, "next": [[token, round(p, 6)] for token, p in top]}


def format_next(result: dict, options: NextOptions) -> str:
    lines = [result["context"]]
    lines += [f"  {p:8.4f}  {'#' * max(1, round(40 * p))}  {token}" for token, p in result["next"]]
    return "\n".join(lines)


NEXT = Verb(name="next", help="the most probable next tokens after a context, with their probabilities",
            options=NextOptions, run=run_next, what="contexts", format=format_next)  # fmt: skip


@dataclass
class TraceOptions:
    top_k: int = field(default=5, metadata={"help": "next-token candidates shown after each token"})
    max_units: int = field(default=32, metadata={"help": "units of each gate returned (the first ones)"})
    max_tokens: int = field(default=200, metadata={"help": "tokens of the text traced (the rest is left out, "
                                                    "with a note)"})  # fmt: skip


def _encoded(lm, text: str, max_tokens: int) -> tuple[list[str], torch.Tensor, bool]:
    """The text's tokens (cut at `max_tokens`) and the model's input ids (1 + T, 1): the boundary, then them."""
    tokens = lm._tokens(text)
    if not tokens:
        raise UserError(f"trace: {text!r} has no tokens under this model's tokenizer")
    cut = len(tokens) > max_tokens
    tokens = tokens[:max_tokens]
    ids = torch.tensor([lm.boundary_id, *lm.vocab.encode(tokens)], dtype=torch.long).unsqueeze(1)
    return tokens, ids.to(lm.device), cut


def gradient_norms(model: torch.nn.Module, ids: torch.Tensor, state=None) -> list[float]:
    """‖∂ log P(x_T | x_<T) / ∂e_t‖ for each input position t (the ids (L, 1) hold x_0 = boundary .. x_T).

    `state` is the state the model reads x_0 in (None: zeros); it is held fixed.

    The last input token is the one predicted, so the model reads ids[:-1] and the gradient is taken with
    respect to the embeddings of those L - 1 inputs (dropout off: the model is in eval mode).
    """
    if ids.shape[0] < 2:
        return []
    captured: list[torch.Tensor] = []

    def keep(_module, _inputs, output):
        output.retain_grad()
        captured.append(output)

    handle = model.embedding.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits, _ = model(ids[:-1], state)
            logprob = logits[-1, 0].float().log_softmax(-1)[ids[-1, 0]]
            logprob.backward()
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
    grad = captured[0].grad[:, 0]  # (L - 1, E)
    return [float(f"{float(value):.6g}") for value in grad.norm(dim=-1)]  # 6 significant digits


def run_trace(lm, texts: list[str], options: TraceOptions) -> Iterator[dict | Artifact]:
    """Per text: tokens, gate activations, next-token candidates after each token and gradient norms."""
    from rnnlab.inspect.gates import SIGMOID_GATES, plot_gate_heatmaps, record_text

    if not hasattr(lm, "model") or not hasattr(lm.model, "embedding"):
        raise UserError("trace needs a neural language model (an n-gram model has no gates; try `rnnlab next`)")
    if len(texts) > MAX_TEXTS:  # each text is a set of heatmaps to draw and read: a look at a few texts
        raise UserError(f"trace looks inside at most {MAX_TEXTS} texts at a time, got {len(texts)}")
    for index, text in enumerate(texts, start=1):
        tokens, ids, cut = _encoded(lm, text, options.max_tokens)
        model = lm.model.eval()
        start = lm._start_state(1)  # the state `score` and `next` read the boundary in (after a primer, if any)
        traces = record_text(model, lambda model=model, ids=ids, start=start: model(ids, start), ["<s>", *tokens])
        with torch.no_grad():
            logits, _ = model(ids, start)
        probs = logits[:, 0].float().softmax(-1)  # (T + 1, V): after the boundary, after each token
        top_p, top_i = probs.topk(min(options.top_k, probs.shape[-1]), dim=-1)
        gates = []
        for (name, layer, direction), values in traces.gates.items():
            for gate, array in values.items():
                shown = array[:, : options.max_units]  # (T + 1, units)
                gates.append({"layer": f"{name + '.' if name else ''}{layer}", "direction": "backward" if direction else "forward",
                              "gate": gate, "range": [0, 1] if gate in SIGMOID_GATES else None,
                              "values": [[round(float(v), 4) for v in row] for row in shown]})  # fmt: skip
        norms = gradient_norms(model, ids, start)
        result = {"text": text, "tokens": ["<s>", *tokens], "cut": cut, "gates": gates,
                  "next": [[[lm.vocab.tokens[i], round(float(p), 5)] for p, i in zip(ps.tolist(), is_.tolist())]
                           for ps, is_ in zip(top_p, top_i)],
                  "gradient_norms": norms,
                  "gradient_decay": _decay(norms)}  # fmt: skip
        yield result
        with tempfile.TemporaryDirectory() as scratch:
            for path in plot_gate_heatmaps(traces, Path(scratch) / f"trace-{index}.png", max_units=options.max_units,
                                           max_tokens=options.max_tokens + 1):  # fmt: skip
                yield Artifact("image/png", path.read_bytes(), path.name)


def _decay(norms: list[float]) -> float | None:
    """Mean factor by which the gradient norm shrinks per step back in time (a log-linear fit), or None."""
    points = [(len(norms) - 1 - t, math.log(n)) for t, n in enumerate(norms) if n > 0]
    if len(points) < 3:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return round(math.exp(slope), 4)


def format_trace(result: dict, options: TraceOptions) -> str:
    """A text summary: each token, the model's best guess for the next one, and the gradient norm into it."""
    norms = result["gradient_norms"] + [None]
    lines = [f"{result['text']}{'   (cut to ' + str(options.max_tokens) + ' tokens)' if result['cut'] else ''}",
             f"  {'token':<14} {'next (p)':<24} {'|dlogP/de|':>10}"]  # fmt: skip
    for token, candidates, norm in zip(result["tokens"], result["next"], norms):
        best = f"{candidates[0][0]} ({candidates[0][1]:.3f})" if candidates else ""
        lines.append(f"  {token:<14} {best:<24} {'' if norm is None else f'{norm:10.4g}'}")
    if result["gradient_decay"] is not None:
        lines.append(f"  gradient norm per step back in time: x{result['gradient_decay']}")
    gates = sorted({g["gate"] for g in result["gates"]})
    lines.append(f"  gates: {', '.join(gates)} ({len(result['gates'])} heatmaps; --json for the numbers, "
                 "--out DIR for PNGs)")  # fmt: skip
    return "\n".join(lines)


TRACE = Verb(name="trace", help="look inside a neural language model on a text: gates, next-token bars, "
             "gradient norms through time", options=TraceOptions, run=run_trace, what="texts", format=format_trace,
             artifacts=True)  # fmt: skip
