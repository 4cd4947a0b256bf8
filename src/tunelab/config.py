"""The YAML study file: what to optimize, how, and for how long.

A study file is flat and uses the same names as :func:`tunelab.create_study`::

    name: quadratic
    objective: quadratic:objective     # module:function, found next to this file or in the cwd
    direction: minimize
    sampler: random                    # or {name: grid, search_space: {x: [-1, 0, 1]}}
    pruner: median                     # or {name: median, n_warmup_steps: 2}
    n_trials: 50                       # and/or timeout: 10m
    seed: 0
    n_jobs: 4                          # worker processes (-1: one per core); devices: [cuda:0]
    fuse: 32                           # with a 'task:', train 32 trials at a time as one model
    heartbeat_interval: 10             # fail (and with max_retries: 1, retry) dead workers' trials

Validation happens before any trial runs, and every problem becomes one
:class:`~tunelab.exceptions.ConfigError` paragraph that starts with the file name and the field
at fault and says how to fix it: a typo in a study file should cost seconds, not a traceback
read after an hour of training. Samplers and pruners are checked by building them, so the file
accepts exactly what :func:`tunelab.create_study` accepts.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
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

from tunelab._attrs import STUDY_FILE_ATTR
from tunelab.exceptions import ConfigError, StorageError
from tunelab.heartbeat import HeartbeatSettings
from tunelab.pruners import make_pruner
from tunelab.registry import did_you_mean
from tunelab.samplers import DEFAULT_SAMPLER, make_sampler
from tunelab.storage import DEFAULT_STORAGE, check_storage_url
from tunelab.storage.base import check_study_name
from tunelab.study import check_direction

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(h|m|s)", re.IGNORECASE)
_SECONDS_PER_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}
_DOTTED_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")

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
        problem = _objective_format_problem(spec)
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
        _check_by_building("sampler", spec, "random", make_sampler)
        return spec

    @field_validator("pruner", mode="plain")
    @classmethod
    def _check_pruner(cls, spec: Any) -> str | dict[str, Any] | None:
        if spec is not None:
            _check_by_building("pruner", spec, "median", make_pruner)
        return spec

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
        if self.metric_names is not None and len(self.metric_names) != len(
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


def parse_duration(value: Any) -> float:
    """Seconds from a positive number or a string such as ``"90s"``, ``"10m"``, ``"1h30m"``."""
    fix = "write seconds as a number (600) or a string like '90s', '10m', '2h' or '1h30m'"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not a duration; {fix}")
    if isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            seconds = _parse_units(text, value, fix)
    else:
        seconds = float(value)
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{value!r} must be a positive, finite duration; {fix}")
    return seconds


def _parse_units(text: str, original: str, fix: str) -> float:
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip():
        raise ValueError(f"{original!r} is not a duration; {fix}")
    return sum(float(number) * _SECONDS_PER_UNIT[unit.lower()] for number, unit in parts)


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
    return _with_task_direction(config, task, source), task


def _with_task_direction(config: StudyConfig, task: Any, source: str) -> StudyConfig:
    if config.directions is not None and len(config.directions) != 1:
        raise ConfigError(
            f"{source}: field 'directions': a task optimizes one metric ({task.metric}); give "
            f"'direction: {task.direction}' or leave it out.",
            field="directions",
        )
    given = config.direction or (config.directions or [None])[0]
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




def config_record(config: StudyConfig, study_file: str | Path | None) -> dict[str, Any]:
    """What a study keeps of its study file, so that ``tunelab worker`` can join it anywhere:
    the validated fields, and the file's path (its folder holds the objective's module)."""
    path = str(Path(study_file).resolve()) if study_file is not None else None
    return {"fields": config.model_dump(mode="json", exclude_none=True), "path": path}


def load_stored_study(
    storage: str, name: str, overrides: Mapping[str, Any] | None = None
) -> tuple[StudyConfig, Callable[..., Any]]:
    """The config and objective of a study that ``tunelab run`` started, read from its storage.

    The objective's module is looked for next to the original study file when this machine
    has it at the same path, else in the current directory.
    """
    from tunelab.storage import make_storage

    store = make_storage(storage)
    try:
        record = store.get_study(name).system_attrs.get(STUDY_FILE_ATTR)
    finally:
        store.close()
    source = f"study {name!r} in {storage}"
    if record is None:
        raise ConfigError(
            f"{source} was not started by `tunelab run`, so its objective is not stored with "
            "it; start it with `tunelab run STUDY_FILE --storage URL` first, or run the study "
            "file itself here.",
            field="study",
        )
    return stored_objective(record, source, {"storage": storage}, overrides)


def stored_objective(
    record: Mapping[str, Any],
    source: str,
    changes: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[StudyConfig, Callable[..., Any]]:
    """The config and objective of a study file as a study keeps it (:func:`config_record`),
    with ``changes`` and the command line's ``overrides`` applied; ``source`` starts errors."""
    data = {**record["fields"], **(changes or {}), **(overrides or {})}
    config = validate_study_config(data, source, set(overrides or ()))
    path = record["path"] if record["path"] and Path(record["path"]).is_file() else None
    return prepare_objective(config, path, source=source)


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


