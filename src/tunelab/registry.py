"""Build samplers and pruners from a name and options, as a study file or the CLI gives them.

A registry maps each built-in name to where its class lives (``"module:Class"``), and a name
of the form ``"package.module:Class"`` names a user's own class the same way, so the
algorithms are imported when a study uses them: ``import tunelab`` stays light, and a user's
sampler is checked and built exactly like a built-in one. Options are checked against the
constructor's signature before it is called, so that a typo gives a message naming the option
and the valid ones rather than a bare ``TypeError``.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from tunelab.exceptions import ConfigError

T = TypeVar("T")

_DOTTED = r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*"
_CLASS_PATH = re.compile(rf"^{_DOTTED}:{_DOTTED}$")


def build(
    kind: str,
    spec: str | Mapping[str, Any] | T,
    registry: Mapping[str, str],
    base: type,
    defaults: Mapping[str, Any] | None = None,
) -> T:
    """An object from ``"name"``, ``{"name": ..., **options}`` or an instance of ``base``.

    ``name`` is a key of ``registry`` (case-insensitive) or ``"package.module:Class"``, a
    subclass of ``base``. ``defaults`` (such as the study's seed) fill options the factory
    accepts and the spec omits.
    """
    if isinstance(spec, base):
        return spec  # type: ignore[return-value]
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, Mapping):
        options = dict(spec)
        name = options.pop("name", None)
        if not isinstance(name, str):
            raise ConfigError(
                f"{kind}: the name is missing; give it, e.g. {{name: {next(iter(registry))}}}.",
                field="name",
            )
    else:
        raise ConfigError(
            f"{kind}={spec!r} must be a name ({', '.join(registry)}), a mapping with 'name' "
            f"and options, or a {base.__name__} instance."
        )
    factory = _factory(kind, name, registry, base)
    accepted = option_names(factory)
    refuse_unknown(options, accepted, f"{kind} '{name}'", noun="option")
    for option, value in (defaults or {}).items():
        if option in accepted and value is not None:
            options.setdefault(option, value)
    for option in required_options(factory):
        if option not in options:
            raise ConfigError(
                f"{kind} '{name}' needs the option {option!r}; add it, e.g. "
                f"{{name: {name}, {option}: ...}}.",
                field=option,
            )
    try:
        return factory(**options)
    except ConfigError:
        raise
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{kind} '{name}': {error}") from None


def module_of(spec: Any, registry: Mapping[str, str]) -> str | None:
    """The module that building ``spec`` (a name, or a mapping with one) imports, found
    without importing it; None for an instance or a name that is not well formed."""
    name = spec.get("name") if isinstance(spec, Mapping) else spec
    if not isinstance(name, str):
        return None
    path = registry.get(name.lower(), name)
    return path.partition(":")[0] if _CLASS_PATH.match(path) else None


def _factory(
    kind: str, name: str, registry: Mapping[str, str], base: type
) -> Callable[..., Any]:
    """What builds ``name``: a registered built-in, or the user's class a path names."""
    target = registry.get(name.lower())
    if target is not None:
        builtin: Callable[..., Any] = load_attribute(target)
        return builtin
    if ":" not in name:
        raise ConfigError(
            f"{kind}: unknown name {name!r}{did_you_mean(name.lower(), registry)}; "
            f"choose one of: {', '.join(sorted(registry))}, or name your own class as "
            "'package.module:Class'.",
            field="name",
        )
    if not _CLASS_PATH.match(name):
        raise ConfigError(
            f"{kind}: {name!r} is not of the form 'package.module:Class'; write the module's "
            "import name, a colon, then the class's name.",
            field="name",
        )
    factory = _user_class(kind, name)
    if not (isinstance(factory, type) and issubclass(factory, base)):
        raise ConfigError(
            f"{kind}: {name!r} is {factory!r}, not a subclass of tunelab's {base.__name__}; "
            f"derive your class from {base.__module__.rsplit('.', 1)[0]}.{base.__name__}.",
            field="name",
        )
    return factory


def _user_class(kind: str, path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    try:
        return load_attribute(path)
    except ModuleNotFoundError as error:
        missing = error.name or module_name
        raise ConfigError(
            f"{kind}: {path!r}: no module named {missing!r} can be imported; put it on the "
            "Python path (next to the study file, in the current directory, or installed).",
            field="name",
        ) from None
    except AttributeError:
        raise ConfigError(
            f"{kind}: {path!r}: module {module_name!r} has no attribute {attribute!r}; name a "
            "class defined in it.",
            field="name",
        ) from None


def class_loader(registry: Mapping[str, str], package: str) -> Callable[[str], Any]:
    """A ``__getattr__`` for ``package`` that imports each registered class when it is first
    asked for by its name, so that importing the package imports none of them."""
    paths = {path.rpartition(":")[2]: path for path in registry.values()}

    def load_class(name: str) -> Any:
        path = paths.get(name)
        if path is None or not name[0].isupper():
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return load_attribute(path)

    return load_class


def load_attribute(path: str) -> Any:
    """The object ``"package.module:Name"`` (``Name`` may be dotted) names, importing its
    module."""
    module_name, _, attribute = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def refuse_unknown(
    options: Mapping[str, Any], known: Any, where: str, noun: str = "field"
) -> None:
    """A ConfigError naming the first key of ``options`` that is not in ``known``."""
    known = list(known)
    for key in options:
        if key not in known:
            raise ConfigError(
                f"{where} has no {noun} {key!r}{did_you_mean(str(key), known)}; its {noun}s "
                f"are: {', '.join(known) or 'none'}.",
                field=str(key),
            )


def did_you_mean(word: str, candidates: Any) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or nothing if none is close."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def required_options(factory: Callable[..., Any]) -> list[str]:
    """The options ``factory`` has no default for."""
    target = factory.func if hasattr(factory, "func") else factory
    fixed = set(getattr(factory, "keywords", {}) or {})
    return [
        p.name
        for p in inspect.signature(target).parameters.values()
        if p.default is p.empty and p.name not in fixed
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def option_names(factory: Callable[..., Any]) -> list[str]:
    target = factory.func if hasattr(factory, "func") else factory
    fixed = set(getattr(factory, "keywords", {}) or {})
    params = inspect.signature(target).parameters.values()
    return [p.name for p in params if p.name not in fixed and p.kind is not p.VAR_KEYWORD]
