"""Reading a study file: its YAML mapping, and the durations its fields may be written in.

Errors name the file and say what it holds instead of a mapping of fields, so that a file that
is not a study file at all is told apart from one with a field at fault. YAML that a study file
never needs but that could make reading it fail or take forever is refused as such: a key given
twice in one mapping (YAML would silently keep the last), values nested deeper than
:data:`MAX_NESTING` levels, and aliases that multiply a few lines into more than
:data:`MAX_VALUES` values.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

import yaml

from tunelab.exceptions import ConfigError

# A study file nests a handful of levels (task > search > entry > when). The limit is far above
# that and far below the depth at which PyYAML's recursive composer exhausts Python's stack.
MAX_NESTING = 100
# Counted with every alias (*name) replaced by what it refers to, since that is what everything
# after reading walks through; a study file holds hundreds of values, not a hundred thousand.
MAX_VALUES = 100_000

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
    except _RefusedYaml as error:
        raise ConfigError(f"{path}: {error}.") from None
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


class _RefusedYaml(yaml.YAMLError):
    """Valid YAML that a study file must not hold; the message is the whole sentence."""


# PyYAML ships no type information, so its classes are Any to the type checker.
class _StudyFileLoader(yaml.SafeLoader):
    """YAML as people write it: ``1e-4`` is a number, as in Python, not the string YAML 1.1 makes
    of an exponent without a decimal point; and no YAML that a study file never needs but that
    could hide a mistake or exhaust the reader (see the module docstring)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nesting = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        # The composer recurses once per level, so the limit is checked on the way down.
        if self._nesting >= MAX_NESTING:
            raise _RefusedYaml(_too_deep(self.peek_event().start_mark.line + 1))
        self._nesting += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._nesting -= 1

    def compose_document(self) -> Any:
        document = super().compose_document()
        _check_expansion(document)
        return document

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        _refuse_duplicate_keys(self, node)
        return super().construct_mapping(node, deep=deep)


def _refuse_tag(loader: _StudyFileLoader, node: Any) -> None:
    """A tag without a safe constructor (a Python object's, or one of the author's own) is never
    constructed; the error says so in a study file's words rather than as a missing
    constructor."""
    tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
    raise _RefusedYaml(
        f"the tag {tag!r} at line {node.start_mark.line + 1} is not allowed: a study file holds "
        "plain values (text, numbers, true/false, lists and mappings), so remove the tag, or "
        "quote the value if the '!' belongs to the text"
    )


_StudyFileLoader.add_constructor(None, _refuse_tag)
_StudyFileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def _refuse_duplicate_keys(loader: _StudyFileLoader, node: Any) -> None:
    """A key given twice is an error, not the last one winning: the first is usually the one
    its author edits, and would be ignored without a word."""
    first_lines: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # '<<: *defaults' keys may repeat, and explicit keys override merged ones
        key = loader.construct_object(key_node)
        if not isinstance(key, Hashable):
            continue  # the constructor refuses it, with its position
        line = key_node.start_mark.line + 1
        if key in first_lines:
            raise _RefusedYaml(
                f"the key {key!r} is given twice in the same mapping, at line "
                f"{first_lines[key]} and line {line}; YAML would keep only the last one, so "
                "remove the one you do not mean (or merge the two)"
            )
        first_lines[key] = line


def _check_expansion(root: Any) -> None:
    """Refuse a document whose aliases expand it past :data:`MAX_VALUES` values or
    :data:`MAX_NESTING` levels, or make a value contain itself.

    An alias shares its anchor's node, so PyYAML itself stays cheap, but everything that walks
    the data afterwards (validation, JSON for the storage) meets every copy. The walk is
    iterative and visits each node once, so that it is cheap whatever the document claims.
    """
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, levels), aliases expanded
    stack: list[tuple[Any, Iterator[Any]]] = [(root, _children(root))]
    on_path = {id(root)}
    while stack:
        node, pending = stack[-1]
        child = next(pending, None)
        if child is None:
            stack.pop()
            on_path.discard(id(node))
            sizes[id(node)] = _expanded_size(node, sizes)
            continue
        if id(child) in sizes:
            continue
        if id(child) in on_path:
            raise _RefusedYaml(
                f"the value at line {child.start_mark.line + 1} contains itself through an "
                "alias (*name), which makes it endless; refer to an anchor (&name) only outside "
                "the value it names"
            )
        on_path.add(id(child))
        stack.append((child, _children(child)))


def _expanded_size(node: Any, sizes: dict[int, tuple[int, int]]) -> tuple[int, int]:
    children = [sizes[id(child)] for child in _children(node)]
    values = 1 + sum(count for count, _ in children)
    levels = 1 + max((depth for _, depth in children), default=0)
    line = node.start_mark.line + 1
    if levels > MAX_NESTING:
        raise _RefusedYaml(_too_deep(line))
    if values > MAX_VALUES:
        raise _RefusedYaml(
            f"the value at line {line} holds more than {MAX_VALUES:,} values, the limit for a "
            "study file (each alias (*name) counts as a copy of its anchor (&name)); give the "
            "values once instead of multiplying them through aliases"
        )
    return values, levels


def _children(node: Any) -> Iterator[Any]:
    if isinstance(node, yaml.MappingNode):
        return (item for pair in node.value for item in pair)
    if isinstance(node, yaml.SequenceNode):
        return iter(node.value)
    return iter(())


def _too_deep(line: int) -> str:
    return (
        f"values nest deeper than {MAX_NESTING} levels at line {line}, the limit for a study "
        "file (each alias (*name) counts as a copy of its anchor (&name)); a study file needs "
        "a few levels, so check that every bracket is closed and that the indentation is what "
        "you meant"
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
