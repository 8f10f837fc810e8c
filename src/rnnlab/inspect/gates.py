"""Gate traces as pictures: every gate's activation per step and unit, and the units that track something.

In the spirit of Karpathy, Johnson & Fei-Fei (2015), "Visualizing and understanding recurrent networks",
and LSTMVis (Strobelt et al. 2017): run a model on a text with `rnnlab.nn.record_gates`, draw one heatmap
per (layer, direction, gate) with the tokens on the time axis, and correlate each unit with simple
features of the text (inside quotes, bracket depth, position in the line) to find the units that track them.
"""

from __future__ import annotations

import functools
import math
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rnnlab.errors import DataError
from rnnlab.inspect.cells import make_layer, reinitialised
from rnnlab.inspect.training import train_in_memory
from rnnlab.nn import record_gates
from rnnlab.train import DrawnBatches, StepOutput, TrainTask

SIGMOID_GATES = {"i", "f", "o", "r", "z"}  # values in (0, 1); the others lie in (-1, 1) or are unbounded (c)
OPENING, CLOSING = "([{", ")]}"
CLAUSE_MARKS = set(",.;:!?，。、；：！？")
EMBEDDING_SIZE = 16  # of the --random character model


@dataclass
class Traces:
    """Gate activations of one text: `gates[(layer_name, layer, direction)][gate]` is (L, H)."""

    tokens: list[str]
    gates: dict[tuple[str, int, int], dict[str, np.ndarray]]
    baseline: Traces | None = None  # the same architecture untrained, on the same text: chance level


def record_text(model: nn.Module, run: Callable[[], object], tokens: list[str]) -> Traces:
    """Call `run()` (which runs `model` on the token ids of one text) with gate recording on."""
    with torch.no_grad(), record_gates(model) as recorded:
        run()
    gates = {}
    for name, trace in recorded.items():
        for (layer, direction), values in trace.items():
            # (L, N, H) time-major, one sequence: keep batch element 0
            gates[(name, layer, direction)] = {g: v[:, 0].float().numpy() for g, v in values.items()}
    return Traces(tokens, gates)


class RandomCharModel(nn.Module):
    """A randomly initialised character model (embedding -> rnnlab layer) over the characters of a text."""

    def __init__(
        self,
        text: str,
        cell: str = "lstm",
        hidden_size: int = 32,
        num_layers: int = 1,
        bidirectional: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.embedding = nn.Embedding(len(self.chars), EMBEDDING_SIZE)
        self.rnn = make_layer(cell, EMBEDDING_SIZE, hidden_size, False, num_layers, bidirectional)

    def encode(self, text: str) -> torch.Tensor:
        """(L, 1) character ids."""
        return torch.tensor([self.index[c] for c in text], dtype=torch.long).unsqueeze(1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(self.embedding(ids))
        return output


class _NextCharacter(nn.Module):
    """The character model plus a linear read-out: (L, N) ids -> (L, N, V) logits."""

    def __init__(self, model: RandomCharModel, head: nn.Linear) -> None:
        super().__init__()
        self.model, self.head = model, head

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.model(ids))


class _NextCharacterTask(TrainTask):
    """Random windows of `seq_len + 1` characters of the text (fresh every step); evaluation: the loss on
    one fixed batch of windows."""

    def __init__(self, net: _NextCharacter, ids: torch.Tensor, steps: int, seq_len: int, batch_size: int, seed: int):
        self.net, self.ids, self.steps, self.seq_len, self.batch_size, self.seed = (
            net, ids, steps, seq_len, batch_size, seed,
        )  # fmt: skip
        self.valid = self._windows(torch.Generator().manual_seed(10_000 + seed))

    def _windows(self, generator: torch.Generator) -> torch.Tensor:
        starts = torch.randint(0, len(self.ids) - self.seq_len - 1, (self.batch_size,), generator=generator)
        return torch.stack([self.ids[s : s + self.seq_len + 1] for s in starts.tolist()], dim=1)  # (L+1, N)

    def _loss(self, net: nn.Module, window: torch.Tensor) -> torch.Tensor:
        logits = net(window[:-1])
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), window[1:].reshape(-1))

    def train_batches(self, epoch: int) -> DrawnBatches:
        return DrawnBatches(self._windows, self.steps, self.seed + epoch)

    def train_step(self, model: nn.Module, window: torch.Tensor) -> StepOutput:
        return StepOutput(self._loss(model, window), num_tokens=window[1:].numel())

    def evaluate(self) -> dict[str, float]:
        return {"loss": float(self._loss(self.net, self.valid))}


