"""The server's settings: where it listens, who may call it, and the limits every request meets.

Every limit has a default that keeps one request (or one client) from taking the machine: the body size,
the inputs per request, the tokens one request may ask to generate, the requests running at once per model
(more wait in a bounded queue, beyond it: 503), and a per-request timeout (504). They are checked once, here,
with one-line errors, before any model is loaded.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field

from rnnlab.errors import ConfigError

LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class Limits:
    """What one request may ask for (all checked before a verb runs)."""

    max_body_bytes: int = 8 * 1024 * 1024  # a base64 image of a few MiB fits; a runaway upload does not
    max_inputs: int = 256  # inputs (sentences, images) per request
    max_input_chars: int = 10_000  # characters of one text input
    max_tokens: int = 20_000  # num_samples x max_tokens of one generate request
    max_concurrent: int = 4  # requests running at once on one model
    max_waiting: int = 256  # requests queued for one model beyond those; more get 503
    timeout_s: float = 60.0  # waiting + running; past it the client gets 504

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_inputs", "max_input_chars", "max_tokens", "max_concurrent"):
            _check_count(name, getattr(self, name), 1)
        _check_count("max_waiting", self.max_waiting, 0)
        value = self.timeout_s
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"--timeout must be a finite number of seconds > 0, got {value!r}")


@dataclass(frozen=True)
class ServeConfig:
    """Where the server listens and how it batches; `limits` caps each request."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None  # required for a non-loopback host; then every request needs `Bearer TOKEN`
    batching: bool = True  # merge concurrent requests of one model and verb with equal options
    batch_window_ms: float = 5.0  # how long the first request of a batch waits for others
    max_batch_inputs: int = 256  # inputs of one merged run
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise ConfigError(f"--port must be an integer between 1 and 65535, got {self.port!r}")
        if not self.host or any(char.isspace() for char in self.host):
            raise ConfigError(f"--host: expected an address or a host name, got {self.host!r}")
        if self.token is not None and (len(self.token) < 8 or any(c.isspace() or not c.isprintable() for c in self.token)):
            raise ConfigError("--token must be at least 8 printable characters without spaces")
        if not is_loopback(self.host) and self.token is None:
            raise ConfigError(f"--host {self.host} is reachable from other machines: give --token T (clients "
                              "then send `Authorization: Bearer T`), or serve on 127.0.0.1")  # fmt: skip
        window = self.batch_window_ms
        if isinstance(window, bool) or not isinstance(window, (int, float)) or not (0 <= window <= 1000):
            raise ConfigError(f"--batch-window-ms must be a number of milliseconds in [0, 1000], got {window!r}")
        _check_count("max_batch_inputs", self.max_batch_inputs, 1)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost`: reachable from this machine only."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_count(name: str, value, minimum: int) -> None:
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{flag} must be an integer >= {minimum}, got {value!r}")
