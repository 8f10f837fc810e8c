"""rnnlab.labelling: the machinery of taggers, sentence classifiers and the bidirectional cloze model, and the
public kit a new classification-like task is made from (docs/labelling.md, "A classification task of your own").

Building blocks (shapes batch-first: words (N, L), chars (N, L, C), mask (N, L)):

    TokenVocab                  word + character vocabularies; .build, .encode (padded ids), .to_json/.from_json
    bucketed_batches, sorted_batches, evenly        index batches by length (training / evaluation), even caps
    labelled_splits(data, kind, read, what)         train / valid / test: a registered dataset, or files
    accuracy, entity_scores, confusion, format_confusion, plot_confusion, confusion_artifact     metrics
    read_json_file, dump_json                       the files of a saved model directory
                                                    (loading one: rnnlab.train.load_model_dir)

The text-classification kit (`rnnlab.labelling.kit`):

    TextClassifierDataConfig, TextClassifierConfig  configs to subclass (defaults) or reuse as they are
    text_classification_task(name, config_class, read, summary=..., model=...) -> TaskDescriptor
    TextClassifierKit           the same in parts: load_splits, build, load, evaluate_split, evaluate, descriptor
    Classifier, load_classifier_dir, format_classifier_evaluation    the trained model (rnnlab.labelling.classifier)
    ClassificationTask, build_classifier            training (rnnlab.labelling.classifier_training)
    CLASSIFY, ClassifyOptions                       the classify verb

Taggers and cloze (used by `rnnlab.tasks.tagging` / `rnnlab.tasks.cloze`): `rnnlab.labelling.tagger`,
`tagger_training`, `tag_verb`, `cloze`, `cloze_training`, `cloze_verb`. Starting a classifier from a language
model or another classifier: `rnnlab.labelling.pretrained_lm`, `rnnlab.labelling.transfer`.
Examples are `rnnlab.data.labelled.LabelledText` (text, label, source, line); `label<TAB>text` files are read
by `rnnlab.data.labelled.read_labelled_file`.
"""

from rnnlab.data.labelled import LabelledText, read_labelled_file
from rnnlab.labelling.batches import bucketed_batches, evenly, sorted_batches
from rnnlab.labelling.classifier import Classifier, format_classifier_evaluation, load_classifier_dir
from rnnlab.labelling.classifier_training import ClassificationTask, build_classifier
from rnnlab.labelling.classify_verb import CLASSIFY, ClassifyOptions
from rnnlab.labelling.kit import (
    TextClassifierConfig,
    TextClassifierDataConfig,
    TextClassifierKit,
    text_classification_task,
)
from rnnlab.labelling.metrics import (
    PRF,
    accuracy,
    confusion,
    confusion_artifact,
    entity_scores,
    format_confusion,
    plot_confusion,
)
from rnnlab.labelling.model_dir import dump_json, read_json_file
from rnnlab.labelling.splits import labelled_splits
from rnnlab.labelling.vocab import TokenVocab

__all__ = [
    "CLASSIFY",
    "PRF",
    "ClassificationTask",
    "Classifier",
    "ClassifyOptions",
    "LabelledText",
    "TextClassifierConfig",
    "TextClassifierDataConfig",
    "TextClassifierKit",
    "TokenVocab",
    "accuracy",
    "bucketed_batches",
    "build_classifier",
    "confusion",
    "confusion_artifact",
    "dump_json",
    "entity_scores",
    "evenly",
    "format_classifier_evaluation",
    "format_confusion",
    "labelled_splits",
    "load_classifier_dir",
    "plot_confusion",
    "read_json_file",
    "read_labelled_file",
    "sorted_batches",
    "text_classification_task",
]