def fit_char_model(
    model: RandomCharModel,
    text: str,
    steps: int,
    seq_len: int = 64,
    batch_size: int = 16,
    learning_rate: float = 1e-2,
    seed: int = 0,
) -> float:
    """Train `model` (plus a linear read-out) to predict the next character of `text`; returns the last loss.

    A quick way to get units that track something without a checkpoint: the model only sees the
    characters of `text` (its vocabulary must cover them). Unidirectional models only. Adam, gradient
    norm clipped to 1 (read-out included), through the shared Trainer in memory.
    """
    if getattr(model.rnn, "bidirectional", False):
        raise DataError("inspect gates: next-character training needs a unidirectional model")
    if len(text) < seq_len + 2:
        raise DataError(
            f"inspect gates: the training text has {len(text)} characters; need at least {seq_len + 2}"
        )
    if steps < 1:
        return 0.0
    ids = model.encode(text)[:, 0]
    net = _NextCharacter(model, nn.Linear(model.rnn.hidden_size, len(model.chars)))
    _, history = train_in_memory(
        _NextCharacterTask(net, ids, steps, seq_len, batch_size, seed),
        net,
        optimizer="adam",
        lr=learning_rate,
        clip_grad_norm=1.0,
        max_steps=steps,
        log_every=steps,
        seed=seed,
    )
    model.eval()
    return history.losses[-1]


def random_model_traces(
    text: str,
    cell: str = "lstm",
    hidden_size: int = 32,
    num_layers: int = 1,
    bidirectional: bool = False,
    seed: int = 0,
    fit_steps: int = 0,
    fit_text: str | None = None,
) -> Traces:
    """Traces of a character model over `text`: untrained, or first fitted for `fit_steps` on `fit_text`."""
    if not text:
        raise DataError("inspect gates: the text is empty")
    fit_text = text if fit_text is None else fit_text
    model = RandomCharModel(text + fit_text, cell, hidden_size, num_layers, bidirectional, seed).eval()
    ids = model.encode(text)
    baseline = None
    if fit_steps > 0:
        baseline = record_text(model, lambda: model(ids), list(text))
        fit_char_model(model, fit_text, fit_steps, seed=seed)
    traces = record_text(model, lambda: model(ids), list(text))
    traces.baseline = baseline
    return traces


def language_model_traces(lm, text: str) -> Traces:
    """Traces of a loaded language model (`.model(ids (L, 1))`, `.tokenizer.tokenize`, `.vocab.encode`)."""
    tokens = lm.tokenizer.tokenize(text)
    if not tokens:
        raise DataError("inspect gates: the text has no tokens under this model's tokenizer")
    ids = torch.tensor(lm.vocab.encode(tokens), dtype=torch.long).unsqueeze(1)
    device = next(lm.model.parameters()).device
    model = lm.model.eval()
    traces = record_text(model, lambda: model(ids.to(device)), tokens)
    untrained = reinitialised(model).eval()
    traces.baseline = record_text(untrained, lambda: untrained(ids.to(device)), tokens)
    return traces


def token_features(tokens: list[str]) -> dict[str, np.ndarray]:
    """Per-token features of the text read so far (after token t): each (L,) float.

    inside quotes: 1 between an opening and a closing '"'; bracket depth: open ([{ minus closed )]}
    outside quotes; position in line: tokens since the last line break (0 at the break); position in
    clause: tokens since the last punctuation mark or line break (a verse line in a poem, a statement in code).
    """
    inside, depth, position, clause = [], [], [], []
    quote, level, column, since_mark = False, 0, 0, 0
    for token in tokens:
        for char in token:
            if char == '"':
                quote = not quote
            elif quote:
                continue  # brackets inside a string do not nest code
            elif char in OPENING:
                level += 1
            elif char in CLOSING:
                level = max(level - 1, 0)
        line_break = "\n" in token or token in ("</s>", "<eos>")
        column = 0 if line_break else column + 1
        since_mark = 0 if line_break or any(char in CLAUSE_MARKS for char in token) else since_mark + 1
        inside.append(float(quote))
        depth.append(float(level))
        position.append(float(column))
        clause.append(float(since_mark))
    return {
        "inside quotes": np.array(inside),
        "bracket depth": np.array(depth),
        "position in line": np.array(position),
        "position in clause": np.array(clause),
    }


