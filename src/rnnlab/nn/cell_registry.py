"""Cells by name: the one place that says which recurrent cells rnnlab can build.

Every model (language model, seq2seq, tagger, classifier, cloze) and every tool (`rnnlab inspect gates`,
`inspect cost`) builds its recurrent layer with `make_recurrent(name, ...)` and checks names with
`get_cell`, so a cell registered here works everywhere, and config files name it (``model.cell: gru``).

A `CellSpec` says how to build the cell:

* ``cell``: the `RecurrentCell` class with the gate math written out (the explicit path; also what
  ``state_is_tuple`` is read from: ``(h, c)`` states for LSTM-like cells, a tensor ``h`` otherwise);
* ``fused``: an rnnlab layer over torch's fused kernel (`LSTM`, `GRU`, `RNN`), or None. With one,
  `make_recurrent` returns that layer (torch's fast path, its explicit path built from the same
  `rnnlab.nn.cells` math); without, it returns `Recurrent(cell, ...)` (explicit path only);
* ``options``: keyword arguments for both (e.g. ``nonlinearity="relu"``);
* ``description``: one line for help texts;
* ``aliases``: other spellings that config files may use (kept so old checkpoints still load);
* ``compilable``: whether the cell's step may run on the compiled path (torch.compile; True unless the
  cell's Python cannot be traced, e.g. data-dependent control flow).

Adding a cell is one new file with the `RecurrentCell` subclass plus one `register_cell` call (the
built-ins are registered at the bottom of this file); see docs/layers.md, "Adding a cell".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from torch import nn

from rnnlab.errors import ConfigError
from rnnlab.nn.cells import GRUCell, LSTMCell, RecurrentCell, RNNCell
from rnnlab.nn.layernorm_lstm import LayerNormLSTMCell
from rnnlab.nn.recurrent import GRU, LSTM, PATHS, RNN, Recurrent


@dataclass(frozen=True)
class CellSpec:
    """How to build one named cell and the stacked layers over it."""

    name: str
    cell: type[RecurrentCell]
    description: str
    fused: type[nn.Module] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    compilable: bool = True

    @property
    def state_is_tuple(self) -> bool:
        """True when the state is ``(h, c)`` (read from the cell class, not guessed from the name)."""
        return bool(self.cell.state_is_tuple)

    @property
    def gate_names(self) -> tuple[str, ...]:
        """What a gate trace of this cell holds per layer and direction (e.g. i, f, g, o, c, h)."""
        return tuple(self.cell.gate_names)

    def make_cell(self, input_size: int, hidden_size: int) -> RecurrentCell:
        """One cell: ``cell(x (N, input_size), state) -> new state``; ``forward_with_gates`` adds the gates."""
        return self.cell(input_size, hidden_size, **self.options)

    def make_layer(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        path: str = "auto",
        field: str = "path",
    ) -> nn.Module:
        """A stacked (bi)directional layer with torch.nn's call contract; see `make_recurrent`."""
        self.check_path(path, field)
        options = dict(num_layers=num_layers, batch_first=batch_first, bidirectional=bidirectional,
                       dropout=dropout if num_layers > 1 else 0.0, path=path)  # fmt: skip
        if self.fused is not None:
            return self.fused(input_size, hidden_size, **options, **self.options)
        return Recurrent(self.cell, input_size, hidden_size, **options, **self.options)

    def check_path(self, path: str, field: str = "path") -> str:
        """``path`` if this cell can run on it, else a one-line ConfigError naming ``field``."""
        if path not in PATHS:
            raise ConfigError(f"{field}: expected one of {', '.join(PATHS)}, got {path!r}")
        if path == "fused" and self.fused is None:
            raise ConfigError(f"{field}: cell {self.name!r} has no fused kernel; use auto, explicit or compiled")
        if path == "compiled" and not self.compilable:
            raise ConfigError(f"{field}: cell {self.name!r} does not support the compiled path (registered with "
                              "compilable=False); use auto or explicit")  # fmt: skip
        return path


_SPECS: dict[str, CellSpec] = {}  # canonical name -> spec, in registration order
_ALIASES: dict[str, str] = {}  # alias -> canonical name


