"""A study file loaded whole: read, validated, and its objective imported or its training task
built, so that every problem is found before the first trial runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tunelab.config.objective import extend_import_path, resolve_objective
from tunelab.config.reading import read_study_file
from tunelab.config.schema import StudyConfig, validate_study_config
from tunelab.exceptions import ConfigError


def load_study_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> StudyConfig:
    """Read and validate a study file, and check that its objective can be imported.

    ``overrides`` replace top-level fields of the file (the command line's options; None
    unsets a field) before validation, so that they are checked by the same rules. Every problem
    raises one :class:`ConfigError` naming the file and the field.
    """
    return load_study_file(path, overrides)[0]


def load_study_file(
    path: str | Path, overrides: Mapping[str, Any] | None = None
) -> tuple[StudyConfig, Callable[..., Any]]:
    """:func:`load_study_config` and the objective it names (or the task it declares), built
    once."""
    path = Path(path)
    data = read_study_file(path)
    data.update(overrides or {})
    extend_import_path(path)  # validation builds the sampler and pruner it names
    config = validate_study_config(data, str(path), set(overrides or ()))
    return prepare_objective(config, path)


def prepare_objective(
    config: StudyConfig, study_file: str | Path | None = None, source: str | None = None
) -> tuple[StudyConfig, Callable[..., Any]]:
    """The function the study optimizes, checked, and the config completed for it.

    A ``task`` is built and validated here (its data loaded, its model built and checked), and
    gives the study its direction and metric name when the file does not.
    """
    if config.objective is not None:
        return config, resolve_objective(config.objective, study_file)
    source = source or str(study_file)
    try:
        from tunelab.torch.task import Task
    except ImportError as error:
        raise ConfigError(f"{source}: field 'task': {error}") from None
    base_dir = Path(study_file).resolve().parent if study_file is not None else None
    try:
        task = Task(config.task or {}, base_dir=base_dir)
        task.validate()
    except ConfigError as error:
        where = f"task.{error.field}" if error.field else "task"
        message = str(error).removeprefix(f"{error.field}: ")
        raise ConfigError(f"{source}: field '{where}': {message}", field=where) from None
    return _with_task_budget(_with_task_direction(config, task, source), task), task


# Pruners that place rungs down from the last step when they know it (max_resource).
_HALVING_PRUNERS = ("asha", "hyperband")


def _with_task_budget(config: StudyConfig, task: Any) -> StudyConfig:
    """The config with the task's epochs as the ``max_resource`` of a successive-halving or
    Hyperband pruner that was given none, when every trial trains that many epochs: the rungs
    then count down from the last epoch instead of climbing from the first, which may put one
    just before the end (2, 6, 18 of 20 epochs), after most of a stopped trial's cost."""
    spec = config.pruner
    options = {"name": spec} if isinstance(spec, str) else dict(spec or {})
    if options.get("name") not in _HALVING_PRUNERS or "max_resource" in options:
        return config
    if any(parameter.name == "epochs" for parameter in task.search):
        return config
    return config.model_copy(
        update={"pruner": {**options, "max_resource": task.recipe.epochs}}
    )


def _with_task_direction(config: StudyConfig, task: Any, source: str) -> StudyConfig:
    if config.directions is not None and len(config.directions) != 1:
        raise ConfigError(
            f"{source}: field 'directions': a task optimizes one metric ({task.metric}); give "
            f"'direction: {task.direction}' or leave it out.",
            field="directions",
        )
    given = config.direction or (config.directions[0] if config.directions else None)
    if given is not None and given != task.direction:
        raise ConfigError(
            f"{source}: field 'direction': {given} contradicts the task's metric {task.metric!r}, "
            f"which is best when it is {'high' if task.direction == 'maximize' else 'low'}; "
            f"write 'direction: {task.direction}' or leave it out.",
            field="direction",
        )
    return config.model_copy(
        update={
            "direction": task.direction,
            "directions": None,
            "metric_names": config.metric_names or [f"val_{task.metric}"],
        }
    )
