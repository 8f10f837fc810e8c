"""rnnlab.data: the dataset registry, tokenizers, vocabularies, corpora (built-in and user text), poem forms.

    from rnnlab.data import load_corpus, list_datasets, CharTokenizer, Vocabulary
    corpus = load_corpus("tang")
    tokenizer = CharTokenizer()
    vocab = Vocabulary.build(tokenizer.tokenize(corpus.train))
"""

from rnnlab.data.corpora import Corpus, load_corpus
from rnnlab.data.poetry import FORMS, PoemForm, is_well_formed, poem_form, split_lines
from rnnlab.data.registry import (
    DatasetEntry,
    Source,
    dataset_info,
    fetch_dataset,
    get_dataset,
    list_datasets,
    load_dataset,
    register_dataset,
)
from rnnlab.data.tokenizers import (
    CharTokenizer,
    SubwordTokenizer,
    Tokenizer,
    WordTokenizer,
    load_tokenizer,
    make_tokenizer,
)
from rnnlab.data.vocab import SPECIALS, Vocabulary

__all__ = [
    "FORMS",
    "SPECIALS",
    "CharTokenizer",
    "Corpus",
    "DatasetEntry",
    "PoemForm",
    "SubwordTokenizer",
    "Tokenizer",
    "Vocabulary",
    "WordTokenizer",
    "Source",
    "dataset_info",
    "fetch_dataset",
    "get_dataset",
    "is_well_formed",
    "list_datasets",
    "load_corpus",
    "load_dataset",
    "load_tokenizer",
    "make_tokenizer",
    "poem_form",
    "register_dataset",
    "split_lines",
]
