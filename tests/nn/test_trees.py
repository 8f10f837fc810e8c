"""Trees, tree batches and the depth-batched recursive networks (`rnnlab.nn.trees`)."""

from __future__ import annotations

import ast
import copy
import pickle
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.errors import DataError
from rnnlab.nn.trees import (
    ChildSumTreeLSTM,
    NaryTreeLSTM,
    RecursiveNet,
    Tree,
    TreeBatch,
    TreeSyntaxError,
    batch_trees,
)
from rnnlab.train.batches import move_to

DOUBLE = torch.float64


def zero_id(node: Tree) -> int:
    return 0


def chain(length: int) -> Tree:
    """A chain of `length` nodes: the root has one child, which has one child, ... down to a leaf."""
    node = Tree.leaf("x")
    for _ in range(length - 1):
        node = Tree("N", [node])
    return node


def all_outputs(model, batch, inputs, per_node):
    out = model(batch, inputs, per_node=per_node)
    return out if isinstance(out, tuple) else (out,)


# ---- parsing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, style",
    [
        ("(S (NP the cat) (VP sat))", "("),
        ("[MAX 2 9 [MIN 4 7 ] 0 ]", "["),
        ("[SM [MED 1 [MAX 3 ] 5 ] 2 ]", "["),
        ("((NP a b) c)", "("),
        ("(S)", "("),
        ("word", "("),
    ],
)
def test_bracketed_round_trip(text, style):
    tree = Tree.from_bracketed(text)
    assert tree.to_bracketed(style) == text
    assert Tree.from_bracketed(tree.to_bracketed("[" if style == "(" else "(")) == tree


def test_parse_both_styles_structure():
    sentence = Tree.from_bracketed("(S (NP the cat) (VP sat))")
    assert sentence.label == "S" and [child.label for child in sentence.children] == ["NP", "VP"]
    assert sentence.children[0].children == [Tree.leaf("the"), Tree.leaf("cat")]
    assert sentence.tokens() == ["the", "cat", "sat"]
    assert (sentence.size(), sentence.depth()) == (6, 2)

    listops = Tree.from_bracketed("[MAX 2 9 [MIN 4 7 ] 0 ]")
    assert listops.label == "MAX"
    assert [c.token for c in listops.children] == ["2", "9", None, "0"]
    assert listops.children[2] == Tree("MIN", [Tree.leaf("4"), Tree.leaf("7")])
    assert (listops.size(), listops.depth(), listops.tokens()) == (7, 2, ["2", "9", "4", "7", "0"])
    assert [node.token or node.label for node in listops.nodes()] == ["MAX", "2", "9", "MIN", "4", "7", "0"]
    assert Tree.from_bracketed("x").depth() == 0


@pytest.mark.parametrize(
    "text, message, position",
    [
        ("", "empty tree", 0),
        ("   ", "empty tree", 0),
        ("( )", "empty tree '()' at character 0", 0),
        ("(S (NP [ ] b))", "empty tree '[]' at character 7", 7),
        ("(S (NP the cat)", "'(' at character 0 is never closed", 15),
        ("[MAX 2 9 [MIN 4 7 ] 0", "'[' at character 0 is never closed", 21),
        ("(S a))", "stray token ')' at character 5", 5),
        ("(S a) b", "stray token 'b' at character 6", 6),
        (")", "')' at character 0 closes nothing", 0),
        ("(S a]", "']' at character 4 closes '('", 4),
    ],
)
def test_parse_errors_name_token_and_position(text, message, position):
    with pytest.raises(TreeSyntaxError, match=re.escape(message)) as error:
        Tree.from_bracketed(text)
    assert isinstance(error.value, DataError)
    assert error.value.position == position
    assert "\n" not in str(error.value)


def test_from_ast_small_function():
    tree = Tree.from_ast(ast.parse("def add(x, y):\n    return x + y\n"))
    assert (
        tree.to_bracketed()
        == "(Module (FunctionDef add (arguments (arg x) (arg y)) (Return (BinOp (Name x) (Add) (Name y)))))"
    )
    function = tree.children[0]
    assert function.label == "FunctionDef" and function.children[0] == Tree.leaf("add")
    # Constants, including None, are leaves; Load/Store contexts are dropped.
    constants = Tree.from_ast(ast.parse("a = None", mode="exec").body[0])
    assert constants == Tree(
        "Assign", [Tree("Name", [Tree.leaf("a")]), Tree("Constant", [Tree.leaf("None")])]
    )


