"""A trial's trained model, rebuilt from the :class:`tunelab.torch.Task` that trained it and
loaded with the best weights the trial saved (``<artifacts>/<study>/trial-N/best.pt``): what
ensembles and attributions start from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunelab._display import ranked_trials
from tunelab.exceptions import ConfigError, TunelabError
from tunelab.telemetry import weights_file
from tunelab.trial import TrialRecord

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.torch.task import Task
    from tunelab.torch.trainer import Trainer


def trials_with_weights(study: Study) -> list[TrialRecord]:
    """The completed, feasible trials that saved best weights, best first."""
    return [record for record in ranked_trials(study) if weights_file(record) is not None]


def trial_to_rebuild(study: Study, number: int | None, where: str) -> TrialRecord:
    """Trial ``number`` of ``study``, or with None its best trial with saved weights; errors
    start with ``where`` (the function the user called)."""
    if number is None:
        if len(study.directions) > 1:
            raise ConfigError(
                f"{where}: study {study.study_name!r} has {len(study.directions)} objectives, "
                "so it has no single best trial; give the number of the trial.",
                field="trial",
            )
        with_weights = trials_with_weights(study)
        if not with_weights:
            raise TunelabError(
                f"{where}: study {study.study_name!r} has no completed trial with saved "
                "weights; run trials of it with the task's artifacts folder set."
            )
        return with_weights[0]
    for record in study.trials:
        if record.number == number:
            return record
    raise ConfigError(
        f"{where}: trial={number!r}: study {study.study_name!r} has no such trial; give the "
        "number of one of its trials, or leave it out for the best.",
        field="trial",
    )


def check_keeps_weights(task: Task, where: str) -> None:
    """Refuse a task whose trials saved no single model to rebuild; ``where`` starts the
    message (the function the user called)."""
    if task.artifacts is None:
        raise ConfigError(
            f"{where}: the task keeps no weights (artifacts: false); set artifacts to a "
            "folder and run the study, so that each trial saves its best model.",
            field="artifacts",
        )
    if task.cv is not None:
        raise ConfigError(
            f"{where}: the task cross-validates (cv), so each trial saved one model per fold "
            "rather than one model; run the study without cv to use its trials' models.",
            field="cv",
        )


def trained_model(record: TrialRecord, task: Task, where: str) -> Trainer:
    """A trainer holding ``record``'s model, rebuilt from ``task`` for the trial's parameters
    with the best weights the trial saved, and the task's data as training saw it (features
    normalized with the trial's recipe, on the trainer's device). The caller's random state is
    kept. ``where`` starts the messages of the errors."""
    import torch

    from tunelab.torch.trainer import Trainer

    saved = weights_file(record)
    if saved is None:
        raise TunelabError(
            f"{where}: trial {record.number} saved no weights; run the study with the task's "
            "artifacts folder set."
        )
    recipe, model_options = task.resolve(record.params)
    # Building a Trainer seeds the global generator and initializes the weights: keep the
    # caller's random state, and load the trained weights only after.
    with torch.random.fork_rng():
        model = task.build_model(model_options, recipe)
        trainer = Trainer(model, task.data, recipe, telemetry=False)
    state = torch.load(saved, map_location=trainer.device, weights_only=True)
    try:
        trainer.model.load_state_dict(state)
    except RuntimeError as error:
        raise ConfigError(
            f"{where}: the weights of trial {record.number} ({saved}) do not fit the model the "
            f"task builds for its parameters: {str(error).splitlines()[0]}. Pass the task the "
            "study ran (same model and search).",
            field="task",
        ) from None
    trainer.model.eval()
    return trainer
