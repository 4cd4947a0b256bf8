"""The sampler contract.

A sampler chooses parameter values. It may choose jointly, before the objective runs, over a
*relative* search space it infers from the study's history (``sample_relative_batch``), and it
always answers a single parameter on demand (``sample_independent``) for parameters outside
that space, such as conditional ones. ``study.ask(n)`` goes through the batch path; the
serial path is the batch of one, so population methods need no second code path.

The hooks have Optuna's names and arguments (``infer_relative_search_space(study, trial)``,
``sample_relative``, ``sample_independent``, ``before_trial``, ``after_trial(study, trial,
state, values)``, ``reseed_rng``), so that a sampler written for Optuna runs when it derives
from this class instead.
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

    def infer_relative_search_space(
        self, study: Study, trial: Trial | None = None
    ) -> dict[str, Distribution]:
        """Parameters this sampler chooses jointly before the objective runs (none by default).

        ``trial`` is the first trial of the batch being asked for (None when the sampler asks
        itself, to inspect its state)."""
        return {}

    def before_trial(self, study: Study, trial: Trial) -> None:
        """Called as each trial starts, before any of its parameters is chosen."""

    def sample_relative_batch(
        self, study: Study, trials: Sequence[Trial], search_space: dict[str, Distribution]
    ) -> list[dict[str, Any]]:
        """Joint values for each trial of a batch; population methods override this."""
        return [self.sample_relative(study, trial, search_space) for trial in trials]

    def sample_relative(
        self, study: Study, trial: Trial, search_space: dict[str, Distribution]
    ) -> dict[str, Any]:
        """Joint values for one trial over ``search_space``.

        A sampler that overrides only the batch path answers here with a batch of one, so that
        a sampler of the user's that wraps a built-in one can call this, as Optuna's allow.
        """
        if type(self).sample_relative_batch is not BaseSampler.sample_relative_batch:
            return self.sample_relative_batch(study, [trial], search_space)[0]
        return {}

    @abstractmethod
    def sample_independent(
        self, study: Study, trial: Trial, name: str, distribution: Distribution
    ) -> Any:
        """A value for one parameter, chosen when the objective asks for it."""

    def after_trial(
        self,
        study: Study,
        trial: Trial | TrialRecord,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        """Called as ``study.tell`` is about to finish ``trial`` with ``state`` and ``values``
        (any state), while the trial can still be written to; e.g. to store derived system
        attributes with it. ``trial`` is the live trial, or its record when it was asked
        elsewhere and told here by number."""

    def reseed_rng(self) -> None:
        """Draw a new seed (Optuna calls this in each worker thread). tunelab's samplers derive
        every draw from their seed, the trial number and the parameter name, which already
        differ between workers and reproduce a run; so by default nothing changes."""

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
