"""Back-propagation through time, made visible: which losses reach x_t, and by how much.

An RNN unrolled over n steps computes h_k = f(x_k, h_{k-1}), y_k = W_hy h_k, L_k = loss(y_k, target_k)
and L = Σ_k L_k. The input x_t influences h_t, and through the recurrence every later h_k, so
∂L_k/∂x_t ≠ 0 exactly for k ≥ t: the backward paths to x_t start at L_t, L_{t+1}, ..., L_n and run
L_k → y_k → h_k → h_{k-1} → ... → h_t → x_t. For k < t there is no path and the gradient is exactly 0.

`bptt_gradients` measures every ‖∂L_k/∂x_t‖ with autograd; `chain_rule_gradient` recomputes one of them
as the explicit product of step Jacobians (the BPTT formula); `plot_bptt` draws the unrolled graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.inspect.cells import make_cell
from rnnlab.inspect.unroll import step_jacobians, unroll, zero_state


@dataclass
class SmallRNN:
    """A tiny unrolled model: a cell, a linear read-out, one input sequence and per-step targets."""

    cell: nn.Module
    head: nn.Linear
    inputs: Tensor  # (T, 1, I)
    targets: Tensor  # (T, 1, O)

    @classmethod
    def random(
        cls, cell: str = "rnn", steps: int = 6, input_size: int = 3, hidden_size: int = 4, seed: int = 0
    ) -> SmallRNN:
        torch.manual_seed(seed)
        return cls(
            make_cell(cell, input_size, hidden_size),
            nn.Linear(hidden_size, 2),
            torch.randn(steps, 1, input_size),
            torch.randn(steps, 1, 2),
        )

    def step_losses(self, inputs: Tensor) -> list[Tensor]:
        """L_k = ½‖y_k − target_k‖² for every step k (a list of T scalars)."""
        states = unroll(self.cell, inputs)
        hidden = [s[0] if isinstance(s, tuple) else s for s in states]
        return [0.5 * ((self.head(h) - y) ** 2).sum() for h, y in zip(hidden, self.targets)]


def bptt_gradients(model: SmallRNN) -> Tensor:
    """G (T, T) with G[k, t] = ‖∂L_k/∂x_t‖, measured with autograd (0-based indices)."""
    inputs = model.inputs.clone().requires_grad_(True)
    losses = model.step_losses(inputs)
    rows = []
    for loss in losses:
        (grad,) = torch.autograd.grad(loss, inputs, retain_graph=True)
        rows.append(grad.flatten(1).norm(dim=1))  # one norm per time step t
    return torch.stack(rows)


def chain_rule_gradient(model: SmallRNN, k: int, t: int) -> Tensor:
    """∂L_k/∂x_t (I,) as the BPTT product (∂L_k/∂s_k) · J_k · J_{k-1} ··· J_{t+1} · B_t (0-based)."""
    jac_state, jac_input, states = step_jacobians(model.cell, model.inputs)
    if k < t:
        return torch.zeros(model.inputs.shape[-1])
    h_k = states[k][0] if isinstance(states[k], tuple) else states[k]
    h_k = h_k.detach().requires_grad_(True)
    loss = 0.5 * ((model.head(h_k) - model.targets[k]) ** 2).sum()
    (grad_h,) = torch.autograd.grad(loss, h_k)
    hidden = model.cell.hidden_size
    grad_state = torch.zeros(jac_state.shape[-1])
    grad_state[:hidden] = grad_h[0]  # the loss reads h only (not c)
    for j in range(k, t, -1):
        grad_state = grad_state @ jac_state[j]
    return (grad_state @ jac_input[t]).detach()


def plot_bptt(model: SmallRNN, t: int, path: str | Path, grads: Tensor | None = None) -> Tensor:
    """Draw the unrolled graph with the backward paths to x_t (1-based) highlighted; returns G."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = model.inputs.shape[0]
    if not 1 <= t <= steps:
        raise ConfigError(f"--t must be between 1 and --steps ({steps}), got {t}")
    grads = bptt_gradients(model) if grads is None else grads
    column = grads[:, t - 1]  # ‖∂L_k/∂x_t‖ for every k
    fig, (ax, bar_ax) = plt.subplots(
        1, 2, figsize=(2.0 * steps + 4.5, 5.2), gridspec_kw=dict(width_ratios=[steps, 3.2])
    )
    rows = {"x": 0.0, "h": 1.0, "y": 2.0, "L": 3.0}
    on_path_color, off_color = "#d62728", "#b0b0b0"

    def arrow(a, b, highlighted):
        ax.annotate(
            "",
            xy=b,
            xytext=a,
            arrowprops=dict(
                arrowstyle="-|>",
                color=on_path_color if highlighted else off_color,
                lw=2.6 if highlighted else 1.0,
                shrinkA=14,
                shrinkB=14,
            ),
        )

    for k in range(1, steps + 1):
        reached = k >= t  # L_k depends on x_t
        arrow((k, rows["x"]), (k, rows["h"]), k == t)
        arrow((k, rows["h"]), (k, rows["y"]), reached)
        arrow((k, rows["y"]), (k, rows["L"]), reached)
        if k > 1:
            arrow((k - 1, rows["h"]), (k, rows["h"]), k > t)
        for name, y in rows.items():
            hot = (name == "x" and k == t) or (name != "x" and reached)
            ax.text(
                k,
                y,
                f"${name}_{{{k}}}$",
                ha="center",
                va="center",
                fontsize=13,
                bbox=dict(
                    boxstyle="circle",
                    fc="#fde0dd" if hot else "white",
                    ec=on_path_color if hot else "#555555",
                    lw=1.5 if hot else 0.8,
                ),
            )
        label = f"{float(column[k - 1]):.2e}" if reached else "0 (no path)"
        ax.text(
            k,
            rows["L"] + 0.5,
            f"‖∂L{k}/∂x{t}‖\n{label}",
            ha="center",
            va="bottom",
            fontsize=8.5,
            color=on_path_color if reached else "#777777",
        )
    ax.set_xlim(0.4, steps + 0.6)
    ax.set_ylim(-0.6, 4.3)
    ax.axis("off")
    ax.set_title(
        f"BPTT paths to x_{t}: forward arrows; gradients flow back along the red ones "
        f"(L_k -> y_k -> h_k -> ... -> h_{t} -> x_{t})",
        fontsize=10,
    )
    reached_ks = list(range(t, steps + 1))
    bar_ax.bar(reached_ks, [float(column[k - 1]) for k in reached_ks], color=on_path_color)
    bar_ax.set_yscale("log")
    bar_ax.set_xticks(range(1, steps + 1))
    bar_ax.set_xlim(0.4, steps + 0.6)
    bar_ax.set_xlabel("k (loss L_k)")
    bar_ax.set_title(
        f"‖∂L_k/∂x_{t}‖ (autograd); k < {t}: exactly 0\nand ∂L/∂x_{t} = Σ_k ∂L_k/∂x_{t}", fontsize=10
    )
    for k in range(1, t):
        bar_ax.text(k, 0.02, "0", transform=bar_ax.get_xaxis_transform(), ha="center", color="#777777")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return grads


