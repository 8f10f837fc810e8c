"""train / valid / test examples of a labelling task's `data:` section: a registered dataset, or files."""

from __future__ import annotations

from collections.abc import Callable

from rnnlab.errors import ConfigError
from rnnlab.labelling.batches import evenly

__all__ = ["labelled_splits"]


def labelled_splits(data, kind: str, read: Callable[[str], list], what: str) -> dict[str, list]:
    """train / valid / test examples of a `data:` section.

    data: any object with `dataset`, `train`, `valid`, `test` and `max_train_sentences` attributes (a
        config's data section). `dataset` names a registered dataset of `kind` (rnnlab.data.registry: a
        built-in one, or one a task or plugin registered, generated ones included); None: read files.
    read: `(path) -> list of examples` for data.train / data.valid / data.test (no valid file: every 10th
        training example is held out).
    what: names the file format in the error for a missing data.train ("a label<TAB>text file").

    `data.max_train_sentences` caps the training set evenly.
    """
    if data.dataset:
        from rnnlab.data.registry import get_dataset, load_dataset

        splits = load_dataset(get_dataset(data.dataset, kind=kind).name)
    else:
        if not data.train:
            raise ConfigError(f"data: expected data.dataset or data.train ({what}), got neither")
        splits = {"train": read(data.train)}
        for name in ("valid", "test"):
            path = getattr(data, name)
            splits[name] = read(path) if path else []
        if not splits["valid"]:
            train = splits["train"]
            splits["valid"], splits["train"] = train[9::10], [x for i, x in enumerate(train) if i % 10 != 9]
    if data.max_train_sentences:
        splits["train"] = evenly(splits["train"], data.max_train_sentences)
    return splits
