"""Printing results: human-readable text, or `--json` (one JSON object per line, strict JSON)."""

from __future__ import annotations

import json
import math
import sys
from typing import Any


def strict(value: Any) -> Any:
    """`value` with NaN / infinities replaced by None, so every JSON reader accepts it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(item) for item in value]
    return value


def print_json(record: dict[str, Any]) -> None:
    """One JSON object on one line of stdout."""
    print(json.dumps(strict(record), ensure_ascii=False, allow_nan=False, default=str))
    sys.stdout.flush()


def add_json_flag(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object per line (errors stay on stderr)")
