"""Who a study is and what it keeps about itself: its name, directions, metric names and
attributes, all read from the :class:`~tunelab.storage.base.StudyInfo` it was loaded with or
from its storage."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tunelab._attrs import METRIC_NAMES_ATTR
from tunelab._direction import StudyDirection, check_metric_names
from tunelab.exceptions import TunelabError
from tunelab.storage import BaseStorage
from tunelab.storage.base import StudyInfo
from tunelab.trial import as_json


class StudyIdentity:
    """The identity and attributes of a study kept in ``storage``."""

    def __init__(self, info: StudyInfo, storage: BaseStorage) -> None:
        self._info = info
        self.storage = storage

    # Identity --------------------------------------------------------------------------

    @property
    def study_name(self) -> str:
        return self._info.name

    @property
    def study_id(self) -> int:
        return self._info.study_id

    @property
    def directions(self) -> list[StudyDirection]:
        """One per objective; each equals both ``StudyDirection.MAXIMIZE`` (say) and
        ``"maximize"``."""
        return list(self._info.directions)

    @property
    def direction(self) -> StudyDirection:
        """The direction of a single-objective study."""
        if len(self._info.directions) != 1:
            raise TunelabError(
                f"study {self.study_name!r} has {len(self._info.directions)} objectives; use "
                ".directions."
            )
        return self._info.directions[0]

    @property
    def metric_names(self) -> tuple[str, ...] | None:
        """The objectives' names, given to ``create_study`` or :meth:`set_metric_names`."""
        names = self._info.metric_names or self._info.system_attrs.get(METRIC_NAMES_ATTR)
        return None if names is None else tuple(names)

    def set_metric_names(self, metric_names: Sequence[str]) -> None:
        """Name the objectives after the study was created (as Optuna scripts do before
        plotting); the names are kept with the study."""
        names = check_metric_names(metric_names, len(self._info.directions))
        self.set_system_attr(METRIC_NAMES_ATTR, list(names))
        attrs = {**self._info.system_attrs, METRIC_NAMES_ATTR: list(names)}
        self._info = dataclasses.replace(self._info, metric_names=names, system_attrs=attrs)

    @property
    def objective_names(self) -> tuple[str, ...]:
        """The metric names, else ``("value",)`` or ``("value_0", "value_1", ...)``."""
        if self.metric_names:
            return self.metric_names
        if len(self._info.directions) == 1:
            return ("value",)
        return tuple(f"value_{i}" for i in range(len(self._info.directions)))

    @property
    def created_at(self) -> datetime:
        return self._info.created_at

    # Attributes ------------------------------------------------------------------------

    @property
    def user_attrs(self) -> dict[str, Any]:
        """The study's own attributes (:meth:`set_user_attr`), as stored now: a copy."""
        return copy.deepcopy(dict(self.storage.get_study(self.study_name).user_attrs))

    def set_user_attr(self, key: str, value: Any) -> None:
        """Keep a JSON value with the study (a note, the dataset's name, ...)."""
        self.storage.set_study_user_attr(self.study_id, key, as_json(key, value))

    @property
    def system_attrs(self) -> dict[str, Any]:
        """What tunelab and samplers keep with the study (heartbeat settings, the auto
        sampler's choice, ...), as stored now: a copy."""
        return copy.deepcopy(dict(self.storage.get_study(self.study_name).system_attrs))

    def set_system_attr(self, key: str, value: Any) -> None:
        """Keep a JSON value with the study beside tunelab's own (as Optuna 3 scripts do)."""
        self.storage.set_study_system_attr(self.study_id, key, as_json(key, value))
