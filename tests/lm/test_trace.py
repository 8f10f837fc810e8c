"""`next` and `trace`: the next-token bars agree with the model's distribution, the gradient norms with a
direct computation, and the gates with the recorder."""

from __future__ import annotations

import json

import pytest
import torch

from rnnlab.cli import main
from rnnlab.lm.trace import NextOptions, TraceOptions, gradient_norms, run_next, run_trace
from rnnlab.tasks.registry import get_task
from rnnlab.verbs import Artifact
from tests.verb_models import build_lm, build_ngram


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("trace")
    (root / "lm").mkdir()
    (root / "ngram").mkdir()
    return {"lm": build_lm(root / "lm"), "ngram": build_ngram(root / "ngram")}


def _load(task, directory):
    return get_task(task).load(directory)


def test_next_lists_the_most_probable_tokens_of_the_distribution(models):
    for task in ("lm", "ngram"):
        lm = _load(task, models[task])
        context = "白日依" if task == "lm" else "the cat"
        distribution = lm.next_token_distribution(context)
        assert abs(sum(distribution.values()) - 1) < 1e-6
        [result] = run_next(lm, [context], NextOptions(top_k=4))
        expected = sorted(distribution.items(), key=lambda item: -item[1])[:4]
        assert [token for token, _ in result["next"]] == [token for token, _ in expected]
        assert [p for _, p in result["next"]] == pytest.approx([p for _, p in expected], abs=1e-6)


def test_trace_bars_gates_and_gradients_agree_with_the_model(models):
    lm = _load("lm", models["lm"])
    text = "白日依山尽"
    items = list(run_trace(lm, [text], TraceOptions(top_k=3, max_units=5)))
    [result] = [item for item in items if isinstance(item, dict)]
    assert all(isinstance(item, Artifact) and item.data.startswith(b"\x89PNG") for item in items[1:])
    tokens = result["tokens"]
    assert tokens == ["<s>", *text]
    # the bars after token i are the top of P(next | tokens up to i), as `next` computes it
    for i in (0, 2, len(tokens) - 1):
        distribution = lm.next_token_distribution(tokens[1 : i + 1])
        shown, p = result["next"][i][0]  # (a near-uniform tiny model may tie: compare probabilities)
        assert p == pytest.approx(max(distribution.values()), abs=1e-5)
        assert distribution[shown] == pytest.approx(p, abs=1e-5)
    # every gate of the LSTM, every token, the first 5 units; sigmoid gates within [0, 1]
    assert {g["gate"] for g in result["gates"]} >= {"i", "f", "o"}
    for gate in result["gates"]:
        assert len(gate["values"]) == len(tokens) and all(len(row) == 5 for row in gate["values"])
        if gate["range"] == [0, 1]:
            assert all(0 <= v <= 1 for row in gate["values"] for v in row)
    # gradient norms: one per input that precedes the last token, equal to autograd done by hand
    model = lm.model
    ids = torch.tensor([lm.boundary_id, *lm.vocab.encode(list(text))]).unsqueeze(1)
    embedded = model.embedding(ids[:-1]).detach().requires_grad_(True)
    start = lm._start_state(1)
    hidden, _ = model.rnn(embedded, start[0] if model.line_embedding is not None else start)
    if model.line_embedding is not None:
        hidden = hidden + model.line_embedding(model.line_index(ids[:-1], start[1][0, :, 0]))
    logprob = model.output(hidden)[-1, 0].log_softmax(-1)[ids[-1, 0]]
    (grad,) = torch.autograd.grad(logprob, embedded)
    assert result["gradient_norms"] == pytest.approx(grad[:, 0].norm(dim=-1).tolist(), rel=1e-4, abs=1e-7)
    assert all(p.grad is None for p in model.parameters())  # the trace leaves no gradients behind


def test_gradient_norms_vanish_back_in_time_through_a_contracting_rnn():
    from rnnlab.nn.language_model import RNNLanguageModel, RNNLMConfig

    torch.manual_seed(0)
    model = RNNLanguageModel(10, RNNLMConfig(cell="rnn", embedding_size=8, hidden_size=8, num_layers=1)).eval()
    with torch.no_grad():
        model.rnn.weight_hh_l0.mul_(0.3 / torch.linalg.matrix_norm(model.rnn.weight_hh_l0, ord=2))
    norms = gradient_norms(model, torch.randint(0, 10, (30, 1)))
    assert len(norms) == 29
    assert norms[0] < 1e-6 * norms[-1]  # ‖W_hh‖ = 0.3: each step back multiplies the gradient by < 0.3


def test_trace_and_next_through_the_cli(models, capsys, tmp_path):
    assert main(["trace", str(models["lm"]), "白日依山尽", "--json", "--out", str(tmp_path / "art")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["tokens"][0] == "<s>" and (tmp_path / "art" / "trace-1.png").exists()
    assert main(["next", str(models["ngram"]), "the cat", "--top-k", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "the cat" and len(out) == 3