@dataclass
class TrackingUnit:
    feature: str
    layer_key: tuple[str, int, int]
    gate: str
    unit: int
    correlation: float

    @property
    def where(self) -> str:
        name, layer, direction = self.layer_key
        prefix = f"{name}." if name else ""
        return f"{prefix}layer {layer} {'backward' if direction else 'forward'} {self.gate}[{self.unit}]"


def pearson(values: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Correlation of each column of values (L, H) with feature (L,); 0 where either is constant."""
    centred = values - values.mean(axis=0)
    target = feature - feature.mean()
    denominator = np.sqrt((centred**2).sum(axis=0) * (target**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        result = (centred * target[:, None]).sum(axis=0) / denominator
    return np.nan_to_num(result)


def tracking_units(traces: Traces, top: int = 3) -> list[TrackingUnit]:
    """For each non-constant feature, the `top` units (any layer, direction, gate) with the largest |r|."""
    found = []
    for feature_name, feature in token_features(traces.tokens).items():
        if feature.std() == 0:
            continue
        candidates = []
        for key, gates in traces.gates.items():
            for gate, values in gates.items():
                for unit, r in enumerate(pearson(values, feature)):
                    candidates.append(TrackingUnit(feature_name, key, gate, unit, float(r)))
        candidates.sort(key=lambda u: -abs(u.correlation))
        found.extend(candidates[:top])
    return found


def chance_levels(traces: Traces) -> dict[str, float]:
    """For each feature, the best |r| of any unit of the untrained baseline (0 when there is none)."""
    if traces.baseline is None:
        return {}
    return {unit.feature: abs(unit.correlation) for unit in tracking_units(traces.baseline, top=1)}


@dataclass
class GatesReport:
    """What `rnnlab inspect gates` shows: the traces, the tracking units, their chance levels, the files."""

    traces: Traces
    units: list[TrackingUnit]
    chance: dict[str, float]  # feature -> best |r| of the untrained baseline (empty without a baseline)
    heatmaps: list[Path]
    units_path: Path


def units_path_for(path: str | Path) -> Path:
    """`NAME_units.EXT` next to the heatmap file `NAME.EXT`."""
    path = Path(path)
    return path.with_name(path.stem + "_units" + path.suffix)


def gates_report(
    traces: Traces, path: str | Path, max_units: int = 64, max_tokens: int = 200, top: int = 3
) -> GatesReport:
    """Draw the heatmaps into `path` (one file per layer/direction) and the tracking units next to it."""
    heatmaps = plot_gate_heatmaps(traces, path, max_units=max_units, max_tokens=max_tokens)
    units = tracking_units(traces, top=top)
    units_path = units_path_for(path)
    plot_tracking_units(traces, units, units_path, max_tokens=max_tokens)
    return GatesReport(traces, units, chance_levels(traces), heatmaps, units_path)


# Fonts with CJK glyphs, tried in order when a text has characters DejaVu lacks (e.g. Tang poems).
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "AR PL UMing CN",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
)


def is_cjk(char: str) -> bool:
    """Whether a character is in the CJK blocks (U+2E80 on), which DejaVu has no glyphs for."""
    return ord(char) >= 0x2E80


@functools.cache
def _cjk_font() -> str | None:
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in installed), None)
    if found is None:
        # on stderr: stdout may be JSON lines (`--json`)
        print("note: no CJK font is installed (e.g. Debian fonts-noto-cjk); CJK tokens are drawn as boxes",
              file=sys.stderr)
    return found


def token_font(tokens: list[str]) -> list[str]:
    """Font families for the token labels: DejaVu Sans Mono, plus an installed CJK font when needed."""
    if not any(is_cjk(char) for token in tokens for char in token):
        return ["DejaVu Sans Mono"]
    cjk = _cjk_font()
    return ["DejaVu Sans Mono"] + ([cjk] if cjk else [])


def _quiet_glyphs(plot):
    """Silence matplotlib's one warning per glyph a font lacks (reported once by `_cjk_font`)."""

    @functools.wraps(plot)
    def run(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
            return plot(*args, **kwargs)

    return run


def _shown(token: str) -> str:
    return token.replace("\n", "⏎").replace(" ", "␣").replace("\t", "⇥") or "∅"


def _token_axis(ax, tokens: list[str], family: list[str], max_labels: int = 160) -> None:
    stride = max(1, math.ceil(len(tokens) / max_labels))
    positions = list(range(0, len(tokens), stride))
    ax.set_xticks(
        positions,
        [_shown(tokens[p]) for p in positions],
        fontsize=7,
        rotation=0 if all(len(t) <= 1 for t in tokens) else 90,
        family=family,
    )


def heatmap_paths(traces: Traces, path: str | Path) -> dict[tuple[str, int, int], Path]:
    """One file per (layer, direction): `path` itself when there is one, else `stem_l{k}[_reverse]`."""
    path = Path(path)
    keys = list(traces.gates)
    if len(keys) == 1:
        return {keys[0]: path}
    return {
        key: path.with_name(
            f"{path.stem}_{key[0] + '_' if key[0] else ''}l{key[1]}"
            f"{'_reverse' if key[2] else ''}{path.suffix}"
        )
        for key in keys
    }


@_quiet_glyphs
def plot_gate_heatmaps(
    traces: Traces, path: str | Path, max_units: int = 64, max_tokens: int = 200
) -> list[Path]:
    """Per (layer, direction), one heatmap per gate: units on the y axis, tokens on the x axis.

    Writes one file per (layer, direction) (see `heatmap_paths`) and returns their paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tokens = traces.tokens[:max_tokens]
    family = token_font(tokens)
    width = min(max(8.0, 0.13 * len(tokens) + 3), 30.0)
    written = []
    for key, out in heatmap_paths(traces, path).items():
        gates = traces.gates[key]
        units = min(max_units, next(iter(gates.values())).shape[1])
        fig, axes = plt.subplots(
            len(gates), 1, figsize=(width, len(gates) * (0.06 * units + 0.9)), squeeze=False
        )
        name, layer, direction = key
        for ax, (gate, values) in zip(axes[:, 0], gates.items()):
            values = values[: len(tokens), :max_units].T  # (H, L)
            if gate in SIGMOID_GATES:
                image = ax.imshow(
                    values, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest"
                )
            else:
                # the 99th percentile, so one large memory cell does not wash out the others
                bound = max(float(np.percentile(np.abs(values), 99)), 1e-6)
                image = ax.imshow(
                    values, aspect="auto", cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest"
                )
            ax.set_ylabel(f"{gate}\nunits", fontsize=8)
            ax.set_title(
                f"{name + '.' if name else ''}layer {layer} {'backward' if direction else 'forward'}: "
                f"gate {gate}",
                fontsize=9,
                loc="left",
            )
            _token_axis(ax, tokens, family)
            fig.colorbar(image, ax=ax, fraction=0.015, pad=0.005)
        fig.tight_layout()
        fig.savefig(out, dpi=90)
        plt.close(fig)
        written.append(out)
    return written


@_quiet_glyphs
def plot_tracking_units(
    traces: Traces, units: list[TrackingUnit], path: str | Path, max_tokens: int = 200
) -> None:
    """For each feature's best unit: its activation over the tokens next to the feature it tracks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    features = token_features(traces.tokens)
    best = {}
    for unit in units:  # units come sorted by |r| within each feature
        best.setdefault(unit.feature, unit)
    tokens = traces.tokens[:max_tokens]
    family = token_font(tokens)
    width = min(max(8.0, 0.13 * len(tokens) + 3), 30.0)
    fig, axes = plt.subplots(max(len(best), 1), 1, figsize=(width, 2.3 * max(len(best), 1)), squeeze=False)
    for ax, unit in zip(axes[:, 0], best.values()):
        values = traces.gates[unit.layer_key][unit.gate][: len(tokens), unit.unit]
        ax.plot(values, color="C0", lw=1.3, label=f"{unit.where}")
        ax.set_ylabel("activation", color="C0", fontsize=8)
        twin = ax.twinx()
        twin.step(
            range(len(tokens)),
            features[unit.feature][: len(tokens)],
            where="mid",
            color="C3",
            lw=1,
            alpha=0.7,
        )
        twin.set_ylabel(unit.feature, color="C3", fontsize=8)
        ax.set_title(
            f"{unit.where} tracks '{unit.feature}' (Pearson r = {unit.correlation:+.2f})",
            fontsize=9,
            loc="left",
        )
        _token_axis(ax, tokens, family)
    if not best:
        axes[0, 0].text(0.5, 0.5, "every feature is constant on this text", ha="center")
        axes[0, 0].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
