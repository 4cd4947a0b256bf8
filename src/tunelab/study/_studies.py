"""Studies in a storage: create one (or load it if it exists), load, delete and list them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from tunelab._attrs import HEARTBEAT_ATTR
from tunelab.exceptions import ConfigError, StudyNotFoundError
from tunelab.heartbeat import HeartbeatSettings
from tunelab.pruners import BasePruner, make_pruner
from tunelab.registry import did_you_mean
from tunelab.samplers import BaseSampler, make_sampler
from tunelab.storage import BaseStorage, StudySummary, make_storage
from tunelab.storage.base import StudyInfo
from tunelab.study._study import Study

DIRECTIONS = ("minimize", "maximize")


def check_direction(value: Any) -> str:
    """``"minimize"`` or ``"maximize"`` (in any case); a :class:`ConfigError` otherwise."""
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
    names = None
    if metric_names is not None:
        names = tuple(metric_names)
        if isinstance(metric_names, str) or len(names) != len(normalised):
            raise ConfigError(
                f"metric_names={metric_names!r} must give one name per objective "
                f"({len(normalised)})."
            )
        if len(set(names)) != len(names):
            raise ConfigError(
                f"metric_names={list(names)!r} has duplicates; name each objective once."
            )
    return tuple(normalised), names


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
) -> Study:
    """Create a study (or load it, with ``load_if_exists=True``).

    Args:
        name: unique within the storage; a random name if omitted.
        storage: ``sqlite:///file.db``, ``postgresql://...``, ``memory`` or a storage object;
            in memory if omitted.
        direction: ``"minimize"`` (default) or ``"maximize"``.
        directions: one per objective, for multi-objective studies.
        sampler: a name (``"auto"``, the default; ``"tpe"``, ``"random"``, ``"grid"``, ...),
            ``{"name": ..., options}`` or a sampler object.
        pruner: a name (``"none"``, ``"median"``, ``"percentile"``), a mapping or an object.
        seed: seeds a sampler built from a name.
        metric_names: names of the objectives, shown in tables and plots.
        heartbeat_interval: seconds between the heartbeats of a running trial; with it, a
            trial whose worker died (killed, machine lost) is failed once ``grace_period``
            seconds (default: twice the interval) pass without one, and queued again up to
            ``max_retries`` times (see :mod:`tunelab.heartbeat`). Stored with the study, so
            every process working on it follows it.
    """
    checked_directions, names = _check_directions(direction, directions, metric_names)
    heartbeat = HeartbeatSettings.checked(heartbeat_interval, grace_period, max_retries)
    sampler_obj = make_sampler(sampler, seed=seed)
    pruner_obj = make_pruner(pruner, seed=seed)
    store = make_storage(storage)
    study_name = name or f"study-{uuid.uuid4().hex[:8]}"
    if load_if_exists:
        try:
            info = store.get_study(study_name)
        except StudyNotFoundError:
            pass
        else:
            if info.directions != checked_directions:
                raise ConfigError(
                    f"study {study_name!r} exists with directions {_words(info.directions)}, "
                    f"not {_words(checked_directions)}; use the same directions or another name."
                )
            return Study(_with_heartbeat(store, info, heartbeat), store, sampler_obj, pruner_obj)
    info = store.create_study(study_name, checked_directions, names)
    return Study(_with_heartbeat(store, info, heartbeat), store, sampler_obj, pruner_obj)


def _words(directions: Sequence[str]) -> list[str]:
    return [str(direction) for direction in directions]


def _with_heartbeat(
    store: BaseStorage, info: StudyInfo, heartbeat: HeartbeatSettings | None
) -> StudyInfo:
    """``info`` after storing the heartbeat settings given to create_study, if any."""
    if heartbeat is None:
        return info
    store.set_study_system_attr(info.study_id, HEARTBEAT_ATTR, heartbeat.to_json())
    return store.get_study(info.name)


def load_study(
    name: str,
    storage: str | BaseStorage,
    sampler: str | Mapping[str, Any] | BaseSampler | None = None,
    pruner: str | Mapping[str, Any] | BasePruner | None = None,
    seed: int | None = None,
) -> Study:
    """Open an existing study; :class:`StudyNotFoundError` if there is none of that name."""
    store = make_storage(storage)
    info = store.get_study(name)
    return Study(info, store, make_sampler(sampler, seed=seed), make_pruner(pruner, seed=seed))


def delete_study(name: str, storage: str | BaseStorage) -> None:
    """Remove a study and all its trials from the storage."""
    store = make_storage(storage)
    store.delete_study(store.get_study(name).study_id)


def list_studies(storage: str | BaseStorage) -> list[StudySummary]:
    """A summary (trial counts per state, best value) of every study in the storage."""
    return make_storage(storage).list_studies()
