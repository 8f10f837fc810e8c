"""Gradient flow through time: how ‖∂L_T/∂h_t‖ shrinks (vanishes) or grows (explodes) with T − t.

BPTT multiplies one recurrent Jacobian J_k = ∂h_k/∂h_{k-1} per step:
∂L_T/∂h_t = ∂L_T/∂h_T · J_T · J_{T-1} ··· J_{t+1}. For a linear RNN h_k = W h_{k-1} + U x_k this is
(W^T)^{T-t} ∂L_T/∂h_T, so the norm behaves like ρ(W)^{T-t}: it vanishes when the spectral radius ρ < 1 and
explodes when ρ > 1. A tanh RNN multiplies by diag(1 − h_k²) W, which only shrinks it further. LSTM/GRU
gates give an additive path (c_t = f ⊙ c_{t-1} + ...) whose Jacobian is close to diag(f), so gradients
survive longer. Gradient-norm clipping rescales an exploding gradient; it cannot revive a vanished one.

`hidden_gradient_norms` measures the curve with autograd on an explicit unroll; `gradflow_report` runs the
whole experiment of `rnnlab inspect gradflow` (init vs trained on the adding problem, Jacobian radius, an
exploding RNN with and without clipping) and `plot_gradflow` draws it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from rnnlab.inspect.cells import make_cell, reinitialised
from rnnlab.inspect.longrange import RunConfig, SequenceModel, adding_batch, train_run
from rnnlab.inspect.training import train_in_memory
from rnnlab.inspect.unroll import spectral_radius, step_jacobians, unroll, zero_state
from rnnlab.train import DrawnBatches, StepOutput, TrainTask


def hidden_gradient_norms(cell: nn.Module, inputs: Tensor, loss_fn: Callable[[Tensor], Tensor]) -> Tensor:
    """‖∂L_T/∂h_t‖ for t = 1..T (returned as (T,)), where L_T = loss_fn(h_T) reads the last hidden state.

    `cell(x (N, I), state) -> state` is any recurrent cell (state h, or (h, c)); inputs (T, N, I).
    The norm is taken over the whole (N, H) gradient of the batch.
    """
    # A zero initial state that requires grad keeps every h_t in the graph, even for a cell without
    # trainable parameters.
    initial = zero_state(cell, inputs.shape[1], inputs.dtype)
    initial = (
        tuple(s.requires_grad_(True) for s in initial)
        if isinstance(initial, tuple)
        else initial.requires_grad_(True)
    )
    states = unroll(cell, inputs, initial)
    hidden = [s[0] if isinstance(s, tuple) else s for s in states]
    grads = torch.autograd.grad(loss_fn(hidden[-1]), hidden, allow_unused=True)
    return torch.stack([g.norm() if g is not None else torch.zeros(()) for g in grads]).detach()


def cell_from_layer(layer: nn.Module, name: str) -> nn.Module:
    """The explicit cell holding layer 0 (forward direction) of a torch-compatible RNN/LSTM/GRU layer."""
    cell = make_cell(name, layer.input_size, layer.hidden_size)
    weights = {key: getattr(layer, f"{key}_l0") for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    cell.load_state_dict(weights)
    return cell


def mean_jacobian_radius(cell: nn.Module, inputs: Tensor) -> float:
    """Mean spectral radius of the step Jacobians ∂s_t/∂s_{t-1} along one sequence (inputs (T, 1, I))."""
    jac_state, _, _ = step_jacobians(cell, inputs)
    return sum(spectral_radius(j) for j in jac_state) / len(jac_state)


def decay_per_step(norms: Tensor) -> float:
    """Geometric-mean factor by which ‖∂L_T/∂h_t‖ changes per step back in time (<1 vanishes, >1 explodes)."""
    values = norms.double().clamp_min(1e-300)
    return float(torch.exp((values[0].log() - values[-1].log()) / max(len(values) - 1, 1)))


@dataclass
class Curve:
    label: str
    norms: list[float]  # ‖∂L_T/∂h_t‖, t = 1..T
    jacobian_radius: float  # mean ρ(∂s_t/∂s_{t-1}) along a sequence
    weight_radius: float  # ρ(W_hh) for the RNN; for gated cells ρ of the candidate block (g / n)
    test_mse: float


@dataclass
class ExplodingRun:
    clip: float | None
    grad_norms: list[float]
    losses: list[float]


@dataclass
class GradflowReport:
    cell: str
    length: int
    curves: list[Curve] = field(default_factory=list)
    exploding: list[ExplodingRun] = field(default_factory=list)
    scale: float = 2.0
    checkpoint: str | None = None  # set when the curves come from a language-model checkpoint

    def summary(self) -> str:
        if self.checkpoint is not None:
            lines = [
                f"gradient flow of {self.checkpoint}: L_T = -log P(last token), over {self.length} tokens"
            ]
        else:
            lines = [
                f"gradient flow for {self.cell}, T = {self.length} (adding problem, L_T = MSE at the last step)"
            ]
        weight_name = {"rnn": "ρ(W_hh)", "lstm": "ρ(W_hg)", "gru": "ρ(W_hn)"}.get(self.cell, "ρ(W)")
        for curve in self.curves:
            norms = torch.tensor(curve.norms)
            if self.checkpoint is not None:  # gradients at the input embeddings e_t, t = 1..T-1
                lines.append(
                    f"  {curve.label}: ‖∂L_T/∂e_1‖/‖∂L_T/∂e_T-1‖ = {float(norms[0] / norms[-1]):.2e}, "
                    f"x{decay_per_step(norms):.3f} per step back"
                )
                continue
            lines.append(
                f"  {curve.label:>9s}: ‖∂L_T/∂h_1‖/‖∂L_T/∂h_T‖ = {float(norms[0] / norms[-1]):.2e}, "
                f"x{decay_per_step(norms):.3f} per step back; mean ρ(∂s_t/∂s_t-1) = {curve.jacobian_radius:.3f}; "
                f"{weight_name} = {curve.weight_radius:.3f}; test MSE {curve.test_mse:.4f} (baseline 0.167)"
            )
        for run in self.exploding:
            finite = [v for v in run.grad_norms if math.isfinite(v)]
            last = [v for v in run.losses[-20:] if math.isfinite(v)]
            status = "diverged (NaN/inf)" if len(finite) < len(run.grad_norms) else "finite"
            lines.append(
                f"  RNN with W_hh = {self.scale} x orthogonal, clip={run.clip}: max ‖grad‖ = "
                f"{max(finite) if finite else float('nan'):.2e}, {status}, "
                f"final loss {sum(last) / len(last) if last else float('nan'):.3f}"
            )
        return "\n".join(lines)


def _recurrent_radius(layer: nn.Module, name: str) -> float:
    weight = layer.weight_hh_l0.detach()
    hidden = layer.hidden_size
    if name in ("lstm", "gru"):
        weight = weight[2 * hidden : 3 * hidden]  # the candidate block: g (LSTM i|f|g|o), n (GRU r|z|n)
    return spectral_radius(weight)


def measure_curve(model: SequenceModel, name: str, label: str, length: int, seed: int = 0) -> Curve:
    """‖∂L_T/∂h_t‖ of the model's layer on an adding batch, plus Jacobian and weight radii."""
    inputs, targets = adding_batch(16, length, torch.Generator().manual_seed(seed + 1))
    # float64 so that gradients of 1e-40 and below do not underflow to zero over long sequences
    cell = cell_from_layer(model.rnn, name).double()
    head = copy.deepcopy(model.head).double()
    sequences = inputs.transpose(0, 1).double()  # (T, N, 2)
    norms = hidden_gradient_norms(
        cell, sequences, lambda h: nn.functional.mse_loss(head(h), targets.double())
    )
    with torch.no_grad():
        mse = float(nn.functional.mse_loss(model(inputs), targets))
    return Curve(
        label,
        norms.tolist(),
        mean_jacobian_radius(cell, sequences[:, :1]),
        _recurrent_radius(model.rnn, name),
        mse,
    )


