"""Trials as a table, one row per trial: a pandas DataFrame with Optuna's columns
(``study.trials_dataframe()``), and the flat rows that ``tunelab export`` writes.

Each requested field of a trial's record gives one column, or, for a mapping (parameters,
attributes, intermediate values) or several objective values, one column per key, named
``<field>_<key>`` (``params_lr``, ``values_0``) or, as a two-level index, ``(field, key)``.
pandas is an optional dependency, imported only for the DataFrame.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunelab.exceptions import ConfigError, MissingExtraError
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study

OPTUNA_ATTRS = (
    "number",
    "value",
    "datetime_start",
    "datetime_complete",
    "duration",
    "params",
    "user_attrs",
    "system_attrs",
    "state",
)
"""The fields of ``trials_dataframe()`` without arguments, in Optuna's order."""

EXPORT_ATTRS = (
    "number",
    "state",
    "value",
    "datetime_start",
    "datetime_complete",
    "duration",
    "params",
    "user_attrs",
    "fail_reason",
)
"""The fields ``tunelab export`` writes: what a user reads, with why a trial failed."""

Column = tuple[str, Any]  # (field, key within it; "" for a field that is one value)


def trial_rows(study: Study, attrs: Sequence[str] = EXPORT_ATTRS) -> list[dict[str, Any]]:
    """One flat row per trial, ``{"number": 0, "params_lr": 0.01, ...}``, every row with
    every column (None where a trial has no such key)."""
    cells, columns = _table(study, attrs)
    names = [_flat(column) for column in columns]
    return [{name: row.get(column) for name, column in zip(names, columns)} for row in cells]


def trials_dataframe(study: Study, attrs: Sequence[str], multi_index: bool) -> Any:
    """The trials as a DataFrame (empty for a study without trials); see the module's text."""
    try:
        import pandas as pd
    except ImportError:
        raise MissingExtraError("pandas", "plots", "trials_dataframe()") from None
    cells, columns = _table(study, attrs)
    if not cells:
        return pd.DataFrame()
    frame = pd.DataFrame(cells, columns=pd.MultiIndex.from_tuples(columns))
    if not multi_index:
        frame.columns = [_flat(column) for column in columns]
    return frame


def _table(study: Study, attrs: Sequence[str]) -> tuple[list[dict[Column, Any]], list[Column]]:
    """The cells of each trial, keyed by column, and the columns in order: the fields in the
    order given, the keys of each in sorted order (metric names in the study's order)."""
    records = study.trials
    n_objectives = len(study.directions)
    if n_objectives > 1:  # a multi-objective trial has no single value
        attrs = ["values" if attr == "value" else attr for attr in attrs]
    fields = [_field(records[0], attr) if records else attr for attr in attrs]
    metric_names = study.metric_names
    keys: dict[str, set[Any]] = {field: set() for field in fields}
    cells = []
    for record in records:
        row: dict[Column, Any] = {}
        for field in fields:
            for key, value in _cells(record, field, metric_names, n_objectives):
                row[(field, key)] = value
                keys[field].add(key)
        cells.append(row)
    columns: list[Column] = []
    for field, found in keys.items():
        ordered = metric_names if field == "values" and metric_names else sorted(found)
        columns += [(field, key) for key in ordered if key in found]
    return cells, columns


def _field(record: TrialRecord, attr: str) -> str:
    """The record's field that ``attr`` names (a leading underscore, as in Optuna's
    ``_trial_id``, is dropped, as Optuna drops it from the column)."""
    field = attr.removeprefix("_")
    if not hasattr(record, field):
        raise ConfigError(
            f"trials_dataframe(attrs=...): {attr!r} is not a field of a trial; use some of "
            f"{', '.join(OPTUNA_ATTRS)}, values, intermediate_values, distributions, trial_id "
            "or fail_reason.",
            field="attrs",
        )
    return field


def _cells(
    record: TrialRecord, field: str, metric_names: Sequence[str] | None, n_objectives: int
) -> Iterable[tuple[Any, Any]]:
    """(key, value) for each cell that ``field`` of ``record`` gives."""
    value = getattr(record, field)
    if isinstance(value, TrialState):
        return [("", value.name)]
    if field == "values":
        values = [None] * n_objectives if value is None else value
        return zip(metric_names or range(n_objectives), values)
    if field == "value":
        return [(metric_names[0] if metric_names else "", value)]
    if isinstance(value, Mapping):
        return value.items()
    if isinstance(value, (list, tuple)):
        return enumerate(value)
    return [("", value)]


def _flat(column: Column) -> str:
    """``("params", "lr")`` as ``"params_lr"``, ``("value", "")`` as ``"value"``."""
    return "_".join(str(part) for part in column if part != "")
