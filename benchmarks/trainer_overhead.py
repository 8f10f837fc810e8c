"""How much the Trainer costs on top of a hand-written training loop, and how long checkpoints take.

    nice -n 10 .venv/bin/python benchmarks/trainer_overhead.py [--steps 40] [--repeats 3] [--hidden 256]

Both loops train the same 2-layer LSTM language model on the same random batches with Adam and gradient
clipping; the Trainer run logs every 10 steps and saves no checkpoints (eval and save happen once, at the
end, and are timed separately). Runs alternate in the same process and the best time of each is compared,
so the ratio holds on a busy machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from rnnlab.train import StepOutput, Trainer, TrainerConfig, TrainTask, load_checkpoint, save_checkpoint

VOCAB, SEQ, BATCH = 1000, 35, 32


class LM(torch.nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, hidden)
        self.lstm = torch.nn.LSTM(hidden, hidden, num_layers=2, batch_first=True)
        self.out = torch.nn.Linear(hidden, VOCAB)

    def forward(self, x):
        return self.out(self.lstm(self.embed(x))[0])


def loss_of(model: LM, batch: torch.Tensor) -> torch.Tensor:
    logits = model(batch[:, :-1])
    return torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))


class Task(TrainTask):
    def __init__(self, model: LM, batches: list[torch.Tensor]):
        self.model, self.batches = model, batches

    def train_batches(self, epoch):
        return self.batches

    def train_step(self, model, batch):
        return StepOutput(loss_of(model, batch), batch[:, 1:].numel())

    def evaluate(self):
        return {"loss": 0.0}

    def checkpoint_config(self):
        return {"task": "bench"}


def plain_loop(model: LM, batches: list[torch.Tensor]) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for batch in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        float(loss.detach())


def trainer_loop(model: LM, batches: list[torch.Tensor], output_dir: Path) -> float:
    config = TrainerConfig(
        max_epochs=1, eval_every=10**9, log_every=10, clip_grad_norm=1.0, save_last=False, save_best=False,
        progress=False, plot=False, device="cpu",
    )
    trainer = Trainer(Task(model, batches), model, config, output_dir)
    start = time.perf_counter()
    trainer.fit()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is steadiest on a shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, VOCAB, (BATCH, SEQ + 1), generator=generator) for _ in range(args.steps)]
    plain_times, trainer_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        plain_loop(LM(args.hidden), batches[:3])  # warm-up
        for repeat in range(args.repeats):  # alternate which loop goes first
            for which in ((0, 1) if repeat % 2 == 0 else (1, 0)):
                if which == 0:
                    start = time.perf_counter()
                    plain_loop(LM(args.hidden), batches)
                    plain_times.append(time.perf_counter() - start)
                else:
                    trainer_times.append(trainer_loop(LM(args.hidden), batches, Path(tmp) / "run"))

        model = LM(args.hidden)
        optimizer = torch.optim.Adam(model.parameters())
        loss_of(model, batches[0]).backward()
        optimizer.step()
        size_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
        save_times, load_times = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            save_checkpoint(Path(tmp) / "ckpt", config={"task": "bench"}, model=model,
                            trainer_state={"optimizer": optimizer.state_dict()})
            save_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            load_checkpoint(Path(tmp) / "ckpt")
            load_times.append(time.perf_counter() - start)

    plain, trained = min(plain_times), min(trainer_times)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, LSTM 2x{args.hidden}, vocab {VOCAB}, "
          f"batch {BATCH}x{SEQ}, {args.steps} steps, best of {args.repeats}")
    print(f"{'loop':<28}{'seconds':>10}{'ms/step':>10}{'ratio':>8}")
    print(f"{'hand-written torch loop':<28}{plain:>10.3f}{1000 * plain / args.steps:>10.1f}{1.0:>8.3f}")
    print(f"{'rnnlab Trainer':<28}{trained:>10.3f}{1000 * trained / args.steps:>10.1f}{trained / plain:>8.3f}")
    print(f"checkpoint of {size_mb:.1f} MB weights + Adam state: save {min(save_times):.3f} s, "
          f"load+verify {min(load_times):.3f} s")


if __name__ == "__main__":
    main()
