"""The objective a study file names as ``module:function``, imported the way a script would be.

An objective that cannot be imported is the study file's fault as often as the module's, so
every error names the field, what was looked for and where, and how to fix it.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunelab.config.reading import describe_value
from tunelab.exceptions import ConfigError
from tunelab.registry import did_you_mean

_DOTTED_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def resolve_objective(spec: str, study_file: str | Path | None = None) -> Callable[..., Any]:
    """The function named by ``"module:function"`` (``"module:Class.method"`` works too).

    The module is searched in the study file's directory and the current directory (both are
    put on ``sys.path``, as Python does for a script's own directory), then on the usual path.
    """
    prefix = f"{study_file}: field 'objective'" if study_file is not None else "field 'objective'"
    problem = objective_format_problem(spec)
    if problem:
        raise ConfigError(f"{prefix}: {problem}.")
    module_name, _, attr_path = spec.partition(":")
    search_dirs = extend_import_path(study_file)
    module = _import_module(module_name, prefix, search_dirs)
    target: object = module
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
            f"{prefix}: {spec!r} is {describe_value(target)}, not a function; point it at a "
            "function that takes a trial and returns the value to optimize."
        )
    return target


def extend_import_path(study_file: str | Path | None) -> list[str]:
    """Put the study file's folder and the current directory first on ``sys.path``, as Python
    does for a script's own folder, so that the modules a study file names (its objective, a
    sampler or pruner of the user's) are found next to it; the folders, in search order."""
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


def objective_format_problem(spec: str) -> str | None:
    """Why ``spec`` is not ``module:function``, with the spelling it probably meant; None if it
    is. Checked before any import, so that a study file's typo is not taken for a missing
    module."""
    if is_import_path(spec):
        return None
    return (
        f"{spec!r} is not of the form 'module:function'; write {_objective_hint(spec)!r} "
        "(the module's import name, a colon, then the function's name)"
    )


def is_import_path(spec: str) -> bool:
    """Whether ``spec`` has the form ``package.module:attribute``, the one form in which a study
    file names code of the user's (an objective, a sampler or pruner class) to import."""
    module, colon, attr = spec.partition(":")
    return bool(colon and _DOTTED_NAME.match(module) and _DOTTED_NAME.match(attr))


def _objective_hint(spec: str) -> str:
    module, colon, attr = spec.partition(":")
    if not colon:
        module, _, attr = spec.rpartition(".")
    module = module.strip().removesuffix(".py").replace("/", ".").replace("\\", ".").strip(".")
    return f"{module or 'my_module'}:{attr.strip() or 'objective'}"
