"""The FastAPI application: one route family for every verb of every served model, nothing per task.

    GET  /                         the playground (static files of this package)
    GET  /health                   {"status": "ok", "models": N, "batches": merged runs and their requests}
    GET  /models                   every model: name, task, config summary, verbs with their option schema
    POST /models/{name}/{verb}     {"inputs": [...], "options": {...}, "stream": false}
    GET  /docs                     the OpenAPI page (a route per model and verb, its options as the schema)

The routes are made from the registered verbs (`rnnlab.verbs.Verb`): a new task's verbs are served the
moment it is registered. Request checks: `rnnlab.serve.requests`; running (slots, threads, timeouts):
`rnnlab.serve.runner`; batching: `rnnlab.serve.batching`; the JSON and event-stream bodies:
`rnnlab.serve.responses`. Every refusal is a 4xx (5xx for busy/timeout) with a one-line `detail`.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from rnnlab.errors import UserError
from rnnlab.serve.batching import Batcher, can_batch
from rnnlab.serve.config import ServeConfig
from rnnlab.serve.models import ServedModel
from rnnlab.serve.requests import RequestError, check_request, parse_body, served_fields
from rnnlab.serve.responses import collected, event_stream, json_body
from rnnlab.serve.runner import ModelRunner, deadline_after
from rnnlab.verbs import Verb

log = logging.getLogger("rnnlab.serve")

#: Paths served without the bearer token: the playground's static files (they hold no model or data; the
#: page asks for the token and sends it with every API call).
PUBLIC_PATHS = ("/", "/favicon.ico")
PUBLIC_PREFIXES = ("/static/",)


def static_dir() -> str:
    return str(resources.files("rnnlab.serve") / "static")


def create_app(models: dict[str, ServedModel], config: ServeConfig | None = None) -> FastAPI:
    """The server of `models` (loaded already: `rnnlab.serve.models.load_models`) under `config`."""
    config = config or ServeConfig()
    limits = config.limits
    executor = ThreadPoolExecutor(max_workers=limits.max_concurrent * max(1, len(models)) + 2,
                                  thread_name_prefix="rnnlab-verb")  # fmt: skip
    runners = {name: ModelRunner(served, limits, executor) for name, served in models.items()}
    batchers = {name: Batcher(runner, config.batch_window_ms / 1000, config.max_batch_inputs)
                for name, runner in runners.items()} if config.batching else {}  # fmt: skip

    # The worker threads live as long as the process: a lifespan ending (a TestClient closed) must not stop
    # a server still running on the same app; at shutdown, closed streams stop their workers at the next item.
    app = FastAPI(title="rnnlab",
                  description="Every verb of every served model: `POST /models/{name}/{verb}` with "
                              '`{"inputs": [...], "options": {...}}`; see docs/serving.md.')  # fmt: skip
    app.state.models, app.state.runners, app.state.batchers, app.state.config = models, runners, batchers, config

    @app.middleware("http")
    async def guard(request: Request, call_next):
        """The bearer token (when set) and the declared body size, before any route reads the body."""
        path = request.url.path
        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        if config.token is not None and not public and not _authorised(request, config.token):
            return JSONResponse({"detail": "missing or wrong bearer token (send `Authorization: Bearer TOKEN`)"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limits.max_body_bytes:
            return JSONResponse({"detail": f"request body of {declared} bytes; at most {limits.max_body_bytes} "
                                           "are accepted"}, status_code=413)  # fmt: skip
        return await call_next(request)

    @app.exception_handler(RequestError)
    async def refused(request: Request, error: RequestError) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status)

    @app.exception_handler(UserError)
    async def refused_by_verb(request: Request, error: UserError) -> JSONResponse:
        status, detail = answer(error)
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> JSONResponse:
        status, detail = answer(error)
        return JSONResponse({"detail": detail}, status_code=status)

    @app.get("/", include_in_schema=False)
    async def playground() -> FileResponse:
        return FileResponse(f"{static_dir()}/index.html", media_type="text/html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    app.mount("/static", StaticFiles(directory=static_dir()), name="static")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": len(models),
                "batches": {name: {"runs": b.runs, "requests": b.requests} for name, b in batchers.items()}}  # fmt: skip

    @app.get("/models")
    async def list_models() -> dict[str, Any]:
        return {"models": [describe_model(served) for served in models.values()]}

    async def call(name: str, verb_name: str, request: Request) -> Response:
        served = models.get(name)
        if served is None:
            raise RequestError(404, f"unknown model {name!r}; this server has: {', '.join(models) or '(none)'}")
        verb = served.verbs.get(verb_name)
        if verb is None:
            raise RequestError(404, f"model {name!r} (task {served.task.name}) has no verb {verb_name!r}; it "
                                    f"offers: {', '.join(served.verbs)}")  # fmt: skip
        body = parse_body(await read_body(request, limits.max_body_bytes), limits)
        checked = check_request(verb, body, limits)
        deadline = deadline_after(limits.timeout_s)
        runner = runners[name]
        if checked.stream or "text/event-stream" in request.headers.get("accept", ""):
            items = runner.stream(verb, checked.inputs, checked.options, deadline)
            try:
                first = await items.__anext__()  # a mistake found before any output is a plain 4xx
            except StopAsyncIteration:
                first = None
            except Exception as error:  # noqa: BLE001 - answered with its status
                status, detail = answer(error)
                return JSONResponse({"detail": detail}, status_code=status)
            return StreamingResponse(event_stream(first, items, answer), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip
        options = checked.options
        if "stream" not in checked.given and any(f.name == "stream" and f.kind == "bool" for f in verb.fields):
            options = dataclasses.replace(options, stream=False)  # nobody reads the pieces: skip making them
        batcher = batchers.get(name)
        if batcher is not None:
            outputs = await batcher.collect(verb, checked.inputs, options, deadline)
        else:
            outputs = await runner.collect(verb, checked.inputs, options, deadline)
        return Response(json_body(collected(name, verb_name, outputs)), media_type="application/json")

    for served in models.values():  # one documented route per model and verb (for /docs) ...
        for verb in served.task.verbs:
            app.add_api_route(f"/models/{served.name}/{verb.name}", _route(call, served.name, verb.name),
                              methods=["POST"], summary=f"{served.name}: {verb.help}", tags=[served.name],
                              openapi_extra={"requestBody": {"required": True, "content": {
                                  "application/json": {"schema": request_schema(verb)}}}})  # fmt: skip

    @app.post("/models/{name}/{verb}", include_in_schema=False)  # ... and the rest: a clear 404
    async def any_verb(name: str, verb: str, request: Request) -> Response:
        return await call(name, verb, request)

    return app


def _route(call, name: str, verb: str):
    async def route(request: Request) -> Response:
        return await call(name, verb, request)

    return route


def _authorised(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def answer(error: BaseException) -> tuple[int, str]:
    """The status and one-line detail of an error raised while serving a request."""
    if isinstance(error, RequestError):
        return error.status, error.detail
    if isinstance(error, UserError):  # the verb refused these inputs or options (the CLI's exit 2)
        return 422, " ".join(str(error).split()) or type(error).__name__
    log.error("internal error", exc_info=error)
    return 500, f"internal error ({type(error).__name__}); the server log has the details"


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read at most `limit` bytes far (a body without Content-Length included)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"request body larger than {limit} bytes; at most {limit} are accepted")
        chunks.append(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------------------------------------ descriptions
def describe_model(served: ServedModel) -> dict[str, Any]:
    return {"name": served.name, "task": served.task.name, "summary": served.task.summary,
            "config": served.summary,
            "verbs": {verb.name: describe_verb(verb) for verb in served.task.verbs}}  # fmt: skip


def describe_verb(verb: Verb) -> dict[str, Any]:
    return {"help": verb.help, "description": verb.description, "inputs": verb.inputs, "what": verb.what,
            "artifacts": verb.artifacts, "batched": can_batch(verb),
            "options": [field.to_json() for field in served_fields(verb)]}  # fmt: skip


_JSON_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}


def request_schema(verb: Verb) -> dict[str, Any]:
    """The JSON schema of a request body to this verb, from its options dataclass (for /docs)."""
    properties = {}
    for field in served_fields(verb):
        if field.kind == "list":
            schema: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
        else:
            schema = {"type": _JSON_TYPES[field.kind]}
        if field.choices:
            schema["enum"] = list(field.choices)
        if field.default is None:
            schema = {"anyOf": [schema, {"type": "null"}]}
        else:
            schema["default"] = field.default
        properties[field.name] = {**schema, "description": field.help}
    inputs: dict[str, Any] = {
        "text": {"type": "array", "items": {"type": "string"}, "description": verb.what},
        "files": {"type": "array", "description": f"{verb.what}: base64, or objects",
                  "items": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {
                      "name": {"type": "string"}, "data": {"type": "string", "description": "base64"}}}]}},
        "none": {"type": "array", "maxItems": 0, "description": "none: this verb takes options only"},
    }[verb.inputs]  # fmt: skip
    return {"type": "object", "additionalProperties": False, "properties": {
        "inputs": inputs, "options": {"type": "object", "additionalProperties": False, "properties": properties},
        "stream": {"type": "boolean", "default": False, "description": "answer as server-sent events"}}}