def test_from_nested():
    assert Tree.from_nested((("the", "cat"), "sat")) == Tree(
        None, [Tree(None, [Tree.leaf("the"), Tree.leaf("cat")]), Tree.leaf("sat")]
    )
    labelled = Tree.from_nested(("S", ("NP", "the", "cat"), ("VP", "sat")), labelled=True)
    assert labelled == Tree.from_bracketed("(S (NP the cat) (VP sat))")
    assert (
        Tree.from_nested(["MAX", 2, ["MIN", 4, 7]], labelled=True).to_bracketed("[") == "[MAX 2 [MIN 4 7 ] ]"
    )
    with pytest.raises(DataError, match="empty"):
        Tree.from_nested((1, ()))


def test_deep_chain_parses_batches_and_runs_without_recursion_limit():
    depth = 2000
    text = "(N " * depth + "x" + ")" * depth
    tree = Tree.from_bracketed(text)
    assert tree.depth() == depth and tree.size() == depth + 1 and tree.tokens() == ["x"]
    assert tree.to_bracketed() == text and tree == chain(depth + 1)
    assert pickle.loads(pickle.dumps(tree)) == tree and copy.deepcopy(tree) == tree
    assert "Tree.from_bracketed(" in repr(tree)
    batch = batch_trees([tree], zero_id)
    assert len(batch.levels) == depth + 1
    assert batch.levels[-1].tolist() == [0] and batch.levels[0].tolist() == [depth]
    h, c = ChildSumTreeLSTM(2, 3)(batch, torch.randn(batch.num_nodes, 2))
    assert h.shape == (depth + 1, 3) and torch.isfinite(h).all()


def test_node_with_100_children():
    tree = Tree("ROOT", [Tree.leaf(str(k)) for k in range(100)])
    batch = batch_trees([tree, Tree.from_bracketed("[MAX 1 2 ]")], zero_id)
    assert batch.children.shape == (104, 100)
    assert batch.children[0].tolist() == list(range(1, 101))
    assert batch.child_position[1:101].tolist() == list(range(100))
    inputs = torch.randn(batch.num_nodes, 3, dtype=DOUBLE)
    for model in (ChildSumTreeLSTM(3, 4), RecursiveNet(3, 4, composition="sum")):
        model = model.double()
        for fast, slow in zip(
            all_outputs(model, batch, inputs, False), all_outputs(model, batch, inputs, True)
        ):
            torch.testing.assert_close(fast, slow, atol=1e-10, rtol=0)
    with pytest.raises(DataError, match="100 children but this network takes at most 2"):
        RecursiveNet(3, 4)(batch, inputs.float())
    with pytest.raises(DataError, match="100 children"):
        NaryTreeLSTM(3, 4, n=2)(batch, inputs.float())


def test_batch_fields():
    trees = [Tree.from_bracketed("(S (NP the cat) (VP sat))"), Tree.from_bracketed("x")]
    vocab = {"S": 1, "NP": 2, "the": 3, "cat": 4, "VP": 5, "sat": 6, "x": 7}
    batch = batch_trees(trees, lambda node: vocab[node.token or node.label])
    assert batch.node_tokens.tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert batch.children.tolist() == [[1, 4], [2, 3], [-1, -1], [-1, -1], [5, -1], [-1, -1], [-1, -1]]
    assert batch.num_children.tolist() == [2, 2, 0, 0, 1, 0, 0]
    assert batch.parent.tolist() == [-1, 0, 1, 1, 0, 4, -1]
    assert [level.tolist() for level in batch.levels] == [[2, 3, 5, 6], [1, 4], [0]]
    assert batch.roots.tolist() == [0, 6] and batch.num_trees == 2
    assert batch.tree_of_node.tolist() == [0, 0, 0, 0, 0, 0, 1]
    assert batch.child_position.tolist() == [0, 0, 0, 1, 1, 0, 0]
    moved = move_to(batch, "cpu")
    assert isinstance(moved, TreeBatch) and isinstance(moved.levels, tuple)
    with pytest.raises(DataError):
        batch_trees([], zero_id)


# ---- the networks on chains are the recurrent networks -----------------------------------------------------


def chain_batch_and_inputs(steps: int, input_size: int):
    """A chain batch and inputs (N, I); node k (pre-order, root first) is time step steps-1-k."""
    sequence = torch.randn(steps, input_size, dtype=DOUBLE)
    batch = batch_trees([chain(steps)], zero_id)
    return batch, sequence.flip(0), sequence


