"""Samplers and pruners travel to other processes as the call that built them.

Worker processes (``optimize(n_jobs=...)``, Dask) need the study's sampler and pruner. Their
live state (caches of the history, locks, random generators) cannot or should not be pickled,
and every piece of it is rebuilt from the storage anyway; what must travel is the choice of
algorithm and options. So an instance pickles as its constructor call, with the seed it
resolved (an unseeded sampler draws a random seed once, and every process must share it).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any


class PicklesAsConstructorCall:
    """Mixin: pickling gives a fresh instance built with the same arguments (and seed).

    Each subclass's ``__init__`` is wrapped to record the arguments of the outermost call (a
    subclass's ``super().__init__(...)`` passes others); the wrapper keeps the signature, which
    the registry reads to list a component's options.
    """

    _constructor_call: tuple[tuple[Any, ...], dict[str, Any]] = ((), {})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return

        @functools.wraps(init)
        def recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
            if "_constructor_call" not in self.__dict__:
                self._constructor_call = (args, dict(kwargs))
            init(self, *args, **kwargs)

        cls.__init__ = recording_init  # type: ignore[method-assign]

    def __reduce__(self) -> tuple[Any, ...]:
        args, kwargs = self._constructor_call
        signature = inspect.signature(type(self))
        bound = signature.bind_partial(*args, **kwargs)
        if "seed" in signature.parameters and getattr(self, "seed", None) is not None:
            bound.arguments["seed"] = self.seed  # type: ignore[attr-defined]
        return (_construct, (type(self), bound.args, bound.kwargs))


def _construct(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return cls(*args, **kwargs)
