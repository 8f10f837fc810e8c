"""Where and in what precision the Trainer runs: the device (`trainer.device`) and bf16 autocast (`trainer.precision`)."""

from __future__ import annotations

import contextlib
import warnings

import torch

from rnnlab.errors import ConfigError

__all__ = ["autocast", "resolve_device", "resolve_precision"]


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" -> cuda if available else cpu; "cuda" without a GPU raises ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device={name!r} but no CUDA GPU is available; use device=cpu or auto")
    return torch.device(name)


def resolve_precision(precision: str, device: torch.device, stacklevel: int = 2) -> str:
    """"fp32" or "bf16": bf16 autocast on CUDA only ("auto" = bf16 where the GPU supports it); on the CPU
    always fp32, with a warning (at `stacklevel`) when bf16 was asked for."""
    if device.type != "cuda":
        if precision == "bf16":
            warnings.warn("trainer.precision=bf16 needs CUDA; training in fp32 on CPU", stacklevel=stacklevel + 1)
        return "fp32"
    if precision == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return precision


def autocast(precision: str) -> contextlib.AbstractContextManager:
    """The autocast context of a resolved precision (a no-op for fp32)."""
    if precision == "bf16":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
