"""A tiny LSTM language-model task for trainer tests: dropout (so RNG state matters), a hidden state carried
across truncated-BPTT batches (so task state matters), per-epoch shuffling of the stream order.

Run as a script it trains into OUTPUT_DIR; `--kill-at-step N` sends itself SIGKILL once step N has begun.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys

import torch

from rnnlab.train import EpochBatches, StepOutput, Trainer, TrainerConfig, TrainTask, shuffled_indices

VOCAB = 11


class TinyLM(torch.nn.Module):
    def __init__(self, hidden: int = 16):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, hidden)
        self.lstm = torch.nn.LSTM(hidden, hidden, batch_first=True)
        self.dropout = torch.nn.Dropout(0.3)
        self.out = torch.nn.Linear(hidden, VOCAB)
        self.out.weight = self.embed.weight  # tied weights: checkpoints must handle shared tensors

    def forward(self, x: torch.Tensor, state=None):
        """x: (N, L) ids -> logits (N, L, VOCAB), (h, c) each (1, N, H)."""
        output, state = self.lstm(self.dropout(self.embed(x)), state)
        return self.out(self.dropout(output)), state


class TinyTask(TrainTask):
    loss_metric = "ppl"

    def __init__(self, model: TinyLM, seed: int = 0, kill_at_step: int | None = None, crash_at_step: int | None = None):
        self.model = model
        self.seed = seed
        self.kill_at_step = kill_at_step
        self.crash_at_step = crash_at_step
        self.steps_seen = 0
        generator = torch.Generator().manual_seed(1234)
        # 4 parallel streams of 4 chunks of 8 tokens: each batch is (4 streams, 9 tokens)
        self.data = torch.randint(0, VOCAB, (4, 4 * 8 + 1), generator=generator)
        self.valid = torch.randint(0, VOCAB, (2, 17), generator=generator)
        self.hidden = None

    def train_batches(self, epoch: int):
        # the chunk order within an epoch stays sequential (truncated BPTT), but which streams are batched
        # together is reshuffled per epoch from (seed, epoch)
        streams = shuffled_indices(4, self.seed, epoch)
        chunks = [self.data[streams, i * 8 : i * 8 + 9] for i in range(4)]
        return EpochBatches(chunks)

    def on_epoch_start(self, epoch: int) -> None:
        self.hidden = None

    def train_step(self, model: torch.nn.Module, batch: torch.Tensor) -> StepOutput:
        self.steps_seen += 1
        if self.kill_at_step is not None and self.steps_seen >= self.kill_at_step:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.crash_at_step is not None and self.steps_seen >= self.crash_at_step:
            raise RuntimeError("simulated crash")
        hidden = None if self.hidden is None else tuple(h.detach() for h in self.hidden)
        logits, self.hidden = model(batch[:, :-1], hidden)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
        return StepOutput(loss, num_tokens=batch[:, 1:].numel(), metrics={"noise": float(torch.rand(()))})

    def evaluate(self) -> dict[str, float]:
        logits, _ = self.model(self.valid[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), self.valid[:, 1:].reshape(-1)).item()
        return {"loss": loss, "ppl": math.exp(loss)}

    def checkpoint_config(self) -> dict:
        return {"task": "tiny", "vocab_size": VOCAB}

    def checkpoint_files(self) -> dict:
        return {"vocab.json": '{"a": 0}'}

    def state_dict(self) -> dict:
        return {"hidden": None if self.hidden is None else [h.detach() for h in self.hidden]}

    def load_state_dict(self, state: dict) -> None:
        self.hidden = None if state["hidden"] is None else tuple(state["hidden"])


class NaNLossAt(TinyTask):
    """TinyTask whose loss becomes NaN from batch `at` on (for the divergence tests)."""

    def __init__(self, model, at):
        super().__init__(model)
        self.at = at

    def train_step(self, model, batch):
        output = super().train_step(model, batch)
        if self.steps_seen >= self.at:
            output.loss = output.loss * float("nan")
        return output


def make_config(**overrides) -> TrainerConfig:
    settings = dict(
        lr=0.01, max_epochs=4, eval_every=5, log_every=1, save_every=3, clip_grad_norm=1.0,
        schedule="plateau", plateau_patience=0, seed=7, device="cpu", progress=False, plot=False,
    )
    settings.update(overrides)
    return TrainerConfig(**settings)


def train(output_dir: str, resume: bool = False, kill_at_step: int | None = None, crash_at_step: int | None = None) -> dict:
    """The run the resume test compares: same model init, data and config every time."""
    torch.manual_seed(0)  # model init; a resumed run gets its weights from the checkpoint anyway
    model = TinyLM()
    task = TinyTask(model, seed=7, kill_at_step=kill_at_step, crash_at_step=crash_at_step)
    return Trainer(task, model, make_config(), output_dir).fit(resume=resume)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("output_dir")
    parser.add_argument("--kill-at-step", type=int, default=None)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    train(args.output_dir, args.resume, args.kill_at_step)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
