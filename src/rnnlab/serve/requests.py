"""A request body, checked: `{"inputs": [...], "options": {...}, "stream": false}` -> what `Verb.run` takes.

The options go through the same `rnnlab.verbs.make_options` as the command line, so a mistake reads the
same (`--top-k must be an integer >= 1, got 0`). Inputs follow the verb's declared kind:

* `"text"`: a list of strings (sentences, trees, SMILES), each non-empty and at most `max_input_chars`;
* `"files"`: a list of uploads, each `{"name": "cat.png", "data": "<base64>"}` (or the base64 string alone),
  written to a private temporary directory for the verb to read and removed after the request;
* `"none"`: no inputs (`generate`).

Options that name a file on the server (`--output`, `--lm`, `--reverse`: a field with `metadata={"path":
True}`, or one of `PATH_OPTIONS`) are not offered over HTTP: no request reads or writes a file it names.
Every failure is a `RequestError` with an HTTP status and a one-line `detail`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from rnnlab.serve.config import Limits
from rnnlab.verbs import OptionField, Verb

#: Options of shipped verbs that name a file or a model directory on the server; a verb marks a new one
#: with `field(..., metadata={"path": True})`.
PATH_OPTIONS = frozenset({"output", "lm", "reverse", "input", "out", "checkpoint"})

BODY_KEYS = ("inputs", "options", "stream")


class RequestError(Exception):
    """A request the server refuses: `status` (4xx/5xx) and a one-line `detail`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass
class Upload:
    """One uploaded file of a `"files"` verb: its name as the client gave it, and its bytes."""

    name: str
    data: bytes


@dataclass
class VerbRequest:
    inputs: list  # strings, or Uploads for a "files" verb
    options: Any  # the verb's options dataclass
    stream: bool
    given: frozenset[str] = frozenset()  # the option names the request set


def path_options(verb: Verb) -> set[str]:
    """The verb's options that name a file on the server (refused over HTTP, left out of the schema)."""
    marked = {item.name for item in dataclasses.fields(verb.options) if item.metadata.get("path")}
    return marked | {field.name for field in verb.fields if field.name in PATH_OPTIONS}


def served_fields(verb: Verb) -> list[OptionField]:
    hidden = path_options(verb)
    return [field for field in verb.fields if field.name not in hidden]


