"""Every YAML file under configs/ must load into its task's config class (no unknown keys, valid values)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnlab.config import load_config
from rnnlab.tasks.classification import ClassifierConfig
from rnnlab.tasks.cloze import ClozeConfig
from rnnlab.tasks.language_model import LMTaskConfig
from rnnlab.tasks.tagging import TaggerConfig
from rnnlab.tasks.translation import TranslationConfig

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
CLASS_BY_FOLDER = {
    "lm": LMTaskConfig,
    "tagger": TaggerConfig,
    "classifier": ClassifierConfig,
    "cloze": ClozeConfig,
    "translate": TranslationConfig,
}


def test_every_config_folder_has_a_class() -> None:
    folders = {path.name for path in CONFIGS.iterdir() if path.is_dir()}
    assert folders <= set(CLASS_BY_FOLDER), f"no config class for {sorted(folders - set(CLASS_BY_FOLDER))}"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_config_loads(path: Path) -> None:
    config = load_config(CLASS_BY_FOLDER[path.parent.name], path)
    assert config.output_dir.startswith("runs/")
