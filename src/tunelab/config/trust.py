"""How far a command that rebuilds a stored study trusts what the storage names.

A study started from a study file keeps that file's fields in its storage, and they name code
(the objective, a task's model factory, a sampler or pruner class of the user's) and files (a
task's data, pretrained weights, its artifacts folder; each trial's saved weights). Rebuilding
the study imports that code and reads those files, so whoever can write the storage decides
what they are. :class:`StorageTrust` is the user's limit on that, and :func:`check_stored_fields`
applies it before anything is imported or read: a refused study has cost nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tunelab.config.objective import is_import_path
from tunelab.exceptions import ConfigError

OWN_PACKAGE = "tunelab"  # tunelab's own modules are what runs the study: always trusted


class UntrustedStorageError(ConfigError):
    """A stored study names a module or a file that the command was not allowed to use."""


class StorageTrust:
    """What a command that rebuilds a stored study may import and read.

    ``trusted_modules``: module-name prefixes the stored code may come from (``"my_lab"``
    allows ``my_lab`` and ``my_lab.models``, not ``my_labs``; tunelab's own are always allowed);
    None allows any module the study names. ``data_roots``: the folders the files a stored study
    names must lie under; None allows the folder of the study file it was started from (when
    this machine has it) and the current directory. Both defaults take the storage's word for
    what the study is, which is why a storage that others can write wants both limits given.
    """

    def __init__(
        self,
        *,
        trusted_modules: Iterable[str] | None = None,
        data_roots: Iterable[str | os.PathLike[str]] | None = None,
    ) -> None:
        self.trusted_modules = (
            None if trusted_modules is None
            else tuple(_module_prefix(m) for m in _items(trusted_modules, "trusted_modules"))
        )
        self.data_roots = (
            None if data_roots is None
            else tuple(_folder(root) for root in _items(data_roots, "data_roots"))
        )

    def roots(self, study_file: Path | None) -> tuple[Path, ...]:
        """The folders files may lie under, for a study started from ``study_file``."""
        if self.data_roots is not None:
            return self.data_roots
        folders = [study_file.parent] if study_file is not None else []
        return tuple(dict.fromkeys(f.resolve() for f in [*folders, Path.cwd()]))

    def check_module(self, module: str, where: str) -> None:
        """Refuse ``module`` (named at ``where``) unless it is trusted."""
        if self.trusted_modules is None or _within(module, (OWN_PACKAGE, *self.trusted_modules)):
            return
        listed = ", ".join(self.trusted_modules) or "none"
        raise UntrustedStorageError(
            f"{where} names code in the module {module!r}, which is not among the trusted "
            f"modules ({listed}), so nothing was imported. If you trust it, add --trusted-module "
            f"{module} (trusted_modules=[{module!r}] in Python).",
            field="trusted_modules",
        )

    def check_path(self, named: str, start: Path, roots: Sequence[Path], where: str) -> None:
        """Refuse the file or folder ``named`` at ``where`` (relative to ``start``) unless it
        lies under one of ``roots``; symbolic links are followed first, so none leads out."""
        path = (start / Path(named).expanduser()).resolve()
        if any(path.is_relative_to(root) for root in roots):
            return
        listed = ", ".join(str(root) for root in roots)
        shown = repr(named) if named == str(path) else f"{named!r} ({path})"
        folder = str(path if path.is_dir() else path.parent)
        raise UntrustedStorageError(
            f"{where}: {shown} lies outside the data roots ({listed}), so nothing was read. If "
            f"you trust it, add --data-root {folder} (data_roots=[{folder!r}] in Python).",
            field="data_roots",
        )


def check_stored_fields(
    fields: Mapping[str, Any], study_file: Path | None, trust: StorageTrust, source: str
) -> None:
    """Refuse a stored study whose ``fields`` name a module or a file that ``trust`` does not
    allow; ``study_file`` is the file it was started from, if this machine has it (its folder
    holds the modules it names and starts its data paths)."""
    roots = trust.roots(study_file)
    for field, module in _named_modules(fields):
        trust.check_module(module, f"{source}: field {field!r}")
    data_start = study_file.parent if study_file is not None else Path.cwd()
    for field, named, from_data in _named_paths(fields):
        start = data_start if from_data else Path.cwd()
        trust.check_path(named, start, roots, f"{source}: field {field!r}")


def _named_modules(fields: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, module) for each module the fields would have imported.

    The objective and a model's name are imported whatever their spelling once they hold a
    colon; a sampler's or pruner's spec (options included, since a pruner may wrap another)
    only where a string is a class path, as the registry builds nothing else.
    """
    task = _mapping(fields.get("task"))
    pretrain = _mapping(task.get("pretrain"))
    code = [
        ("objective", fields.get("objective")),
        ("task.model", _name(task.get("model"))),
        ("task.pretrain.model.name", _name(pretrain.get("model"))),
        *(("task.search.model.name", c) for c in _choices(task, "model.name")),
    ]
    for field, spec in code:
        if isinstance(spec, str) and ":" in spec:
            yield field, spec.partition(":")[0]
    for field in ("sampler", "pruner"):
        for text in _strings(fields.get(field)):
            if is_import_path(text):
                yield field, text.partition(":")[0]


def _named_paths(fields: Mapping[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(field, path, whether it starts from the data folder) for each file or folder a stored
    task names; the others start from the current directory, as training opens them."""
    task = _mapping(fields.get("task"))
    pretrain = _mapping(task.get("pretrain"))
    candidates = [
        ("task.data.path", _mapping(task.get("data")).get("path"), True),
        ("task.pretrain.data.path", _mapping(pretrain.get("data")).get("path"), True),
        ("task.recipe.pretrained", _mapping(task.get("recipe")).get("pretrained"), False),
        ("task.pretrain.recipe.pretrained", _mapping(pretrain.get("recipe")).get("pretrained"),
         False),
        *(("task.search.pretrained", c, False) for c in _choices(task, "pretrained")),
        ("task.artifacts", task.get("artifacts"), False),
    ]
    for field, named, from_data in candidates:
        if isinstance(named, str) and named:
            yield field, named, from_data


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one: a field of the wrong shape names
    nothing, and validation refuses it before anything is imported."""
    return value if isinstance(value, Mapping) else {}


def _name(spec: Any) -> Any:
    return spec.get("name") if isinstance(spec, Mapping) else spec


def _choices(task: Mapping[str, Any], entry: str) -> list[Any]:
    """The choices a task's search entry offers: a list, or a mapping's ``choices``."""
    found = _mapping(task.get("search")).get(entry)
    choices = found.get("choices") if isinstance(found, Mapping) else found
    return list(choices) if isinstance(choices, list) else []


def _strings(value: Any) -> Iterator[str]:
    """Every string inside ``value``, a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def _items(values: Iterable[Any], name: str) -> list[Any]:
    if isinstance(values, (str, os.PathLike)):
        raise ConfigError(
            f"{name}={values!r} must be a list; write {name}=[{values!r}].", field=name
        )
    return list(values)


def _module_prefix(value: Any) -> str:
    if not (isinstance(value, str) and is_import_path(f"{value}:x")):
        raise ConfigError(
            f"trusted module {value!r} is not a module name; give the dotted import name of a "
            "package or module, such as 'my_lab' or 'my_lab.models'.",
            field="trusted_modules",
        )
    return value


def _folder(value: Any) -> Path:
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(
            f"data root {str(value)!r} is not a folder ({path}); give a folder that holds the "
            "study's files.",
            field="data_roots",
        )
    return path