def parse_body(raw: bytes, limits: Limits) -> dict:
    """The JSON object of a body (400 when it is not UTF-8 JSON, 413 when too large)."""
    if len(raw) > limits.max_body_bytes:
        raise RequestError(413, f"request body of {len(raw)} bytes; at most {limits.max_body_bytes} are accepted")
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestError(400, f"request body is not UTF-8 (byte {error.start}: {raw[error.start:error.start + 1]!r})") from None
    try:
        body = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise RequestError(400, f"request body is not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise RequestError(400, "request body is not JSON: nested too deeply") from None
    if not isinstance(body, dict):
        raise RequestError(422, f'expected a JSON object {{"inputs": [...], "options": {{...}}}}, got {type(body).__name__}')
    unknown = sorted(set(body) - set(BODY_KEYS))
    if unknown:
        raise RequestError(422, f"unknown key(s) {', '.join(map(repr, unknown))} in the body; expected some of {', '.join(BODY_KEYS)}")
    return body


def _no_constant(name: str) -> None:
    raise RequestError(400, f"request body is not strict JSON: {name} is not a number JSON allows")


def check_request(verb: Verb, body: dict, limits: Limits) -> VerbRequest:
    """The verb's typed options and checked inputs, or a RequestError naming the mistake."""
    from rnnlab.errors import UserError
    from rnnlab.verbs import make_options

    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise RequestError(422, f'"stream": expected true or false, got {stream!r}')
    given = body.get("options")
    given = {} if given is None else given
    if not isinstance(given, dict):
        raise RequestError(422, f'"options": expected an object of option names to values, got {type(given).__name__}')
    refused = sorted(set(given) & path_options(verb))
    if refused:
        flags = ", ".join("--" + name.replace("_", "-") for name in refused)
        raise RequestError(422, f"{flags}: names a file on the server; not available over HTTP")
    _check_text(given, "options")
    for name, value in given.items():  # (a null where the option takes none: make_options refuses it)
        values = value if isinstance(value, list) else [value]
        if sum(len(item) for item in values if isinstance(item, str)) > limits.max_input_chars:
            raise RequestError(413, f'option {name!r}: longer than {limits.max_input_chars} characters')
    try:
        options = make_options(verb.options, given)
    except UserError as error:
        raise RequestError(422, _one_line(error)) from None
    _check_tokens(options, limits)
    inputs = _check_inputs(verb, body.get("inputs"), options, limits)
    return VerbRequest(inputs, options, stream, frozenset(given))


def _check_tokens(options: Any, limits: Limits) -> None:
    """num_samples x max_tokens (a generate request) within the server's `max_tokens`."""
    tokens = getattr(options, "max_tokens", None)
    if not isinstance(tokens, int):
        return
    total = tokens * max(1, getattr(options, "num_samples", 1) or 1)
    if total > limits.max_tokens:
        raise RequestError(422, f"this request asks for up to {total} tokens (num_samples x max_tokens); this "
                                f"server allows {limits.max_tokens} per request")  # fmt: skip


def _check_inputs(verb: Verb, inputs: Any, options: Any, limits: Limits) -> list:
    what = verb.what
    if inputs is None:
        inputs = []
    if not isinstance(inputs, list):
        raise RequestError(422, f'"inputs": expected a list of {what}, got {type(inputs).__name__}')
    if verb.inputs == "none":
        if inputs:
            raise RequestError(422, f'`{verb.name}` takes no "inputs" (give its options instead)')
        return []
    if len(inputs) > limits.max_inputs:
        raise RequestError(413, f"{len(inputs)} {what} in one request; this server takes at most {limits.max_inputs}")
    if not inputs and verb.requires_inputs(options):
        raise RequestError(422, f'expected {what} in "inputs" (a non-empty list)')
    if verb.inputs == "files":
        return [_upload(item, number) for number, item in enumerate(inputs, start=1)]
    for number, item in enumerate(inputs, start=1):
        if not isinstance(item, str):
            raise RequestError(422, f'"inputs" item {number}: expected a string, got {_kind(item)}')
        if len(item) > limits.max_input_chars:
            raise RequestError(413, f'"inputs" item {number}: {len(item)} characters; at most {limits.max_input_chars}')
        if not item.strip():
            raise RequestError(422, f'"inputs" item {number}: empty; expected at least one word')
    _check_text(inputs, "inputs")
    return list(inputs)


def _upload(item: Any, number: int) -> Upload:
    """`{"name": ..., "data": base64}` or a bare base64 string -> Upload (names are labels, never paths)."""
    name = f"input-{number}"
    if isinstance(item, dict):
        unknown = sorted(set(item) - {"name", "data"})
        if unknown or "data" not in item:
            raise RequestError(422, f'"inputs" item {number}: expected {{"name": ..., "data": "<base64>"}}')
        name, item = item.get("name") or name, item["data"]
        if not isinstance(name, str) or len(name) > 200:
            raise RequestError(422, f'"inputs" item {number}: "name" must be a string of at most 200 characters')
        _check_text([name], "inputs")
    if not isinstance(item, str):
        raise RequestError(422, f'"inputs" item {number}: expected base64 text, got {_kind(item)}')
    try:
        data = base64.b64decode(item.split(",", 1)[1] if item.startswith("data:") else item, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(422, f'"inputs" item {number}: not valid base64') from None
    if not data:
        raise RequestError(422, f'"inputs" item {number}: an empty file')
    return Upload(name, data)


def _check_text(value: Any, where: str) -> None:
    """Every string encodes as UTF-8 (JSON's \\udcff escapes make lone surrogates no model can read)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise RequestError(422, f'"{where}": a string holds a lone surrogate (\\ud800-\\udfff); expected text') from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            _check_text(item, where)
    elif isinstance(value, list):
        for item in value:
            _check_text(item, where)
    elif isinstance(value, float) and not math.isfinite(value):
        raise RequestError(422, f'"{where}": {value} is not a finite number')


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", type(None): "null"}.get(type(value), type(value).__name__)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
