"""Training tokens/s of rnnlab's language model against a plain torch.nn.LSTM language model.

    python benchmarks/lm_throughput.py                    # PTB-small size: 2x200, vocab 10k, batch 20, bptt 35
    python benchmarks/lm_throughput.py --hidden 650 --device cuda

The reference is the pytorch/examples word_language_model recipe (Embedding -> dropout -> torch.nn.LSTM ->
dropout -> Linear, repackaged hidden state, cross-entropy, clip_grad_norm_, SGD update). Ours is
`rnnlab.nn.language_model.RNNLanguageModel` driven by `LanguageModelTask.train_step` with the same update. Both
run on the same random token stream in the same process, interleaved in rounds, and the median of the
rounds is reported. (The Trainer's own overhead is measured by benchmarks/trainer_overhead.py.)
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.lm.batching import BPTTWindows, batchify
from rnnlab.nn.language_model import RNNLanguageModel, RNNLMConfig, detach_state


class ExamplesLM(nn.Module):
    """pytorch/examples' RNNModel (LSTM case), names spelled out."""

    def __init__(self, vocab: int, size: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(vocab, size)
        self.rnn = nn.LSTM(size, size, layers, dropout=dropout)
        self.decoder = nn.Linear(size, vocab)

    def forward(self, tokens, hidden):
        output, hidden = self.rnn(self.drop(self.encoder(tokens)), hidden)
        return self.decoder(self.drop(output)), hidden


def _train_steps(model: nn.Module, windows: BPTTWindows, steps: int, lr: float, device,
                 autocast_dtype: torch.dtype | None = None) -> float:  # fmt: skip
    """Seconds for `steps` truncated-BPTT SGD steps (the examples' loop), the forward pass under autocast to
    `autocast_dtype` if given (benchmarks/gpu_checks.py: bf16)."""
    hidden = None
    autocast = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for index in range(steps):
        inputs, targets = (t.to(device) for t in windows[index % len(windows)])
        model.zero_grad(set_to_none=True)
        with autocast:
            logits, hidden = model(inputs, hidden)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        hidden = detach_state(hidden)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-lr)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab", type=int, default=10000)
    parser.add_argument("--hidden", type=int, default=200)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--steps", type=int, default=20, help="steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is steadier on a busy machine)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    stream = torch.randint(0, args.vocab, (args.batch_size * (args.bptt * args.steps + 1),))
    windows = BPTTWindows(batchify(stream, args.batch_size), args.bptt)
    config = RNNLMConfig(embedding_size=args.hidden, hidden_size=args.hidden, num_layers=args.layers, dropout=0.2)
    models = {
        "torch.nn.LSTM (pytorch/examples)": ExamplesLM(args.vocab, args.hidden, args.layers, 0.2).to(device),
        "rnnlab RNNLanguageModel": RNNLanguageModel(args.vocab, config).to(device),
    }
    for model in models.values():  # warm-up
        _train_steps(model, windows, 2, 0.1, device)
    seconds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            seconds[name].append(_train_steps(model, windows, args.steps, 0.1, device))
    tokens = args.steps * args.batch_size * args.bptt
    speeds = {name: tokens / statistics.median(times) for name, times in seconds.items()}
    reference = speeds["torch.nn.LSTM (pytorch/examples)"]
    print(f"# torch {torch.__version__}, {device}, {torch.get_num_threads()} threads; LSTM {args.layers}x{args.hidden}, "
          f"vocab {args.vocab}, batch {args.batch_size}, bptt {args.bptt}; median of {args.rounds} rounds")  # fmt: skip
    print("| implementation | train tokens/s | × reference |\n|---|---:|---:|")
    for name, speed in speeds.items():
        print(f"| {name} | {speed:,.0f} | {speed / reference:.2f} |")


if __name__ == "__main__":
    main()
