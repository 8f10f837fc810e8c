"""Handwriting networks (Graves 2013): a stacked LSTM with a mixture density output, unconditional (§4) or
conditioned on a text through a soft window over its characters (§5).

    net = HandwritingNet(HandwritingNetConfig(conditional=True), alphabet_size=60)
    params, end_logit, phi = net(inputs, text, text_mask)   # inputs (B, T, 3) stroke-3, shifted by one
    points, phi = net.write(text, max_points=600, bias=1.0) # sampling, one sequence per row of text

The window (§5.1): at step t the first LSTM layer's output h1_t gives K triples
    alpha_t = exp(a_t), beta_t = exp(b_t), kappa_t = kappa_{t-1} + exp(k_t)
so the centres kappa only move forward (with `window_max_spread` they also stay within that many characters
of each other). The weight of character u is phi(t, u) = sum_k alpha_k exp(-beta_k
(kappa_k - u)^2), and the window w_t = sum_u phi(t, u) c_u (c_u: the character's embedding) is fed to the
first layer at the next step and to the layers above and the output at this step. Chinese is written by
conditioning on the character (a text of one character).

Besides the mixture (rnnlab.nn.mdn), the output has one more logit: that the writing ends after this point,
trained next to the mixture (not part of the NLL); sampling stops at a pen-up point where it fires, when
the window has passed the last character (Graves' rule: phi(t, U) > phi(t, u) for every u < U), or at
`max_points`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rnnlab.config import MAX_LAYERS, require, require_fractions, require_sizes
from rnnlab.nn.mdn import MixtureDensityHead, MixtureParams, sample_point

__all__ = ["HandwritingNet", "HandwritingNetConfig", "SelfFeed", "backward_window_shift", "soft_window"]


@dataclass
class HandwritingNetConfig:
    hidden_size: int = 256
    num_layers: int = 2
    mixtures: int = 20  # M bivariate Gaussians (1: the single-Gaussian baseline)
    conditional: bool = True  # a soft window over the text (synthesis); false: unconditional writing
    window_mixtures: int = 10  # K Gaussians of the window
    # phi normalised over the characters (a softmax of its logarithm), so the window always reads one unit of
    # text: Graves' window can be switched off (all alpha near 0), and then its argmax wanders over near-zeros
    normalized_window: bool = False
    # alpha_k = g * softmax(a)_k: one gate g in (0, 1) says how much the window reads, the mixture weights (which
    # sum to 1) say where. Graves' alphas are free, so a turned-down window's argmax is over whichever
    # near-zero component is left; the gate turns the window down without changing its shape
    gated_window: bool = False
    # the centres stay within this many characters of each other: a centre more than that ahead of the slowest
    # one stops until the slowest catches up (null: Graves' free centres). A centre that stopped early can
    # otherwise keep mixture weight and read a character long written, and when the others fall between
    # characters it wins the argmax. (Pulling the slow ones up to the fastest instead was tried: the fastest
    # drags the window past the text before it learns to align; docs/handwriting.md, "Window".)
    window_max_spread: float | None = None
    # where the centres start, in character positions: 0 on the first character; -1 one position before it, as
    # in Graves' paper (characters numbered from 1, kappa_0 = 0). Tried against the tied window's backward
    # steps at a line's start: it did not remove them (docs/handwriting.md, "Window")
    window_start: float = 0.0
    char_embedding: int = 32  # size of each character's vector c_u
    dropout: float = 0.0  # between stacked layers
    # also feed the pen's position (the running sum of the offsets so far) at every step: the net then sees
    # where the pen is, instead of having to add up ~100 offsets itself to know where the next stroke starts
    position_input: bool = False

    def __post_init__(self) -> None:
        require_sizes(self, "hidden_size mixtures window_mixtures char_embedding")
        require_sizes(self, "num_layers", high=MAX_LAYERS)
        require_fractions(self, "dropout")
        require(self.mixtures <= 1000, "mixtures", "an integer from 1 to 1000", self.mixtures)
        spread = self.window_max_spread
        require(spread is None or 0 <= spread <= 1000, "window_max_spread", "null or a number of characters from 0 to 1000",
                spread)  # fmt: skip
        require(-10 <= self.window_start <= 0, "window_start", "a number of characters from -10 to 0 (0: on the first)",
                self.window_start)  # fmt: skip
        require(not (self.gated_window and self.normalized_window), "gated_window",
                "false when normalized_window is true (normalising divides the gate out)", self.gated_window)  # fmt: skip


@dataclass
class SelfFeed:
    """Scheduled sampling (Bengio et al. 2015), how `forward` runs it: at each step after the first, with
    probability `share` per sequence, the net is fed the offset (dx, dy) it sampled itself (Graves' bias `bias`)
    at the step before instead of the real one, and a net with `position_input` the position that leaves the
    pen at. The pen bit fed stays the real one, so the strokes stay aligned with the targets, which stay the
    real points (re-aiming them at the real writing from the drifted pen was tried: docs/handwriting.md)."""

    share: float
    bias: float = 1.0


def soft_window(alpha: torch.Tensor, beta: torch.Tensor, kappa: torch.Tensor, positions: int,
                text_mask: torch.Tensor | None = None, normalized: bool = False) -> torch.Tensor:  # fmt: skip
    """phi (B, U): the window weights over character positions 0..U-1 for (B, K) alpha, beta, kappa;
    positions at or past a row's text length (text_mask False) get 0. normalized: each row divided by its
    sum, computed from log phi so that it never underflows (a row sums to 1 even far from every centre)."""
    u = torch.arange(positions, device=alpha.device, dtype=alpha.dtype)
    if normalized:
        log_alpha = alpha.clamp_min(torch.finfo(alpha.dtype).tiny).log()
        log_phi = torch.logsumexp(log_alpha.unsqueeze(-1) - beta.unsqueeze(-1) * (kappa.unsqueeze(-1) - u) ** 2, 1)
        if text_mask is not None:
            log_phi = log_phi.masked_fill(text_mask == 0, float("-inf"))
        return torch.softmax(log_phi, dim=-1)
    phi = (alpha.unsqueeze(-1) * torch.exp(-beta.unsqueeze(-1) * (kappa.unsqueeze(-1) - u) ** 2)).sum(1)
    return phi if text_mask is None else phi * text_mask


def backward_window_shift(phi: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
    """(B,): how far back, in characters, each row's window moved over its steps, summed. phi (B, T, U) is
    normalised over the characters to p_t (its shape, whatever its size: a window turned down to 1% of its
    peak counts as much as a reading one); between consecutive steps the backward part of the 1-D earth
    mover's distance from p_{t-1} to p_t is sum_u max(0, F_t(u) - F_{t-1}(u)), F the cumulative sums over u.
    It is 0 when every step's window lies at or ahead of the step before's (stochastic dominance), which a
    window reading character after character does. Steps past a row's end (step_mask (B, T) 0) and steps whose
    weights all underflow (sum < 1e-20: there is no shape to compare) do not count.

    A training penalty in the spirit of guided attention (Tachibana et al. 2018), which keeps a TTS
    attention near the diagonal: here it only asks the window not to go back."""
    total = phi.sum(-1)
    alive = (total > 1e-20) & step_mask.bool()
    cdf = (phi / total.clamp_min(1e-20).unsqueeze(-1)).cumsum(-1)
    back = torch.relu(cdf[:, 1:] - cdf[:, :-1]).sum(-1)  # (B, T - 1)
    return (back * (alive[:, 1:] & alive[:, :-1])).sum(1)


class HandwritingNet(nn.Module):
    def __init__(self, config: HandwritingNetConfig, alphabet_size: int = 1) -> None:
        super().__init__()
        self.config = config
        h, e = config.hidden_size, config.char_embedding if config.conditional else 0
        self.window_size = e
        point = 5 if config.position_input else 3  # (dx, dy, pen) [+ (x, y)]
        if config.position_input:
            # offset mean / std per axis (normalised offset + drift = raw offset / std) and the scale that makes
            # positions about unit-sized; set from the training data by `set_position_frame`, saved with the net
            self.register_buffer("position_frame", torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
        if config.conditional:
            self.embed = nn.Embedding(alphabet_size, e)
            self.first = nn.LSTMCell(point + e, h)
            k = config.window_mixtures
            self.window = nn.Linear(h, 3 * k + (1 if config.gated_window else 0))
            with torch.no_grad():  # start with small forward steps of the centres (about 0.05 character)
                self.window.bias[2 * k : 3 * k].fill_(-3.0)
            upper_input = point + h + e
            self.upper = nn.LSTM(upper_input, h, config.num_layers - 1, batch_first=True,
                                 dropout=config.dropout if config.num_layers > 2 else 0.0) if config.num_layers > 1 else None  # fmt: skip
        else:
            self.lstm = nn.LSTM(point, h, config.num_layers, batch_first=True,
                                dropout=config.dropout if config.num_layers > 1 else 0.0)  # fmt: skip
        self.head = MixtureDensityHead(h + e, config.mixtures)
        self.end = nn.Linear(h + e, 1)

    # ------------------------------------------------------------------------------------- pen position
    def set_position_frame(self, offset_mean: tuple[float, float], offset_std: tuple[float, float],
                           position_std: tuple[float, float]) -> None:  # fmt: skip
        """The data's offset mean and std per axis (raw units) and the std of the pen's positions in units of
        offset std: positions are fed divided by it (about unit-sized)."""
        drift = [m / s for m, s in zip(offset_mean, offset_std)]
        self.position_frame.copy_(torch.tensor([drift, [1.0 / max(p, 1e-6) for p in position_std]]))

    def pen_positions(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, T, 2): the pen's position after each step's input point, in offset stds over the position
        scale: the running sum of the de-normalised offsets, the (0, 0, 1) start at t = 0 counting as none."""
        steps = inputs[..., :2] + self.position_frame[0]
        steps = torch.cat([torch.zeros_like(steps[:, :1]), steps[:, 1:]], dim=1)
        return steps.cumsum(1) * self.position_frame[1]

    def _with_positions(self, inputs: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
        if not self.config.position_input:
            return inputs
        return torch.cat([inputs, self.pen_positions(inputs) if positions is None else positions], dim=-1)

    # -------------------------------------------------------------------------------------- training pass
    def forward(self, inputs: torch.Tensor, text: torch.Tensor | None = None, text_mask: torch.Tensor | None = None,
                positions: torch.Tensor | None = None, self_feed: SelfFeed | None = None):  # fmt: skip
        """inputs (B, T, 3): the previous point of each step (a (0, 0, 1) start first); text (B, U) ids with
        text_mask (B, U) for a conditional net; positions (B, T, 2) for a net with `position_input` (default:
        `pen_positions(inputs)`). Returns (MixtureParams of (B, T, ...), end logits (B, T), phi (B, T, U) or
        None). With `self_feed`, some inputs are the net's own samples (scheduled sampling, see `SelfFeed`)."""
        if self_feed is not None:
            return self._self_fed(inputs, text, text_mask, self_feed)
        inputs = self._with_positions(inputs, positions)
        if not self.config.conditional:
            out, _ = self.lstm(inputs)
            return self.head(out), self.end(out).squeeze(-1), None
        h1, window, phi = self._first_layer(inputs, text, text_mask.float())
        out = h1
        if self.upper is not None:
            out, _ = self.upper(torch.cat([inputs, h1, window], dim=-1))
        top = torch.cat([out, window], dim=-1)
        return self.head(top), self.end(top).squeeze(-1), phi

    def _first_layer(self, inputs, text, mask, state=None):
        """The first LSTM layer and the window, one step at a time: (h1 (B, T, H), w (B, T, E), phi (B, T, U))."""
        b = inputs.shape[0]
        chars = self.embed(text) * mask.unsqueeze(-1)  # (B, U, E)
        if state is None:
            state = self.initial_state(b, inputs.device)
        h, c, kappa, window = state
        hs, ws, phis = [], [], []
        for t in range(inputs.shape[1]):
            h, c = self.first(torch.cat([inputs[:, t], window], dim=-1), (h, c))
            a, beta, k = self.window_params(h)
            kappa = self.advance(kappa, k)
            phi = soft_window(a, beta, kappa, text.shape[1], mask, self.config.normalized_window)
            window = torch.bmm(phi.unsqueeze(1), chars).squeeze(1)
            hs.append(h), ws.append(window), phis.append(phi)
        self._last_state = (h, c, kappa, window)
        return torch.stack(hs, 1), torch.stack(ws, 1), torch.stack(phis, 1)

    def window_params(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(alpha, beta, kappa step), each (B, K), from the first layer's output h (B, H)."""
        k = self.config.window_mixtures
        raw = self.window(h)
        beta, step = torch.exp(raw[:, k : 3 * k].clamp(max=10.0)).chunk(2, dim=-1)
        if self.config.gated_window:
            alpha = torch.sigmoid(raw[:, 3 * k :]) * torch.softmax(raw[:, :k], dim=-1)
        else:
            alpha = torch.exp(raw[:, :k].clamp(max=10.0))
        return alpha, beta, step

    def advance(self, kappa: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """The centres (B, K) after one step (B, K) forward. With `window_max_spread` L, a centre may not go past
        the slowest one's new place + L (it stays where it was if it is already there): the centres only move
        forward and, starting together at `window_start`, stay within L of each other."""
        moved = kappa + step
        if self.config.window_max_spread is None:
            return moved
        ceiling = moved.min(dim=-1, keepdim=True).values + self.config.window_max_spread
        return torch.maximum(kappa, torch.minimum(moved, ceiling))

    def initial_state(self, batch: int, device) -> tuple:
        h = torch.zeros(batch, self.config.hidden_size, device=device)
        kappa = torch.full((batch, self.config.window_mixtures), float(self.config.window_start), device=device)
        return h, h.clone(), kappa, torch.zeros(batch, self.window_size, device=device)

    # ------------------------------------------------------------------------------------ one step at a time
    def start_state(self, rows: int, device) -> tuple:
        """The recurrent state before the first point, for `step`."""
        return (self.initial_state(rows, device) if self.config.conditional else None), None

    def step(self, x: torch.Tensor, text: torch.Tensor | None, mask: torch.Tensor | None, state: tuple):
        """One point: x (B, 1, 3 or 5) with its position when the net has `position_input`; mask (B, U) float.
        Returns (top (B, H + E): what the mixture head and the end logit read, the next state, phi (B, U) or
        None)."""
        first_state, upper_state = state
        if not self.config.conditional:
            out, upper_state = self.lstm(x, upper_state)
            return out[:, 0], (None, upper_state), None
        h1, window, phi = self._first_layer(x, text, mask, first_state)
        first_state = self._last_state
        out = h1
        if self.upper is not None:
            out, upper_state = self.upper(torch.cat([x, h1, window], dim=-1), upper_state)
        return torch.cat([out, window], dim=-1)[:, 0], (first_state, upper_state), phi[:, 0]

    def _as_read(self, point: torch.Tensor, position: torch.Tensor, first: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(x (B, 1, 3 or 5), position): point (B, 3) as the net reads it at one step, with, for a net with
        `position_input`, the pen's position after it (position (B, 2): raw offsets summed, in offset stds;
        the start point, first, moves nothing)."""
        if not self.config.position_input:
            return point.unsqueeze(1), position
        if not first:
            position = position + point[:, :2] + self.position_frame[0]
        return torch.cat([point, position * self.position_frame[1]], dim=-1).unsqueeze(1), position

    def _self_fed(self, inputs: torch.Tensor, text, text_mask, feed: SelfFeed):
        """The training pass of scheduled sampling, one step at a time (see `SelfFeed`): returns (params,
        end logits, phi or None) as `forward` does."""
        rows, steps = inputs.shape[:2]
        mask = text_mask.float() if text_mask is not None else None
        state = self.start_state(rows, inputs.device)
        position = torch.zeros(rows, 2, device=inputs.device)  # of the pen fed: raw offsets summed, in offset stds
        own = None
        tops, phis = [], []
        for t in range(steps):
            x = inputs[:, t]
            if t > 0:
                swap = torch.rand(rows, 1, device=x.device) < feed.share
                x = torch.cat([torch.where(swap, own[:, :2], x[:, :2]), x[:, 2:]], dim=-1)
            x, position = self._as_read(x, position, first=t == 0)
            top, state, phi = self.step(x, text, mask, state)
            with torch.no_grad():  # the point the net would write here; fed back, never differentiated
                own = sample_point(self.head(top), feed.bias)
            tops.append(top)
            if phi is not None:
                phis.append(phi)
        top = torch.stack(tops, 1)
        return self.head(top), self.end(top).squeeze(-1), (torch.stack(phis, 1) if phis else None)

    # ------------------------------------------------------------------------------------------- writing
    @torch.no_grad()
    def write(self, text: torch.Tensor | None = None, text_mask: torch.Tensor | None = None, batch: int = 1,
              max_points: int = 600, bias: float = 0.0, generator: torch.Generator | None = None,
              window_stop: bool = True):  # fmt: skip
        """Sample stroke-3 sequences in normalised units: (points list of (N_i, 3) tensors, phi list of
        (N_i, U) tensors or None). text (B, U) ids with text_mask for a conditional net. window_stop: also
        stop when the window has passed the text (off for a net trained on one character per text, whose
        window has nothing to move across)."""
        device = next(self.parameters()).device
        rows = text.shape[0] if text is not None else batch
        point = torch.tensor([[0.0, 0.0, 1.0]], device=device).repeat(rows, 1)
        position = torch.zeros(rows, 2, device=device)  # raw offsets summed, in offset stds
        state = self.start_state(rows, device)
        if self.config.conditional:
            lengths = text_mask.sum(1)
            mask = text_mask.float()
        points, phis = [], []
        done = torch.zeros(rows, dtype=torch.bool, device=device)
        finished_at = torch.full((rows,), max_points, device=device)
        for t in range(max_points):
            x, position = self._as_read(point, position, first=t == 0)
            top, state, phi = self.step(x, text, mask if self.config.conditional else None, state)
            if self.config.conditional:
                phis.append(phi)
                # Graves' end: the window weighs the position after the last character most
                h, _, kappa, _ = state[0]
                a, beta, _ = self.window_params(h)
                weights = soft_window(a, beta, kappa, text.shape[1] + 1)  # (B, U + 1): one position past the longest
                past = weights.gather(1, lengths.long().unsqueeze(1)).squeeze(1)  # the position after each row's text
                on_text = (weights[:, :-1] * mask).max(-1).values
                window_done = (past > on_text) & window_stop
            else:
                window_done = torch.zeros(rows, dtype=torch.bool, device=device)
            params: MixtureParams = self.head(top)
            point = sample_point(params, bias, generator)
            points.append(point)
            ends = (torch.sigmoid(self.end(top).squeeze(-1)) > 0.5) & (point[:, 2] > 0.5)
            newly = ~done & (ends | window_done)
            finished_at[newly] = t + 1
            done |= newly
            if bool(done.all()):
                break
        stacked = torch.stack(points, 1)  # (B, T, 3)
        out_points = [stacked[i, : int(finished_at[i])] for i in range(rows)]
        out_phi = None
        if phis:
            phi_all = torch.stack(phis, 1)
            out_phi = [phi_all[i, : int(finished_at[i]), : int(lengths[i])] for i in range(rows)]
        return out_points, out_phi
