"""Studies in a storage: create one (or load it if it exists), load, copy, delete and list them.

Each function takes Optuna's keywords (``study_name=``, ``load_if_exists=``) besides
tunelab's own (``name``, given first or by keyword).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from tunelab._attrs import HEARTBEAT_ATTR
from tunelab._direction import check_metric_names
from tunelab.constraints import is_feasible
from tunelab.exceptions import ConfigError, DuplicatedStudyError, StudyNotFoundError
from tunelab.heartbeat import HeartbeatSettings
from tunelab.pruners import BasePruner, make_pruner
from tunelab.registry import did_you_mean
from tunelab.samplers import BaseSampler, make_sampler
from tunelab.storage import BaseStorage, StudySummary, make_storage
from tunelab.storage.base import StudyInfo
from tunelab.study._ranking import best_of
from tunelab.study._study import Study
from tunelab.trial import TrialRecord, TrialState

DIRECTIONS = ("minimize", "maximize")
DEFAULT_PRUNER = "median"
"""Optuna's default: the median rule with its default options. ``pruner="none"`` prunes
nothing."""

logger = logging.getLogger("tunelab")


def check_direction(value: Any) -> str:
    """``"minimize"`` or ``"maximize"`` (in any case, or a :class:`StudyDirection` member);
    a :class:`ConfigError` otherwise."""
    if isinstance(value, str) and value.lower() in DIRECTIONS:
        return value.lower()
    raise ConfigError(
        f"{value!r} is not a direction{did_you_mean(str(value).lower(), DIRECTIONS)}; "
        "use 'minimize' or 'maximize'."
    )


def _check_directions(
    direction: str | None, directions: Sequence[str] | None, metric_names: Sequence[str] | None
) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    if direction is not None and directions is not None:
        raise ConfigError("give either direction or directions, not both.")
    chosen = [direction or "minimize"] if directions is None else list(directions)
    if isinstance(directions, str) or not chosen:
        raise ConfigError("directions must be a non-empty list such as ['minimize', 'maximize'].")
    normalised = [check_direction(item) for item in chosen]
    names = None if metric_names is None else check_metric_names(metric_names, len(normalised))
    return tuple(normalised), names


def _one_name(name: str | None, study_name: str | None, call: str) -> str | None:
    """The study's name, given as tunelab's ``name`` or Optuna's ``study_name``."""
    if name is not None and study_name is not None and name != study_name:
        raise ConfigError(
            f"{call}: name={name!r} and study_name={study_name!r} differ; give the name once "
            "(study_name is Optuna's spelling of name).",
            field="study_name",
        )
    return study_name if name is None else name


def _make_pruner(
    pruner: str | Mapping[str, Any] | BasePruner | None, seed: int | None
) -> BasePruner:
    return make_pruner(DEFAULT_PRUNER if pruner is None else pruner, seed=seed)


def create_study(
    name: str | None = None,
    storage: str | BaseStorage | None = None,
    direction: str | None = None,
    directions: Sequence[str] | None = None,
    sampler: str | Mapping[str, Any] | BaseSampler | None = None,
    pruner: str | Mapping[str, Any] | BasePruner | None = None,
    load_if_exists: bool = False,
    seed: int | None = None,
    metric_names: Sequence[str] | None = None,
    heartbeat_interval: float | None = None,
    grace_period: float | None = None,
    max_retries: int = 0,
    *,
    study_name: str | None = None,
) -> Study:
    """Create a study (or load it, with ``load_if_exists=True``).

    Args:
        name: unique within the storage; a random name if omitted. ``study_name`` (Optuna's
            keyword) is the same.
        storage: ``sqlite:///file.db``, ``postgresql://...``, ``memory`` or a storage object;
            in memory if omitted.
        direction: ``"minimize"`` (default) or ``"maximize"``.
        directions: one per objective, for multi-objective studies.
        sampler: a name (``"auto"``, the default; ``"tpe"``, ``"random"``, ``"grid"``, ...),
            ``{"name": ..., options}`` or a sampler object.
        pruner: a name (``"median"``, the default, with its default options;
            ``"percentile"``, ``"asha"``, ...; ``"none"`` prunes nothing), a mapping or an
            object.
        seed: seeds a sampler built from a name.
        metric_names: names of the objectives, shown in tables and plots.
        heartbeat_interval: seconds between the heartbeats of a running trial; with it, a
            trial whose worker died (killed, machine lost) is failed once ``grace_period``
            seconds (default: twice the interval) pass without one, and queued again up to
            ``max_retries`` times (see :mod:`tunelab.heartbeat`). Stored with the study, so
            every process working on it follows it. Without them, those of the storage
            object, if it has any (``tunelab.storages.RDBStorage(url, heartbeat_interval=...)``).
    """
    checked_directions, names = _check_directions(direction, directions, metric_names)
    heartbeat = HeartbeatSettings.checked(heartbeat_interval, grace_period, max_retries)
    sampler_obj = make_sampler(sampler, seed=seed)
    pruner_obj = _make_pruner(pruner, seed)
    store = make_storage(storage)
    heartbeat = heartbeat or store.default_heartbeat
    study_name = _one_name(name, study_name, "create_study") or f"study-{uuid.uuid4().hex[:8]}"
    info = _existing(store, study_name, checked_directions) if load_if_exists else None
    if info is None:
        try:
            info = store.create_study(study_name, checked_directions, names)
        except DuplicatedStudyError:
            if not load_if_exists:
                raise
            # Another process created it since we looked: load theirs.
            info = _existing(store, study_name, checked_directions)
            assert info is not None
    return Study(_with_heartbeat(store, info, heartbeat), store, sampler_obj, pruner_obj)