class _AddingTask(TrainTask):
    """The adding problem with fresh batches of 32 every step; evaluation: MSE on one fixed batch."""

    def __init__(self, model: SequenceModel, length: int, steps: int, seed: int) -> None:
        self.model, self.length, self.steps, self.seed = model, length, steps, seed
        self.test = adding_batch(32, length, torch.Generator().manual_seed(10_000 + seed))

    def train_batches(self, epoch: int) -> DrawnBatches:
        return DrawnBatches(lambda g: adding_batch(32, self.length, g), self.steps, self.seed + epoch)

    def train_step(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> StepOutput:
        inputs, targets = batch
        return StepOutput(nn.functional.mse_loss(model(inputs), targets), num_tokens=len(inputs))

    def evaluate(self) -> dict[str, float]:
        inputs, targets = self.test
        return {"loss": float(nn.functional.mse_loss(self.model(inputs), targets))}


def exploding_run(
    length: int,
    scale: float,
    clip: float | None,
    steps: int = 150,
    seed: int = 0,
    hidden_size: int = 32,
    learning_rate: float = 0.05,
) -> ExplodingRun:
    """Train a tanh RNN whose W_hh starts as `scale` x a random orthogonal matrix, with plain SGD.

    The Trainer keeps going through NaN/inf losses (on_nonfinite="continue"): the divergence is the point.
    """
    torch.manual_seed(seed)
    model = SequenceModel("adding", "rnn", hidden_size)
    with torch.no_grad():
        orthogonal, _ = torch.linalg.qr(torch.randn(hidden_size, hidden_size))
        model.rnn.weight_hh_l0.copy_(scale * orthogonal)
    if steps < 1:
        return ExplodingRun(clip, [], [])
    _, history = train_in_memory(
        _AddingTask(model, length, steps, seed),
        model,
        optimizer="sgd",
        lr=learning_rate,
        clip_grad_norm=clip,
        max_steps=steps,
        log_every=steps,
        seed=seed,
        on_nonfinite="continue",
    )
    return ExplodingRun(clip, history.grad_norms, history.losses)


def gradflow_report(
    cell: str,
    length: int = 100,
    train_steps: int = 300,
    hidden_size: int = 32,
    scale: float = 2.0,
    explode_steps: int = 300,
    seed: int = 0,
) -> GradflowReport:
    """The whole experiment: curves at init and after `train_steps` Adam steps on the adding problem."""
    report = GradflowReport(cell, length, scale=scale)
    add_exploding_runs(report, min(length, 50), explode_steps, seed)
    torch.manual_seed(seed)
    model = SequenceModel("adding", cell, hidden_size)
    report.curves.append(measure_curve(model, cell, "init", length, seed))
    if train_steps > 0:
        config = RunConfig(
            task="adding",
            cell=cell,
            length=length,
            hidden_size=hidden_size,
            steps=train_steps,
            seed=seed,
            eval_every=max(train_steps, 1),
            eval_size=64,
        )
        train_run(config, stop_when_solved=False, model=model)
        report.curves.append(measure_curve(model, cell, f"trained {train_steps}", length, seed))
    return report


def add_exploding_runs(report: GradflowReport, length: int, steps: int, seed: int = 0) -> None:
    """The tanh RNN with W_hh = report.scale x orthogonal, trained without and with clipping at 1.0."""
    for clip in (None, 1.0):
        report.exploding.append(exploding_run(length, report.scale, clip, steps, seed))


def plot_gradflow(report: GradflowReport, path: str | Path, title: str | None = None) -> None:
    """Three panels: the curves, and the exploding RNN's gradient norms and losses (title: left panel's)."""
    if title is None and report.checkpoint is not None:
        title = f"‖∂L_T/∂e_t‖ of the checkpoint, {report.length} tokens"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.3))
    ax = axes[0]
    for curve, color in zip(report.curves, ("C0", "C3", "C2")):
        ts = range(1, len(curve.norms) + 1)
        ax.semilogy(
            ts,
            [max(v, 1e-300) for v in curve.norms],
            color=color,
            label=curve.label
            + (f" (mean ρ(J) {curve.jacobian_radius:.2f})" if math.isfinite(curve.jacobian_radius) else ""),
        )
    ax.set_xlabel("t")
    ax.set_ylabel("‖∂L_T/∂e_t‖ (input embeddings)" if report.checkpoint else "‖∂L_T/∂h_t‖")
    ax.set_title(title or f"{report.cell}: ‖∂L_T/∂h_t‖, T={report.length}, adding problem", fontsize=10)
    ax.legend(fontsize=8)
    for run in report.exploding:
        label = "no clipping" if run.clip is None else f"clip norm {run.clip:g}"
        steps = range(1, len(run.grad_norms) + 1)
        axes[1].semilogy(
            steps, [v if math.isfinite(v) else float("nan") for v in run.grad_norms], label=label
        )
        axes[2].semilogy(steps, [v if math.isfinite(v) else float("nan") for v in run.losses], label=label)
        bad = next((i for i, v in enumerate(run.losses) if not math.isfinite(v)), None)
        if bad is not None:
            axes[2].axvline(bad + 1, color="k", ls=":", lw=1)
            axes[2].text(bad + 1, 0.5, " loss NaN", transform=axes[2].get_xaxis_transform(), fontsize=8)
    axes[2].axhline(1 / 6, color="k", ls="--", lw=0.8)
    axes[2].text(1, 1 / 6, " baseline 0.167", va="bottom", fontsize=8)
    axes[1].set_title(f"tanh RNN, W_hh = {report.scale:g} x orthogonal: ‖grad‖ before clipping", fontsize=10)
    axes[1].set_xlabel("training step")
    axes[2].set_title("its training loss (adding problem, SGD)", fontsize=10)
    axes[2].set_xlabel("training step")
    for ax in axes[1:]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------------ a trained language model
