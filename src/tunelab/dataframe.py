"""Trials as a pandas DataFrame, one row per trial (pandas is an optional dependency)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunelab.exceptions import MissingExtraError

if TYPE_CHECKING:
    from tunelab.study import Study


def trial_rows(study: Study) -> list[dict[str, Any]]:
    """Flat rows: number, state, value(s) named after the metrics, params_*, user_attrs_*."""
    names = study.metric_names or (
        ("value",) if len(study.directions) == 1 else tuple(f"value_{i}" for i in range(len(study.directions)))
    )
    rows = []
    for record in study.trials:
        row: dict[str, Any] = {"number": record.number, "state": record.state.value}
        for i, name in enumerate(names):
            row[name if name.startswith("value") else f"value_{name}"] = (
                record.values[i] if record.values else None
            )
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
