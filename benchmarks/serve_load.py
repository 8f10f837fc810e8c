"""Load test of `rnnlab serve` on loopback: N concurrent clients on generate and score, with and without
request batching (`--no-batching`). Bounded: each phase runs `--seconds`, the server only on 127.0.0.1.

    python benchmarks/serve_load.py                              # 64 clients x 30 s per phase, tiny models trained here
    python benchmarks/serve_load.py --clients 16 --seconds 10    # shorter
    python benchmarks/serve_load.py --lm runs/lm-tang --ngram runs/ngram-tang --json load.json

Without --lm / --ngram it first trains a small character LSTM on the embedded Tang poems (1 layer, hidden 128,
`--train-steps` steps) and counts a 3-gram model on the same lines, under a temporary directory. Each phase
starts a fresh server (`rnnlab serve LM NGRAM --threads 1`, OMP_NUM_THREADS=1), waits for /health, then
runs the clients in one asyncio process (a minimal keep-alive HTTP/1.1 client each): generate requests are unseeded samples of `--max-tokens`
tokens (`{"options": {"max_tokens": K}}`); score requests send one random poem line to the neural LM and the
n-gram model in turn. Printed per phase: requests, requests/s, p50 and p99 latency, errors (any status but
200, or a client timeout) and the server's resident memory before and after; then the batching ratio per verb.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def train_models(root: Path, steps: int) -> tuple[Path, Path]:
    from rnnlab.cli import main as rnnlab
    from rnnlab.data.tang import tang_splits

    lines = tang_splits()["train"].splitlines()
    poems = root / "poems.txt"
    poems.write_text("\n".join(lines[:2000]) + "\n", encoding="utf-8")
    lm = root / "lm"
    code = rnnlab(["train", "lm", "--data.corpus", str(poems), "--model.embedding_size", "64", "--model.hidden_size",
                   "128", "--model.num_layers", "1", "--batch_size", "32", "--bptt", "64", "--trainer.max_steps",
                   str(steps), "--trainer.max_epochs", "null", "--trainer.eval_every", str(steps),
                   "--trainer.progress", "false", "--trainer.plot", "false", "--trainer.device", "cpu",
                   "--output_dir", str(lm)])  # fmt: skip
    if code != 0:
        raise SystemExit(f"training the LM failed ({code})")
    ngram = root / "ngram"
    if rnnlab(["train", "ngram", str(poems), "--order", "3", "--level", "char", "--output-dir", str(ngram)]) != 0:
        raise SystemExit("counting the n-gram model failed")
    return lm, ngram


class Server:
    """`rnnlab serve` in a subprocess on a free loopback port."""

    def __init__(self, models: list[Path], batching: bool) -> None:
        self.port = free_port()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        argv = [sys.executable, "-m", "rnnlab.cli", "serve", *map(str, models), "--port", str(self.port),
                "--threads", "1", *([] if batching else ["--no-batching"])]  # fmt: skip
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited: {self.process.stderr.read()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    self.names = [m["name"] for m in httpx.get(f"{self.url}/models").json()["models"]]
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("the server did not answer /health within 120 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Connection:
    """A minimal HTTP/1.1 keep-alive client: the load generator must cost far less than the server it loads
    (httpx's async pool, shared by 64 clients, capped this machine at ~60 requests/s even on /health; this
    makes ~500)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)  # fmt: skip
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        length = next(int(line.split(":", 1)[1]) for line in head[1:] if line.lower().startswith("content-length:"))
        return int(head[0].split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def load(port: int, requests: list[tuple[str, dict]], clients: int, seconds: float) -> dict:
    """`clients` loops, each on its own connection, posting requests (round robin) for `seconds`."""
    latencies: list[float] = []
    errors: list[str] = []
    bodies = [(path, json.dumps(body).encode()) for path, body in requests]
    end = time.monotonic() + seconds

    async def one(number: int) -> None:
        connection, turn = Connection(port), number
        try:
            while time.monotonic() < end:
                path, body = bodies[turn % len(bodies)]
                turn += clients
                start = time.monotonic()
                try:
                    status, answer = await asyncio.wait_for(connection.post(path, body), 120)
                except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, StopIteration) as error:
                    errors.append(type(error).__name__)
                    connection.close()
                    connection = Connection(port)
                    continue
                if status != 200:
                    errors.append(f"{status}: {answer[:120]!r}")
                    continue
                latencies.append(time.monotonic() - start)
        finally:
            connection.close()

    started = time.monotonic()
    await asyncio.gather(*(one(number) for number in range(clients)))
    elapsed = time.monotonic() - started
    latencies.sort()

    def quantile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50_ms": quantile(0.50),
            "p99_ms": quantile(0.99), "errors": len(errors), "error_examples": sorted(set(errors))[:3],
            "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan")}  # fmt: skip


