"""rnnlab.data: tokenizers, vocabularies, corpora (built-in and user text), poem forms.

    from rnnlab.data import load_corpus, CharTokenizer, Vocabulary
    corpus = load_corpus("tang")
    tokenizer = CharTokenizer()
    vocab = Vocabulary.build(tokenizer.tokenize(corpus.train))
"""

from rnnlab.data.corpora import Corpus, DatasetInfo, dataset_info, fetch, list_datasets, load_corpus
from rnnlab.data.poetry import FORMS, PoemForm, is_well_formed, poem_form, split_lines
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
    "DatasetInfo",
    "PoemForm",
    "SubwordTokenizer",
    "Tokenizer",
    "Vocabulary",
    "WordTokenizer",
    "dataset_info",
    "fetch",
    "is_well_formed",
    "list_datasets",
    "load_corpus",
    "load_tokenizer",
    "make_tokenizer",
    "poem_form",
    "split_lines",
]
