"""Build samplers and pruners from a name and options, as a study file or the CLI gives them.

Options are checked against the constructor's signature before it is called, so that a typo
gives a message naming the option and the valid ones rather than a bare ``TypeError``.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from tunelab.exceptions import ConfigError

T = TypeVar("T")


def build(
    kind: str,
    spec: str | Mapping[str, Any] | T,
    factories: Mapping[str, Callable[..., T]],
    base: type,
    defaults: Mapping[str, Any] | None = None,
) -> T:
    """An object from ``"name"``, ``{"name": ..., **options}`` or an instance of ``base``.

    ``defaults`` (such as the study's seed) fill options the factory accepts and the spec omits.
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
                f"{kind}: the name is missing; give it, e.g. {{name: {next(iter(factories))}}}.",
                field="name",
            )
    else:
        raise ConfigError(
            f"{kind}={spec!r} must be a name ({', '.join(factories)}), a mapping with 'name' "
            f"and options, or a {base.__name__} instance."
        )
    factory = factories.get(name.lower())
    if factory is None:
        raise ConfigError(
            f"{kind}: unknown name {name!r}{did_you_mean(name.lower(), factories)}; "
            f"choose one of: {', '.join(sorted(factories))}.",
            field="name",
        )
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
