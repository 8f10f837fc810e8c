"""Recursive networks over trees: one composition function shared by every node of a `TreeBatch`.

The chapter's recursive network computes a node's state from its children's, h_i = f(h_{children(i)}); for
a binary tree p₁ = f(W[b; c] + b), p₂ = f(W[a; p₁] + b). Here every node may also have an input vector
x_i (a leaf's word embedding, an internal node's label such as ``MAX``), so one formula covers leaves and
internal nodes, and on a chain (each node one child) the networks become the recurrent ones:

* `RecursiveNet`:     h_i = act(W_x x_i + W_h [h_c1; ...; h_cK] + b)    → `torch.nn.RNN` on a chain
* `ChildSumTreeLSTM`: Tai et al. (2015), gates from the sum of the children's h, one forget gate per child
* `NaryTreeLSTM`:     Tai et al. (2015), gates from the concatenated children, one forget gate per position;
                      with n=1 (and `ChildSumTreeLSTM` on a chain) it is `torch.nn.LSTM`

Both Tree-LSTMs take ``layer_norm=True``: Ba et al.'s (2016) layer normalisation of the gate pre-activations
and of the memory cell before its tanh, as `rnnlab.nn.layernorm_lstm.LayerNormLSTMCell` does for a sequence
(an `NaryTreeLSTM` with n=1 is that cell on a chain). In a tree the memory cell of a node adds up its
children's (c = i ⊙ g + Σ_k f_k ⊙ c_k), so without it its size grows with the subtree below (a trained
ListOps model's mean ‖c‖: 7.4 at the digits, 13 at nodes over digits, 20 higher up) and a node's state says as much about
the size of its subtree as about its meaning; normalised, every node's h is on one scale (docs/trees.md).

Missing children count as zero states (a leaf has only zero children: h = act(W_x x + b)); a node whose
input is zero is the chapter's pure composition.

Shapes: N nodes in the batch, I input size, H hidden size, M = ``batch.max_children``.
``forward(batch, inputs (N, I))`` returns the states of all nodes, (N, H) (and the memory cells for the
LSTMs), in the batch's node order; ``h[batch.roots]`` are the trees' root states (T, H).

Depth batching: ``batch.levels`` groups nodes by height, so each network makes one call per level over all
trees of the batch: gather the children's states with ``index_select``, compose, write the level's states
back with ``index_copy_``. ``per_node=True`` runs the same composition one node at a time in post-order
(the textbook recursion, with an explicit stack so that deep trees work): the reference the tests compare
against and the baseline of ``benchmarks/trees_speed.py``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnlab.errors import DataError
from rnnlab.nn.tree_batch import TreeBatch

__all__ = ["RecursiveNet", "ChildSumTreeLSTM", "NaryTreeLSTM"]

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


class _TreeNet(nn.Module):
    """Shared driver: input projection for all nodes at once, then level by level (or node by node).

    A subclass sets ``num_states`` (1: h, 2: h and c) and implements ``project(inputs)`` and
    ``compose(x_proj (n, G), child_states [(n, M, H)] * num_states) -> [(n, H)] * num_states``, where the
    child states are zero at padded positions (a missing child is a zero state).
    """

    num_states = 1
    max_children_allowed: int | None = None  # the most children a node may have (None: any number)

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(
                f"{type(self).__name__}: input_size and hidden_size must be positive, got {input_size} and {hidden_size}"
            )
        self.input_size = input_size
        self.hidden_size = hidden_size

    def project(self, inputs: Tensor) -> Tensor:
        raise NotImplementedError

    def compose(self, x_proj: Tensor, child_states: list[Tensor]) -> list[Tensor]:
        raise NotImplementedError

    def run(self, batch: TreeBatch, inputs: Tensor, per_node: bool) -> list[Tensor]:
        """Check the call, then all node states [(N, H)] * num_states."""
        name = type(self).__name__
        if not isinstance(batch, TreeBatch):
            raise TypeError(f"{name}: expected a TreeBatch (from batch_trees), got {type(batch).__name__}")
        if inputs.dim() != 2 or inputs.shape != (batch.num_nodes, self.input_size):
            raise ValueError(
                f"{name}: expected inputs of shape (num_nodes, input_size) = "
                f"({batch.num_nodes}, {self.input_size}), got {tuple(inputs.shape)}"
            )
        limit = self.max_children_allowed
        if limit is not None and batch.max_children > limit:
            raise DataError(
                f"{name}: a node has {batch.max_children} children but this network takes at most {limit} "
                f"({self._limit_hint()})"
            )
        x_proj = self.project(inputs)  # every node's input contribution, one matrix product
        if per_node:
            return self._run_per_node(batch, x_proj)
        return self._run_levels(batch, x_proj)

    def _limit_hint(self) -> str:
        return "binarize the trees or raise the limit"

    def _run_levels(self, batch: TreeBatch, x_proj: Tensor) -> list[Tensor]:
        num_nodes, width = batch.children.shape
        states = [x_proj.new_zeros(num_nodes, self.hidden_size) for _ in range(self.num_states)]
        for level in batch.levels:  # leaves first; a level only reads states written by earlier levels
            kids = batch.children.index_select(0, level)  # (n, M), -1 = no child
            mask = kids >= 0
            flat = kids.clamp(min=0).flatten()
            child_states = [
                torch.where(mask.unsqueeze(-1), state.index_select(0, flat).view(len(level), width, -1), 0.0)
                for state in states
            ]
            new_states = self.compose(x_proj.index_select(0, level), child_states)
            for state, new in zip(states, new_states):
                state.index_copy_(0, level, new)
        return states

    def _run_per_node(self, batch: TreeBatch, x_proj: Tensor) -> list[Tensor]:
        width = batch.max_children
        children = batch.children.tolist()
        zero = x_proj.new_zeros(self.hidden_size)
        node_states: list[list[Tensor] | None] = [None] * batch.num_nodes
        for root in batch.roots.tolist():
            stack = [(root, False)]  # post-order: a node is composed after all its children
            while stack:
                node, children_done = stack.pop()
                kids = [k for k in children[node] if k >= 0]
                if not children_done:
                    stack.append((node, True))
                    stack.extend((k, False) for k in kids)
                    continue
                padding = [zero] * (width - len(kids))
                child_states = [
                    torch.stack([node_states[k][s] for k in kids] + padding).unsqueeze(0)  # type: ignore[index]
                    for s in range(self.num_states)
                ]
                new_states = self.compose(x_proj[node : node + 1], child_states)
                node_states[node] = [new.squeeze(0) for new in new_states]
        return [torch.stack([s[k] for s in node_states]) for k in range(self.num_states)]  # type: ignore[index]

    def _uniform_(self, bound: float) -> None:
        for name, weight in self.named_parameters():
            if not name.startswith("norm_"):  # layer norms start as the identity (gain 1, bias 0)
                nn.init.uniform_(weight, -bound, bound)


def _layer_norms(module: nn.Module, sizes: dict[str, int]) -> None:
    """Add `nn.LayerNorm(size)` submodules named `norm_<name>` (the Tree-LSTMs' ``layer_norm=True``)."""
    for name, size in sizes.items():
        module.add_module(f"norm_{name}", nn.LayerNorm(size))


def _pad_children(child_states: Tensor, width: int) -> Tensor:
    """(n, M, H) -> (n, width, H), zero states appended for the missing child positions."""
    missing = width - child_states.shape[1]
    if missing <= 0:
        return child_states
    return torch.cat(
        [child_states, child_states.new_zeros(child_states.shape[0], missing, child_states.shape[2])], 1
    )


class RecursiveNet(_TreeNet):
    """The chapter's recursive network: h_i = act(W_x x_i + W_h [h_c1; ...; h_cK] + b), shared by every node.

    ``composition="pad"``: the children's states are concatenated in order, missing positions zero, up to
    ``max_children`` = K (a binary tree: p = act(W[b; c] + b)); W_h is (H, K·H) and a child's position
    matters. ``composition="sum"``: W_h (H, H) applies to the sum of the children's states, so a node may
    have any number of children and their order does not matter. A leaf gets h = act(W_x x + b).
    ``tensor=True`` adds the RNTN term (Socher et al. 2013) [h]ᵀ V^{[1:H]} [h] with V (H, D, D), D the
    width of [h] (the concatenation or the sum).

    Parameters: ``weight_ih`` (H, I) = W_x, ``weight_hh`` (H, D) = W_h, ``bias`` (H,), ``weight_tensor``
    (H, D, D) or None. On a chain it is `torch.nn.RNN` with weight_ih_l0 = W_x, weight_hh_l0 = the first
    child's block of W_h and bias_ih_l0 + bias_hh_l0 = b.

    ``forward(batch, inputs (N, I), per_node=False) -> h (N, H)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        composition: str = "pad",
        max_children: int = 2,
        tensor: bool = False,
        activation: str = "tanh",
    ) -> None:
        super().__init__(input_size, hidden_size)
        if composition not in ("pad", "sum"):
            raise ValueError(f"RecursiveNet: composition must be 'pad' or 'sum', got {composition!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"RecursiveNet: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        if max_children < 1:
            raise ValueError(f"RecursiveNet: max_children must be at least 1, got {max_children}")
        self.composition = composition
        self.max_children = max_children
        self.activation = activation
        self.max_children_allowed = max_children if composition == "pad" else None
        width = max_children * hidden_size if composition == "pad" else hidden_size
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, width))
        self.bias = nn.Parameter(torch.empty(hidden_size))
        if tensor:
            self.weight_tensor: nn.Parameter | None = nn.Parameter(torch.empty(hidden_size, width, width))
        else:
            self.register_parameter("weight_tensor", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch.nn.RNN's U(-1/sqrt(H), 1/sqrt(H)); the tensor term U(-1/D, 1/D) so it starts small."""
        self._uniform_(1.0 / math.sqrt(self.hidden_size))
        if self.weight_tensor is not None:
            bound = 1.0 / self.weight_tensor.shape[-1]
            nn.init.uniform_(self.weight_tensor, -bound, bound)

    def _limit_hint(self) -> str:
        return f"max_children={self.max_children}; use composition='sum' or a larger max_children"

    def project(self, inputs: Tensor) -> Tensor:
        return nn.functional.linear(inputs, self.weight_ih, self.bias)

    def compose(self, x_proj: Tensor, child_states: list[Tensor]) -> list[Tensor]:
        h_children = child_states[0]  # (n, M, H)
        if self.composition == "pad":
            kids = _pad_children(h_children, self.max_children).flatten(1)  # [h_c1; ...; h_cK] (n, K·H)
        else:
            kids = h_children.sum(1)  # (n, H)
        pre_activation = x_proj + kids @ self.weight_hh.t()
        if self.weight_tensor is not None:  # RNTN: one bilinear form per output unit
            pre_activation = pre_activation + torch.einsum("nd,kde,ne->nk", kids, self.weight_tensor, kids)
        return [_ACTIVATIONS[self.activation](pre_activation)]

    def forward(self, batch: TreeBatch, inputs: Tensor, per_node: bool = False) -> Tensor:
        """All nodes' states h (N, H) for inputs (N, I); ``per_node=True`` is the node-by-node reference."""
        return self.run(batch, inputs, per_node)[0]

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, composition={self.composition!r}, "
            f"max_children={self.max_children}, tensor={self.weight_tensor is not None}, "
            f"activation={self.activation!r}"
        )


