"""Non-dominated sorting and hypervolume, shared by NSGA-II (:mod:`tunelab.samplers.nsga2`),
NSGA-III and the multi-objective split of TPE (:mod:`tunelab.samplers.tpe`).

Losses are rows of objective values signed so that lower is better; a positive violation makes
a row infeasible (Deb's constrained domination: a feasible row dominates an infeasible one, the
smaller violation dominates among infeasible ones, feasible rows compare by Pareto domination).
All three keep whole fronts while they fit (:func:`split_fronts`) and differ in how they cut the
front that does not: NSGA-II by crowding distance (:func:`rank_best`), NSGA-III
(:mod:`tunelab.samplers.nsga3`) by niching around reference points, TPE by hypervolume
contribution (:func:`best_by_hypervolume`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np


def dominance_matrix(losses: np.ndarray, violations: np.ndarray) -> np.ndarray:
    """``D[i, j]``: member ``i`` dominates member ``j`` under constrained domination (losses
    minimized; a positive violation makes a member infeasible)."""
    feasible = violations <= 0
    less_equal = np.all(losses[:, None, :] <= losses[None, :, :], axis=2)
    less = np.any(losses[:, None, :] < losses[None, :, :], axis=2)
    pareto = less_equal & less & feasible[:, None] & feasible[None, :]
    over_infeasible = feasible[:, None] & ~feasible[None, :]
    both_infeasible = ~feasible[:, None] & ~feasible[None, :]
    smaller_violation = both_infeasible & (violations[:, None] < violations[None, :])
    dominates: np.ndarray = pareto | over_infeasible | smaller_violation
    return dominates


def fronts_in_order(losses: np.ndarray, violations: np.ndarray) -> Iterator[list[int]]:
    """Indices of the members, one front at a time, the first front (dominated by none) first;
    a caller that needs only the best fronts stops early."""
    if len(losses) == 0:
        return
    dominates = dominance_matrix(losses, violations)
    counts = dominates.sum(axis=0)  # how many members dominate each one
    current = [int(i) for i in np.flatnonzero(counts == 0)]
    while current:
        yield current
        counts = counts - dominates[current].sum(axis=0)
        counts[current] = -1  # placed
        current = [int(i) for i in np.flatnonzero(counts == 0)]


def non_dominated_fronts(losses: np.ndarray, violations: np.ndarray) -> list[list[int]]:
    """Indices of the members, front by front (the first front is dominated by none)."""
    return list(fronts_in_order(losses, violations))


def split_fronts(
    losses: np.ndarray, violations: np.ndarray, size: int
) -> tuple[list[list[int]], list[int]]:
    """The fronts, best first, that fit whole in ``size`` members, and the next front when only
    part of it fits (empty when the whole fronts fill ``size`` or take every member)."""
    whole: list[list[int]] = []
    if size <= 0:
        return whole, []
    taken = 0
    for front in fronts_in_order(losses, violations):
        if taken + len(front) > size:
            return whole, front
        whole.append(front)
        taken += len(front)
        if taken == size:
            break
    return whole, []


def crowding_distance(losses: np.ndarray) -> np.ndarray:
    """Crowding distance of each point of one front: the normalised perimeter of the box its
    neighbours span along each objective; the extremes of an objective get infinity."""
    n, m = losses.shape
    distance = np.zeros(n)
    if n <= 2:
        distance[:] = math.inf
        return distance
    for k in range(m):
        order = np.argsort(losses[:, k], kind="stable")
        values = losses[order, k]
        distance[order[0]] = distance[order[-1]] = math.inf
        span = values[-1] - values[0]
        if span <= 0:
            continue
        distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    return distance


def rank_best(
    losses: np.ndarray, violations: np.ndarray, size: int
) -> list[tuple[int, int, float]]:
    """The best ``size`` members, best first, as ``(index, front, crowding distance)``: whole
    fronts first, and within the last front that fits only in part, the larger crowding
    distance (computed within that front), then the lower index (callers order members by
    trial number, so that ties go to the older trial)."""
    ranked: list[tuple[int, int, float]] = []
    whole, cut = split_fronts(losses, violations, size)
    for rank, front in enumerate(whole + [cut] if cut else whole):
        crowding = crowding_distance(losses[front])
        ranked += [(i, rank, float(c)) for i, c in zip(front, crowding)]
    ranked.sort(key=lambda r: (r[1], -r[2], r[0]))
    return ranked[:size]


def best_by_hypervolume(losses: np.ndarray, size: int) -> list[int]:
    """Indices (ascending) of ``size`` rows of ``losses`` (all feasible): whole fronts, best
    first, then of the next front the rows a greedy hypervolume subset selection picks
    (:func:`hypervolume_subset`), against a reference point 10 % of that front's span beyond
    its worst value in each objective (so that the selection does not depend on the units or
    the origin of an objective)."""
    whole, cut = split_fronts(losses, np.zeros(len(losses)), size)
    chosen = [i for front in whole for i in front]
    if cut:
        part = losses[cut]
        worst, best = part.max(axis=0), part.min(axis=0)
        reference = worst + np.where(worst > best, 0.1 * (worst - best), 1.0)
        chosen += [cut[i] for i in hypervolume_subset(part, size - len(chosen), reference)]
    return sorted(chosen)


def hypervolume_subset(losses: np.ndarray, size: int, reference: np.ndarray) -> list[int]:
    """``size`` rows chosen greedily, each the one that adds the most hypervolume (against
    ``reference``) to those chosen before it; ties go to the lower index.

    Lazy: a row's gain can only shrink as rows are chosen (hypervolume is submodular), so a
    gain computed earlier bounds the current one, as does the gain over the last row chosen
    alone (cheap for every row at once). Only the rows with the highest bounds have their gain
    computed exactly (a batch at a time), and a row is chosen once its exact gain is the
    highest."""
    n = len(losses)
    if size >= n:
        return list(range(n))
    boxes = np.prod(np.maximum(reference - losses, 0.0), axis=1)
    gains = boxes.copy()  # each row alone: exact before the first choice
    fresh = np.ones(n, dtype=bool)  # whether gains[i] is exact for the rows chosen so far
    available = np.ones(n, dtype=bool)
    chosen: list[int] = []
    while True:
        open_rows = np.flatnonzero(available)
        top = int(open_rows[np.argmax(gains[open_rows])])
        if not fresh[top]:
            stale = open_rows[~fresh[open_rows]]
            batch = stale[np.argsort(-gains[stale], kind="stable")[:_GAIN_BATCH]]
            gains[batch] = boxes[batch] - _covered(losses[batch], losses[chosen], reference)
            fresh[batch] = True
            continue
        chosen.append(top)
        available[top] = False
        if len(chosen) == size:
            return chosen
        gains = np.minimum(gains, boxes - _covered(losses, losses[top][None, :], reference))
        fresh[:] = False


_GAIN_BATCH = 16  # rows whose exact gain is computed at once
_BATCH_CELLS = 2_000_000  # at most this many staircase cells at once for four objectives


def _covered(points: np.ndarray, chosen: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """For each point, the volume of its box (up to ``reference``) that ``chosen`` dominate."""
    if len(chosen) == 0:
        return np.zeros(len(points))
    limited = np.maximum(chosen[None, :, :], points[:, None, :])
    if len(reference) <= 3:
        return _volumes(limited, reference)
    if len(reference) == 4:
        step = max(1, _BATCH_CELLS // len(chosen) ** 3)
        return np.concatenate(
            [_volumes(limited[i : i + step], reference) for i in range(0, len(limited), step)]
        )
    return np.array([hypervolume(part, reference) for part in limited])


def hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    """The measure of the region that some point dominates and that dominates ``reference``
    (all objectives minimized); a point not strictly better than the reference in every
    objective adds nothing. Exact: up to four objectives by sweeps and slices
    (:func:`_volumes`), more by slicing along the last objective down to four (a cost
    exponential in the number of objectives, meant for the small sets a split handles)."""
    reference = np.asarray(reference, dtype=float)
    points = np.asarray(points, dtype=float).reshape(-1, len(reference))
    points = points[np.all(points < reference, axis=1)]
    if len(points) == 0:
        return 0.0
    points = points[_non_dominated(points)]
    if len(reference) <= 4:
        return float(_volumes(points[None, :, :], reference)[0])
    points = points[np.argsort(points[:, -1], kind="stable")]
    tops = np.append(points[1:, -1], reference[-1])
    volume = 0.0
    for i in range(len(points)):
        height = tops[i] - points[i, -1]
        if height > 0:
            volume += height * hypervolume(points[: i + 1, :-1], reference[:-1])
    return volume


def _volumes(batch: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The hypervolume of each set of a batch (sets x points x objectives, one to four
    objectives), computed for the whole batch at once.

    Points are first clipped to the reference (one outside the box then spans nothing). Two
    objectives: sorted by the first, each strip up to the next point is as high as the lowest
    second value so far. Three: between the ``i``-th and the next smallest third value, the
    area that the first ``i + 1`` points (by third value) dominate in the first two objectives;
    every such staircase at once, as a (slice x point) matrix. Four: slices along the fourth
    likewise, each slice a set of a batch of three objectives."""
    batch = np.minimum(batch, reference)
    n_sets, n, m = batch.shape
    if m == 1:
        volumes: np.ndarray = reference[0] - batch[:, :, 0].min(axis=1)
        return volumes
    if m == 4:
        order = np.argsort(batch[:, :, 3], axis=1, kind="stable")
        ordered = np.take_along_axis(batch, order[:, :, None], axis=1)
        tops = np.concatenate([ordered[:, 1:, 3], np.full((n_sets, 1), reference[3])], axis=1)
        upto = np.arange(n)[None, :] <= np.arange(n)[:, None]  # [slice, point]
        slices = np.where(upto[None, :, :, None], ordered[:, None, :, :3], reference[:3])
        areas = _volumes(slices.reshape(n_sets * n, n, 3), reference[:3]).reshape(n_sets, n)
        volumes = ((tops - ordered[:, :, 3]) * areas).sum(axis=1)
        return volumes
    by_x = np.lexsort((batch[:, :, 1], batch[:, :, 0]), axis=-1)
    xs = np.take_along_axis(batch[:, :, 0], by_x, axis=1)
    ys = np.take_along_axis(batch[:, :, 1], by_x, axis=1)
    widths = np.diff(np.concatenate([xs, np.full((n_sets, 1), reference[0])], axis=1), axis=1)
    if m == 2:
        volumes = (widths * (reference[1] - np.minimum.accumulate(ys, axis=1))).sum(axis=1)
        return volumes
    by_z = np.argsort(batch[:, :, 2], axis=1, kind="stable")
    zs = np.take_along_axis(batch[:, :, 2], by_z, axis=1)
    heights = np.diff(np.concatenate([zs, np.full((n_sets, 1), reference[2])], axis=1), axis=1)
    first_slice = np.empty((n_sets, n), dtype=np.int64)  # the first slice each point is in
    np.put_along_axis(first_slice, by_z, np.broadcast_to(np.arange(n), (n_sets, n)), axis=1)
    in_slice = np.take_along_axis(first_slice, by_x, axis=1)[:, None, :] <= np.arange(n)[:, None]
    staircases = np.where(in_slice, ys[:, None, :], reference[1])
    areas = (widths[:, None, :] * (reference[1] - np.minimum.accumulate(staircases, axis=2)))
    volumes = (heights * areas.sum(axis=2)).sum(axis=1)
    return volumes


def _non_dominated(points: np.ndarray) -> np.ndarray:
    """Mask of the points that no other point weakly dominates (of equal points, the first)."""
    weakly = np.all(points[:, None, :] <= points[None, :, :], axis=2)  # [i, j]: i <= j
    equal = weakly & weakly.T
    earlier = np.tril(np.ones(len(points), dtype=bool), k=-1).T  # [i, j]: i < j
    beaten = (weakly & ~equal) | (equal & earlier)
    keep: np.ndarray = ~beaten.any(axis=0)
    return keep
