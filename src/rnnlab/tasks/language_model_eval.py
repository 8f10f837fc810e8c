"""A saved RNN language model, loaded (`load_language_model` -> `NeuralLanguageModel`), and `rnnlab eval`.

    lm = load_language_model("runs/tang-char")                # a run directory: uses best/
    lm.score(["白日依山尽"]); lm.generate(...)                  # rnnlab.lm.neural.NeuralLanguageModel

A model directory (the Trainer's `best/` or `last/`) holds config.json (task "lm", the whole LMTaskConfig,
vocabulary size, level, boundary token, whether generation stops at a line end, the primer text),
model.safetensors, vocab.json and the tokenizer files (see `rnnlab.train.checkpoint`). The training side is
`rnnlab.tasks.language_model`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from rnnlab.config import config_from_dict
from rnnlab.data.corpora import load_corpus
from rnnlab.data.tokenizers import load_tokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import CheckpointError
from rnnlab.files import read_input_lines
from rnnlab.lm.neural import NeuralLanguageModel
from rnnlab.lm.prepare import build_model
from rnnlab.poetry.evaluation import format_poem_evaluation, is_poem_corpus, poem_evaluation
from rnnlab.tasks.registry import EvalRequest, resolve_model_dir
from rnnlab.train import load_model_dir, load_model_weights

__all__ = ["VOCAB_FILE", "evaluate", "format_evaluation", "load_language_model"]

VOCAB_FILE = "vocab.json"


def load_language_model(path: str | Path, device: str | torch.device = "cpu") -> NeuralLanguageModel:
    """Load a saved RNN language model (weights verified against the manifest; no code is unpickled)."""
    from rnnlab.tasks.language_model import LMTaskConfig  # here, not at the top: that module imports this one

    checkpoint = load_model_dir(path, "lm", map_location=device)
    try:
        config = config_from_dict(LMTaskConfig, checkpoint.config["config"], source=str(checkpoint.path / "config.json"))
        tokens = checkpoint.read_json(VOCAB_FILE)["tokens"]
        boundary = checkpoint.config["boundary"]
    except (KeyError, TypeError) as error:
        raise CheckpointError(f"{checkpoint.path}: config.json or vocab.json lacks a field ({error})") from None
    vocab = Vocabulary(tokens)
    tokenizer = load_tokenizer(checkpoint.path)
    model = build_model(vocab, config.model, boundary)
    load_model_weights(model, checkpoint)
    model.to(device)
    stop = bool(checkpoint.config.get("stop_at_line_end", True))
    return NeuralLanguageModel(model, tokenizer, vocab, boundary, stop, primer=checkpoint.config.get("primer", ""))


# ---------------------------------------------------------------------------------------------- eval
def evaluate(path: str | Path, request: EvalRequest) -> dict[str, Any]:
    """Perplexity / bits per token of a saved model on a split of its corpus, or on a text file; for a model of
    poems also its free samples' shape, rhyme and meter beside the evaluated poems (`rnnlab.poetry.evaluation`)."""
    from rnnlab.tasks.language_model import LMTaskConfig  # here, not at the top: that module imports this one

    lm = load_language_model(path)
    checkpoint_config = json.loads((resolve_model_dir(path) / "config.json").read_text(encoding="utf-8"))
    config = config_from_dict(LMTaskConfig, checkpoint_config["config"])
    if request.data_file:
        # A file of the user's: every line a sentence, scored the way `rnnlab score --input` scores it (primed
        # state, boundary first, every token and the closing boundary), so the two commands agree.
        texts = [line.strip() for line in read_input_lines(request.data_file, "sentences")]
        metrics = lm.evaluate_sentences(texts)
        where, training = request.data_file, _training_texts(config.data.corpus)
    else:
        # A split of the training corpus: read as one stream, the way training validates (same numbers).
        corpus = load_corpus(config.data.corpus)
        corpus_text = corpus.split(request.split)
        metrics = lm.evaluate_text(corpus_text, batch_size=config.eval_batch_size, bptt=config.bptt)
        where, texts, training = f"{corpus.name} {request.split}", corpus_text.split("\n"), corpus.train.split("\n")
    result = {"data": where, "level": checkpoint_config.get("level", "word"), **metrics}
    if is_poem_corpus(texts):  # a poem model: its free samples' shape, rhyme and meter beside these poems
        result["poems"] = poem_evaluation(lm, texts, training)
    return result


def _training_texts(corpus: str) -> list[str] | None:
    """The training split's lines of the model's corpus (what copying is checked against), or None if it
    cannot be read here (a user's file that moved, a dataset not fetched on this machine)."""
    from rnnlab.errors import UserError

    try:
        return load_corpus(corpus).train.split("\n")
    except (UserError, OSError):
        return None


def format_evaluation(result: dict[str, Any]) -> str:
    headline = (f"bits per character {result['bpc']:.4f}" if result["level"] == "char"
                else f"perplexity {result['ppl']:.2f}")  # fmt: skip
    sentences = f"{result['sentences']:,} sentences scored like `rnnlab score`, " if "sentences" in result else ""
    poems = f"\n{format_poem_evaluation(result['poems'])}" if "poems" in result else ""
    return (f"{result['data']}: {headline}  (loss {result['loss']:.4f} nats/token, perplexity {result['ppl']:.2f}, "
            f"{sentences}{result['tokens']:,} tokens, {result['unknown']:,} mapped to <unk>){poems}")  # fmt: skip
