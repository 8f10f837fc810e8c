"""`rnnlab demo`: train a character LSTM on the embedded Tang poems within a time budget, then show it off.

It prints and writes to `<output_dir>/report.md`: held-out bits per character, free samples and the
fraction of them that have a regular poem shape, samples continuing a prompt, form-constrained and
acrostic poems, and the scores of a sentence and its scrambled copy. The Trainer writes the loss curve
(`loss_curve.png`) and the checkpoints (`best/`, `last/`) next to it.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from rnnlab.config import config_from_dict
from rnnlab.data.corpora import load_corpus
from rnnlab.data.poetry import poem_form
from rnnlab.lm.scoring import print_scores
from rnnlab.tasks.language_model import LanguageModelTask, LMTaskConfig, load_language_model
from rnnlab.train import Trainer

# The settings of configs/lm/tang-char.yaml; the demo replaces the epoch count by its time budget.
DEMO_CONFIG = {
    "data": {"corpus": "tang", "level": "char"},
    "model": {"cell": "lstm", "embedding_size": 128, "hidden_size": 256, "num_layers": 1, "dropout": 0.1},
    "trainer": {"optimizer": "adam", "lr": 0.003, "schedule": "cosine", "clip_grad_norm": 1.0,
                "log_every": 50, "max_epochs": None, "max_steps": 1000},  # fmt: skip
    "batch_size": 32,
    "bptt": 64,
    "eval_batch_size": 16,
}
SENTENCES = ["那只猫在作报告!", "! 在报那猫告做只"]  # the chapter's plausible vs scrambled pair


def _seconds_per_step(task: LanguageModelTask, probes: int = 4) -> float:
    """Time forward+backward on a throwaway copy of the model, so the real run's trajectory is untouched."""
    model = LanguageModelTask.__new__(LanguageModelTask)
    model.__dict__.update(task.__dict__)
    model.model = type(task.model)(len(task.vocab), task.config.model)
    model.state = None
    model.train_step(task.windows[0]).loss.backward()  # warm-up
    start = time.perf_counter()
    for index in range(1, probes + 1):
        model.train_step(task.windows[index]).loss.backward()
    return (time.perf_counter() - start) / probes * 1.15  # + optimizer step, logging and evaluation


def run_demo(output_dir: str = "runs/demo", minutes: float = 4.0, seed: int = 1, steps: int | None = None) -> dict:
    """Train within `minutes` (or exactly `steps` steps), then print and write the report.

    Returns the numbers of the report.
    """
    torch.manual_seed(seed)
    corpus = load_corpus("tang")
    config = config_from_dict(LMTaskConfig, {**DEMO_CONFIG, "output_dir": output_dir})
    config.trainer.seed = seed
    task = LanguageModelTask(config, corpus)
    step_time = _seconds_per_step(task)
    if steps is None:
        steps = max(50, int(minutes * 60 / step_time))
    config.trainer.max_steps = steps
    config.trainer.eval_every = max(50, steps // 6)
    print(f"rnnlab demo: character LSTM on {len(corpus.train):,} characters of Tang poems "
          f"({len(task.vocab):,} symbols); {steps} steps (~{steps * step_time / 60:.1f} min on this machine)")  # fmt: skip
    started = time.perf_counter()
    summary = Trainer(task, task.model, config.trainer, output_dir).fit()
    train_minutes = (time.perf_counter() - started) / 60

    lm = load_language_model(summary["best_checkpoint"] or summary["last_checkpoint"])
    test = lm.evaluate_text(corpus.test, batch_size=config.eval_batch_size, bptt=config.bptt)
    free = lm.generate("", num_samples=16, max_tokens=120, temperature=0.8, top_k=40, top_p=0.95, seed=seed)
    shapes = [poem_form(text) for text in free]
    well_formed = sum(shape is not None for shape in shapes) / len(free)
    prompted = lm.generate("白鹭", num_samples=4, max_tokens=120, temperature=0.8, top_k=40, seed=seed)
    forms = {form: lm.generate_poem(form, num_samples=2, temperature=0.8, top_k=40, seed=seed)
             for form in ("五言绝句", "七言律诗")}  # fmt: skip
    acrostic = lm.generate_poem(acrostic="春夏秋冬", num_samples=2, temperature=0.8, top_k=40, seed=seed)
    scores = lm.score(SENTENCES)

    lines = [
        "# rnnlab demo: a character LSTM writes Tang poems",
        "",
        f"- training: {summary['steps']} steps in {train_minutes:.1f} min "
        f"({config.model.num_layers}x{config.model.hidden_size} LSTM, {len(task.vocab):,} characters)",
        f"- held-out test: {test['bpc']:.3f} bits per character (perplexity {test['ppl']:.1f}) "
        f"over {test['tokens']:,} characters",
        f"- free samples with a regular poem shape: {well_formed:.0%} ({sum(s is not None for s in shapes)}/{len(free)})",
        "- loss curve: loss_curve.png",
        "",
        "## Free samples (temperature 0.8, top-k 40, top-p 0.95)",
        *[f"- {text}  ({shape or 'irregular'})" for text, shape in zip(free[:8], shapes[:8])],
        "",
        "## Continuing the prompt 白鹭",
        *[f"- {text}" for text in prompted],
        "",
        "## Poem forms",
        *[f"- {form}: {poem}" for form, poems in forms.items() for poem in poems],
        "",
        "## Acrostic 春夏秋冬",
        *[f"- {poem}" for poem in acrostic],
        "",
        "## Which sentence is more plausible?",
        *[f"- {s.text}: log P = {s.total_logprob:.2f} nats, perplexity {s.perplexity:.1f}" for s in scores],
    ]
    report = "\n".join(lines) + "\n"
    path = Path(output_dir) / "report.md"
    path.write_text(report, encoding="utf-8")
    print()
    print(report)
    print_scores(scores, show_tokens=True)
    print(f"\nreport: {path}\nmodel: {lm and (summary['best_checkpoint'] or summary['last_checkpoint'])}")
    print(f"try: rnnlab generate {output_dir} --acrostic 江山如画   |   rnnlab score {output_dir} \"床前明月光\"")
    return {"test_bpc": test["bpc"], "well_formed": well_formed, "steps": summary["steps"],
            "minutes": train_minutes, "scores": [s.total_logprob for s in scores],
            "ppl": math.exp(test["loss"])}  # fmt: skip
