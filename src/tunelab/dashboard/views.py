"""The JSON the pages draw, made from stored records only.

Nothing here imports or reads what a record names (an objective's module, a task's data):
the dashboard shows what the storage holds, as `tunelab show`, `report` and `doctor` do.
Every value is data; the pages put text into the document as text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tunelab import _display as display
from tunelab._attrs import ARTIFACT_META_PREFIX, DEVICE_ATTR, WORKER_ATTR
from tunelab.dashboard.feed import Snapshot
from tunelab.storage.base import StudySummary
from tunelab.study import Study
from tunelab.telemetry import read_telemetry
from tunelab.trial import TrialRecord, TrialState

RECENT_TRIALS = 500  # what a feed event or the study page lists at most; the table pages the rest


def number(value: Any) -> float | None:
    """A float for JSON, which has no NaN or infinity (those become null)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def moment(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def last_activity(records: Iterable[TrialRecord]) -> datetime | None:
    times = [t for r in records for t in (r.datetime_complete, r.datetime_start) if t is not None]
    return max(times, default=None)


def summary_json(summary: StudySummary, last: datetime | None) -> dict[str, Any]:
    return {
        "name": summary.name,
        "directions": [str(d.value) for d in summary.directions],
        "counts": {state.name: n for state, n in summary.counts.items() if n},
        "n_trials": summary.n_trials,
        "best_value": number(summary.best_value),
        "created_at": moment(summary.created_at),
        "last_activity": moment(last),
    }


def trial_row(record: TrialRecord, with_curve: bool = False) -> dict[str, Any]:
    """A trial in brief: what lists, the live feed and the table show."""
    steps = sorted(record.intermediate_values)
    row: dict[str, Any] = {
        "number": record.number,
        "state": record.state.name,
        "values": None if record.values is None else [number(v) for v in record.values],
        "params": dict(record.params),
        "started": moment(record.datetime_start),
        "completed": moment(record.datetime_complete),
        "duration": _duration(record),
        "last_step": steps[-1] if steps else None,
        "last_value": number(record.intermediate_values[steps[-1]]) if steps else None,
        "epochs": len(read_telemetry(record)),
    }
    if with_curve:
        row["curve"] = [[step, number(record.intermediate_values[step])] for step in steps]
    return row


def _duration(record: TrialRecord) -> float | None:
    if record.datetime_start is None or record.datetime_complete is None:
        return None
    return (record.datetime_complete - record.datetime_start).total_seconds()


def distributions_json(records: Sequence[TrialRecord]) -> dict[str, Any]:
    """Each parameter's distribution as the latest trial that set it holds it."""
    found: dict[str, Any] = {}
    for record in reversed(records):
        for name, distribution in record.distributions.items():
            found.setdefault(name, distribution.to_json())
    return dict(sorted(found.items()))


def study_json(study: Study, snapshot: Snapshot, notes: Mapping[int | None, str]) -> dict[str, Any]:
    """One study: objectives, counts, best trials, parameters, running trials, notes."""
    records = snapshot.trials
    ranked = display.ranked_trials(study)
    user_attr_keys = sorted({key for r in records[-RECENT_TRIALS:] for key in r.user_attrs})
    return {
        "name": snapshot.info.name,
        "revision": snapshot.revision,
        "directions": [str(d.value) for d in snapshot.info.directions],
        "objectives": list(study.objective_names),
        "counts": dict(snapshot.counts),
        "n_trials": len(records),
        "created_at": moment(snapshot.info.created_at),
        "last_activity": moment(last_activity(records)),
        "best": [trial_row(r) for r in ranked[:10]],
        "params": distributions_json(records),
        "user_attr_keys": user_attr_keys,
        "user_attrs": dict(snapshot.info.user_attrs),
        "running": [
            trial_row(r, with_curve=True) for r in records if r.state is TrialState.RUNNING
        ],
        "note": notes.get(None),
    }


def trial_json(record: TrialRecord, notes: Mapping[int | None, str]) -> dict[str, Any]:
    """One trial in full, but for its telemetry, which its figures show."""
    row = trial_row(record, with_curve=True)
    row.update(
        distributions={name: d.to_json() for name, d in record.distributions.items()},
        user_attrs=dict(record.user_attrs),
        fail_reason=record.fail_reason,
        worker=record.system_attrs.get(WORKER_ATTR),
        device=record.system_attrs.get(DEVICE_ATTR),
        artifacts=artifact_names(record.system_attrs),
        note=notes.get(record.number),
    )
    return row


def artifact_names(system_attrs: Mapping[str, Any]) -> list[str]:
    """The names of the files uploaded to a trial; never their contents or where they lie."""
    names = []
    for key, meta in system_attrs.items():
        if key.startswith(ARTIFACT_META_PREFIX) and isinstance(meta, Mapping):
            names.append(str(meta.get("filename", key.removeprefix(ARTIFACT_META_PREFIX))))
    return sorted(names)


def curves_json(record: TrialRecord) -> dict[str, Any]:
    """A trial's curves for the compare view: intermediate values and per-epoch losses."""
    epochs = read_telemetry(record)
    return {
        "number": record.number,
        "state": record.state.name,
        "values": None if record.values is None else [number(v) for v in record.values],
        "params": dict(record.params),
        "curve": [
            [s, number(record.intermediate_values[s])] for s in sorted(record.intermediate_values)
        ],
        "epochs": [e.epoch for e in epochs],
        "train_loss": [number(e.train_loss) for e in epochs],
        "val_loss": [number(e.val_loss) for e in epochs],
        "val_metric": [number(e.val_metric) for e in epochs],
    }


def findings_json(findings: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "where": f.where,
            "code": f.code,
            "title": f.title,
            "severity": f.severity,
            "evidence": f.evidence,
            "advice": f.advice,
        }
        for f in findings
    ]