def loss_is_sum_check(model: SmallRNN, t: int) -> tuple[Tensor, Tensor]:
    """∂L/∂x_t for L = Σ_k L_k, and Σ_k ∂L_k/∂x_t computed loss by loss (0-based t): they agree."""
    inputs = model.inputs.clone().requires_grad_(True)
    losses = model.step_losses(inputs)
    (total,) = torch.autograd.grad(torch.stack(losses).sum(), inputs, retain_graph=True)
    parts = sum(torch.autograd.grad(loss, inputs, retain_graph=True)[0] for loss in losses)
    return total[t, 0], parts[t, 0]


def weight_sharing_check(model: SmallRNN) -> tuple[Tensor, Tensor, Tensor]:
    """The one recurrent matrix W_hh is used at every step; its gradient is the sum of the per-step ones.

    Unrolls once with a separate copy W_hh^(k) per step (same values) and once with the shared matrix.
    Returns (per-step gradient norms (T,), Σ_k ∂L/∂W_hh^(k), ∂L/∂W_hh).
    """
    params = dict(model.cell.named_parameters())
    copies = [params["weight_hh"].detach().clone().requires_grad_(True) for _ in range(model.inputs.shape[0])]
    state = zero_state(model.cell, 1)
    total = torch.zeros(())
    for k, x in enumerate(model.inputs):
        state = torch.func.functional_call(model.cell, {**params, "weight_hh": copies[k]}, (x, state))
        h = state[0] if isinstance(state, tuple) else state
        total = total + 0.5 * ((model.head(h) - model.targets[k]) ** 2).sum()
    per_step = torch.autograd.grad(total, copies)
    (shared,) = torch.autograd.grad(torch.stack(model.step_losses(model.inputs)).sum(), params["weight_hh"])
    return torch.stack([g.norm() for g in per_step]), sum(per_step), shared


@dataclass
class BpttReport:
    """Everything `rnnlab inspect bptt` prints, for one unrolled model and one input x_t (1-based t).

    autograd[k-1] / chain_rule[k-1]: ‖∂L_k/∂x_t‖ by autograd and by the explicit BPTT product, k = 1..steps.
    total_norm: ‖∂L/∂x_t‖ of the summed loss; sum_difference: its max difference to Σ_k ∂L_k/∂x_t.
    step_shares: ‖step k's share of ∂L/∂W_hh‖; sharing_difference: max |Σ shares − ∂L/∂W_hh|.
    """

    cell: str
    steps: int
    t: int
    autograd: list[float]
    chain_rule: list[float]
    total_norm: float
    sum_difference: float
    step_shares: list[float]
    sharing_difference: float
    parameter_count: int
    path: Path


def bptt_report(
    cell: str, steps: int, t: int, path: str | Path, hidden_size: int = 4, seed: int = 0
) -> BpttReport:
    """Unroll a random `cell` model for `steps` steps, draw the paths to x_t into `path`, and check BPTT."""
    if steps < 1 or hidden_size < 1:
        raise ConfigError(f"steps and hidden_size must be >= 1, got {steps} and {hidden_size}")
    if not 1 <= t <= steps:
        raise ConfigError(f"t must be between 1 and steps ({steps}), got {t}")
    model = SmallRNN.random(cell, steps, hidden_size=hidden_size, seed=seed)
    grads = plot_bptt(model, t, path)
    chain = [float(chain_rule_gradient(model, k, t - 1).norm()) for k in range(steps)]
    total, parts = loss_is_sum_check(model, t - 1)
    per_step, summed, shared = weight_sharing_check(model)
    return BpttReport(
        cell=cell,
        steps=steps,
        t=t,
        autograd=[float(grads[k, t - 1]) for k in range(steps)],
        chain_rule=chain,
        total_norm=float(total.norm()),
        sum_difference=float((total - parts).abs().max()),
        step_shares=[float(v) for v in per_step],
        sharing_difference=float((summed - shared).abs().max()),
        parameter_count=sum(p.numel() for p in model.cell.parameters()),
        path=Path(path),
    )
