"""`rnnlab train lm` and `rnnlab demo` (the main job: a Tang-poem character LSTM, trained and shown off)."""

from __future__ import annotations

import argparse


def register(commands) -> None:
    train = commands.train.add_parser(
        "lm",
        help="train an RNN language model",
        description="Train an RNN language model. Any config key can be overridden: --trainer.lr 0.5, "
        "--model.cell gru, --data.corpus ptb, batch_size=32 ...",
    )
    train.add_argument("--config", default=None, help="YAML config (see configs/lm/)")
    train.add_argument("--resume", action="store_true", help="continue the run in output_dir from last/")
    train.set_defaults(handler=run_train, accepts_overrides=True)

    demo = commands.top.add_parser(
        "demo", help="train a Tang-poem LSTM on the embedded corpus (minutes), then show it off"
    )
    demo.add_argument("--output-dir", default="runs/demo")
    demo.add_argument("--minutes", type=float, default=4.0, help="training time budget (default 4)")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--steps", type=int, default=None, help="train exactly this many steps instead")
    demo.set_defaults(handler=run_demo)


def run_train(args: argparse.Namespace) -> int:
    from rnnlab.config import load_config
    from rnnlab.tasks.language_model import LMTaskConfig, train

    config = load_config(LMTaskConfig, args.config, args.overrides)
    summary = train(config, resume=args.resume)
    _print_summary(summary)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from rnnlab.tasks.demo import run_demo as demo

    demo(output_dir=args.output_dir, minutes=args.minutes, seed=args.seed, steps=args.steps)
    return 0


def _print_summary(summary: dict) -> None:
    test = summary.get("test")
    print(f"trained {summary['steps']} steps in {summary['wall_time']:.0f} s; best {summary['metric']} "
          f"{summary['best_value']:.4f} at step {summary['best_step']}")  # fmt: skip
    if test:
        print(f"test: loss {test['loss']:.4f}, perplexity {test['ppl']:.2f}, bits/token {test['bpc']:.4f}")
    print(f"model: {summary.get('best_checkpoint') or summary.get('last_checkpoint')}")
