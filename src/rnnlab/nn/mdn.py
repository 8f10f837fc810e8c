"""A mixture density output for pen offsets (Graves 2013, §4.1): M bivariate Gaussians and a Bernoulli pen-up.

    head = MixtureDensityHead(hidden_size=256, mixtures=20)
    params = head(h)                              # h (B, T, H) -> MixtureParams, each field (B, T, ...)
    log_p = mixture_log_likelihood(params, target)   # target (B, T, 3) = (dx, dy, pen_up) -> (B, T) nats
    point = sample_point(params_at_one_step, bias=1.0)  # (B, 3)

The network's 6M + 1 outputs per step are: M mixture logits, 2M means, 2M log standard deviations, M
correlations (tanh) and one pen-up logit. The density of an offset x is
    p(x) = sum_j pi_j N(x | mu_j, sigma_j, rho_j) * Bernoulli(pen | e),
and its log is computed stably: log pi_j by log_softmax, log N in closed form from the log sigmas (never
exp then log), the sum over j by logsumexp, and the pen term as a BCE with logits.

Graves' bias b >= 0 (§5.4) for sampling: sigma_j = exp(log sigma_j - b) and pi_j = softmax((1 + b) * logits),
so b = 0 samples the model as trained and a larger b writes more neatly (the most probable strokes).
Continuous sampling lives here, not in `rnnlab.nn.decoding` (that one samples tokens).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["MixtureDensityHead", "MixtureParams", "mixture_log_likelihood", "sample_point"]

LOG_2PI = math.log(2 * math.pi)
RHO_LIMIT = 1 - 1e-4  # |rho| < 1 keeps 1 - rho^2 > 0 (a flat ellipse is a degenerate density)


@dataclass
class MixtureParams:
    """The mixture's parameters for every step; shapes (..., M) and (..., M, 2), pen_logit (...)."""

    logits: torch.Tensor  # (..., M) mixture weights before softmax
    mu: torch.Tensor  # (..., M, 2)
    log_sigma: torch.Tensor  # (..., M, 2)
    rho: torch.Tensor  # (..., M) in (-1, 1)
    pen_logit: torch.Tensor  # (...) logit of the pen lifting after this point

    def step(self, t: int) -> MixtureParams:
        """The parameters of step t of (B, T, ...) tensors."""
        return MixtureParams(self.logits[:, t], self.mu[:, t], self.log_sigma[:, t], self.rho[:, t],
                             self.pen_logit[:, t])  # fmt: skip


class MixtureDensityHead(nn.Module):
    """Linear map (..., H) -> MixtureParams of `mixtures` bivariate Gaussians (M = 1: a single Gaussian)."""

    def __init__(self, hidden_size: int, mixtures: int) -> None:
        super().__init__()
        self.mixtures = mixtures
        self.linear = nn.Linear(hidden_size, 6 * mixtures + 1)

    def forward(self, hidden: torch.Tensor) -> MixtureParams:
        m = self.mixtures
        out = self.linear(hidden)
        logits, mu, log_sigma, rho, pen = torch.split(out, [m, 2 * m, 2 * m, m, 1], dim=-1)
        shape = (*hidden.shape[:-1], m, 2)
        return MixtureParams(logits, mu.reshape(shape), log_sigma.reshape(shape).clamp(-10.0, 10.0),
                             torch.tanh(rho) * RHO_LIMIT, pen.squeeze(-1))  # fmt: skip


def gaussian_log_density(params: MixtureParams, xy: torch.Tensor) -> torch.Tensor:
    """log N(xy | mu_j, sigma_j, rho_j) for each component: xy (..., 2) -> (..., M), in closed form."""
    z = (xy.unsqueeze(-2) - params.mu) * torch.exp(-params.log_sigma)  # (..., M, 2) standardised
    one_minus = 1 - params.rho**2
    quadratic = (z[..., 0] ** 2 + z[..., 1] ** 2 - 2 * params.rho * z[..., 0] * z[..., 1]) / one_minus
    return -LOG_2PI - params.log_sigma.sum(-1) - 0.5 * torch.log(one_minus) - 0.5 * quadratic


def mixture_log_likelihood(params: MixtureParams, target: torch.Tensor) -> torch.Tensor:
    """log p(target) per step in nats: target (..., 3) = (dx, dy, pen_up) -> (...)."""
    log_pi = F.log_softmax(params.logits, dim=-1)
    offsets = torch.logsumexp(log_pi + gaussian_log_density(params, target[..., :2]), dim=-1)
    pen = -F.binary_cross_entropy_with_logits(params.pen_logit, target[..., 2], reduction="none")
    return offsets + pen


@torch.no_grad()
def sample_point(params: MixtureParams, bias: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """One offset per row of one step's parameters ((B, M) ...): (B, 3) = (dx, dy, pen_up in {0, 1})."""
    weights = F.softmax(params.logits * (1 + bias), dim=-1)
    j = torch.multinomial(weights, 1, generator=generator).squeeze(-1)  # (B,)
    rows = torch.arange(len(j), device=j.device)
    mu, sigma, rho = params.mu[rows, j], torch.exp(params.log_sigma[rows, j] - bias), params.rho[rows, j]
    e = torch.randn(len(j), 2, generator=generator, device=mu.device)
    dx = mu[:, 0] + sigma[:, 0] * e[:, 0]
    dy = mu[:, 1] + sigma[:, 1] * (rho * e[:, 0] + torch.sqrt(1 - rho**2) * e[:, 1])
    pen = (torch.rand(len(j), generator=generator, device=mu.device) < torch.sigmoid(params.pen_logit)).float()
    return torch.stack([dx, dy, pen], dim=-1)