class ChildSumTreeLSTM(_TreeNet):
    """Child-Sum Tree-LSTM (Tai, Socher & Manning 2015): any number of unordered children.

    With h̃ = Σ_k h_k over the children k of node j::

        i = σ(W_i x + U_i h̃ + b_i)          input gate
        f_k = σ(W_f x + U_f h_k + b_f)      one forget gate per child, from that child's own state
        g = tanh(W_g x + U_g h̃ + b_g)       candidate (Tai's u)
        o = σ(W_o x + U_o h̃ + b_o)          output gate
        c = i ⊙ g + Σ_k f_k ⊙ c_k,   h = o ⊙ tanh(c)

    Parameters in torch's gate order i|f|g|o: ``weight_ih`` (4H, I), ``weight_hh`` (4H, H), ``bias``
    (4H,). On a chain it is `torch.nn.LSTM` with the same weight_ih/weight_hh and b = bias_ih + bias_hh.

    ``layer_norm=True`` (Ba et al. 2016): the pre-activations are LN(W x) + LN(U_{i,g,o} h̃) (+ LN(U_f h_k)
    for each child's forget gate) + b, and h = o ⊙ tanh(LN(c)); ``norm_ih`` (4H), ``norm_hh`` (3H),
    ``norm_f`` (H), ``norm_c`` (H), each with a gain and a bias.

    ``forward(batch, inputs (N, I), per_node=False) -> (h, c)``, each (N, H).
    """

    num_states = 2

    def __init__(self, input_size: int, hidden_size: int, layer_norm: bool = False) -> None:
        super().__init__(input_size, hidden_size)
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias = nn.Parameter(torch.empty(4 * hidden_size))
        self.layer_norm = layer_norm
        if layer_norm:
            _layer_norms(self, {"ih": 4 * hidden_size, "hh": 3 * hidden_size, "f": hidden_size, "c": hidden_size})
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch.nn.LSTM's U(-1/sqrt(H), 1/sqrt(H))."""
        self._uniform_(1.0 / math.sqrt(self.hidden_size))

    def project(self, inputs: Tensor) -> Tensor:
        if self.layer_norm:
            return self.norm_ih(nn.functional.linear(inputs, self.weight_ih)) + self.bias
        return nn.functional.linear(inputs, self.weight_ih, self.bias)

    def compose(self, x_proj: Tensor, child_states: list[Tensor]) -> list[Tensor]:
        h_children, c_children = child_states  # (n, M, H) each, zero where there is no child
        size = self.hidden_size
        x_i, x_f, x_g, x_o = x_proj.chunk(4, dim=1)
        u_i, u_f, u_g, u_o = self.weight_hh.chunk(4, dim=0)
        h_sum = h_children.sum(1)  # h̃
        recurrent = h_sum @ torch.cat([u_i, u_g, u_o]).t()  # (n, 3H): U_i h̃ | U_g h̃ | U_o h̃
        per_child = h_children @ u_f.t()  # (n, M, H): U_f h_k, one forget gate per child
        if self.layer_norm:
            recurrent, per_child = self.norm_hh(recurrent), self.norm_f(per_child)
        r_i, r_g, r_o = recurrent.split(size, dim=1)
        i = torch.sigmoid(x_i + r_i)
        f = torch.sigmoid(x_f.unsqueeze(1) + per_child)
        g = torch.tanh(x_g + r_g)
        o = torch.sigmoid(x_o + r_o)
        c = i * g + (f * c_children).sum(1)  # padded children have c = 0, so their gate drops out
        h = o * torch.tanh(self.norm_c(c) if self.layer_norm else c)
        return [h, c]

    def forward(self, batch: TreeBatch, inputs: Tensor, per_node: bool = False) -> tuple[Tensor, Tensor]:
        """All nodes' (h, c), each (N, H); ``per_node=True`` is the node-by-node reference."""
        h, c = self.run(batch, inputs, per_node)
        return h, c

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, layer_norm={self.layer_norm}"


