"""Trials as a pandas DataFrame, one row per trial (pandas is an optional dependency)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunelab.exceptions import MissingExtraError

if TYPE_CHECKING:
    from tunelab.study import Study


def trial_rows(study: Study) -> list[dict[str, Any]]:
    """Flat rows: number, state, value(s) named after the metrics, params_*, user_attrs_*."""
    columns = [
        f"value_{name}" if study.metric_names else name for name in study.objective_names
    ]
    rows = []
    for record in study.trials:
        row: dict[str, Any] = {"number": record.number, "state": record.state.name}
        for i, column in enumerate(columns):
            row[column] = record.values[i] if record.values else None
        row["datetime_start"] = record.datetime_start
        row["datetime_complete"] = record.datetime_complete
        row["duration"] = record.duration
        row.update({f"params_{k}": v for k, v in record.params.items()})
        row.update({f"user_attrs_{k}": v for k, v in record.user_attrs.items()})
        row["fail_reason"] = record.fail_reason
        rows.append(row)
    return rows


def trials_dataframe(study: Study) -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise MissingExtraError("pandas", "plots", "trials_dataframe()") from None
    return pd.DataFrame(trial_rows(study))
