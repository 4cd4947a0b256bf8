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
from tunelab.quantities import COSTS


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
    return prepare_objective(read_study_config(path, overrides), path)


def read_study_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> StudyConfig:
    """The study file read and validated, its objective not yet imported nor its task built:
    the first half of :func:`load_study_file`, for a caller that acts on the settings first
    (then :func:`prepare_objective`)."""
    path = Path(path)
    data = read_study_file(path)
    data.update(overrides or {})
    extend_import_path(path)  # validation builds the sampler and pruner it names
    return validate_study_config(data, str(path), set(overrides or ()))


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
    """The config with the task's directions and metric names: one objective, its metric, or
    those its ``objectives`` name. The file may repeat the directions; its metric names rename
    the objectives."""
    directions, names = task.directions, list(task.objective_names)
    given = config.directions or ([config.direction] if config.direction else None)
    if given is not None and len(given) != len(directions):
        field = "direction" if config.direction else "directions"
        raise ConfigError(
            f"{source}: field '{field}': "
            + (
                f"a task optimizes one metric ({names[0]}) unless its 'objectives' name costs "
                f"too; give 'direction: {directions[0]}' or leave it out."
                if len(names) == 1
                else f"the task's objectives ({', '.join(names)}) set its {len(names)} "
                "directions; leave direction and directions out."
            ),
            field=field,
        )
    for index, (direction, name) in enumerate(zip(given or (), names)):
        if direction != directions[index]:
            field = "direction" if config.direction else f"directions[{index}]"
            what = f"cost {name!r}" if name in COSTS else f"metric {task.metric!r}"
            raise ConfigError(
                f"{source}: field '{field}': {direction} contradicts the task's {what}, which "
                f"is best when it is {'high' if directions[index] == 'maximize' else 'low'}; "
                f"write '{directions[index]}' or leave it out.",
                field=field,
            )
    if config.metric_names is not None and len(config.metric_names) != len(names):
        raise ConfigError(
            f"{source}: field 'metric_names': gives {len(config.metric_names)} name(s) for the "
            f"task's {len(names)} objective(s) ({', '.join(names)}); leave it out to use "
            "those names.",
            field="metric_names",
        )
    single = len(directions) == 1
    return config.model_copy(
        update={
            "direction": directions[0] if single else None,
            "directions": None if single else directions,
            "metric_names": config.metric_names or names,
        }
    )