def resolve_objective(spec: str, study_file: str | Path | None = None) -> Callable[..., Any]:
    """The function named by ``"module:function"`` (``"module:Class.method"`` works too).

    The module is searched in the study file's directory and the current directory (both are
    put on ``sys.path``, as Python does for a script's own directory), then on the usual path.
    """
    prefix = f"{study_file}: field 'objective'" if study_file is not None else "field 'objective'"
    problem = _objective_format_problem(spec)
    if problem:
        raise ConfigError(f"{prefix}: {problem}.")
    module_name, _, attr_path = spec.partition(":")
    search_dirs = _extend_sys_path(study_file)
    module = _import_module(module_name, prefix, search_dirs)
    target: Any = module
    for depth, attr in enumerate(attr_path.split(".")):
        if not hasattr(target, attr):
            owner = (
                module_name
                if depth == 0
                else f"{module_name}:{'.'.join(attr_path.split('.')[:depth])}"
            )
            raise ConfigError(
                f"{prefix}: {owner!r} ({_origin(module)}) has no attribute {attr!r}"
                f"{did_you_mean(attr, [n for n in dir(target) if not n.startswith('_')])}; "
                "name a function defined in that module."
            )
        target = getattr(target, attr)
    if not callable(target):
        raise ConfigError(
            f"{prefix}: {spec!r} is {_describe(target)}, not a function; point it at a function "
            "that takes a trial and returns the value to optimize."
        )
    return target


def _extend_sys_path(study_file: str | Path | None) -> list[str]:
    dirs = [os.getcwd()]
    if study_file is not None:
        dirs.insert(0, str(Path(study_file).resolve().parent))
    for directory in reversed(dirs):
        if directory not in sys.path:
            sys.path.insert(0, directory)
    importlib.invalidate_caches()
    return dirs


def _import_module(module_name: str, prefix: str, search_dirs: list[str]) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            places = " and ".join(dict.fromkeys(search_dirs))
            raise ConfigError(
                f"{prefix}: no module named {missing!r} was found (looked in {places} and the "
                f"installed packages); check the spelling, or put {missing.replace('.', '/')}.py "
                "next to the study file."
            ) from error
        raise ConfigError(
            f"{prefix}: importing {module_name!r} failed because it imports {missing!r}, which "
            f"is not installed; install it (pip install {missing.split('.')[0]}) or remove that "
            "import."
        ) from error
    except Exception as error:
        detail = error.msg if isinstance(error, SyntaxError) else str(error)
        raise ConfigError(
            f"{prefix}: importing {module_name!r} raised {type(error).__name__}: {detail} "
            f"({_where_raised(error)}); fix the module so that it imports cleanly."
        ) from error


def _where_raised(error: BaseException) -> str:
    if isinstance(error, SyntaxError) and error.filename:
        return f"{error.filename}, line {error.lineno}"
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "no location"
    return f"{frames[-1].filename}, line {frames[-1].lineno}"


def _origin(module: Any) -> str:
    return getattr(module, "__file__", None) or "a built-in module"


def _objective_format_problem(spec: str) -> str | None:
    module, colon, attr = spec.partition(":")
    if colon and _DOTTED_NAME.match(module) and _DOTTED_NAME.match(attr):
        return None
    return (
        f"{spec!r} is not of the form 'module:function'; write {_objective_hint(spec)!r} "
        "(the module's import name, a colon, then the function's name)"
    )


def _objective_hint(spec: str) -> str:
    module, colon, attr = spec.partition(":")
    if not colon:
        module, _, attr = spec.rpartition(".")
    module = module.strip().removesuffix(".py").replace("/", ".").replace("\\", ".").strip(".")
    return f"{module or 'my_module'}:{attr.strip() or 'objective'}"


def _check_by_building(
    kind: str, spec: Any, example: str, make: Callable[[Any], Any]
) -> None:
    """Build the sampler or pruner and turn its error into one naming the exact sub-field."""
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


def _blamed_option(spec: str | dict[str, Any], message: str) -> str | None:
    """The option a constructor's message names, for errors raised past the option check."""
    options = [] if isinstance(spec, str) else [o for o in spec if o != "name"]
    return next((o for o in options if re.search(rf"\b{re.escape(str(o))}\b", message)), None)


def _strip_kind(kind: str, message: str) -> str:
    return re.sub(rf"^{kind}( '[^']*')?: ", "", message).rstrip(".")


def read_study_file(path: Path) -> dict[str, Any]:
    """The file's top-level mapping, or a ConfigError saying what the file is instead."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file (looked for {path.resolve()}); check the path, or run "
            "`tunelab run` without a file to try the built-in quickstart."
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory; give the path of a .yaml study file.") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path}: is not a text file; save the study file as UTF-8 YAML."
        ) from None
    except OSError as error:
        raise ConfigError(
            f"{path}: cannot be read ({error.strerror}); check its permissions."
        ) from None
    try:
        data = yaml.load(text, Loader=_StudyFileLoader)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: is not valid YAML: {_yaml_problem(error)}.") from None
    if data is None:
        raise ConfigError(
            f"{path}: the file is empty; a study file needs at least 'name', 'objective' and a "
            "budget, e.g. 'name: my-study', 'objective: my_module:objective', 'n_trials: 50'."
        )
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the file holds {_describe(data)}, but a study file is a mapping of fields, "
            "one 'field: value' per line, e.g. 'name: my-study'."
        )
    return data


class _StudyFileLoader(yaml.SafeLoader):
    """YAML as people write it: ``1e-4`` is a number, as in Python, not the string YAML 1.1 makes
    of an exponent without a decimal point."""


_StudyFileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return problem
    return (
        f"{problem} at line {mark.line + 1}, column {mark.column + 1}; check the indentation, "
        "colons and brackets on that line and the one before, and quote values that contain ': '"
    )


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
    return field, f"must be {expected}{hint}, but it is {_describe(value)}{example}"


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if not path:
            path = str(part)
        else:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _describe(value: Any) -> str:
    """A YAML value as a study file's author thinks of it."""
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"
