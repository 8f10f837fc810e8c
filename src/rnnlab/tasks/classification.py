"""Sentence classification (sequence to vector): BiRNN encoder -> pooling -> label probabilities.

    tokens -> embeddings -> BiLSTM/BiGRU -> last state | mean | max | attention pooling -> softmax

Data: a built-in dataset (`en-sentiment`, `zh-sentiment`) or `label<TAB>text` files. The machinery (training,
evaluation, the loaded `Classifier`, the `classify` verb) is the text-classification kit of
`rnnlab.labelling`; this module is the task's config defaults and its registration.
`load_classifier(path).probabilities(texts)` gives {label: probability} per text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnlab.data.labelled import read_labelled_file
from rnnlab.labelling.classifier import Classifier
from rnnlab.labelling.classify_verb import CLASSIFY
from rnnlab.labelling.kit import TextClassifierConfig, TextClassifierDataConfig, TextClassifierKit
from rnnlab.tasks.registry import register_task

__all__ = ["CLASSIFY", "Classifier", "ClassifierConfig", "ClassifierDataConfig", "DESCRIPTOR", "KIT", "build",
           "evaluate", "evaluate_dataset_split", "load_classifier", "load_splits", "read_labelled_file"]

TASK = "classifier"


@dataclass
class ClassifierDataConfig(TextClassifierDataConfig):
    dataset: str | None = "en-sentiment"  # built-in (rnnlab.data.labelled) or "files" for `label<TAB>text` files


@dataclass
class ClassifierConfig(TextClassifierConfig):
    data: ClassifierDataConfig = field(default_factory=ClassifierDataConfig)
    output_dir: str = "runs/classifier"


KIT = TextClassifierKit(TASK, ClassifierConfig, read_labelled_file)
load_splits, build, load_classifier = KIT.load_splits, KIT.build, KIT.load
evaluate, evaluate_dataset_split = KIT.evaluate, KIT.evaluate_split

DESCRIPTOR = register_task(KIT.descriptor("BiRNN sentence classifier", docs="docs/labelling.md"))
