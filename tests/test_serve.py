"""`rnnlab serve`: the HTTP API made from the registered verbs (FastAPI's TestClient; no real server).

Every shipped verb answers through the API with exactly what `rnnlab VERB --json` prints; generate streams
its tokens as server-sent events, then the result; bad requests are a 4xx with a one-line detail and the
server keeps serving; the token guards every API route; batching gives each request its own results, and a
request the model refuses fails alone. Tiny models from tests/verb_models.py, built only for the tasks a test
needs; fake verbs (never registered) for uploads, timeouts and failures.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from rnnlab.cli import main
from rnnlab.errors import ConfigError, DataError
from rnnlab.serve.app import create_app
from rnnlab.serve.config import Limits, ServeConfig
from rnnlab.serve.models import ServedModel, load_models
from rnnlab.serve.runner import _relabel
from rnnlab.tasks.registry import TaskDescriptor, discover_tasks
from rnnlab.verbs import Artifact, Verb
from tests.verb_models import BUILDERS, INPUTS, OPTIONS

SHIPPED = {name: task for name, task in discover_tasks().items()
           if (task.build or task.train).__module__.startswith("rnnlab.") and task.verbs}  # fmt: skip
CASES = [(name, verb.name) for name, task in SHIPPED.items() for verb in task.verbs]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """task name -> its tiny model directory, built on first use (once per module)."""
    built: dict[str, Path] = {}

    def get(task: str) -> Path:
        if task not in BUILDERS:
            pytest.skip(f"tests/verb_models.py has no builder for task {task!r}")
        if task not in built:
            built[task] = BUILDERS[task](tmp_path_factory.mktemp(f"serve-{task}"))
        return built[task]

    return get


def client_of(*dirs: Path, **config) -> TestClient:
    return TestClient(create_app(load_models([str(d) for d in dirs]), ServeConfig(**config)))


def events(text: str) -> list[tuple[str, dict]]:
    """The (event, data) pairs of a text/event-stream body."""
    pairs = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        pairs.append((lines["event"], json.loads(lines["data"])))
    return pairs


# ------------------------------------------------------------------------------------------- /models
def test_models_lists_each_model_its_task_and_verb_options(model_dir):
    with client_of(model_dir("ngram"), model_dir("lm")) as client:
        listing = client.get("/models").json()["models"]
        assert [(m["name"], m["task"]) for m in listing] == [("model", "ngram"), ("run", "lm")]
        generate = listing[1]["verbs"]["generate"]
        assert generate["inputs"] == "none" and generate["batched"]  # unseeded samples are merged
        top_k = next(option for option in generate["options"] if option["name"] == "top_k")
        assert top_k == {"name": "top_k", "kind": "int", "default": None, "choices": None,
                         "help": "sample from the k most probable tokens"}  # fmt: skip
        assert listing[1]["config"]["model"]["hidden_size"] == 8
        assert listing[0]["verbs"]["score"]["batched"]
        schema = client.get("/openapi.json").json()
        body = schema["paths"]["/models/run/generate"]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["properties"]["options"]["properties"]["temperature"]["type"] == "number"
        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()


# ---------------------------------------------------------------------------- every verb = the CLI
#: Smaller settings for verbs whose defaults take seconds (the same through the API and the command line).
SMALL = {"rollout": {"masses": 4, "steps": 4, "frames": 2}, "ask": {"question": "what colour is the square?"}}


@pytest.mark.parametrize("task_name, verb_name", CASES, ids=[f"{t}-{v}" for t, v in CASES])
def test_every_shipped_verb_answers_what_the_cli_prints(task_name, verb_name, model_dir, capsys, tmp_path):
    verb = SHIPPED[task_name].verb(verb_name)
    directory = model_dir(task_name)
    inputs = [] if verb.inputs == "none" else list(INPUTS.get(verb_name, []))
    if verb.inputs != "none" and not inputs:
        pytest.skip(f"tests/verb_models.INPUTS has no inputs for {verb_name!r}")
    seeded = {"seed": 0} if any(f.name == "seed" for f in verb.fields) else {}
    seeded.update(SMALL.get(verb_name, {}))
    flags = [part for name, value in seeded.items() for part in ("--" + name.replace("_", "-"), str(value))]

    capsys.readouterr()
    argv = [verb_name, str(directory), *inputs, *flags, "--json"]
    assert main(argv + (["--out", str(tmp_path)] if verb.artifacts else [])) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = [line for line in lines if "artifact" not in line]
    files = [line for line in lines if "artifact" in line]

    if verb.inputs == "files":  # uploads: results name the upload, not a file on the server
        body_inputs = [{"name": Path(p).name, "data": base64.b64encode(Path(p).read_bytes()).decode()} for p in inputs]
        expected = [_relabel(line, {p: Path(p).name for p in inputs}) for line in expected]
    else:
        body_inputs = inputs
    with client_of(directory) as client:
        response = client.post(f"/models/{directory.name}/{verb_name}", json={"inputs": body_inputs, "options": seeded})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["results"] == expected
    assert [(a["media_type"], base64.b64decode(a["data"])) for a in answer["artifacts"]] == [
        (line["media_type"], Path(line["path"]).read_bytes()) for line in files
    ]


# ---------------------------------------------------------------------------------------- streaming
def test_generate_streams_tokens_then_the_result(model_dir):
    with client_of(model_dir("lm")) as client:
        body = {"options": {"seed": 3, "max_tokens": 20}}
        plain = client.post("/models/run/generate", json=body).json()["results"]
        streamed = client.post("/models/run/generate", json={**body, "stream": True})
        assert streamed.headers["content-type"].startswith("text/event-stream")
        pairs = events(streamed.text)
        deltas = [data["text"] for kind, data in pairs if kind == "delta"]
        assert len([d for d in deltas if d]) > 1, pairs  # token by token, not one lump
        assert [kind for kind, _ in pairs][-2:] == ["result", "done"]
        assert pairs[-2][1] == plain[0] and "".join(deltas) == plain[0]["text"]
        by_header = client.post("/models/run/generate", json=body, headers={"Accept": "text/event-stream"})
        assert events(by_header.text) == pairs  # the same seed, the same stream

        refused = client.post("/models/run/generate", json={"options": {"rhyme": "xx"}, "stream": True})
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/json"
        assert "unknown Pingshui rhyme group 'xx'" in refused.json()["detail"]


# ------------------------------------------------------------------------------------- bad requests
BAD = [  # (verb path, body bytes or JSON, status, a fragment of the detail)
    ("run/generate", b"{bad json", 400, "not JSON"),
    ("run/generate", b"\xff\xfe{}", 400, "not UTF-8"),
    ("run/generate", b'{"options": {"temperature": NaN}}', 400, "NaN is not a number JSON allows"),
    ("run/generate", b"[1, 2]", 422, "expected a JSON object"),
    ("run/generate", b"[" * 100_000 + b"]" * 100_000, 413, "at most"),
    ("run/generate", {"options": {"top_k": 0}}, 422, "--top-k must be an integer >= 1, got 0"),
    ("run/generate", {"options": {"max_tokens": -1}}, 422, "--max-tokens must be an integer >= 1, got -1"),
    ("run/generate", {"options": {"num_samples": 10**30}}, 422, "--num-samples must be an integer between 1 and"),
    ("run/generate", {"options": {"temperature": "hot"}}, 422, "--temperature: expected float, got 'hot'"),
    ("run/generate", {"options": {"seed": True}}, 422, "--seed: expected a number, got True"),
    ("run/generate", {"options": {"top_kk": 3}}, 422, "unknown option(s) top_kk"),
    ("run/generate", {"options": [1]}, 422, '"options": expected an object'),
    ("run/generate", {"options": []}, 422, '"options": expected an object'),
    ("run/generate", {"options": {"prompt": "\udcff"}}, 422, "lone surrogate"),
    ("run/generate", {"options": {"num_samples": 100, "max_tokens": 1000}}, 422, "up to 100000 tokens"),
    ("run/generate", {"inputs": ["x"]}, 422, "takes no \"inputs\""),
    ("run/generate", {"stream": "yes"}, 422, '"stream": expected true or false'),
    ("run/generate", {"prompt": "x"}, 422, "unknown key(s) 'prompt'"),
    ("run/score", {"inputs": "the cat"}, 422, '"inputs": expected a list of sentences, got str'),
    ("run/score", {"inputs": ["ok", None]}, 422, '"inputs" item 2: expected a string, got null'),
    ("run/score", {"inputs": ["  "]}, 422, "empty; expected at least one word"),
    ("run/score", {}, 422, 'expected sentences in "inputs"'),
    ("run/score", {"inputs": ["a"] * 300}, 413, "at most 256"),
    ("run/score", {"options": {"tokens": 1}}, 422, "--tokens: expected bool, got 1"),
    ("run/generate", {"options": {"prompt": None}}, 422, "--prompt: expected str, got null"),
    ("run/translate", {"inputs": ["x"]}, 404, "has no verb 'translate'; it offers: generate, score"),
    ("nobody/score", {"inputs": ["x"]}, 404, "unknown model 'nobody'; this server has: run"),
]


def test_bad_requests_are_4xx_with_a_detail_and_the_server_keeps_serving(model_dir):
    with client_of(model_dir("lm"), limits=Limits(max_body_bytes=100_000)) as client:
        for path, body, status, fragment in BAD:
            sent = body if isinstance(body, bytes) else json.dumps(body).encode()
            response = client.post(f"/models/{path}", content=sent, headers={"Content-Type": "application/json"})
            assert response.status_code == status, (path, body if len(sent) < 200 else len(sent), response.text)
            detail = response.json()["detail"]
            assert fragment in detail and "\n" not in detail, (fragment, detail)
            assert client.post("/models/run/score", json={"inputs": ["白日"]}).status_code == 200
        assert client.get("/models/run/score").status_code == 405  # a GET where POST is expected
        assert client.get("/no/such/page").status_code == 404


#: Values a client may send for an option of each kind (wrong types, out of range, huge, empty).
OPTION_GRID = {
    "int": [0, -1, 2**64, 10**9, 1.5, "1", True, [1], {"a": 1}],
    "float": [0, -1, 1e308, -1e308, "nan", "inf", True, "x", [0.5]],
    "str": ["", "x" * 20_000, 5, "\u0000", ["a"], "___", "\n"],
    "bool": ["yes", 1, 0.0, [True]],
    "list": ["a", [1], [""], [None], ["x" * 20_000]],
}


def test_fuzzed_options_are_never_a_server_error(model_dir):
    """Every option of every verb of every shipped task, fed the grid above: 200 or a 4xx with a detail."""
    failures = []
    app = create_app(load_models([str(model_dir(task)) for task in SHIPPED]))
    with TestClient(app, raise_server_exceptions=False) as client:
        for model in client.get("/models").json()["models"]:
            for verb, description in model["verbs"].items():
                inputs = INPUTS.get(verb, [])[:1]
                if description["inputs"] == "files":
                    inputs = [base64.b64encode(Path(path).read_bytes()).decode() for path in inputs]
                for option in description["options"]:
                    for value in OPTION_GRID[option["kind"]] + [None]:
                        base = {**SMALL.get(verb, {}), **({"max_tokens": 5} if verb == "generate" else {})}
                        body = {"inputs": inputs, "options": {**base, option["name"]: value}}
                        response = client.post(f"/models/{model['name']}/{verb}", json=body)
                        if response.status_code >= 500 or (response.status_code != 200 and not response.json().get("detail")):
                            failures.append(f"{model['task']} {verb} {option['name']}={str(value)[:30]}: "
                                            f"{response.status_code} {response.text[:200]}")  # fmt: skip
    assert not failures, "\n".join(failures)


# -------------------------------------------------------------------------------- settings and token
def test_settings_refuse_an_open_host_without_a_token_and_bad_ports():
    with pytest.raises(ConfigError, match="--host 0.0.0.0 is reachable from other machines: give --token"):
        ServeConfig(host="0.0.0.0")
    for port in (0, 70000, True):
        with pytest.raises(ConfigError, match="--port must be an integer between 1 and 65535"):
            ServeConfig(port=port)
    with pytest.raises(ConfigError, match="--timeout must be a finite number"):
        Limits(timeout_s=float("inf"))
    assert ServeConfig(host="::1").token is None and ServeConfig(host="0.0.0.0", token="long-enough").token


def test_the_token_guards_every_api_route_but_not_the_page(model_dir):
    with client_of(model_dir("ngram"), token="s3cret-token") as client:
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic s3cret-token"}):
            assert client.get("/models", headers=headers).status_code == 401
            assert client.post("/models/model/score", json={"inputs": ["a"]}, headers=headers).status_code == 401
        good = {"Authorization": "Bearer s3cret-token"}
        assert client.get("/models", headers=good).status_code == 200
        assert client.post("/models/model/score", json={"inputs": ["the cat"]}, headers=good).status_code == 200
        assert client.get("/").status_code == 200 and client.get("/static/app.js").status_code == 200


# ---------------------------------------------------------------------------------------- batching
async def _concurrently(app, requests: list[tuple[str, dict]]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await asyncio.gather(*(client.post(path, json=body) for path, body in requests))


def test_batching_gives_each_request_its_own_results(model_dir):
    directory = model_dir("ngram")
    sentences = ["the cat sat", "a dog ran", "the mat", "the cat sat on the mat", "a cat", "the dog sat"]
    with client_of(directory, batching=False) as client:
        alone = [client.post("/models/model/score", json={"inputs": [s]}).json()["results"] for s in sentences]
    app = create_app(load_models([str(directory)]), ServeConfig(batch_window_ms=200))
    requests = [("/models/model/score", {"inputs": [s]}) for s in sentences]
    requests += [("/models/model/score", {"inputs": sentences[:2], "options": {"tokens": True}})]
    responses = asyncio.run(_concurrently(app, requests))
    assert [r.status_code for r in responses] == [200] * len(requests)
    assert [r.json()["results"] for r in responses[:-1]] == alone
    assert responses[-1].json()["results"] == alone[0] + alone[1]
    assert app.state.batchers["model"].runs < len(requests)  # merged: fewer runs than requests


def test_unseeded_samples_are_merged_and_seeded_ones_run_alone(model_dir):
    directory = model_dir("lm")
    app = create_app(load_models([str(directory)]), ServeConfig(batch_window_ms=200))
    counts = [1, 3, 2, 1]
    requests = [("/models/run/generate", {"options": {"num_samples": n, "max_tokens": 6}}) for n in counts]
    seeded = {"options": {"seed": 5, "max_tokens": 6}}
    responses = asyncio.run(_concurrently(app, requests + [("/models/run/generate", seeded)] * 2))
    assert [r.status_code for r in responses] == [200] * 6
    for response, count in zip(responses, counts):
        assert [result["sample"] for result in response.json()["results"]] == list(range(1, count + 1))
    assert app.state.batchers["run"].runs == 1  # the four unseeded requests in one run; seeded ones run alone
    with TestClient(app) as client:
        alone = client.post("/models/run/generate", json=seeded).json()["results"]
    assert responses[4].json()["results"] == responses[5].json()["results"] == alone


@dataclass
class FakeOptions:
    delay: float = field(default=0.0, metadata={"help": "seconds to sleep per input"})
    output: str | None = field(default=None, metadata={"help": "a file to write (never over HTTP)"})


def fake_echo(model, inputs: list, options: FakeOptions):
    for text in inputs:
        if text == "bad":
            raise DataError("bad: this model refuses it")
        time.sleep(options.delay)
        yield {"text": text, "length": len(text)}


def fake_sizes(model, paths: list, options: FakeOptions):
    for path in paths:
        data = Path(path).read_bytes()
        yield {"image": path, "bytes": len(data)}
        yield Artifact("text/plain", data[::-1], f"{Path(path).stem}-reversed.txt")


def fake_app(**config) -> tuple:
    task = TaskDescriptor(name="fake", summary="a test task", config_class=FakeOptions, load=lambda path: None,
                          evaluate=lambda path, request: {}, format_eval=str, train=lambda config, resume: {},
                          verbs=(Verb("echo", "echo", FakeOptions, fake_echo),
                                 Verb("sizes", "sizes", FakeOptions, fake_sizes, inputs="files", artifacts=True)))  # fmt: skip
    app = create_app({"fake": ServedModel("fake", Path("."), task, None, {})}, ServeConfig(**config))
    return app


def test_a_request_the_model_refuses_fails_alone_in_its_batch():
    app = fake_app(batch_window_ms=200)
    responses = asyncio.run(_concurrently(app, [("/models/fake/echo", {"inputs": [t]}) for t in ("ab", "bad", "c")]))
    assert [r.status_code for r in responses] == [200, 422, 200]
    assert responses[0].json()["results"] == [{"text": "ab", "length": 2}]
    assert responses[1].json()["detail"] == "bad: this model refuses it"
    assert responses[2].json()["results"] == [{"text": "c", "length": 1}]


def test_uploads_are_private_temporary_files_and_path_options_are_refused():
    with TestClient(fake_app()) as client:
        echo = client.get("/models").json()["models"][0]["verbs"]["echo"]
        assert [option["name"] for option in echo["options"]] == ["delay"]  # `output` is not offered
        refused = client.post("/models/fake/echo", json={"inputs": ["a"], "options": {"output": "/tmp/x"}})
        assert refused.status_code == 422 and "--output: names a file on the server" in refused.json()["detail"]

        uploads = [{"name": "cat.png", "data": base64.b64encode(b"meow").decode()}, base64.b64encode(b"xy").decode()]
        answer = client.post("/models/fake/sizes", json={"inputs": uploads}).json()
        assert answer["results"] == [{"image": "cat.png", "bytes": 4}, {"image": "input-2", "bytes": 2}]
        assert [(a["name"], base64.b64decode(a["data"])) for a in answer["artifacts"]] == [
            ("1-reversed.txt", b"woem"), ("2-reversed.txt", b"yx")]  # fmt: skip
        bad = client.post("/models/fake/sizes", json={"inputs": ["not base64!"]})
        assert bad.status_code == 422 and "not valid base64" in bad.json()["detail"]


def test_a_slow_request_times_out_and_a_full_queue_is_busy():
    app = fake_app(limits=Limits(timeout_s=0.2, max_concurrent=1, max_waiting=0), batching=False)
    slow = {"inputs": ["a", "b", "c"], "options": {"delay": 0.15}}

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first, second = await asyncio.gather(client.post("/models/fake/echo", json=slow),
                                                 client.post("/models/fake/echo", json=slow))  # fmt: skip
            await asyncio.sleep(0.3)  # the worker stops at its next input and frees the slot
            return [first, second, await client.post("/models/fake/echo", json={"inputs": ["ok"]})]

    first, second, later = asyncio.run(scenario())
    assert first.status_code == 504 and "longer than 0.2 s" in first.json()["detail"]
    assert second.status_code == 503 and "busy" in second.json()["detail"]
    assert later.status_code == 200 and later.json()["results"] == [{"text": "ok", "length": 2}]


# --------------------------------------------------------------------------------------- the command
def test_serve_check_loads_the_models_and_exits(model_dir, capsys):
    directory = model_dir("ngram")
    assert main(["serve", str(directory), str(directory), "--check"]) == 0
    out = capsys.readouterr().out
    assert "model\tngram\tgenerate score" in out and "model-2\tngram" in out and "2 model(s) would be served" in out


# ------------------------------------------------------------------------------ the page, in a browser
def _browser() -> str:
    """Debian's chromium-headless-shell (or chromium), launched as the system executable; else skip.

    `.ci/run` installs the browser and sets RNNLAB_REQUIRE_BROWSER=1, so in CI a missing browser fails
    instead of skipping.
    """
    required = os.environ.get("RNNLAB_REQUIRE_BROWSER") == "1"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if required:
            pytest.fail("RNNLAB_REQUIRE_BROWSER=1 but playwright is not installed (it is in the dev extra)")
        pytest.skip("playwright is not installed (pip install playwright)")
    for name in ("chromium-headless-shell", "chromium"):
        path = shutil.which(name)
        if path:
            return path
    message = "no chromium-headless-shell on this machine (apt-get install chromium-headless-shell)"
    pytest.fail(f"RNNLAB_REQUIRE_BROWSER=1 but {message}") if required else pytest.skip(message)


@contextlib.contextmanager
def _served(app, port):
    """A uvicorn server for `app` on 127.0.0.1:`port` in a thread, for the browser tests."""
    import threading

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield
    finally:
        server.should_exit = True
        thread.join(10)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


#: the tasks whose tabs the second browser test drives (lm and ngram: the first one)
TAB_TASKS = ("translate", "smt", "tagger", "classifier", "cloze", "regression", "tree", "graph", "caption", "vqa",
             "chat", "handwriting")  # fmt: skip


def test_every_verb_tab_runs_in_the_browser_and_shows_the_apis_results(model_dir, tmp_path):
    """Each tab of each served task, driven as a user would: inputs typed (or image files chosen), the verb's
    required options filled, Run clicked; the page shows as many results as the API returns, no error."""
    executable = _browser()
    from playwright.sync_api import sync_playwright

    dirs = [model_dir(task) for task in TAB_TASKS if task in SHIPPED]
    port = _free_port()
    app = create_app(load_models([str(d) for d in dirs]), ServeConfig(port=port))
    with TestClient(app) as client:
        served = client.get("/models").json()["models"]
    checked = []
    with _served(app, port), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("[role=tab]")
        for model in served:
            page.select_option("#model", model["name"])
            for verb, info in model["verbs"].items():
                inputs = list(INPUTS.get(verb, []))
                if info["inputs"] != "none" and not inputs:
                    continue
                page.click(f"#tab-{verb}")
                if info["inputs"] == "text":
                    page.locator("#inputs").fill("\n".join(inputs))
                elif info["inputs"] == "files":
                    page.locator("#inputs").set_input_files(inputs)
                for name, value in OPTIONS.get(verb, {}).items():
                    page.locator(f"#opt-{name}").fill(str(value))
                if any(option["name"] == "seed" for option in info["options"]):
                    page.locator("#opt-seed").fill("1")
                page.click(f"text=Run {verb}")
                page.wait_for_function("!document.querySelector('main button[type=submit]').disabled")
                assert page.locator("#error").is_hidden(), (model["name"], verb, page.locator("#error").inner_text())
                if info["inputs"] == "none":  # streamed: the text arrives in the page
                    assert page.locator("main .stream, main .result").count() >= 1, (model["name"], verb)
                else:  # one box per result, as many as the API gives for the same request
                    options = {**OPTIONS.get(verb, {}), **({"seed": 1} if any(o["name"] == "seed" for o in info["options"]) else {})}
                    body_inputs = inputs if info["inputs"] == "text" else [
                        {"name": Path(f).name, "data": base64.b64encode(Path(f).read_bytes()).decode()} for f in inputs]
                    with TestClient(app) as client:
                        answer = client.post(f"/models/{model['name']}/{verb}", json={"inputs": body_inputs, "options": options}).json()
                    assert page.locator("main .result").count() == len(answer["results"]), (model["name"], verb)
                    assert page.locator("main .artifact").count() == len(answer["artifacts"]), (model["name"], verb)
                if verb == "chat":  # a transcript, in this page's own conversation
                    assert page.locator("#opt-conversation").input_value().startswith("page-")
                    assert page.locator("main .result.chat .you").first.inner_text().startswith("you: ")
                checked.append(verb)
        assert not problems, problems
        page.screenshot(path=str(tmp_path / "last-tab.png"), full_page=True)
        browser.close()
    assert {"translate", "tag", "classify", "cloze", "predict", "caption", "chat"} <= set(checked)


def test_the_playground_works_in_a_headless_browser(model_dir, tmp_path):
    executable = _browser()
    from playwright.sync_api import sync_playwright

    port = _free_port()
    app = create_app(load_models([str(model_dir("ngram")), str(model_dir("lm"))]), ServeConfig(port=port))
    with _served(app, port):
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("[role=tab]")
            assert page.locator("[role=tab]").all_inner_texts() == ["generate", "score", "next", "compare scores"]

            page.select_option("#model", "run")  # the neural LM: generate streams into the page
            page.locator("#opt-seed").fill("3")
            page.click("text=Run generate")
            page.wait_for_function("document.querySelector('.stream') && "
                                   "!document.querySelector('main button[type=submit]').disabled")  # fmt: skip
            with TestClient(app) as client:
                expected = client.post("/models/run/generate", json={"options": {"seed": 3}}).json()["results"][0]
            assert page.locator(".stream").inner_text().strip() == expected["text"].strip()

            page.locator("#tab-generate").focus()  # keyboard only: arrow to the next tab, Ctrl+Enter runs it
            page.keyboard.press("ArrowRight")
            assert page.locator("[aria-selected=true]").inner_text() == "score"
            page.locator("#inputs").fill("白日依山尽\n黄河入海流")
            page.locator("#inputs").press("Control+Enter")
            page.wait_for_selector(".result .bars")
            assert page.locator(".result").count() == 2

            page.click("#tab-compare")  # both models side by side
            page.click("text=Score with each model")
            page.wait_for_selector(".columns h3 >> nth=1")
            assert page.locator(".columns h3").all_inner_texts() == ["model", "run"]

            page.click("#tab-trace")  # look inside: gate heatmaps, next-token bars per token, gradient norms
            page.locator("#inputs").fill("白日依山尽")
            page.click("text=Run trace")
            page.wait_for_selector(".trace canvas")
            with TestClient(app) as client:
                traced = client.post("/models/run/trace", json={"inputs": ["白日依山尽"]}).json()["results"][0]
            assert page.locator(".trace canvas").count() == len(traced["gates"])
            assert page.locator(".trace .tokens button").all_inner_texts() == traced["tokens"]
            assert page.locator(".curve polyline").count() == 1
            page.locator(".trace .tokens button >> nth=1").click()  # the bars after 白
            assert page.locator(".next-bars .bars span >> nth=0").inner_text() == traced["next"][1][0][0]
            page.screenshot(path=str(tmp_path / "trace.png"), full_page=True)

            page.click("#tab-generate")  # a server error is shown in the page
            page.locator("#opt-seed").fill("-5")
            page.click("text=Run generate")
            page.wait_for_selector("#error:not([hidden])")
            assert "--seed must be an integer >= 0, got -5" in page.locator("#error").inner_text()

            page.set_viewport_size({"width": 360, "height": 740})  # phone width: nothing wider than the screen
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            shot = tmp_path / "phone.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.read_bytes().startswith(b"\x89PNG") and page.locator("#error").is_visible()
            assert not problems, problems
            browser.close()
