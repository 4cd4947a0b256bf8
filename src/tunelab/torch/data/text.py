"""Text: a column of a csv file read as sequences of token ids over a vocabulary.

Each text is cut into tokens, characters (``tokens: char``) or words and punctuation marks
(``tokens: word``), lower-cased unless ``lowercase: false``. The vocabulary is learnt from the
training part alone, so that validation and test texts hold words the model never saw, as new
texts will: its most frequent tokens (at most ``max_vocabulary``, each seen at least
``min_count`` times), by id after two reserved ids, PADDING_ID and UNKNOWN_ID, which every
token outside the vocabulary becomes. A text becomes its first ``max_length`` token ids, padded
at the end with PADDING_ID.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tunelab.registry import did_you_mean
from tunelab.torch.data.base import Source, check_task, is_integer, option_error, resolve_path
from tunelab.torch.data.tabular import _csv_column, _csv_target, _read_csv

TEXT_OPTIONS: dict[str, Any] = {
    "path": None, "text": None, "target": None, "task": None, "delimiter": ",",
    "tokens": "word", "max_length": 100, "max_vocabulary": 20000, "min_count": 1,
    "lowercase": True,
}
TOKENIZERS = ("word", "char")
PADDING_ID = 0
UNKNOWN_ID = 1
RESERVED_TOKENS = ("<pad>", "<unk>")

_WORD = re.compile(r"\w+|[^\w\s]")


def read_text(
    options: Mapping[str, Any], base_dir: str | Path | None
) -> tuple[list[list[str]], Source]:
    """Every row's tokens, and the labels as a source whose features are the row indices."""
    _check_text_options(options)
    path = resolve_path(options, base_dir, folder=False)
    check_task(options["task"])
    delimiter = options["delimiter"]
    header, rows, lines = _read_csv(path, delimiter)
    text = _csv_column(header, options["text"], "text", delimiter)
    target = _csv_column(header, options["target"], "target", delimiter)
    if text == target:
        raise option_error("target", f"is the text column {text!r} itself; name the column of "
                           "the labels.")

    def locate(row: int) -> str:
        return f"line {lines[row]} of {path}"

    texts = [row[header.index(text)] for row in rows]
    if not any(cell.strip() for cell in texts):
        raise option_error("text", f"column {text!r} of {path} is empty in every row; name the "
                           "column that holds the texts.")
    y, task, class_names = _csv_target(rows, header.index(target), target, options["task"],
                                       locate)
    tokens = [tokenize(cell, options["tokens"], options["lowercase"]) for cell in texts]
    index = np.arange(len(rows), dtype=np.float32).reshape(-1, 1)
    return tokens, Source(index, y, task, class_names, "text", "target", locate)


def tokenize(text: str, tokens: str, lowercase: bool) -> list[str]:
    """The tokens of one text: its characters, or its words and punctuation marks."""
    if lowercase:
        text = text.lower()
    return list(text) if tokens == "char" else _WORD.findall(text)


def build_vocabulary(texts: Iterable[Sequence[str]], options: Mapping[str, Any]) -> tuple[str, ...]:
    """The tokens by id: the reserved ones, then the most frequent, ties in sorted order."""
    counts = Counter(token for text in texts for token in text)
    frequent = sorted(
        (token for token, count in counts.items() if count >= options["min_count"]),
        key=lambda token: (-counts[token], token),
    )
    room = options["max_vocabulary"] - len(RESERVED_TOKENS)
    vocabulary = (*RESERVED_TOKENS, *frequent[:room])
    if len(vocabulary) == len(RESERVED_TOKENS):
        raise option_error("min_count", f"no token of the training texts is seen at least "
                           f"{options['min_count']} time(s), so the vocabulary is empty; lower "
                           "min_count, or give more text.")
    return vocabulary


def encode(
    texts: Sequence[Sequence[str]], vocabulary: Sequence[str], max_length: int
) -> np.ndarray:
    """Token ids (texts, max_length), int64: each text's first tokens, padded at the end."""
    ids = {token: index for index, token in enumerate(vocabulary)}
    encoded = np.full((len(texts), max_length), PADDING_ID, dtype=np.int64)
    for row, text in enumerate(texts):
        kept = text[:max_length]
        encoded[row, :len(kept)] = [ids.get(token, UNKNOWN_ID) for token in kept]
    return encoded


def _check_text_options(options: Mapping[str, Any]) -> None:
    if options["tokens"] not in TOKENIZERS:
        tokens = options["tokens"]
        hint = did_you_mean(tokens, TOKENIZERS) if isinstance(tokens, str) else ""
        raise option_error("tokens", f"unknown tokens {options['tokens']!r}{hint}; choose word "
                           "(words and punctuation) or char (characters).")
    minimums = {"max_length": 1, "max_vocabulary": len(RESERVED_TOKENS) + 1, "min_count": 1}
    for option, minimum in minimums.items():
        value = options[option]
        if not is_integer(value) or value < minimum:
            raise option_error(option, f"must be a whole number of at least {minimum}, got "
                               f"{value!r}.")
    if not isinstance(options["lowercase"], bool):
        raise option_error("lowercase", f"must be true or false, got {options['lowercase']!r}.")