def main() -> int:
    import torch

    torch.set_num_threads(1)  # training the small models here, and the clients: one thread (the server too)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", type=Path, help="a neural LM model/run directory (default: train a small one)")
    parser.add_argument("--ngram", type=Path, help="an n-gram model directory (default: count one)")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30.0, help="per phase (4 phases)")
    parser.add_argument("--max-tokens", type=int, default=40, help="tokens per generated sample")
    parser.add_argument("--train-steps", type=int, default=150)
    parser.add_argument("--verbs", nargs="+", default=["generate", "score"], choices=["generate", "score"])
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    if not 1 <= args.clients <= 256 or not 1 <= args.seconds <= 300:
        parser.error("--clients must be in 1..256 and --seconds in 1..300 (a bounded load test)")

    with tempfile.TemporaryDirectory(prefix="rnnlab-serve-load-") as scratch:
        lm, ngram = args.lm, args.ngram
        if lm is None or ngram is None:
            trained = train_models(Path(scratch), args.train_steps)
            lm, ngram = lm or trained[0], ngram or trained[1]
        from rnnlab.data.tang import tang_splits

        sentences = [line for line in tang_splits()["valid"].splitlines() if line.strip()][:500]
        random.Random(0).shuffle(sentences)
        rows = []
        for verb in args.verbs:
            for batching in (False, True):
                server = Server([lm, ngram], batching)
                try:
                    neural, counted = server.names
                    if verb == "generate":
                        requests = [(f"/models/{neural}/generate", {"options": {"max_tokens": args.max_tokens}})]
                    else:
                        requests = [(f"/models/{name}/score", {"inputs": [s]})
                                    for s in sentences for name in (neural, counted)]  # fmt: skip
                    before = rss_mib(server.process.pid)
                    result = asyncio.run(load(server.port, requests, args.clients, args.seconds))
                    after = rss_mib(server.process.pid)
                    batches = httpx.get(f"{server.url}/health").json()["batches"]
                    runs = sum(b["runs"] for b in batches.values())
                    result["mean_batch"] = sum(b["requests"] for b in batches.values()) / runs if runs else 1.0
                finally:
                    server.stop()
                rows.append({"verb": verb, "batching": batching, "clients": args.clients, "seconds": args.seconds,
                             **result, "rss_before_mib": before, "rss_after_mib": after})  # fmt: skip
                print(format_row(rows[-1]), flush=True)

    print()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch 1 thread, "
          f"{args.clients} clients x {args.seconds:g} s per phase, generate max_tokens {args.max_tokens}")
    print("| verb | batching | requests | req/s | p50 ms | p99 ms | errors | requests per run | server RSS MiB (before -> after) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        print(f"| {row['verb']} | {'on' if row['batching'] else 'off'} | {row['requests']} | {row['rps']:.1f} | "
              f"{row['p50_ms']:.0f} | {row['p99_ms']:.0f} | {row['errors']} | {row['mean_batch']:.1f} | "
              f"{row['rss_before_mib']:.0f} -> {row['rss_after_mib']:.0f} |")  # fmt: skip
    for verb in args.verbs:
        off, on = (next(r for r in rows if r["verb"] == verb and r["batching"] is b) for b in (False, True))
        print(f"{verb}: batching raises throughput {on['rps'] / max(off['rps'], 1e-9):.2f}x")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 1 if any(row["errors"] for row in rows) else 0


def format_row(row: dict) -> str:
    return (f"{row['verb']:9s} batching {'on ' if row['batching'] else 'off'}  {row['requests']:6d} requests  "
            f"{row['rps']:7.1f}/s  p50 {row['p50_ms']:7.0f} ms  p99 {row['p99_ms']:7.0f} ms  errors {row['errors']}  "
            f"requests per run {row['mean_batch']:.1f}" + (f" {row['error_examples']}" if row["errors"] else ""))


if __name__ == "__main__":
    sys.exit(main())
