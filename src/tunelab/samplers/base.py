"""The sampler contract.

A sampler chooses parameter values. It may choose jointly, before the objective runs, over a
*relative* search space it infers from the study's history (``sample_relative_batch``), and it
always answers a single parameter on demand (``sample_independent``) for parameters outside
that space, such as conditional ones. ``study.ask(n)`` goes through the batch path; the
serial path is the batch of one, so population methods need no second code path.
"""

from __future__ import annotations

import numbers
import random
import secrets
import warnings
import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunelab._pickling import PicklesAsConstructorCall
from tunelab.exceptions import ConfigError
from tunelab.space import Distribution
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial


class BaseSampler(PicklesAsConstructorCall, ABC):
    """Base class of every search algorithm."""

    def infer_relative_search_space(self, study: Study) -> dict[str, Distribution]:
        """Parameters this sampler chooses jointly before the objective runs (none by default)."""
        return {}

    def sample_relative_batch(
        self, study: Study, trials: Sequence[Trial], search_space: dict[str, Distribution]
    ) -> list[dict[str, Any]]:
        """Joint values for each trial of a batch; population methods override this."""
        return [self.sample_relative(study, trial, search_space) for trial in trials]

    def sample_relative(
        self, study: Study, trial: Trial, search_space: dict[str, Distribution]
    ) -> dict[str, Any]:
        """Joint values for one trial over ``search_space``."""
        return {}

    @abstractmethod
    def sample_independent(
        self, study: Study, trial: Trial, name: str, distribution: Distribution
    ) -> Any:
        """A value for one parameter, chosen when the objective asks for it."""

    def before_finish(
        self,
        study: Study,
        trial: Trial | int,
        state: TrialState,
        values: tuple[float, ...] | None,
    ) -> None:
        """Called as ``study.tell`` is about to finish ``trial`` (the live trial, or the id of
        one asked elsewhere) with ``state`` and ``values``, while the trial can still be
        written to; e.g. to store derived system attributes with it."""

    def after_trial(self, study: Study, record: TrialRecord) -> None:
        """Called once a trial is finished (any state)."""

    def is_exhausted(self, study: Study) -> bool:
        """True when the sampler has nothing new to propose (a finished grid)."""
        return False


def models_single_objective(
    sampler: Any, study: Study, class_name: str, short_name: str, stacklevel: int
) -> bool:
    """True for a single-objective study; otherwise False, with one warning per sampler (its
    ``_warned_multi_objective`` flag) that it samples at random there."""
    if len(study.directions) == 1:
        return True
    if not sampler._warned_multi_objective:
        sampler._warned_multi_objective = True
        warnings.warn(
            f"{class_name} models a single objective, but study {study.study_name!r} has "
            f"{len(study.directions)}; it samples at random instead. Use a single objective "
            f"(a weighted sum, say) to get {short_name}.",
            UserWarning,
            stacklevel=stacklevel,
        )
    return False


def resolve_seed(seed: int | None) -> int:
    """The given seed, or a fresh random one so that unseeded samplers still differ per run."""
    if seed is None:
        return secrets.randbits(63)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ConfigError(f"seed={seed!r} must be an integer (or None for a random seed).")
    return int(seed)


def trial_rng(seed: int, number: int, name: str) -> random.Random:
    """A generator that depends only on (seed, trial number, parameter name).

    This makes a seeded sampler reproducible whatever the order of suggestions, the branches
    taken in a conditional space, or how many processes share the study.
    """
    key = (int(seed) % (1 << 63)) << 96 | (number % (1 << 63)) << 32 | zlib.crc32(name.encode())
    return random.Random(key)
