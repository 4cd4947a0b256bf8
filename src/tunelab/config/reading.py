"""Reading a study file: its YAML mapping, and the durations its fields may be written in.

Errors name the file and say what it holds instead of a mapping of fields, so that a file that
is not a study file at all is told apart from one with a field at fault.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tunelab.exceptions import ConfigError

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(h|m|s)", re.IGNORECASE)
_SECONDS_PER_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}


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
            f"{path}: the file holds {describe_value(data)}, but a study file is a mapping of "
            "fields, one 'field: value' per line, e.g. 'name: my-study'."
        )
    return data


# PyYAML ships no type information, so its classes are Any to the type checker.
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


def describe_value(value: Any) -> str:
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
