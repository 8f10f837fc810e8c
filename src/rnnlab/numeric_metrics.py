"""Scores of predicted numbers against gold numbers: RMSE, MAE, R² and Pearson r.

Shared by every task that predicts a value (the regression task, and any later one), and by benchmarks that
score a peer's predictions the same way:

    metrics = regression_metrics(predicted, gold)     # {"rmse", "mae", "r2", "pearson", "examples"}
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["regression_metrics"]


def regression_metrics(predicted: Sequence[float], gold: Sequence[float]) -> dict[str, float]:
    """RMSE, MAE, R² and Pearson r of predictions against gold values (R² and r are NaN where undefined)."""
    p, g = torch.tensor(predicted, dtype=torch.float64), torch.tensor(gold, dtype=torch.float64)
    error = p - g
    variance = float(((g - g.mean()) ** 2).sum())
    pearson = float(torch.corrcoef(torch.stack([p, g]))[0, 1]) if len(g) > 1 else float("nan")
    return {"rmse": float(error.pow(2).mean().sqrt()), "mae": float(error.abs().mean()),
            "r2": 1 - float(error.pow(2).sum()) / variance if variance > 0 else float("nan"),
            "pearson": pearson, "examples": len(g)}  # fmt: skip
