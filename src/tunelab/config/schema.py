"""The study file's fields (:class:`StudyConfig`), their checks, and pydantic's errors told as
one paragraph in the words of a study file.

Samplers and pruners are checked by building them, so the file accepts exactly what
:func:`tunelab.create_study` accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from tunelab.config.objective import objective_format_problem
from tunelab.config.reading import describe_value, parse_duration
from tunelab.exceptions import ConfigError, StorageError
from tunelab.heartbeat import HeartbeatSettings
from tunelab.pruners import make_pruner
from tunelab.registry import did_you_mean
from tunelab.samplers import DEFAULT_SAMPLER, make_sampler
from tunelab.storage import DEFAULT_STORAGE, check_storage_url
from tunelab.storage.base import check_study_name
from tunelab.study import check_direction

_EXAMPLES = {
    "name": "name: my-study",
    "storage": f"storage: {DEFAULT_STORAGE}",
    "objective": "objective: my_module:objective",
    "task": "task: {data: {name: digits}, model: {name: mlp}}",
    "direction": "direction: minimize",
    "directions": "directions: [minimize, maximize]",
    "metric_names": "metric_names: [loss]",
    "sampler": "sampler: random",
    "pruner": "pruner: median",
    "n_trials": "n_trials: 50",
    "timeout": "timeout: 10m",
    "seed": "seed: 0",
    "n_jobs": "n_jobs: 4",
    "devices": "devices: [cuda:0, cuda:1]",
    "fuse": "fuse: 32",
    "heartbeat_interval": "heartbeat_interval: 10",
    "grace_period": "grace_period: 60",
    "max_retries": "max_retries: 1",
}


class _FieldProblem(ValueError):
    """A problem to report under another path than pydantic's: a sub-field or a sibling field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class StudyConfig(BaseModel):
    """A validated study file. Field names and meanings follow :func:`tunelab.create_study`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr
    storage: StrictStr = DEFAULT_STORAGE
    objective: StrictStr | None = None
    task: dict[str, Any] | None = None
    direction: StrictStr | None = None
    directions: list[StrictStr] | None = None
    metric_names: list[StrictStr] | None = None
    sampler: str | dict[str, Any] = DEFAULT_SAMPLER
    pruner: str | dict[str, Any] | None = None
    n_trials: Annotated[StrictInt, Field(gt=0)] | None = None
    timeout: float | None = None
    seed: StrictInt | None = None
    n_jobs: StrictInt = 1
    devices: list[StrictStr] | None = None
    fuse: Annotated[StrictInt, Field(gt=0)] | None = None
    heartbeat_interval: float | None = None
    grace_period: float | None = None
    max_retries: StrictInt = 0

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        try:
            return check_study_name(name)
        except StorageError as error:
            raise ValueError(str(error)) from None

    @field_validator("storage")
    @classmethod
    def _check_storage(cls, url: str) -> str:
        try:
            return check_storage_url(url)
        except StorageError as error:
            raise ValueError(str(error)) from None

    @field_validator("objective")
    @classmethod
    def _check_objective(cls, spec: str) -> str:
        problem = objective_format_problem(spec)
        if problem:
            raise ValueError(problem)
        return spec

    @field_validator("direction")
    @classmethod
    def _check_direction(cls, direction: str) -> str:
        return check_direction(direction)

    @field_validator("directions")
    @classmethod
    def _check_directions(cls, directions: list[str]) -> list[str]:
        if not directions:
            raise ValueError(
                "is empty; list one direction per objective, e.g. [minimize, maximize]"
            )
        checked = []
        for index, item in enumerate(directions):
            try:
                checked.append(check_direction(item))
            except ValueError as error:
                raise _FieldProblem(f"directions[{index}]", str(error)) from None
        return checked

    @field_validator("sampler", mode="plain")
    @classmethod
    def _check_sampler(cls, spec: Any) -> str | dict[str, Any]:
        spec = DEFAULT_SAMPLER if spec is None else spec
        return _check_by_building("sampler", spec, "random", make_sampler)

    @field_validator("pruner", mode="plain")
    @classmethod
    def _check_pruner(cls, spec: Any) -> str | dict[str, Any] | None:
        if spec is None:
            return None
        return _check_by_building("pruner", spec, "median", make_pruner)

    @field_validator("n_jobs")
    @classmethod
    def _check_n_jobs(cls, n_jobs: int) -> int:
        if n_jobs == 0 or n_jobs < -1:
            raise ValueError(
                f"{n_jobs} is not a number of worker processes; give a positive number, or -1 "
                "for one per CPU core"
            )
        return n_jobs

    @field_validator("devices")
    @classmethod
    def _check_devices(cls, devices: list[str]) -> list[str]:
        from tunelab.devices import check_devices

        try:
            return check_devices(devices)
        except ConfigError as error:
            raise ValueError(str(error).removeprefix("devices: ")) from None

    @field_validator("timeout", mode="plain")
    @classmethod
    def _check_timeout(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @model_validator(mode="after")
    def _check_consistency(self) -> StudyConfig:
        if self.objective is None and self.task is None:
            raise _FieldProblem(
                "objective",
                "is required: name a function ('objective: my_module:objective') or declare a "
                "training task under 'task:' (data, model, recipe, search)",
            )
        if self.objective is not None and self.task is not None:
            raise _FieldProblem(
                "task",
                "the file gives both 'objective' and 'task'; keep one: a function to call, or a "
                "declared training task",
            )
        if self.direction is not None and self.directions is not None:
            raise _FieldProblem(
                "directions",
                "the file gives both 'direction' and 'directions'; keep 'direction' for one "
                "objective or 'directions' (a list) for several, and remove the other",
            )
        # A task's objectives set how many names it needs; prepare_objective checks those.
        if self.task is None and self.metric_names is not None and len(self.metric_names) != len(
            self.objective_directions
        ):
            raise _FieldProblem(
                "metric_names",
                f"gives {len(self.metric_names)} name(s) for {len(self.objective_directions)} "
                "objective(s); give exactly one name per direction, in the same order",
            )
        if self.fuse is not None and self.task is None:
            raise _FieldProblem(
                "fuse",
                "trains the trials of a declared training task together, but this file names "
                "an objective function; declare the training under 'task:' or remove fuse",
            )
        try:
            HeartbeatSettings.checked(self.heartbeat_interval, self.grace_period, self.max_retries)
        except ConfigError as error:
            message = str(error).removeprefix("create_study: ")
            raise _FieldProblem(error.field or "heartbeat_interval", message) from None
        if self.n_trials is None and self.timeout is None:
            raise _FieldProblem(
                "n_trials",
                "the study has no budget; add 'n_trials: 50' (how many trials to run) and/or "
                "'timeout: 10m' (how long to run)",
            )
        return self

    @property
    def objective_directions(self) -> list[str]:
        """One direction per objective (``["minimize"]`` when the file gives none)."""
        if self.directions is not None:
            return list(self.directions)
        return [self.direction or "minimize"]


def validate_study_config(
    data: Mapping[str, Any], source: str, from_command_line: set[str] | None = None
) -> StudyConfig:
    """A :class:`StudyConfig` from a mapping; ``source`` starts every error message.

    Fields named in ``from_command_line`` are reported as such, since the file is not at fault.
    """
    try:
        return StudyConfig.model_validate(dict(data))
    except ValidationError as error:
        raise ConfigError(_translate(error, source, from_command_line or set())) from None


def _translate(error: ValidationError, source: str, from_command_line: set[str]) -> str:
    """One paragraph for the first problem pydantic found, naming the others' fields."""
    problems = error.errors(include_url=False)
    first = problems[0]
    field, text = _explain(first)
    where = f"field '{field}'"
    if field.split(".")[0].split("[")[0] in from_command_line:
        where += " (given on the command line)"
    others = sorted({_explain(p)[0] for p in problems[1:]} - {field})
    also = f" The file has problems in {', '.join(repr(o) for o in others)} too." if others else ""
    return f"{source}: {where}: {text}.{also}"


