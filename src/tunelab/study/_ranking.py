"""Which completed trials are best: the best value of one objective, the Pareto front of
several."""

from __future__ import annotations

from collections.abc import Sequence

from tunelab.trial import TrialRecord


def best_of(records: Sequence[TrialRecord], direction: str) -> TrialRecord | None:
    """The record with the best single value in ``direction``; None if there is none."""
    if not records:
        return None
    pick = max if direction == "maximize" else min
    return pick(records, key=lambda r: r.values[0])  # type: ignore[index]


def pareto_front(records: Sequence[TrialRecord], directions: Sequence[str]) -> list[TrialRecord]:
    """The records that no other record dominates (as good in every objective, better in
    one), in their order."""
    signs = [1.0 if d == "minimize" else -1.0 for d in directions]
    points = [tuple(s * v for s, v in zip(signs, r.values or ())) for r in records]
    return [
        record
        for record, point in zip(records, points)
        if not any(_dominates(other, point) for other in points)
    ]


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))
