"""Training records: the JSONL metrics log, loss-derived metrics (ppl / bpc), and the loss-curve PNG."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["MetricsLog", "derived_metrics", "plot_loss_curve", "read_metrics", "strict_json"]


def derived_metrics(loss: float, kind: str | None) -> dict[str, float]:
    """{"ppl": exp(loss)} or {"bpc": loss / ln 2} for a mean cross-entropy in nats; {} for kind None."""
    if kind == "ppl":
        return {"ppl": math.exp(min(loss, 700.0))}
    if kind == "bpc":
        return {"bpc": loss / math.log(2)}
    if kind is None:
        return {}
    raise ValueError(f"unknown loss_metric {kind!r}; expected 'ppl', 'bpc' or None")


def strict_json(value: Any) -> Any:
    """`value` with every non-finite float (NaN, inf) replaced by None, so `json.dumps(allow_nan=False)` works.

    metrics.jsonl is read by strict JSON parsers (browsers, jq, other languages), which reject Python's bare
    `NaN` / `Infinity`; a diverged loss is written as `null`.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All records of a metrics.jsonl file (a torn last line from a killed run is skipped)."""
    records = []
    path = Path(path)
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class MetricsLog:
    """Append-only metrics.jsonl: one JSON object per event ("train", "eval", ...), flushed per line."""

    def __init__(self, path: str | Path, *, resume_step: int | None = None) -> None:
        """Start a fresh log, or (resume_step given) keep only the records up to that step.

        Records after the checkpoint's step come from the part of the killed run that the resumed run
        redoes; dropping them keeps exactly one record per step.
        """
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records: list[dict[str, Any]] = []
        if resume_step is not None:
            self.records = [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step]
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            for record in self.records:
                handle.write(json.dumps(strict_json(record), allow_nan=False) + "\n")
        os.replace(tmp, self.path)
        self._handle = open(self.path, "a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        """Append one record; non-finite floats become null (strict JSON), in the file and in `records`."""
        record = strict_json(record)
        self.records.append(record)
        self._handle.write(json.dumps(record, allow_nan=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def plot_loss_curve(
    records: list[dict[str, Any]],
    path: str | Path,
    title: str = "loss",
    reference: tuple[float, str] | None = None,
):
    """Write a PNG of train loss (per log event) and validation loss (per eval) against the step.

    `reference` = (loss, label) adds a dashed horizontal line, e.g. an n-gram model's test loss.
    Returns the matplotlib Figure (already written to `path`).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def points(event: str) -> list[tuple[int, float]]:  # a null (non-finite) loss is left out
        return [(r["step"], r["loss"]) for r in records if r.get("event") == event and r.get("loss") is not None]

    train, valid = points("train"), points("eval")
    figure = Figure(figsize=(7, 4.2), dpi=100)
    figure.subplots_adjust(left=0.1, right=0.97, bottom=0.12, top=0.92)  # fixed margins: no extra layout pass
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    if train:
        axes.plot(*zip(*train), label="train", linewidth=1.0, alpha=0.8)
    if valid:
        axes.plot(*zip(*valid), label="validation", marker="o", linewidth=1.5)
    if reference is not None:
        value, label = reference
        if not math.isfinite(value):
            raise ValueError(f"reference loss must be finite, got {value}")
        axes.axhline(value, color="grey", linestyle="--", linewidth=1.2, label=label)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    if train or valid or reference is not None:
        axes.legend()
    import io

    from rnnlab.files import write_bytes_atomically

    buffer = io.BytesIO()  # drawn in memory, then written atomically: no half-written (or stray .tmp) file
    figure.savefig(buffer, format="png")
    write_bytes_atomically(path, buffer.getvalue())
    return figure