def _explain(problem: Mapping[str, Any]) -> tuple[str, str]:
    """(field path, sentence) for one pydantic error, in the words of a study file."""
    loc = problem["loc"]
    field = _field_path(loc)
    top = str(loc[0]) if loc else ""
    kind = problem["type"]
    value = problem.get("input")
    example = f"; write it like '{_EXAMPLES[top]}'" if top in _EXAMPLES else ""
    if kind == "value_error":
        cause = problem["ctx"]["error"]
        return (cause.field if isinstance(cause, _FieldProblem) else field), str(cause).rstrip(".")
    if kind == "missing":
        return field, f"is required{example}"
    if kind in ("extra_forbidden", "invalid_key"):
        known = list(StudyConfig.model_fields)
        return field, (
            f"is not a study file field{did_you_mean(str(loc[-1]), known)}; the fields are: "
            f"{', '.join(known)}"
        )
    if kind == "greater_than":
        return field, f"is {value!r} but must be at least 1{example}"
    expected = {
        "string_type": "text",
        "int_type": "a whole number",
        "list_type": "a list",
    }.get(kind, "another kind of value")
    hint = " (quote it)" if kind == "string_type" and isinstance(value, (int, float, bool)) else ""
    return field, f"must be {expected}{hint}, but it is {describe_value(value)}{example}"


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if not path:
            path = str(part)
        else:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _check_by_building(
    kind: str, spec: Any, example: str, make: Callable[[Any], Any]
) -> str | dict[str, Any]:
    """Build the sampler or pruner and turn its error into one naming the exact sub-field;
    ``spec`` back, now known to be a name or a mapping."""
    if not isinstance(spec, (str, dict)):
        raise _FieldProblem(
            kind,
            f"{spec!r} is not a {kind}; give a name ({kind}: {example}) or a mapping "
            f"with a name and options ({kind}: {{name: {example}, ...}})",
        )
    try:
        make(spec)
    except ConfigError as error:
        field = error.field or _blamed_option(spec, str(error))
        raise _FieldProblem(
            f"{kind}.{field}" if field else kind, _strip_kind(kind, str(error))
        ) from None
    return spec


def _blamed_option(spec: str | dict[str, Any], message: str) -> str | None:
    """The option a constructor's message names, for errors raised past the option check."""
    options = [] if isinstance(spec, str) else [o for o in spec if o != "name"]
    return next((o for o in options if re.search(rf"\b{re.escape(str(o))}\b", message)), None)


def _strip_kind(kind: str, message: str) -> str:
    return re.sub(rf"^{kind}( '[^']*')?: ", "", message).rstrip(".")