def lm_input_gradient_norms(model: nn.Module, ids: Tensor) -> Tensor:
    """‖∂L_T/∂e_t‖ for a language model: L_T = −log P(x_T | x_<T), e_t the embedding of token t.

    `model(ids (L, 1)) -> logits (L, 1, V)` (or `(logits, state)`) with an `embedding` module; ids (T, 1).
    Returns (T-1,): one norm per input position t = 1..T-1. The embedding output is the leaf we
    differentiate, so this works on the fused path too.
    """
    captured: dict[str, Tensor] = {}

    def hook(module, args, output):
        leaf = output.detach().requires_grad_(True)
        captured["e"] = leaf
        return leaf

    handle = model.embedding.register_forward_hook(hook)
    try:
        result = model(ids[:-1])
    finally:
        handle.remove()
    logits = result[0] if isinstance(result, tuple) else result
    loss = nn.functional.cross_entropy(logits[-1, :1].float(), ids[-1, :1])
    (grad,) = torch.autograd.grad(loss, captured["e"])
    return grad[:, 0].norm(dim=-1).detach()


def checkpoint_report(
    lm,
    checkpoint: str,
    text: str | None = None,
    length: int = 100,
    cell: str = "rnn",
    scale: float = 2.0,
    explode_steps: int = 300,
    seed: int = 0,
) -> GradflowReport:
    """Gradient flow of a loaded language model over the first `length` tokens of `text` (default: a
    sample from the model), against its architecture re-initialised; plus the exploding-RNN runs.

    `lm` has `.model`, `.tokenizer.tokenize`, `.vocab.encode` and `.generate` (a loaded `lm` task model).
    """
    from rnnlab.errors import DataError

    text = text or lm.generate(max_tokens=length, seed=seed)[0]
    tokens = lm.tokenizer.tokenize(text)[:length]
    if len(tokens) < 2:
        raise DataError(f"the text has {len(tokens)} token(s) under the model's tokenizer; need at least 2")
    ids = torch.tensor(lm.vocab.encode(tokens), dtype=torch.long).unsqueeze(1)
    report = GradflowReport(cell, len(tokens), scale=scale, checkpoint=checkpoint)
    report.curves = lm_gradflow_curves(lm.model, ids, seed)
    add_exploding_runs(report, min(length, 50), explode_steps, seed)
    return report


def lm_gradflow_curves(model: nn.Module, ids: Tensor, seed: int = 0) -> list[Curve]:
    """‖∂L_T/∂e_t‖ of the trained model and of the same architecture re-initialised."""
    model = model.eval()
    curves = []
    for label, net in (
        ("init (re-initialised)", reinitialised(model, seed).eval()),
        ("trained checkpoint", model),
    ):
        norms = lm_input_gradient_norms(net, ids)
        curves.append(Curve(label, norms.tolist(), float("nan"), float("nan"), float("nan")))
    return curves
