"""Values kept per revision and made again in the background, no more often than their cost
allows."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from tunelab.dashboard.remade import Remade


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Maker:
    """Makes "value-N" at its N-th call, taking ``cost`` seconds on the clock."""

    def __init__(self, clock: Clock, cost: float = 0.0, fail: bool = False) -> None:
        self.clock, self.cost, self.fail, self.calls = clock, cost, fail, 0

    def __call__(self) -> str:
        self.calls += 1
        self.clock.now += self.cost
        if self.fail:
            raise RuntimeError("cannot draw")
        return f"value-{self.calls}"


def remade(clock: Clock) -> Remade:
    # Remaking runs at once, in the caller's thread, so that each step can be checked.
    def at_once(work: Callable[[], None]) -> None:
        work()

    return Remade(min_pause_s=2.0, pause_factor=4.0, clock=clock, start=at_once)


def test_the_first_value_is_made_for_its_caller_and_kept_for_its_revision() -> None:
    clock = Clock()
    cache, make = remade(clock), Maker(clock)
    assert cache.get("figures", 7, make) == (7, "value-1")
    clock.now += 60
    assert cache.get("figures", 7, make) == (7, "value-1") and make.calls == 1


def test_a_newer_revision_gets_the_kept_value_and_a_remaking_once_the_pause_is_over() -> None:
    clock = Clock()
    cache, make = remade(clock), Maker(clock)
    cache.get("figures", 1, make)
    clock.now += 1.0  # within the 2 s pause: nothing is made
    assert cache.get("figures", 2, make) == (1, "value-1") and make.calls == 1
    clock.now += 1.5
    assert cache.get("figures", 3, make) == (1, "value-1")  # made again meanwhile, for later
    assert make.calls == 2
    assert cache.get("figures", 3, make) == (3, "value-2")


def test_the_pause_grows_with_what_a_making_costs() -> None:
    clock = Clock()
    cache, make = remade(clock), Maker(clock, cost=3.0)
    cache.get("figures", 1, make)
    clock.now += 11.0  # under 4 x 3 s since it was made
    assert cache.get("figures", 2, make) == (1, "value-1") and make.calls == 1
    clock.now += 1.0
    cache.get("figures", 2, make)
    assert make.calls == 2


def test_a_remaking_that_fails_keeps_the_last_value_and_tries_again_after_a_pause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    cache = remade(clock)
    cache.get("doctor", 1, Maker(clock))
    failing = Maker(clock, fail=True)
    clock.now += 5
    assert cache.get("doctor", 2, failing) == (1, "value-1")
    assert "could not make" in caplog.text and failing.calls == 1
    assert cache.get("doctor", 2, failing) == (1, "value-1") and failing.calls == 1
    clock.now += 5
    cache.get("doctor", 2, failing)
    assert failing.calls == 2


def test_keys_are_kept_apart() -> None:
    clock = Clock()
    cache = remade(clock)
    assert cache.get(("a", "figures"), 1, lambda: "a") == (1, "a")
    assert cache.get(("b", "figures"), 1, lambda: "b") == (1, "b")


def test_callers_asking_at_once_for_a_first_value_share_one_making() -> None:
    cache = Remade()
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow() -> str:
        calls.append(1)
        started.set()
        release.wait(10)
        return "figures"

    answers: list[tuple[int, str]] = []
    first = threading.Thread(target=lambda: answers.append(cache.get("k", 1, slow)))
    first.start()
    started.wait(10)
    second = threading.Thread(target=lambda: answers.append(cache.get("k", 1, slow)))
    second.start()
    release.set()
    first.join(10)
    second.join(10)
    assert answers == [(1, "figures"), (1, "figures")] and len(calls) == 1
