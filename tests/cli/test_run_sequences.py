"""`tunelab run` on sequence data: a bad window, text column or model is refused before any
trial, with exit status 2, and the study keeps what it stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import assert_refused_keeping, invoke, stored_trials

STUDY = """\
name: sequences
sampler: random
seed: 0
n_trials: 1
task:
  data: {data}
  model: {model}
  recipe: {{epochs: 1, batch_size: 256, lr: 0.01}}
  artifacts: false
  threads: 1
"""


@pytest.mark.parametrize(
    ("data", "model", "fragments"),
    [
        ("{name: timeseries, path: series.csv, window: 50}", "{name: rnn}",
         ["field 'task.data.window'", "need a series of at least 51 rows, but it has 40"]),
        ("{name: text, path: reviews.csv, text: review, target: label}", "{name: rnn}",
         ["field 'task.data.text'", "column 'review'", "is empty in every row"]),
        ("{name: digits_images}", "{name: rnn}",
         ["is an image (C, H, W), but model 'rnn' reads sequences"]),
        ("{name: digits_sequences}", "{name: cnn}",
         ["is not an image", "for sequences (steps, features) to 'rnn'"]),
    ],
    ids=["window-longer-than-the-series", "empty-text-column", "rnn-given-images",
         "cnn-given-sequences"],
)
def test_bad_sequence_input_exits_2_before_training_and_keeps_the_study(
    workdir: Path, data: str, model: str, fragments: list[str]
) -> None:
    pytest.importorskip("torch")
    (workdir / "series.csv").write_text(
        "day,value\n" + "".join(f"{day},{day % 7}\n" for day in range(40)))
    (workdir / "reviews.csv").write_text(
        "review,label\n" + "".join(f",{day % 2}\n" for day in range(20)))
    good = STUDY.format(data="{name: digits_sequences}", model="{name: rnn, hidden_size: 8}")
    (workdir / "study.yaml").write_text(good)
    assert invoke("run", "study.yaml").exit_code == 0
    before = stored_trials("sequences")
    (workdir / "study.yaml").write_text(STUDY.format(data=data, model=model))

    assert_refused_keeping(invoke("run", "study.yaml"), "sequences", before, *fragments)
