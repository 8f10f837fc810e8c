"""Request batching: concurrent requests of one model and verb share one `run` call, split back in order.

Two kinds of verb can be merged without changing what any request gets:

* a verb that reads a list of text inputs and yields one result per input, in order, and no artifacts
  (score, tag, classify, cloze, predict, tree, smiles): requests with equal options are concatenated;
* a verb without inputs that draws `num_samples` random samples (generate) when the request gives no seed
  and asks for sampling (no `greedy`, no `beam`): requests with equal other options become one run of the
  summed `num_samples` (the model decodes those rows together), each request getting its own samples
  (numbered from 1 again, when the results carry a `sample` number). A seeded request runs alone, so the
  same seed still gives the same samples.

The first request opens a batch; requests with the same options join it during the collection window
(`batch_window_ms`) and for as long as it waits for a free slot of the model, up to `max_batch_inputs`
inputs (or samples). If the merged run fails (one request's input the model refuses) or returns a different
number of results, each request is run on its own, so one bad request fails alone. Streamed requests are
never batched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from rnnlab.serve.requests import RequestError
from rnnlab.serve.runner import ModelRunner
from rnnlab.verbs import Artifact, Verb


def batch_mode(verb: Verb, options: Any | None = None) -> str | None:
    """"inputs" (concatenate the inputs), "samples" (sum num_samples) or None (runs alone)."""
    if verb.artifacts:
        return None
    if verb.inputs == "text":
        return "inputs"
    if verb.inputs == "none" and options is not None and isinstance(getattr(options, "num_samples", None), int):
        sampling = not getattr(options, "greedy", False) and getattr(options, "beam", None) is None
        if getattr(options, "seed", 0) is None and sampling:
            return "samples"
    return None


def can_batch(verb: Verb) -> bool:
    """Whether the verb's requests may be merged (for some options: generate only when unseeded)."""
    return not verb.artifacts and (verb.inputs == "text" or (verb.inputs == "none" and any(
        field.name == "num_samples" for field in verb.fields)))  # fmt: skip


def _key(verb: Verb, mode: str, options: Any) -> tuple[str, str]:
    values = dataclasses.asdict(options)
    if mode == "samples":
        values.pop("num_samples")
    return verb.name, json.dumps(values, sort_keys=True, default=repr)


@dataclass
class _Batch:
    verb: Verb
    mode: str
    options: Any
    deadline: float
    parts: list[tuple[Any, list, asyncio.Future]] = field(default_factory=list)  # (options, inputs, future)
    count: int = 0


class Batcher:
    """The open batches of one model (one per verb and options)."""

    def __init__(self, runner: ModelRunner, window_s: float, max_inputs: int) -> None:
        self.runner, self.window_s, self.max_inputs = runner, window_s, max_inputs
        self.open: dict[tuple[str, str], _Batch] = {}
        self.tasks: set[asyncio.Task] = set()
        self.locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.runs = 0  # merged runs made (for tests, /health and the benchmark)
        self.requests = 0  # requests answered by them

    async def collect(self, verb: Verb, inputs: list, options: Any, deadline: float) -> list:
        """The outputs of `verb` on `inputs`, computed in a batch with other requests where possible."""
        mode = batch_mode(verb, options)
        if mode is None:
            return await self.runner.collect(verb, inputs, options, deadline)
        size = len(inputs) if mode == "inputs" else options.num_samples
        key = _key(verb, mode, options)
        batch = self.open.get(key)
        if batch is None or batch.count + size > self.max_inputs:
            batch = _Batch(verb, mode, options, deadline)
            self.open[key] = batch
            task = asyncio.get_running_loop().create_task(self._run(key, batch))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        batch.parts.append((options, inputs, future))
        batch.count += size
        batch.deadline = max(batch.deadline, deadline)
        try:
            return await asyncio.wait_for(asyncio.shield(future), max(0.0, deadline - asyncio.get_running_loop().time()))
        except asyncio.TimeoutError:
            raise RequestError(504, f"the request took longer than {self.runner.limits.timeout_s:g} s (the server's --timeout)") from None

    async def _run(self, key: tuple[str, str], batch: _Batch) -> None:
        lock = self.locks.setdefault(key, asyncio.Lock())
        try:
            await asyncio.sleep(self.window_s)
            async with lock:  # one merged run per verb and options at a time: the next batch grows meanwhile
                await self.runner.acquire(batch.deadline)  # ... and while it waits for a slot of the model
                self._close(key, batch)
                await self._merged(batch)
        except RequestError as error:
            self._close(key, batch)
            _fail(batch.parts, error)
        finally:
            if not lock.locked() and key not in self.open:
                self.locks.pop(key, None)

    async def _merged(self, batch: _Batch) -> None:
        """Run the batch's requests as one (a slot already taken) and hand each its own results."""
        if batch.mode == "inputs":
            inputs, options = [item for _, part, _ in batch.parts for item in part], batch.options
            sizes = [len(part) for _, part, _ in batch.parts]
        else:
            sizes = [part_options.num_samples for part_options, _, _ in batch.parts]
            inputs, options = [], dataclasses.replace(batch.options, num_samples=sum(sizes))
        self.runs += 1
        self.requests += len(batch.parts)
        try:
            job = self.runner.start(batch.verb, inputs, options, streaming=False)
            outputs = [item async for item in job.items(batch.deadline, self.runner.limits.timeout_s)]
        except BaseException as error:  # noqa: BLE001 - one request's mistake must not fail the others
            if len(batch.parts) == 1 or isinstance(error, asyncio.CancelledError):
                _fail(batch.parts, error)
                return
            await self._one_by_one(batch)
            return
        results = [item for item in outputs if isinstance(item, dict)]
        if len(results) != sum(sizes) or any(isinstance(item, Artifact) for item in outputs):
            await self._one_by_one(batch)
            return
        start = 0
        for (_, _, future), size in zip(batch.parts, sizes):
            mine = results[start:start + size]
            if batch.mode == "samples":
                mine = [{**result, "sample": number} if "sample" in result else result
                        for number, result in enumerate(mine, start=1)]  # fmt: skip
            if not future.done():
                future.set_result(mine)
            start += size

    def _close(self, key: tuple[str, str], batch: _Batch) -> None:
        if self.open.get(key) is batch:
            del self.open[key]

    async def _one_by_one(self, batch: _Batch) -> None:
        async def single(options: Any, inputs: list, future: asyncio.Future) -> None:
            try:
                outputs = await self.runner.collect(batch.verb, inputs, options, batch.deadline)
            except BaseException as error:  # noqa: BLE001 - handed to that request
                if not future.done():
                    future.set_exception(error)
                return
            if not future.done():
                future.set_result(outputs)

        await asyncio.gather(*(single(*part) for part in batch.parts))


def _fail(parts: list[tuple[Any, list, asyncio.Future]], error: BaseException) -> None:
    for _, _, future in parts:
        if not future.done():
            future.set_exception(error)
