"""`rnnlab serve RUN [RUN ...]`: serve trained models over HTTP, with the playground page at `/`.

Everything is checked before the server starts, each mistake one line and exit 2: the settings (port,
host and token, limits), then every model path (a model or run directory of a task with verbs), then the
address is free to listen on; only then are the models loaded. `--check` stops there (loads the models,
prints what would be served, exits 0): for scripts and the CLI fuzzer, which never start a real server.
"""

from __future__ import annotations

import argparse
import os
import sys

TOKEN_ENV = "RNNLAB_SERVE_TOKEN"


def register(commands) -> None:
    parser = commands.top.add_parser(
        "serve", help="serve trained models over HTTP (an API from their verbs, and a playground page)",
        description="Serve the models at these paths: POST /models/NAME/VERB runs any verb of theirs, GET / is "
                    "the playground, GET /docs the API. See docs/serving.md.")  # fmt: skip
    parser.add_argument("models", nargs="+", metavar="RUN", help="model or run directories (loaded once, at start)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any other "
                        "needs --token)")  # fmt: skip
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--token", default=None, help=f"bearer token every API request must send (or set ${TOKEN_ENV})")
    parser.add_argument("--no-batching", dest="batching", action="store_false",
                        help="run every request on its own (no merging of concurrent requests)")  # fmt: skip
    parser.add_argument("--batch-window-ms", type=float, default=5.0, help="how long a batch collects requests")
    parser.add_argument("--max-concurrent", type=int, default=4, help="requests running at once per model")
    parser.add_argument("--max-inputs", type=int, default=256, help="inputs per request")
    parser.add_argument("--max-body-bytes", type=int, default=8 * 1024 * 1024, help="request body size")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (waiting included)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--check", action="store_true", help="load the models, print what would be served, exit")
    parser.set_defaults(handler=run)


def settings(args: argparse.Namespace):
    """The ServeConfig of these arguments (one-line errors for every mistake)."""
    from rnnlab.serve.config import Limits, ServeConfig

    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    limits = Limits(max_body_bytes=args.max_body_bytes, max_inputs=args.max_inputs,
                    max_concurrent=args.max_concurrent, timeout_s=args.timeout)  # fmt: skip
    return ServeConfig(host=args.host, port=args.port, token=token, batching=args.batching,
                       batch_window_ms=args.batch_window_ms, limits=limits)  # fmt: skip


def check_address(host: str, port: int) -> None:
    """Refuse an address this process cannot listen on (in use, not ours) before loading anything."""
    import socket

    from rnnlab.errors import UserError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UserError(f"--host {host}: cannot resolve it ({error.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise UserError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def run(args: argparse.Namespace) -> int:
    from rnnlab.errors import UserError
    from rnnlab.serve.models import check_model_paths, load_models

    config = settings(args)
    checked = check_model_paths(args.models)
    for path, (_, task) in zip(args.models, checked):
        if not task.verbs:
            raise UserError(f"{path}: a {task.name!r} model offers no verbs; nothing to serve")
    if not args.check:
        check_address(config.host, config.port)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    models = load_models(args.models)
    for served in models.values():
        print(f"{served.name}\t{served.task.name}\t{' '.join(served.verbs)}\t{served.path}")
    if args.check:
        print(f"ok: {len(models)} model(s) would be served on http://{config.host}:{config.port}/ "
              f"(batching {'on' if config.batching else 'off'}, token {'set' if config.token else 'none'})")  # fmt: skip
        return 0
    import uvicorn

    from rnnlab.serve.app import create_app

    app = create_app(models, config)
    print(f"rnnlab: serving {len(models)} model(s) on http://{config.host}:{config.port}/ (Ctrl-C to stop)",
          file=sys.stderr)  # fmt: skip
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", timeout_graceful_shutdown=5)
    return 0
