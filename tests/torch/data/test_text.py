from __future__ import annotations

import pytest
import torch

from tunelab.torch.data import load_data
from tunelab.torch.data.text import PADDING_ID, RESERVED_TOKENS, UNKNOWN_ID, tokenize

from .helpers import config_error, write_csv

REVIEWS = [
    ["Great fun, great cast!", "pos"], ["dull and slow", "neg"], ["great", "pos"],
    ["slow, dull plot", "neg"], ["fun fun", "pos"], ["awful", "neg"], ["great fun", "pos"],
    ["dull", "neg"], ["loved it", "pos"], ["hated it", "neg"],
]


def _reviews(tmp_path, rows=REVIEWS, **options):
    path = write_csv(tmp_path / "reviews.csv", ["review", "label"],
                     [[f'"{text}"', label] for text, label in rows])
    return {"name": "text", "path": str(path), "text": "review", "target": "label",
            "val_fraction": 0.4, **options}


def _decode(data, ids):
    return [data.vocabulary[i] for i in ids.tolist() if i != PADDING_ID]


def test_texts_become_padded_token_ids_over_a_vocabulary(tmp_path):
    data = load_data(_reviews(tmp_path, max_length=4))

    assert data.x_train.dtype == torch.int64 and data.input_shape == (4,)
    assert data.vocabulary[:2] == RESERVED_TOKENS
    assert data.class_names == ("neg", "pos") and data.n_outputs == 2
    texts = {" ".join(_decode(data, row)) for row in data.x_train}
    assert texts <= {" ".join(tokenize(text, "word", True)[:4]) for text, _ in REVIEWS}
    assert len(texts) == len(data.x_train)
    short = next(row for row in data.x_train if row[-1] == PADDING_ID)
    assert short[0] != PADDING_ID  # padding comes at the end


def test_the_vocabulary_is_learnt_from_the_training_part_only(tmp_path):
    data = load_data(_reviews(tmp_path))
    seen = {token for row in data.x_train for token in _decode(data, row)}

    assert set(data.vocabulary[2:]) == seen
    words_only_in_validation = {t for row in data.x_val for t in _decode(data, row)} - seen
    assert words_only_in_validation <= {"<unk>"}
    assert (data.x_val == UNKNOWN_ID).any()


def test_max_length_keeps_the_first_tokens_and_char_tokens_split_letters(tmp_path):
    rows = [[text.upper(), label] for text, label in REVIEWS]
    data = load_data(_reviews(tmp_path, rows, tokens="char", max_length=3, val_fraction=0.2))

    assert data.input_shape == (3,)
    assert set(data.vocabulary[2:]) <= set("abcdefghijklmnopqrstuvwxyz ,!")
    cased = load_data(_reviews(tmp_path, rows, tokens="char", lowercase=False))
    assert "G" in cased.vocabulary


def test_max_vocabulary_keeps_the_most_frequent_tokens(tmp_path):
    data = load_data(_reviews(tmp_path, max_vocabulary=3, val_fraction=0.2))

    assert len(data.vocabulary) == 3


def test_an_empty_text_column_is_refused(tmp_path):
    path = write_csv(tmp_path / "empty.csv", ["review", "label"],
                     [["", label] for _, label in REVIEWS])
    message = config_error({"name": "text", "path": str(path), "text": "review",
                            "target": "label"}, "data.text")

    assert "is empty in every row" in message


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"tokens": "words"}, "data.tokens", "did you mean 'word'"),
        ({"max_length": 0}, "data.max_length", "at least 1"),
        ({"max_vocabulary": 2}, "data.max_vocabulary", "at least 3"),
        ({"min_count": 100}, "data.min_count", "vocabulary is empty"),
        ({"lowercase": "yes"}, "data.lowercase", "true or false"),
        ({"text": "label"}, "data.target", "is the text column"),
        ({"text": "body"}, "data.text", "'body' is not a column"),
    ],
)
def test_bad_options_are_refused(tmp_path, options, field, words):
    assert words in config_error(_reviews(tmp_path, **options), field)
