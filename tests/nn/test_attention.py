"""Attention: hand-written reference formulas, masking, one-step == all-steps."""

from __future__ import annotations

import pytest
import torch

from rnnlab.nn.attention import AdditiveAttention, DotAttention, GeneralAttention, make_attention


def loop_reference(att, query, memory, mask, kind):
    """Scores written out one (b, t, s) at a time, straight from the papers' formulas."""
    B, T, _ = query.shape
    S = memory.size(1)
    weights = torch.zeros(B, T, S)
    for b in range(B):
        for t in range(T):
            scores = []
            for s in range(S):
                q, k = query[b, t], memory[b, s]
                if kind == "dot":
                    e = q @ k
                elif kind == "general":
                    e = q @ (att.key_layer.weight @ k)
                else:
                    hidden = torch.tanh(att.query_layer.weight @ q + att.key_layer.weight @ k)
                    e = att.energy_layer.weight[0] @ hidden
                scores.append(e if mask[b, s] else torch.tensor(float("-inf")))
            weights[b, t] = torch.softmax(torch.stack(scores), 0)
    return weights, weights @ memory


@pytest.mark.parametrize("kind", ["dot", "general", "bahdanau"])
def test_matches_loop_reference_with_padding(kind):
    torch.manual_seed(0)
    B, T, S, H = 3, 2, 5, 4
    att = make_attention(kind, H, H)
    query, memory = torch.randn(B, T, H), torch.randn(B, S, H)
    lengths = torch.tensor([5, 3, 1])
    mask = torch.arange(S)[None, :] < lengths[:, None]
    context, weights = att(query, att.project_memory(memory), memory, mask)
    ref_w, ref_c = loop_reference(att, query, memory, mask, kind)
    torch.testing.assert_close(weights, ref_w)
    torch.testing.assert_close(context, ref_c)
    assert (weights[~mask.unsqueeze(1).expand_as(weights)] == 0).all()  # padding gets no weight
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, T))
    # One decoder step at a time gives the same as all steps at once.
    c1, w1 = att(query[:, 1], att.project_memory(memory), memory, mask)
    torch.testing.assert_close(w1, weights[:, 1])
    torch.testing.assert_close(c1, context[:, 1])


def test_padding_content_does_not_matter():
    torch.manual_seed(1)
    att = AdditiveAttention(4, 6, attention_size=5)
    memory = torch.randn(2, 4, 6)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    query = torch.randn(2, 4)
    c1, _ = att(query, att.project_memory(memory), memory, mask)
    memory2 = memory.clone()
    memory2[0, 2:] = 100.0
    c2, _ = att(query, att.project_memory(memory2), memory2, mask)
    torch.testing.assert_close(c1, c2)


def test_gradients_flow_and_shapes():
    att = GeneralAttention(3, 5)
    memory = torch.randn(2, 4, 5, requires_grad=True)
    query = torch.randn(2, 3, requires_grad=True)
    context, weights = att(query, att.project_memory(memory), memory)
    assert context.shape == (2, 5) and weights.shape == (2, 4)
    context.sum().backward()
    assert query.grad is not None and memory.grad is not None and att.key_layer.weight.grad is not None


def test_bad_configurations():
    with pytest.raises(ValueError, match="dot attention"):
        DotAttention(3, 4)
    with pytest.raises(ValueError, match="attention must be one of"):
        make_attention("cosine", 3, 3)
    att = DotAttention(3, 3)
    with pytest.raises(ValueError, match="mask"):
        att(torch.randn(2, 3), torch.randn(2, 4, 3), torch.randn(2, 4, 3), torch.ones(2, 5, dtype=torch.bool))
