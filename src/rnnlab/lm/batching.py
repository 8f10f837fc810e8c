"""Batches for language-model training with truncated back-propagation through time.

The token stream is cut into N parallel streams (`batchify`), and training walks down them in windows of
`bptt` steps (`BPTTWindows`), carrying the hidden state from one window to the next (detached), so every
token is predicted with the whole history since the start of its stream but gradients flow back at most
`bptt` steps. This is the recipe of Zaremba et al. (2014) and pytorch/examples' word_language_model.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor


def batchify(ids: Tensor, batch_size: int) -> Tensor:
    """Cut a 1-D stream of token ids into `batch_size` equal streams: returns (T, N), dropping the remainder.

    Stream n is ids[n*T : (n+1)*T]; column n of the result.
    """
    if ids.dim() != 1:
        raise ValueError(f"batchify expects a 1-D tensor of token ids, got shape {tuple(ids.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    steps = ids.numel() // batch_size
    if steps < 2:
        raise ValueError(
            f"{ids.numel()} tokens are too few for {batch_size} streams (need at least {2 * batch_size})"
        )
    return ids[: steps * batch_size].view(batch_size, steps).t().contiguous()


class BPTTWindows(Sequence):
    """Consecutive windows of a (T, N) stream matrix: item i is (inputs (l, N), targets (l, N)), l <= bptt.

    The targets are the inputs shifted by one step; windows tile the stream without overlap.
    """

    def __init__(self, streams: Tensor, bptt: int) -> None:
        if bptt < 1:
            raise ValueError(f"bptt must be >= 1, got {bptt}")
        self.streams = streams
        self.bptt = bptt
        self._starts = list(range(0, streams.shape[0] - 1, bptt))

    def __len__(self) -> int:
        return len(self._starts)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        start = self._starts[index]
        length = min(self.bptt, self.streams.shape[0] - 1 - start)
        return self.streams[start : start + length], self.streams[start + 1 : start + 1 + length]