@pytest.mark.parametrize("composition, tensor", [("pad", False), ("sum", False), ("pad", True)])
def test_recursive_net_on_chain_is_simple_rnn(composition, tensor):
    torch.manual_seed(0)
    steps, size = 12, 5
    batch, inputs, sequence = chain_batch_and_inputs(steps, 3)
    model = RecursiveNet(3, size, composition=composition, tensor=tensor).double()
    rnn = torch.nn.RNN(3, size, nonlinearity="tanh").double()
    with torch.no_grad():
        if tensor:
            model.weight_tensor.zero_()  # the RNTN term has no counterpart in the RNN
        rnn.weight_ih_l0.copy_(model.weight_ih)
        rnn.weight_hh_l0.copy_(model.weight_hh[:, :size])  # the one child sits in the first block
        rnn.bias_ih_l0.copy_(model.bias)
        rnn.bias_hh_l0.zero_()
    h = model(batch, inputs)
    expected, _ = rnn(sequence)
    torch.testing.assert_close(h.flip(0), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("model_class", [ChildSumTreeLSTM, lambda i, h: NaryTreeLSTM(i, h, n=1)])
def test_tree_lstm_on_chain_is_lstm(model_class):
    torch.manual_seed(0)
    steps, size = 12, 5
    batch, inputs, sequence = chain_batch_and_inputs(steps, 3)
    model = model_class(3, size).double()
    lstm = torch.nn.LSTM(3, size).double()
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(model.weight_ih)  # same i|f|g|o layout
        lstm.weight_hh_l0.copy_(model.weight_hh)
        lstm.bias_ih_l0.copy_(model.bias * 0.25)
        lstm.bias_hh_l0.copy_(model.bias * 0.75)
    h, c = model(batch, inputs)
    expected, (_, c_last) = lstm(sequence)
    torch.testing.assert_close(h.flip(0), expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(c[0], c_last[0], atol=1e-12, rtol=0)


def randomize_norms(model):
    """Layer norms start as the identity; random gains and biases make a misplaced one show."""
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if name.startswith("norm_"):
                weight.uniform_(0.5, 1.5) if name.endswith("weight") else weight.uniform_(-0.5, 0.5)
    return model


def test_layer_norm_nary_lstm_on_chain_is_layer_norm_lstm_cell():
    from rnnlab.nn.layernorm_lstm import LayerNormLSTMCell

    torch.manual_seed(0)
    steps, size = 12, 5
    batch, inputs, sequence = chain_batch_and_inputs(steps, 3)
    model = randomize_norms(NaryTreeLSTM(3, size, n=1, layer_norm=True).double())
    cell = LayerNormLSTMCell(3, size).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias"):
            getattr(cell, name).copy_(getattr(model, name))
        for norm in ("ih", "hh", "c"):
            getattr(cell, f"norm_{norm}").load_state_dict(getattr(model, f"norm_{norm}").state_dict())
    h, c = model(batch, inputs)
    state = (torch.zeros(1, size, dtype=DOUBLE), torch.zeros(1, size, dtype=DOUBLE))
    expected = []
    for x in sequence:
        state, _ = cell.forward_with_gates(x.unsqueeze(0), state)
        expected.append(state[0][0])
    torch.testing.assert_close(h.flip(0), torch.stack(expected), atol=1e-12, rtol=0)
    torch.testing.assert_close(c[0], state[1][0], atol=1e-12, rtol=0)


def test_layer_norm_keeps_every_nodes_state_on_one_scale():
    """A node's memory cell adds up its children's, so it grows with the subtree below and tanh(c)
    saturates high in the tree; with layer_norm, h = o ⊙ tanh(LN(c)) is on the leaves' scale at every node."""
    torch.manual_seed(0)
    wide = Tree("OP", [Tree("OP", [Tree.leaf("x")] * 5) for _ in range(5)])
    batch = batch_trees([wide], zero_id)
    inputs = torch.randn(batch.num_nodes, 3, dtype=DOUBLE)
    ratios = {}
    for layer_norm in (False, True):
        model = ChildSumTreeLSTM(3, 32, layer_norm=layer_norm).double()
        with torch.no_grad():
            model.bias.view(4, 32)[1] = 3.0  # forget gates nearly open: the children's memory adds up
            h, c = model(batch, inputs)
        leaves = batch.levels[0]
        assert c[0].norm() > 5 * c[leaves].norm(dim=1).mean()  # the root's memory is large either way
        ratios[layer_norm] = float(h[0].norm() / h[leaves].norm(dim=1).mean())
    assert ratios[False] > 4 and 0.5 < ratios[True] < 1.5, ratios  # measured: 8.2 and 0.89


def test_deep_chain_tree_lstm_matches_lstm():
    torch.manual_seed(1)
    batch, inputs, sequence = chain_batch_and_inputs(2001, 2)
    model = ChildSumTreeLSTM(2, 3).double()
    lstm = torch.nn.LSTM(2, 3, bias=False).double()
    with torch.no_grad():
        model.bias.zero_()
        lstm.weight_ih_l0.copy_(model.weight_ih)
        lstm.weight_hh_l0.copy_(model.weight_hh)
    h, _ = model(batch, inputs)
    torch.testing.assert_close(h.flip(0), lstm(sequence)[0], atol=1e-10, rtol=0)


# ---- depth batching == node-by-node recursion ------------------------------------------------------------

leaves = st.integers(0, 9).map(lambda digit: Tree.leaf(str(digit)))
random_trees = st.recursive(
    leaves, lambda kids: st.lists(kids, min_size=1, max_size=3).map(lambda cs: Tree("OP", cs)), max_leaves=12
)

MODELS = {
    "rnn-pad": lambda: RecursiveNet(3, 4, max_children=3),
    "rnn-sum-relu": lambda: RecursiveNet(3, 4, composition="sum", activation="relu"),
    "rntn": lambda: RecursiveNet(3, 4, max_children=3, tensor=True),
    "child-sum": lambda: ChildSumTreeLSTM(3, 4),
    "nary": lambda: NaryTreeLSTM(3, 4, n=3),
    "child-sum-ln": lambda: randomize_norms(ChildSumTreeLSTM(3, 4, layer_norm=True)),
    "nary-ln": lambda: randomize_norms(NaryTreeLSTM(3, 4, n=3, layer_norm=True)),
}


def outputs_and_gradients(model, batch, inputs, per_node):
    inputs = inputs.detach().requires_grad_(True)
    outputs = all_outputs(model, batch, inputs, per_node)
    # A loss that weighs every node and unit differently, so a misplaced state changes the gradients.
    loss = sum((out * torch.linspace(-1, 1, out.numel(), dtype=DOUBLE).view_as(out)).sum() for out in outputs)
    return outputs, torch.autograd.grad(loss, [inputs, *model.parameters()])


@settings(max_examples=20, deadline=None)
@given(trees=st.lists(random_trees, min_size=1, max_size=4), name=st.sampled_from(sorted(MODELS)))
def test_depth_batched_equals_per_node_forward_and_gradients(trees, name):
    torch.manual_seed(0)
    model = MODELS[name]().double()
    batch = batch_trees(trees, zero_id)
    inputs = torch.randn(batch.num_nodes, 3, dtype=DOUBLE)
    fast, fast_grads = outputs_and_gradients(model, batch, inputs, per_node=False)
    slow, slow_grads = outputs_and_gradients(model, batch, inputs, per_node=True)
    for a, b in zip(fast + fast_grads, slow + slow_grads):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_one_node_trees():
    torch.manual_seed(0)
    batch = batch_trees([Tree.leaf("a"), Tree.leaf("b"), Tree("S")], zero_id)
    assert len(batch.levels) == 1 and batch.children.shape == (3, 1)
    x = torch.randn(3, 3, dtype=DOUBLE)
    net = RecursiveNet(3, 4).double()
    torch.testing.assert_close(net(batch, x), torch.tanh(x @ net.weight_ih.t() + net.bias))
    lstm = ChildSumTreeLSTM(3, 4).double()
    i, _, g, o = (x @ lstm.weight_ih.t() + lstm.bias).chunk(4, dim=1)
    h, c = lstm(batch, x)
    torch.testing.assert_close(c, torch.sigmoid(i) * torch.tanh(g))
    torch.testing.assert_close(h, torch.sigmoid(o) * torch.tanh(c))


def test_batch_of_very_different_depths_equals_each_tree_alone():
    torch.manual_seed(0)
    balanced = Tree.from_nested(((((1, 2), (3, 4)), ((5, 6), (7, 8))), 9))
    trees = [chain(60), Tree.leaf("a"), balanced, Tree.from_bracketed("[MAX 2 [MIN 4 7 ] 0 ]")]
    batch = batch_trees(trees, zero_id)
    assert len(batch.levels) == 60
    inputs = torch.randn(batch.num_nodes, 3, dtype=DOUBLE)
    for name in ("rnn-sum-relu", "child-sum", "nary"):
        model = MODELS[name]().double()
        together = all_outputs(model, batch, inputs, per_node=False)
        for t, tree in enumerate(trees):
            nodes = (batch.tree_of_node == t).nonzero().squeeze(1)
            alone = all_outputs(model, batch_trees([tree], zero_id), inputs[nodes], per_node=False)
            for a, b in zip(together, alone):
                torch.testing.assert_close(a[nodes], b, atol=1e-12, rtol=0)


def test_nary_lstm_sees_child_order_child_sum_does_not():
    torch.manual_seed(0)
    ab, ba = Tree("P", [Tree.leaf("a"), Tree.leaf("b")]), Tree("P", [Tree.leaf("b"), Tree.leaf("a")])
    batch = batch_trees([ab, ba], zero_id)
    x_parent, x_a, x_b = torch.randn(3, 3, dtype=DOUBLE)
    inputs = torch.stack([x_parent, x_a, x_b, x_parent, x_b, x_a])
    h_sum, _ = ChildSumTreeLSTM(3, 4).double()(batch, inputs)
    torch.testing.assert_close(h_sum[0], h_sum[3])
    h_nary, _ = NaryTreeLSTM(3, 4, n=2).double()(batch, inputs)
    assert (h_nary[0] - h_nary[3]).abs().max() > 1e-3


def test_rntn_tensor_term_is_the_bilinear_form():
    torch.manual_seed(0)
    batch = batch_trees([Tree("P", [Tree.leaf("b"), Tree.leaf("c")])], zero_id)
    inputs = torch.randn(3, 3, dtype=DOUBLE)
    net = RecursiveNet(3, 4, tensor=True).double()
    h = net(batch, inputs)
    kids = torch.cat([h[1], h[2]])  # [b; c]
    bilinear = torch.stack([kids @ net.weight_tensor[k] @ kids for k in range(4)])
    expected = torch.tanh(net.weight_ih @ inputs[0] + net.bias + net.weight_hh @ kids + bilinear)
    torch.testing.assert_close(h[0], expected)


def test_bad_arguments():
    batch = batch_trees([Tree.from_bracketed("(P a b c)")], zero_id)
    with pytest.raises(ValueError, match=r"expected inputs of shape \(num_nodes, input_size\) = \(4, 3\)"):
        ChildSumTreeLSTM(3, 4)(batch, torch.randn(4, 5))
    with pytest.raises(DataError, match="3 children.*n=2"):
        NaryTreeLSTM(3, 4)(batch, torch.randn(4, 3))
    with pytest.raises(ValueError, match="composition"):
        RecursiveNet(3, 4, composition="max")


def test_tree_lstms_per_child_forget_gates_on_a_binary_node():
    torch.manual_seed(0)
    batch = batch_trees([Tree("P", [Tree.leaf("b"), Tree.leaf("c")])], zero_id)
    x = torch.randn(3, 3, dtype=DOUBLE)
    child_sum = ChildSumTreeLSTM(3, 4).double()
    h, c = child_sum(batch, x)
    x_i, x_f, x_g, x_o = (child_sum.weight_ih @ x[0] + child_sum.bias).chunk(4)
    u_i, u_f, u_g, u_o = child_sum.weight_hh.chunk(4)
    h_sum = h[1] + h[2]
    f_b, f_c = torch.sigmoid(x_f + u_f @ h[1]), torch.sigmoid(x_f + u_f @ h[2])
    c_parent = torch.sigmoid(x_i + u_i @ h_sum) * torch.tanh(x_g + u_g @ h_sum) + f_b * c[1] + f_c * c[2]
    torch.testing.assert_close(c[0], c_parent)
    torch.testing.assert_close(h[0], torch.sigmoid(x_o + u_o @ h_sum) * torch.tanh(c_parent))

    nary = NaryTreeLSTM(3, 4, n=2).double()
    h, c = nary(batch, x)
    x_i, x_f, x_g, x_o = (nary.weight_ih @ x[0] + nary.bias).chunk(4)
    u_i, u_f1, u_f2, u_g, u_o = (nary.weight_hh @ torch.cat([h[1], h[2]])).chunk(5)
    c_parent = (
        torch.sigmoid(x_i + u_i) * torch.tanh(x_g + u_g)
        + torch.sigmoid(x_f + u_f1) * c[1]
        + torch.sigmoid(x_f + u_f2) * c[2]
    )
    torch.testing.assert_close(c[0], c_parent)
    torch.testing.assert_close(h[0], torch.sigmoid(x_o + u_o) * torch.tanh(c_parent))
