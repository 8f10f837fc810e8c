"""Data-parallel training under torchrun (rnnlab.train.distributed): CPU, gloo, 2 processes on loopback.

A 2-process run takes the same steps as a 1-process run of the whole batch (to 1e-5); a rank killed with
SIGKILL stops the run with one line and `--resume` continues the exact trajectory; a checkpoint written
under DDP loads in one process; `--nproc` beyond the CPU cores and an unreachable rendezvous are one line.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rnnlab.cli import main
from rnnlab.data.tang import tang_splits
from rnnlab.train.batches import EpochBatches
from rnnlab.train.distributed import DistributedError, Filler, shard_bounds, slice_batch

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")

STEPS = 80  # long enough to kill a rank between two checkpoints (save_every 4)


def _config(tmp: Path) -> Path:
    corpus = tmp / "poems.txt"
    corpus.write_text("\n".join(tang_splits()["train"].splitlines()[:200]) + "\n", encoding="utf-8")
    config = tmp / "lm.yaml"
    config.write_text(
        f"""task: lm
data: {{corpus: {corpus}}}
model: {{embedding_size: 8, hidden_size: 8}}
trainer: {{max_steps: {STEPS}, max_epochs: null, eval_every: 40, save_every: 4, log_every: 1, progress: false,
          plot: false, device: cpu}}
batch_size: 4
bptt: 4
eval_batch_size: 2
output_dir: {tmp / "run"}
""",
        encoding="utf-8",
    )
    return config


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", RNNLAB_DIST_TIMEOUT="60", PYTHONUNBUFFERED="1")
    env["RNNLAB_TEST_RUN"] = str(os.getpid())  # to find this test's ranks among the machine's processes
    return env


def _rnnlab(*args: str, env=None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rnnlab", "train", *args], env=env or _env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)  # fmt: skip


def _losses(run: Path) -> dict[int, float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in records if r["event"] == "train"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 1-process reference run (in this process), and a 2-process run of the same config whose rank 1 is
    killed with SIGKILL between two checkpoints, then resumed with `--resume --nproc 2` (two torchrun
    launches in all: each costs seconds of start-up)."""
    tmp = tmp_path_factory.mktemp("ddp")
    config = _config(tmp)
    assert main(["train", str(config), f"output_dir={tmp / 'one'}"]) == 0
    run = tmp / "two"
    process = _rnnlab(str(config), f"output_dir={run}", "--nproc", "2")
    deadline = time.monotonic() + 90
    while not (run / "last").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    victim = _rank_pid(1)
    assert victim is not None and process.poll() is None, "the run ended before a rank could be killed"
    os.kill(victim, signal.SIGKILL)
    _, killed_err = process.communicate(timeout=60)  # no hang: the survivor and torchrun stop on their own
    killed = (process.returncode, killed_err, max(_losses(run)))
    resumed = _rnnlab(str(run / "run.yaml"), "--resume", "--nproc", "2")
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    return tmp, killed


def test_two_processes_equal_one_process_of_the_whole_batch(runs):
    tmp, _ = runs
    one, two = _losses(tmp / "one"), _losses(tmp / "two")  # two: killed, then resumed (next test)
    assert sorted(one) == sorted(two) == list(range(1, STEPS + 1))
    assert max(abs(one[step] - two[step]) for step in one) < 1e-5
    assert one[1] - one[STEPS] > 0.1  # it learned: the comparison is of a moving trajectory
    # rank 0 alone wrote: one metrics log, whose token counts are the whole batch's (4 streams x bptt 4)
    records = [json.loads(line) for line in (tmp / "two" / "metrics.jsonl").read_text().splitlines()]
    assert {r["tokens"] for r in records if r["event"] == "train"} == {16}
    from rnnlab.train.checkpoint import load_checkpoint

    a, b = load_checkpoint(tmp / "one" / "last"), load_checkpoint(tmp / "two" / "last")
    assert a.state_dict.keys() == b.state_dict.keys()  # no "module." prefixes
    assert all(torch.allclose(a.state_dict[k], b.state_dict[k], atol=1e-5) for k in a.state_dict)
    assert len(b.trainer_state["ranks"]) == 2 and b.trainer_state["world_size"] == 2


