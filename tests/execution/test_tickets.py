"""The budget of worker processes: handed out exactly, a dead worker's unspent tickets given
back, idle once spent and finished, topped up for late retries, closed by the parent."""

from __future__ import annotations

import multiprocessing

from tunelab.execution.tickets import Tickets


def make(n_trials: int | None, workers: int = 2) -> Tickets:
    return Tickets(multiprocessing.get_context("spawn"), n_trials, workers)


def test_tickets_are_handed_out_exactly_and_a_dead_workers_unspent_ones_go_to_the_others():
    tickets = make(5)
    assert tickets.take(0, 3) == 3
    assert tickets.take(1, 3) == 2
    assert tickets.take(1, 1) == 0
    assert tickets.taken_by(1) == 2
    tickets.finished(0, 3)
    assert not tickets.idle()  # worker 1 holds two
    tickets.reissue(1, 2)  # it died before starting either trial
    assert tickets.take(0, 4) == 2
    assert not tickets.idle()
    tickets.finished(0, 2)
    assert tickets.idle()


def test_an_idle_budget_is_topped_up_for_late_retries_then_closed():
    tickets = make(1)
    tickets.take(0, 1)
    tickets.finished(0, 1)
    assert tickets.idle()
    tickets.add(1)
    assert not tickets.idle() and tickets.take(1, 1) == 1
    tickets.finished(1, 1)
    assert not tickets.closed
    tickets.close()
    assert tickets.closed


def test_an_unlimited_budget_is_never_spent():
    tickets = make(None)
    assert tickets.take(0, 4) == 4
    tickets.finished(0, 4)
    assert not tickets.idle()
