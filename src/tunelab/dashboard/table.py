"""The trial table: sorted, filtered and paged on the server, so that a page of a study of
100,000 trials sends 50 rows, not 100,000.

A query sorts by one column (``number``, ``state``, ``value`` or ``value:I`` for objective I,
``duration``, ``started``, ``param:NAME``, ``attr:KEY``), keeps the trials in the chosen states
and those whose parameters lie in the given ranges, and returns one page. The order of a
snapshot under a sort key is kept (a few at a time), so that paging through a large study
sorts it once per change, not once per page.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunelab.dashboard.feed import Snapshot
from tunelab.dashboard.views import trial_row
from tunelab.exceptions import ConfigError
from tunelab.trial import TrialRecord, TrialState

MAX_PER_PAGE = 500
KEPT_ORDERS = 8
FIXED_SORTS = ("number", "state", "value", "duration", "started")


@dataclass(frozen=True)
class Range:
    """Keep the trials whose parameter ``name`` lies in [low, high] (either end open if None)."""

    name: str
    low: float | None
    high: float | None

    def holds(self, record: TrialRecord) -> bool:
        value = record.params.get(self.name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True)
class TrialQuery:
    sort: str = "number"
    descending: bool = False
    states: frozenset[TrialState] | None = None
    ranges: tuple[Range, ...] = ()
    page: int = 0
    per_page: int = 50

    @classmethod
    def parse(cls, query: Mapping[str, str], ranges: Sequence[str]) -> TrialQuery:
        """A query from the URL: ``sort``, ``order`` (asc/desc), ``state`` (comma-separated),
        ``range`` (repeated ``NAME:LOW:HIGH``, either end empty), ``page``, ``per_page``."""
        sort = query.get("sort", "number")
        if sort not in FIXED_SORTS and not sort.startswith(("param:", "attr:", "value:")):
            raise ConfigError(
                f"sort={sort!r}: sort by one of {', '.join(FIXED_SORTS)}, value:INDEX, "
                "param:NAME or attr:KEY.",
                field="sort",
            )
        states = None
        if query.get("state"):
            try:
                states = frozenset(TrialState[s.strip().upper()] for s in query["state"].split(","))
            except KeyError as error:
                raise ConfigError(
                    f"state={query['state']!r}: {error} is not a trial state; use "
                    f"{', '.join(s.name for s in TrialState)}.",
                    field="state",
                ) from None
        return cls(
            sort=sort,
            descending=query.get("order", "asc") == "desc",
            states=states,
            ranges=tuple(_range(text) for text in ranges),
            page=_int(query, "page", 0, 0),
            per_page=min(_int(query, "per_page", 50, 1), MAX_PER_PAGE),
        )


def _int(query: Mapping[str, str], name: str, default: int, least: int) -> int:
    try:
        value = int(query.get(name, default))
    except ValueError:
        raise ConfigError(f"{name}={query[name]!r} is not a whole number.", field=name) from None
    if value < least:
        raise ConfigError(f"{name}={value} must be at least {least}.", field=name)
    return value


def _range(text: str) -> Range:
    name, sep, bounds = text.rpartition(":")
    name, sep2, low = name.rpartition(":")
    if not sep or not sep2 or not name:
        raise ConfigError(
            f"range={text!r}: write NAME:LOW:HIGH (an end may be empty).", field="range"
        )
    try:
        return Range(name, float(low) if low else None, float(bounds) if bounds else None)
    except ValueError:
        raise ConfigError(f"range={text!r}: the ends must be numbers.", field="range") from None


class TrialTable:
    """Pages of a study's trials, keeping the latest few sort orders of each snapshot."""

    def __init__(self) -> None:
        self._orders: OrderedDict[tuple[str, int, str, bool], list[TrialRecord]] = OrderedDict()
        self._lock = threading.Lock()

    def page(
        self, snapshot: Snapshot, query: TrialQuery, columns: Sequence[str] | None
    ) -> dict[str, Any]:
        ordered = self._ordered(snapshot, query.sort, query.descending)
        kept = [r for r in ordered if _kept(r, query)] if query.states or query.ranges else ordered
        start = query.page * query.per_page
        rows = [_selected(trial_row(r), columns) for r in kept[start : start + query.per_page]]
        return {
            "total": len(snapshot.trials),
            "matching": len(kept),
            "page": query.page,
            "per_page": query.per_page,
            "revision": snapshot.revision,
            "rows": rows,
        }

    def _ordered(self, snapshot: Snapshot, sort: str, descending: bool) -> list[TrialRecord]:
        key = (snapshot.info.name, snapshot.revision, sort, descending)
        with self._lock:
            if key in self._orders:
                self._orders.move_to_end(key)
                return self._orders[key]
        ordered = _sorted(snapshot.trials, _sort_key(sort), descending)
        with self._lock:
            self._orders[key] = ordered
            while len(self._orders) > KEPT_ORDERS:
                self._orders.popitem(last=False)
        return ordered


def _sorted(
    records: Sequence[TrialRecord], key: Callable[[TrialRecord], tuple[Any, ...]], descending: bool
) -> list[TrialRecord]:
    """``records`` sorted by ``key``, those without the value last either way."""
    keyed = sorted(((key(r), r) for r in records), key=lambda pair: pair[0])
    present = [r for k, r in keyed if k is not _MISSING]
    missing = [r for k, r in keyed if k is _MISSING]
    return (present[::-1] if descending else present) + missing


def _kept(record: TrialRecord, query: TrialQuery) -> bool:
    if query.states is not None and record.state not in query.states:
        return False
    return all(r.holds(record) for r in query.ranges)


def _selected(row: dict[str, Any], columns: Sequence[str] | None) -> dict[str, Any]:
    """The row with only the chosen parameters (every other field is small and always sent)."""
    if columns is None:
        return row
    wanted = {c.removeprefix("param:") for c in columns if c.startswith("param:")}
    row["params"] = {k: v for k, v in row["params"].items() if k in wanted}
    return row


_MISSING = (1, 0, "")  # sorts after every present value, ascending


def _sort_key(sort: str) -> Callable[[TrialRecord], tuple[Any, ...]]:
    """A key under which trials without the value come last and mixed types never compare."""

    def present(value: Any) -> tuple[Any, ...]:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return _MISSING
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (0, value, "")
        return (0, math.inf, str(value))

    if sort == "number":
        return lambda r: (0, r.number, "")
    if sort == "state":
        return lambda r: (0, 0, r.state.name)
    if sort == "duration":
        return lambda r: present(
            None
            if r.datetime_complete is None or r.datetime_start is None
            else (r.datetime_complete - r.datetime_start).total_seconds()
        )
    if sort == "started":
        return lambda r: present(None if r.datetime_start is None else r.datetime_start.timestamp())
    if sort == "value" or sort.startswith("value:"):
        index = int(sort.partition(":")[2] or 0) if sort.partition(":")[2].isdigit() else 0
        return lambda r: present(r.values[index] if r.values and len(r.values) > index else None)
    kind, _, name = sort.partition(":")
    if kind == "param":
        return lambda r: present(r.params.get(name))
    return lambda r: present(r.user_attrs.get(name))
