"""Padded batches at padded speed: run a recurrent layer over a right-padded batch without packing it.

Packing a batch (`run_packed`) lets the kernel shrink the batch as sequences end, but on CPU the packed
kernel is a per-time-step loop with a different batch size at every step, and that costs (issue #28: 1.9-2.5x
the padded time for forward+backward of torch's LSTM, 10-15x on a busy machine). A right-padded batch runs
in torch's plain fused kernel instead, and gives the same numbers:

* **forward direction**: padding sits after each sequence's end, so outputs at real positions never see it.
  Run the padded batch as is; the last state of each sequence is its output at ``length - 1``.
* **reverse direction**: reverse each sequence *within its length* (an index gather: position t < length
  reads ``length - 1 - t``, padding stays where it is), run the forward kernel with the reverse weights,
  reverse back with the same gather (it is its own inverse). The reverse final state is the output at 0.
* **stacks**: layer by layer (one fused call per layer and direction), because each layer's reverse
  direction must see its input reversed within length; dropout between layers as torch applies it.

Outputs at padded positions are zeroed, so `run_padded` returns exactly what `run_packed` returns
(`tests/nn/test_padded.py`: outputs, last states and gradients to 1e-6). Layers without a fused kernel
(`Recurrent` over a custom cell, or a layer forced onto the explicit or compiled path) take their own
``lengths=`` masking, which is already exact and does not pack. On CUDA the packed cuDNN kernel is
already fast and the per-direction calls would copy unflattened weights, so CUDA batches stay packed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.nn.recurrent import run_packed

_KERNELS = {"LSTM": torch.lstm, "GRU": torch.gru, "RNN_TANH": torch.rnn_tanh, "RNN_RELU": torch.rnn_relu}


def reverse_within_lengths(x: Tensor, lengths: Tensor) -> Tensor:
    """x (N, L, ·) -> each row's first ``lengths[n]`` positions reversed, padding left in place (N, L, ·)."""
    t = torch.arange(x.shape[1], device=x.device)
    last = (lengths.to(x.device) - 1).unsqueeze(1)  # (N, 1)
    index = torch.where(t < last + 1, last - t, t)  # (N, L)
    return x.gather(1, index.unsqueeze(2).expand_as(x))


def padding_mask(lengths: Tensor, steps: int) -> Tensor:
    """(N, L) bool, True on real positions."""
    return torch.arange(steps, device=lengths.device) < lengths.unsqueeze(1)


def _is_fused_layer(rnn: nn.Module) -> bool:
    """A torch.nn.RNNBase (or rnnlab's subclass) that would run torch's fused kernel."""
    return (
        isinstance(rnn, nn.RNNBase)
        and rnn.mode in _KERNELS
        and getattr(rnn, "path", "auto") in ("auto", "fused")
        and getattr(rnn, "_gate_recorder", None) is None
    )


def _one_direction(rnn: nn.RNNBase, x: Tensor, layer: int, reverse: bool) -> Tensor:
    """One layer, one direction of ``rnn`` over a batch-first padded x (N, L, I): outputs (N, L, H_out)."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if rnn.bias else [])
    if getattr(rnn, "proj_size", 0):
        names.append("weight_hr")
    weights = [getattr(rnn, name + suffix) for name in names]
    batch = x.shape[0]
    h0 = x.new_zeros(1, batch, getattr(rnn, "proj_size", 0) or rnn.hidden_size)
    kernel = _KERNELS[rnn.mode]
    if rnn.mode == "LSTM":
        hx = [h0, x.new_zeros(1, batch, rnn.hidden_size)]
        return kernel(x, hx, weights, rnn.bias, 1, 0.0, rnn.training, False, True)[0]
    return kernel(x, h0, weights, rnn.bias, 1, 0.0, rnn.training, False, True)[0]


def _padded_forward(rnn: nn.RNNBase, inputs: Tensor, lengths: Tensor) -> Tensor:
    """inputs (N, L, I) batch-first -> outputs (N, L, D * H_out), garbage at padded positions."""
    layer_input = inputs
    for layer in range(rnn.num_layers):
        if layer > 0 and rnn.dropout > 0 and rnn.training:  # between layers, as torch does
            layer_input = F.dropout(layer_input, rnn.dropout, training=True)
        output = _one_direction(rnn, layer_input, layer, reverse=False)
        if rnn.bidirectional:
            backward = _one_direction(rnn, reverse_within_lengths(layer_input, lengths), layer, reverse=True)
            output = torch.cat([output, reverse_within_lengths(backward, lengths)], dim=2)
        layer_input = output
    return layer_input


def run_padded(rnn: nn.Module, inputs: Tensor, lengths: Tensor) -> Tensor:
    """`run_packed`'s contract at padded speed: inputs (N, L, H_in) batch-first, lengths (N,) in [1, L].

    Returns outputs (N, L, D * H_out) with zeros on padding; each sequence's last states are its forward
    output at ``length - 1`` and its reverse output at 0 (`rnnlab.nn.pooling.last_state`).
    """
    if not _is_fused_layer(rnn):
        if hasattr(rnn, "path"):  # an rnnlab layer: its own lengths= masking is exact and does not pack
            batch_first = rnn.batch_first
            output, _ = rnn(inputs if batch_first else inputs.transpose(0, 1), lengths=lengths)
            return output if batch_first else output.transpose(0, 1)
        return run_packed(rnn, inputs, lengths)
    if inputs.is_cuda:
        return run_packed(rnn, inputs, lengths)
    steps, longest = inputs.shape[1], int(lengths.max())
    if bool((lengths == longest).all()):  # nothing to mask or reverse: one fused call (all layers, directions)
        output = _whole(rnn, inputs[:, :longest])
    else:
        output = _padded_forward(rnn, inputs[:, :longest], lengths)
        output = output * padding_mask(lengths.to(output.device), longest).unsqueeze(2).to(output.dtype)
    return F.pad(output, (0, 0, 0, steps - longest)) if longest < steps else output


def _whole(rnn: nn.RNNBase, inputs: Tensor) -> Tensor:
    """The layer's own forward over a batch-first batch with no padding: (N, L, D * H_out)."""
    if rnn.batch_first:
        return rnn(inputs)[0]
    return rnn(inputs.transpose(0, 1))[0].transpose(0, 1)


def run_bucketed(rnn: nn.Module, inputs: Tensor, lengths: Tensor, buckets: int = 4) -> Tensor:
    """`run_padded` over ``buckets`` groups of similar length: for a batch whose lengths vary a lot and
    that no data loader has bucketed (the character RNN's words: mostly 1-6 letters, a few 15).

    Sorts the rows by length, cuts them into ``buckets`` groups of equal count, runs each group padded to
    its own longest row, and puts the rows back in order. Same contract and numbers as `run_padded`.
    """
    order = torch.argsort(lengths.cpu(), stable=True).to(inputs.device)
    lengths = lengths.to(inputs.device)
    outputs = []
    for part in order.chunk(buckets):
        longest = int(lengths[part].max())
        out = run_padded(rnn, inputs[part, :longest], lengths[part])
        outputs.append(F.pad(out, (0, 0, 0, inputs.shape[1] - longest)))
    return torch.cat(outputs).index_select(0, torch.argsort(order))


def run_rnn(rnn: nn.Module, inputs: Tensor, lengths: Tensor, packed: bool = False) -> Tensor:
    """`run_padded` (default) or `run_packed` (``packed=True``, the reference path): the models' switch."""
    return run_packed(rnn, inputs, lengths) if packed else run_padded(rnn, inputs, lengths)
