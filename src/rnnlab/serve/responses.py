"""What a verb yields, as HTTP: one JSON response, or a stream of server-sent events.

Results are the same JSON objects `rnnlab VERB --json` prints (strict: NaN and infinities become null).
Artifacts come base64-encoded with their media type: `{"name", "media_type", "data"}`.

A streamed response (`"stream": true` in the body, or `Accept: text/event-stream`) is `text/event-stream`:

    event: delta      data: {"text": "白日"}             a piece of text, as soon as it is made
    event: result     data: {"sample": 1, "text": ...}   one result (the same JSON as above)
    event: artifact   data: {"name": ..., "media_type": ..., "data": ...}
    event: error      data: {"status": 504, "detail": ...}   the run failed after the stream began
    event: done       data: {}
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from rnnlab.commands.output import strict
from rnnlab.verbs import Artifact, TextDelta


def artifact_json(artifact: Artifact) -> dict[str, str]:
    return {"name": artifact.name, "media_type": artifact.media_type,
            "data": base64.b64encode(artifact.data).decode("ascii")}  # fmt: skip


def collected(model: str, verb: str, outputs: list) -> dict[str, Any]:
    """The body of a plain (not streamed) response."""
    return {"model": model, "verb": verb,
            "results": [strict(item) for item in outputs if isinstance(item, dict)],
            "artifacts": [artifact_json(item) for item in outputs if isinstance(item, Artifact)]}  # fmt: skip


def json_body(content: Any) -> bytes:
    """Strict JSON, UTF-8, as `rnnlab VERB --json` writes it (a value JSON lacks, e.g. a numpy scalar: str)."""
    return json.dumps(strict(content), ensure_ascii=False, allow_nan=False, default=str).encode("utf-8")


def event(kind: str, data: Any) -> str:
    """One server-sent event (a JSON payload on one data line)."""
    return f"event: {kind}\ndata: {json.dumps(strict(data), ensure_ascii=False, allow_nan=False, default=str)}\n\n"


def event_of(item: Any) -> str:
    if isinstance(item, TextDelta):
        return event("delta", {"text": item.text})
    if isinstance(item, Artifact):
        return event("artifact", artifact_json(item))
    return event("result", item)


async def event_stream(first: Any, rest: AsyncIterator[Any], on_error) -> AsyncIterator[str]:
    """The events of a run whose first item is already here; `on_error(exc) -> (status, detail)`."""
    try:
        if first is not None:
            yield event_of(first)
        async for item in rest:
            yield event_of(item)
    except Exception as error:  # noqa: BLE001 - the status line is sent: report it in the stream
        status, detail = on_error(error)
        yield event("error", {"status": status, "detail": detail})
    yield event("done", {})
