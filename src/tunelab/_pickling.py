"""Samplers and pruners travel to other processes as the call that built them.

Worker processes (``optimize(n_jobs=...)``, Dask) need the study's sampler and pruner. Their
live state (caches of the history, locks, random generators) cannot or should not be pickled,
and every piece of it is rebuilt from the storage anyway; what must travel is the choice of
algorithm and options. So an instance pickles as its constructor call, with the seed it
resolved (an unseeded sampler draws a random seed once, and every process must share it).
"""

from __future__ import annotations

import inspect
from typing import Any


class PicklesAsConstructorCall:
    """Mixin: pickling gives a fresh instance built with the same arguments (and seed)."""

    _constructor_call: tuple[tuple[Any, ...], dict[str, Any]]

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        instance = super().__new__(cls)
        instance._constructor_call = (args, dict(kwargs))
        return instance

    def __reduce__(self) -> tuple[Any, ...]:
        args, kwargs = self._constructor_call
        signature = inspect.signature(type(self))
        bound = signature.bind_partial(*args, **kwargs)
        if "seed" in signature.parameters and getattr(self, "seed", None) is not None:
            bound.arguments["seed"] = self.seed  # type: ignore[attr-defined]
        return (_construct, (type(self), bound.args, bound.kwargs))


def _construct(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return cls(*args, **kwargs)
