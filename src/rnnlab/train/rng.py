"""Seeds and random-number-generator state: what makes a run reproducible and a resume exact.

One rule for seeds everywhere (`rnnlab.validation.check_seed`): an integer in [0, 2**63 - 1]. Every
generator takes that range as it is: python's `random` and numpy's `default_rng` any size, torch up to
2**64 - 1 (so `seed + offset` for derived streams still fits), and numpy's legacy global state, which
needs < 2**32, gets the seed modulo 2**32 (`set_seed`). Seed through `set_seed` (the global generators)
or `seeded_generator` (a torch.Generator of one's own).
"""

from __future__ import annotations

import random
import warnings
from typing import Any

import numpy as np
import torch

from rnnlab.validation import MAX_SEED, check_seed

__all__ = ["MAX_SEED", "get_rng_state", "seeded_generator", "set_rng_state", "set_seed"]


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (all devices); `seed` in [0, MAX_SEED], else ConfigError."""
    check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))  # the legacy global state takes 32 bits only
    torch.manual_seed(seed)


def seeded_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch.Generator on `device` seeded with `seed` (in [0, MAX_SEED], else ConfigError)."""
    return torch.Generator(device=device).manual_seed(check_seed(seed))


def get_rng_state() -> dict[str, Any]:
    """The state of every generator `set_seed` seeds (saved in last/ for an exact resume)."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `get_rng_state` returned (the CUDA part only on as many GPUs as it was saved from)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"].cpu())
    if torch.cuda.is_available() and "cuda" in state:
        cuda_states = [s.cpu() for s in state["cuda"]]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
        else:
            warnings.warn("resume: GPU count changed; CUDA RNG state not restored", stacklevel=2)