def test_sigkill_of_a_rank_stops_with_one_line_and_resume_continues_exactly(runs):
    _, (code, err, stopped) = runs
    assert code != 0 and stopped < STEPS  # stopped early; the resumed run reached STEPS exactly (above)
    errors = [line for line in err.splitlines() if line.startswith("rnnlab: error:")]
    assert errors and "Traceback" not in err and "FAILED" not in err, err
    assert any("killed by SIGKILL" in line and "--resume" in line for line in errors), err


def test_a_ddp_checkpoint_loads_in_one_process(runs, capsys):
    tmp, _ = runs
    assert main(["generate", str(tmp / "two" / "best"), "--max-tokens", "5", "--seed", "1"]) == 0
    assert capsys.readouterr().out.strip()
    # and one process resumes it: its carried hidden state is per rank, so the number of processes must match
    assert main(["train", str(tmp / "two" / "run.yaml"), "--resume", "trainer.max_steps=90"]) == 2
    assert "written by 2 process(es)" in capsys.readouterr().err


def _rank_pid(rank: int) -> int | None:
    """The pid of rank `rank` of this test's torchrun run (found by its environment)."""
    marker = f"RNNLAB_TEST_RUN={os.getpid()}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environ and f"RANK={rank}".encode() in environ and b"LOCAL_RANK=" + str(rank).encode() in environ:
            return int(entry.name)
    return None


def test_nproc_beyond_the_cpu_cores_is_one_line(tmp_path, capsys):
    config = _config(tmp_path)
    cores = len(os.sched_getaffinity(0))
    assert main(["train", str(config), "--nproc", str(cores + 1)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"rnnlab: error: --nproc {cores + 1}: this machine has {cores} CPU core(s); ask for at most {cores}"
    assert main(["train", str(config), "--nproc", "0"]) == 2
    assert "--nproc must be" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_an_unreachable_rendezvous_is_one_line_not_a_hang(tmp_path, capsys, monkeypatch):
    """Rank 1 of 2 whose rendezvous (rank 0's store) nobody serves: one line after RNNLAB_DIST_TIMEOUT."""
    config = _config(tmp_path)
    with socket.socket() as free:  # a port nobody listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    for key, value in {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(port), "RNNLAB_DIST_TIMEOUT": "2"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    start = time.monotonic()
    assert main(["train", str(config)]) == 2
    assert time.monotonic() - start < 30
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnlab: error: rank 1 of 2 could not reach the rendezvous at "
                                                   f"127.0.0.1:{port} within 2 s"), lines  # fmt: skip
    assert not torch.distributed.is_initialized()
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------------ sharding
def test_shards_are_contiguous_and_cover_the_batch():
    assert [shard_bounds(10, r, 3) for r in range(3)] == [(0, 3), (3, 6), (6, 10)]
    batch = {"x": torch.arange(10).view(5, 2), "lengths": torch.arange(5), "scale": torch.tensor(2.0)}
    parts = [slice_batch(batch, r, 2) for r in range(2)]
    assert torch.equal(torch.cat([p["x"] for p in parts]), batch["x"])
    assert parts[1]["lengths"].tolist() == [2, 3, 4] and parts[0]["scale"] is batch["scale"]
    filler = slice_batch(batch, 0, 8)  # fewer items than ranks: the first item, which the Trainer weights 0
    assert isinstance(filler, Filler) and filler.batch["x"].tolist() == [[0, 1]]
    with pytest.raises(DistributedError, match="holds no tensor"):
        slice_batch(["a", "b"], 0, 2)
    batches = EpochBatches([[0, 1, 2, 3, 4], [7]], make=lambda items: torch.tensor(items))
    assert batches.shard(0, 1, 2).tolist() == [2, 3, 4]  # cut before encoding
    assert batches.shard(1, 1, 2).tolist() == [7] and batches.shard(1, 0, 2).batch.tolist() == [7]
