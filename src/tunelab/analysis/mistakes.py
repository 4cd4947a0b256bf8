"""Where the model that won goes wrong: its confusion matrix on the validation (or test) part,
and the examples it got wrong with the most confidence.

The model is rebuilt from the study's task and the trial's saved weights
(:mod:`tunelab.analysis.trained`), as for ensembles and attributions. Confidently wrong
examples are often mislabelled, ambiguous or of a kind the training part lacks: they are the
first place to look before tuning further.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tunelab._options import check_choice, check_int
from tunelab.analysis.ensembles import member_output
from tunelab.analysis.trained import check_keeps_weights, trained_model, trial_to_rebuild
from tunelab.exceptions import ConfigError

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.torch.task import Task

WHERE = "mistakes"
SPLITS = ("val", "test")


@dataclass(frozen=True)
class ConfidentMistake:
    """One wrongly predicted example: its row in the split, its label, the class the model
    chose and the probability the model gave that class."""

    index: int
    label: int
    predicted: int
    confidence: float


@dataclass(frozen=True)
class Mistakes:
    """A classifier's errors on one split. ``confusion[i, j]`` counts the examples of class
    ``i`` predicted as ``j``; ``mistakes`` are the wrong ones, most confident first, with their
    ``inputs`` in the data's own units (before normalization), in the same order."""

    trial: int
    split: str
    class_names: tuple[str, ...]
    confusion: np.ndarray
    mistakes: tuple[ConfidentMistake, ...]
    inputs: np.ndarray

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / self.confusion.sum())

    def class_name(self, index: int) -> str:
        return self.class_names[index] if self.class_names else str(index)


def mistakes(
    study: Study, task: Task, trial: int | None = None, *, split: str = "val", top: int = 12
) -> Mistakes:
    """The confusion matrix of trial ``trial``'s model (by default the best trial with saved
    weights) on ``split`` ("val" or "test") and its ``top`` most confidently wrong examples.

    ``task`` is the classification task that ran ``study``, with its artifacts folder set.
    """
    split = check_choice(WHERE, "split", split, SPLITS)
    check_int(WHERE, "top", top, 0, "how many wrong examples to keep.")
    check_keeps_weights(task, WHERE)
    data = task.data
    if data.task != "classification":
        raise ConfigError(
            f"{WHERE}: the task is a {data.task}, which has no classes to confuse; its errors "
            "are in the report's figures of the validation metric.",
            field="task",
        )
    labels = getattr(data, f"y_{split}").cpu().numpy()
    if len(labels) == 0:
        raise ConfigError(
            f"{WHERE}: split={split!r} but the task's data has no {split} part; use "
            "split='val', or add a test part to the data spec (test_fraction: 0.2).",
            field="split",
        )
    record = trial_to_rebuild(study, trial, WHERE)
    trainer = trained_model(record, task, WHERE)
    probabilities = member_output(trainer.predict(getattr(trainer.data, f"x_{split}")), task)
    return _count(record.number, split, data.class_names, labels, probabilities, top,
                  getattr(data, f"x_{split}").cpu().numpy())


def _count(
    trial: int,
    split: str,
    class_names: tuple[str, ...],
    labels: np.ndarray,
    probabilities: np.ndarray,
    top: int,
    inputs: np.ndarray,
) -> Mistakes:
    n_classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    confidence = probabilities[np.arange(len(labels)), predicted]
    wrong = np.flatnonzero(predicted != labels)
    # Most confident first; ties by row, so the order does not depend on the sort.
    chosen = wrong[np.lexsort((wrong, -confidence[wrong]))][:top]
    confusion.setflags(write=False)
    kept = inputs[chosen]
    kept.setflags(write=False)
    return Mistakes(
        trial=trial,
        split=split,
        class_names=class_names,
        confusion=confusion,
        mistakes=tuple(
            ConfidentMistake(int(i), int(labels[i]), int(predicted[i]), float(confidence[i]))
            for i in chosen
        ),
        inputs=kept,
    )