def register_cell(
    name: str,
    cell: type[RecurrentCell],
    description: str,
    *,
    fused: type[nn.Module] | None = None,
    options: Mapping[str, Any] | None = None,
    aliases: tuple[str, ...] = (),
    replace: bool = False,
    compilable: bool = True,
) -> CellSpec:
    """Make ``name`` (and its ``aliases``) buildable everywhere a cell name is accepted; returns the spec.

    ``cell`` must be a `RecurrentCell` subclass; ``fused``, if given, an rnnlab layer class with torch's
    ``(input_size, hidden_size, num_layers, batch_first, dropout, bidirectional)`` arguments and the same
    ``state_is_tuple``. A name already taken is an error unless ``replace=True``. ``compilable=False``
    refuses ``path="compiled"`` for a cell whose step torch.compile cannot trace.
    """
    if not isinstance(cell, type) or not issubclass(cell, RecurrentCell):
        raise TypeError(f"register_cell({name!r}): cell must be a RecurrentCell subclass, got {cell!r}")
    if fused is not None and bool(getattr(fused, "state_is_tuple", None)) != bool(cell.state_is_tuple):
        raise TypeError(
            f"register_cell({name!r}): {cell.__name__}.state_is_tuple is {cell.state_is_tuple} but the fused "
            f"layer {getattr(fused, '__name__', fused)!r} says {getattr(fused, 'state_is_tuple', None)}"
        )
    for spelling in (name, *aliases):
        owner = _SPECS[spelling].name if spelling in _SPECS else _ALIASES.get(spelling)
        if owner is not None and not (replace and owner == name):
            raise ValueError(f"register_cell: the name {spelling!r} is already taken by cell {owner!r}")
    if replace and name in _SPECS:
        unregister_cell(name)
    spec = CellSpec(name, cell, description, fused, MappingProxyType(dict(options or {})), tuple(aliases),
                    compilable)  # fmt: skip
    _SPECS[name] = spec
    _ALIASES.update({alias: name for alias in aliases})
    return spec


def unregister_cell(name: str) -> None:
    """Remove a registered cell and its aliases (for tests and experiments)."""
    spec = get_cell(name)
    del _SPECS[spec.name]
    for alias in spec.aliases:
        _ALIASES.pop(alias, None)


def get_cell(name: str) -> CellSpec:
    """The spec of a registered cell (by name or alias); ConfigError naming the known cells otherwise."""
    spec = _SPECS.get(_ALIASES.get(name, name)) if isinstance(name, str) else None
    if spec is None:
        raise ConfigError(f"unknown cell {name!r}; known cells: {', '.join(cell_names())}")
    return spec


def cell_names() -> tuple[str, ...]:
    """The registered cell names (without aliases), in registration order."""
    return tuple(_SPECS)


def check_cell_name(name: str, field_name: str) -> str:
    """Return ``name`` if it is a registered cell, else a ConfigError that names the config field."""
    try:
        get_cell(name)
    except ConfigError as error:
        raise ConfigError(f"{field_name}: {error}") from None
    return name


def make_recurrent(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    batch_first: bool = False,
    dropout: float = 0.0,
    bidirectional: bool = False,
    path: str = "auto",
    field: str = "path",
) -> nn.Module:
    """A stacked recurrent layer by cell name, with torch.nn's call contract.

    Input ``(L, N, input_size)`` (``(N, L, ·)`` if batch_first, or packed); returns output
    ``(L, N, D * hidden_size)`` and the final state ``(D * num_layers, N, hidden_size)``, a tuple
    ``(h, c)`` when ``layer.state_is_tuple``. Cells with a fused kernel give the torch-subclass layer
    (`LSTM` / `GRU` / `RNN`: torch's parameter names); the others `Recurrent(cell, ...)` (parameters
    under ``cells.l{k}[_reverse]``). Inter-layer dropout is dropped for one layer, where it would do
    nothing (torch warns about it). ``path`` ("auto" | "fused" | "explicit" | "compiled") picks the execution
    path (`rnnlab.nn.recurrent`); a path the cell does not have is a ConfigError naming ``field``.
    """
    spec = get_cell(cell)
    return spec.make_layer(input_size, hidden_size, num_layers, batch_first, dropout, bidirectional, path, field)


# ------------------------------------------------------------------------------------- built-in cells
register_cell("rnn", RNNCell, "Elman RNN, h' = tanh(W_ih x + W_hh h + b)", fused=RNN, options={"nonlinearity": "tanh"})
register_cell("lstm", LSTMCell, "LSTM: input, forget and output gates around a memory cell c", fused=LSTM)
register_cell("gru", GRUCell, "GRU: reset and update gates, no separate memory cell", fused=GRU)
register_cell(
    "lnlstm", LayerNormLSTMCell, "layer-normalised LSTM (Ba et al. 2016), explicit path only",
    aliases=("layernorm_lstm",),
)  # fmt: skip
register_cell("rnn_relu", RNNCell, "Elman RNN with ReLU, h' = relu(W_ih x + W_hh h + b)", fused=RNN,
              options={"nonlinearity": "relu"})  # fmt: skip