def _existing(
    store: BaseStorage, name: str, directions: tuple[str, ...]
) -> StudyInfo | None:
    """The stored study called ``name`` if there is one, checked to have ``directions``."""
    try:
        info = store.get_study(name)
    except StudyNotFoundError:
        return None
    if info.directions != directions:
        raise ConfigError(
            f"study {name!r} exists with directions {_words(info.directions)}, "
            f"not {_words(directions)}; use the same directions or another name."
        )
    return info


def _words(directions: Sequence[str]) -> list[str]:
    return [str(direction) for direction in directions]


def _with_heartbeat(
    store: BaseStorage, info: StudyInfo, heartbeat: HeartbeatSettings | None
) -> StudyInfo:
    """``info`` after storing the heartbeat settings given to create_study (or carried by
    the storage object), if any."""
    if heartbeat is None:
        return info
    store.set_study_system_attr(info.study_id, HEARTBEAT_ATTR, heartbeat.to_json())
    return store.get_study(info.name)


def load_study(
    name: str | None = None,
    storage: str | BaseStorage | None = None,
    sampler: str | Mapping[str, Any] | BaseSampler | None = None,
    pruner: str | Mapping[str, Any] | BasePruner | None = None,
    seed: int | None = None,
    *,
    study_name: str | None = None,
) -> Study:
    """Open an existing study; :class:`StudyNotFoundError` if there is none of that name.

    Without a name (``load_study(study_name=None, storage=url)``), the storage's only study.
    """
    store = _holding_storage(storage, "load_study")
    chosen = _one_name(name, study_name, "load_study")
    info = _only_study(store) if chosen is None else store.get_study(chosen)
    info = _with_heartbeat(store, info, store.default_heartbeat)
    return Study(info, store, make_sampler(sampler, seed=seed), _make_pruner(pruner, seed))


def _holding_storage(storage: str | BaseStorage | None, call: str) -> BaseStorage:
    """The storage that holds the study a call names: not a new one in memory."""
    if storage is None:
        raise ConfigError(
            f"{call}: give storage=..., the URL (such as 'sqlite:///tunelab.db') or storage "
            "object that holds the study.",
            field="storage",
        )
    return make_storage(storage)


def _only_study(store: BaseStorage) -> StudyInfo:
    names = [summary.name for summary in store.list_studies()]
    if len(names) != 1:
        held = f"holds the studies {names}" if names else "holds no study"
        raise ConfigError(
            f"load_study without a study name opens the storage's only study, and this "
            f"storage {held}; give study_name=... .",
            field="study_name",
        )
    return store.get_study(names[0])


def delete_study(
    name: str | None = None,
    storage: str | BaseStorage | None = None,
    *,
    study_name: str | None = None,
) -> None:
    """Remove a study and all its trials from the storage."""
    store = _holding_storage(storage, "delete_study")
    chosen = _one_name(name, study_name, "delete_study")
    if chosen is None:
        raise ConfigError("delete_study: give the name of the study to delete.", field="name")
    store.delete_study(store.get_study(chosen).study_id)


def copy_study(
    *,
    from_study_name: str,
    from_storage: str | BaseStorage,
    to_storage: str | BaseStorage,
    to_study_name: str | None = None,
) -> None:
    """Copy a study into another storage (or under another name): its directions, metric
    names, user and system attributes, and its trials, whole, in one write.

    A trial still RUNNING is left out: its result will land in the source study.
    :class:`DuplicatedStudyError` if the target name is taken.
    """
    source = _holding_storage(from_storage, "copy_study")
    info = source.get_study(from_study_name)
    target = make_storage(to_storage)
    copy = target.create_study(
        to_study_name or from_study_name, info.directions, info.metric_names
    )
    for key, value in info.system_attrs.items():
        target.set_study_system_attr(copy.study_id, key, value)
    for key, value in info.user_attrs.items():
        target.set_study_user_attr(copy.study_id, key, value)
    trials = source.get_trials(info.study_id)
    kept = [record for record in trials if record.state is not TrialState.RUNNING]
    if len(kept) < len(trials):
        logger.info(
            "copy_study: %d running trial(s) of %r left out.", len(trials) - len(kept), info.name
        )
    target.add_trials(copy.study_id, kept)


def list_studies(storage: str | BaseStorage) -> list[StudySummary]:
    """A summary (trial counts per state, best value) of every study in the storage."""
    return make_storage(storage).list_studies()


def get_all_study_summaries(
    storage: str | BaseStorage, include_best_trial: bool = True
) -> list[StudySummary]:
    """Every study's summary, oldest first; with ``include_best_trial``, a single-objective
    study's best feasible completed trial in ``best_trial``."""
    store = make_storage(storage)
    summaries = store.list_studies()
    if not include_best_trial:
        return summaries
    return [
        dataclasses.replace(summary, best_trial=_best_trial(store, summary))
        for summary in summaries
    ]


def _best_trial(store: BaseStorage, summary: StudySummary) -> TrialRecord | None:
    if len(summary.directions) != 1 or not summary.counts[TrialState.COMPLETE]:
        return None
    completed = store.get_trials(summary.study_id, (TrialState.COMPLETE,))
    return best_of([r for r in completed if is_feasible(r)], summary.directions[0])


def get_all_study_names(storage: str | BaseStorage) -> list[str]:
    """The name of every study in the storage, oldest first."""
    return [summary.name for summary in make_storage(storage).list_studies()]