class NaryTreeLSTM(_TreeNet):
    """N-ary Tree-LSTM (Tai, Socher & Manning 2015): up to n ordered children, a matrix per position.

    With the children's states h_1..h_n (zero for missing positions; a leaf has n zero children)::

        i = σ(W_i x + Σ_l U_i^l h_l + b_i)
        f_k = σ(W_f x + Σ_l U_f^{kl} h_l + b_f)    k = 1..n: child k's forget gate sees all children
        g = tanh(W_g x + Σ_l U_g^l h_l + b_g)
        o = σ(W_o x + Σ_l U_o^l h_l + b_o)
        c = i ⊙ g + Σ_k f_k ⊙ c_k,   h = o ⊙ tanh(c)

    Parameters: ``weight_ih`` (4H, I) and ``bias`` (4H,) in torch's order i|f|g|o (W_f and b_f shared by
    the forget gates, as in the paper), ``weight_hh`` ((3+n)·H, n·H) with row blocks i|f_1..f_n|g|o applied to
    [h_1; ...; h_n]. With n=1 the layout is torch.nn.LSTM's and on a chain it is that LSTM.

    ``layer_norm=True`` (Ba et al. 2016): the pre-activations are LN(W x) + LN(U [h_1; ...; h_n]) + b and
    h = o ⊙ tanh(LN(c)); ``norm_ih`` (4H), ``norm_hh`` ((3+n)·H), ``norm_c`` (H). With n=1 on a chain it is
    `rnnlab.nn.layernorm_lstm.LayerNormLSTMCell` with the same weights.

    ``forward(batch, inputs (N, I), per_node=False) -> (h, c)``, each (N, H). A node with more than n
    children raises `DataError`.
    """

    num_states = 2

    def __init__(self, input_size: int, hidden_size: int, n: int = 2, layer_norm: bool = False) -> None:
        super().__init__(input_size, hidden_size)
        if n < 1:
            raise ValueError(f"NaryTreeLSTM: n must be at least 1, got {n}")
        self.n = n
        self.max_children_allowed = n
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty((3 + n) * hidden_size, n * hidden_size))
        self.bias = nn.Parameter(torch.empty(4 * hidden_size))
        self.layer_norm = layer_norm
        if layer_norm:
            _layer_norms(self, {"ih": 4 * hidden_size, "hh": (3 + n) * hidden_size, "c": hidden_size})
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch.nn.LSTM's U(-1/sqrt(H), 1/sqrt(H))."""
        self._uniform_(1.0 / math.sqrt(self.hidden_size))

    def _limit_hint(self) -> str:
        return f"n={self.n}; binarize the trees, use a larger n or ChildSumTreeLSTM"

    def project(self, inputs: Tensor) -> Tensor:
        if self.layer_norm:
            return self.norm_ih(nn.functional.linear(inputs, self.weight_ih)) + self.bias
        return nn.functional.linear(inputs, self.weight_ih, self.bias)

    def compose(self, x_proj: Tensor, child_states: list[Tensor]) -> list[Tensor]:
        size, n = self.hidden_size, self.n
        h_children, c_children = (_pad_children(s, n) for s in child_states)  # (m, n, H)
        x_i, x_f, x_g, x_o = x_proj.chunk(4, dim=1)
        recurrent = h_children.flatten(1) @ self.weight_hh.t()  # (m, (3+n)·H) from [h_1; ...; h_n]
        if self.layer_norm:
            recurrent = self.norm_hh(recurrent)
        u_i, u_f, u_g, u_o = recurrent.split([size, n * size, size, size], dim=1)
        i = torch.sigmoid(x_i + u_i)
        f = torch.sigmoid(x_f.unsqueeze(1) + u_f.view(-1, n, size))  # (m, n, H): one gate per position
        g = torch.tanh(x_g + u_g)
        o = torch.sigmoid(x_o + u_o)
        c = i * g + (f * c_children).sum(1)
        h = o * torch.tanh(self.norm_c(c) if self.layer_norm else c)
        return [h, c]

    def forward(self, batch: TreeBatch, inputs: Tensor, per_node: bool = False) -> tuple[Tensor, Tensor]:
        """All nodes' (h, c), each (N, H); ``per_node=True`` is the node-by-node reference."""
        h, c = self.run(batch, inputs, per_node)
        return h, c

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, n={self.n}, layer_norm={self.layer_norm}"
