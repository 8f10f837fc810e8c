"""Running a verb off the event loop, within its model's limits: a slot, a worker thread, a deadline.

Each model has `max_concurrent` slots; a request waits for one in a queue of at most `max_waiting` (beyond
it: 503 at once). The verb runs in a worker thread and hands what it yields to the event loop one item at a
time, so a streaming verb (`generate`) reaches the client token by token. Past the request's deadline the
client gets 504 and the worker stops at the verb's next item; the slot is freed only when the worker has
really finished, so the limit counts the work that runs, not the requests still answered.

Uploaded files (`"files"` verbs) are written to a private temporary directory for the run and removed
after it; results that name such a file name the upload instead.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from rnnlab.serve.config import Limits
from rnnlab.serve.models import ServedModel
from rnnlab.serve.requests import RequestError, Upload
from rnnlab.verbs import Verb

log = logging.getLogger("rnnlab.serve")


class ModelRunner:
    """The slots of one model and the jobs running on them."""

    def __init__(self, served: ServedModel, limits: Limits, executor: Executor) -> None:
        self.served, self.limits, self.executor = served, limits, executor
        self._slots: asyncio.Semaphore | None = None  # made in the server's event loop, on first use
        self.waiting = 0
        self.running = 0

    async def acquire(self, deadline: float) -> None:
        """Take a slot before `deadline` (loop time), or raise 503 (queue full) / 504 (waited too long)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limits.max_concurrent)
        if not self._slots.locked():  # a free slot: taken at once (wait_for would yield first)
            await self._slots.acquire()
        else:
            if self.waiting >= self.limits.max_waiting:
                raise RequestError(503, f"model {self.served.name!r} is busy ({self.waiting} requests waiting); "
                                        "retry later")  # fmt: skip
            self.waiting += 1
            try:
                await asyncio.wait_for(self._slots.acquire(), max(0.0, deadline - _now()))
            except asyncio.TimeoutError:
                raise RequestError(504, f"no free slot on model {self.served.name!r} within "
                                        f"{self.limits.timeout_s:g} s") from None  # fmt: skip
            finally:
                self.waiting -= 1
        self.running += 1

    def _release(self) -> None:
        self.running -= 1
        assert self._slots is not None
        self._slots.release()

    def start(self, verb: Verb, inputs: list, options: Any, streaming: bool = True) -> Job:
        """Run the verb in a worker thread on a slot already taken (`acquire`); the job frees it.

        streaming: hand each item over as it comes; False: all at once at the end (one wake-up of the
        event loop instead of one per token)."""
        loop = asyncio.get_running_loop()
        job = Job(loop, self._release, streaming)
        model = self.served.model
        run = (lambda: verb.run(model, inputs, options)) if not _has_uploads(inputs) else None
        loop.run_in_executor(self.executor, job.work, run or (lambda: _with_files(verb, model, inputs, options, job)))
        return job

    async def stream(self, verb: Verb, inputs: list, options: Any, deadline: float,
                     streaming: bool = True) -> AsyncIterator[Any]:  # fmt: skip
        """What the verb yields, item by item, on a slot of this model."""
        await self.acquire(deadline)
        job = self.start(verb, inputs, options, streaming)
        async for item in job.items(deadline, self.limits.timeout_s):
            yield item

    async def collect(self, verb: Verb, inputs: list, options: Any, deadline: float) -> list:
        return [item async for item in self.stream(verb, inputs, options, deadline, streaming=False)]


class Job:
    """One verb run in a worker thread; its items travel to the event loop through an asyncio queue."""

    def __init__(self, loop: asyncio.AbstractEventLoop, release: Callable[[], None], streaming: bool = True) -> None:
        self.loop, self.release, self.streaming = loop, release, streaming
        self.queue: asyncio.Queue = asyncio.Queue()
        self.cancelled = threading.Event()

    def _put(self, kind: str, value: Any) -> None:
        self._call(self.queue.put_nowait, (kind, value))

    def _call(self, function: Callable, *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(function, *args)
        except RuntimeError:  # the event loop is closed (the server stopped): nobody is waiting any more
            self.cancelled.set()

    def work(self, run: Callable[[], Any]) -> None:
        """In the worker thread: iterate the verb, hand over each item, stop early when cancelled."""
        outputs = None
        try:
            outputs = iter(run())
            kept = []
            for item in outputs:
                if self.cancelled.is_set():
                    break
                if self.streaming:
                    self._put("item", item)
                else:
                    kept.append(item)
            if kept:
                self._put("items", kept)
            self._put("done", None)
        except BaseException as error:  # noqa: BLE001 - raised again in the event loop, where it is answered
            self._put("error", error)
        finally:
            close = getattr(outputs, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - a generator that fails to close has nothing more to give
                    log.exception("closing a verb's output failed")
            self._call(self.release)

    async def items(self, deadline: float, timeout_s: float) -> AsyncIterator[Any]:
        """The items as they come; 504 past the deadline. Leaving early (a client gone) stops the worker."""
        try:
            while True:
                try:
                    kind, value = await asyncio.wait_for(self.queue.get(), max(0.0, deadline - _now()))
                except asyncio.TimeoutError:
                    raise RequestError(504, f"the request took longer than {timeout_s:g} s (the server's --timeout)") from None
                if kind == "item":
                    yield value
                elif kind == "items":
                    for item in value:
                        yield item
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            self.cancelled.set()


def deadline_after(seconds: float) -> float:
    return _now() + seconds


def _now() -> float:
    return asyncio.get_running_loop().time()


def _has_uploads(inputs: list) -> bool:
    return any(isinstance(item, Upload) for item in inputs)


def _with_files(verb: Verb, model: Any, uploads: list[Upload], options: Any, job: Job):
    """Run a "files" verb on the uploads written to a private temporary directory (removed after)."""
    with tempfile.TemporaryDirectory(prefix="rnnlab-serve-") as directory:
        names = {}
        paths = []
        for number, upload in enumerate(uploads, start=1):
            suffix = Path(upload.name).suffix.lower()
            suffix = suffix if suffix[1:].isalnum() and len(suffix) <= 6 else ""
            path = str(Path(directory) / f"{number}{suffix}")
            Path(path).write_bytes(upload.data)
            names[path] = upload.name
            paths.append(path)
        for item in verb.run(model, paths, options):
            if job.cancelled.is_set():
                return
            yield _relabel(item, names) if isinstance(item, dict) else item


def _relabel(value: Any, names: dict[str, str]) -> Any:
    """A temporary file's path, wherever it appears in a result, replaced by the upload's name."""
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, dict):
        return {key: _relabel(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_relabel(item, names) for item in value]
    return value
