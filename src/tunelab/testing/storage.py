"""What every storage backend promises, as a pytest class to subclass.

Subclass :class:`StorageContract` in a test module and give it an ``open_storage`` fixture: a
callable without arguments that opens a :class:`~tunelab.storage.BaseStorage` on the backend
under test, which is empty when the fixture is set up (a new file, an emptied database)::

    import functools

    import pytest

    from tunelab.testing import StorageContract
    from mypackage import MyStorage


    class TestMyStorage(StorageContract):
        @pytest.fixture
        def open_storage(self, tmp_path):
            return functools.partial(MyStorage, tmp_path / "studies")

pytest then runs every check below on ``MyStorage``. Where several storage objects share one
backend (a database), each call opens one more object over the same data, and some checks
call it in other processes, so it must pickle: a class or a ``functools.partial``, not a
lambda. A backend whose every object holds its own data (one in the process's memory)
overrides the ``shared_backend`` fixture to return False, which skips the checks of sharing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import multiprocessing
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import tunelab
from tunelab import CategoricalDistribution, FloatDistribution, IntDistribution, TrialState
from tunelab.exceptions import DuplicatedStudyError, StudyNotFoundError, TrialFinishedError
from tunelab.space import Distribution
from tunelab.storage import BaseStorage
from tunelab.trial import TrialRecord

COMPLETE, RUNNING, WAITING, FAIL, PRUNED = (
    TrialState.COMPLETE,
    TrialState.RUNNING,
    TrialState.WAITING,
    TrialState.FAIL,
    TrialState.PRUNED,
)
N_PROCESSES = 4

OpenStorage = Callable[[], BaseStorage]


def complete_trial(storage: BaseStorage, study_id: int, *values: float) -> tunelab.TrialRecord:
    """A new trial of the study, completed with ``values``."""
    record = storage.create_trial(study_id)
    return storage.finish_trial(record.trial_id, COMPLETE, values)


@contextlib.contextmanager
def _opened(open_storage: OpenStorage) -> Iterator[BaseStorage]:
    storage = open_storage()
    try:
        yield storage
    finally:
        storage.close()


def _in_processes(function: Callable[..., Any], arguments: list[tuple[Any, ...]]) -> list[Any]:
    """``function(*each)`` for each of ``arguments``, all at once in as many processes. They
    are spawned, not forked, so that no connection or lock of this process leaks into them."""
    with multiprocessing.get_context("spawn").Pool(len(arguments)) as pool:
        return pool.starmap(function, arguments)


def _reported_square(trial: tunelab.Trial) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    trial.report(x, step=0)
    return x * x


def _optimize(open_storage: OpenStorage, study_name: str, n_trials: int, seed: int) -> int:
    with _opened(open_storage) as storage:
        # Random search: its trials come fast, so the processes write at the same time.
        study = tunelab.load_study(study_name, storage, sampler="random", seed=seed)
        study.optimize(_reported_square, n_trials=n_trials, catch=())
    return n_trials


def _claim_all(open_storage: OpenStorage, study_id: int) -> list[int]:
    claimed = []
    with _opened(open_storage) as storage:
        while (record := storage.claim_waiting_trial(study_id)) is not None:
            claimed.append(record.number)
    return claimed


def _fail_stale(open_storage: OpenStorage, study_id: int) -> list[int]:
    with _opened(open_storage) as storage:
        return [record.number for record in storage.fail_stale_trials(study_id, 0.0)]


class StorageContract:
    """The checks every storage passes; see the module docstring for how to run them."""

    @pytest.fixture
    def open_storage(self) -> OpenStorage:
        """A callable that opens the backend under test: override it."""
        pytest.fail(
            f"{type(self).__name__} gives no storage: define a fixture open_storage that returns "
            "a callable opening one, e.g. `return functools.partial(MyStorage, tmp_path / 'db')`."
        )

    @pytest.fixture
    def shared_backend(self) -> bool:
        """Whether storage objects opened one after the other see the same data: override it
        with False for a backend that keeps each object's data to itself."""
        return True

    @pytest.fixture
    def storage(self, open_storage: OpenStorage) -> Iterator[BaseStorage]:
        with _opened(open_storage) as storage:
            yield storage

    @pytest.fixture
    def open_shared_storage(self, open_storage: OpenStorage, shared_backend: bool) -> OpenStorage:
        """``open_storage``, for the checks that a backend shared by several objects passes."""
        if not shared_backend:
            pytest.skip("the storage objects of this backend do not share their data")
        return open_storage

    @pytest.fixture
    def other_storage(self, open_shared_storage: OpenStorage) -> Iterator[BaseStorage]:
        """A second storage object over the data of ``storage``."""
        with _opened(open_shared_storage) as storage:
            yield storage

    @pytest.fixture
    def study_id(self, storage: BaseStorage) -> int:
        return storage.create_study("s", ("minimize",), None).study_id

    # Studies -------------------------------------------------------------------------------

    def test_studies_are_found_by_name_and_listed_oldest_first_with_counts_and_best_value(
        self, storage: BaseStorage
    ) -> None:
        minimized = storage.create_study("min", ("minimize",), None).study_id
        both = storage.create_study("both", ("maximize", "minimize"), ("accuracy", "latency"))
        storage.create_study("empty", ("minimize",), None)
        for value in (2.0, 1.0):
            complete_trial(storage, minimized, value)
        storage.finish_trial(storage.create_trial(minimized).trial_id, PRUNED)
        for values in ((2.0, 0.5), (5.0, 0.1)):
            complete_trial(storage, both.study_id, *values)
        storage.create_trial(both.study_id)

        found = storage.get_study("both")
        assert (found.study_id, found.directions, found.metric_names) == (
            both.study_id,
            ("maximize", "minimize"),
            ("accuracy", "latency"),
        )
        summaries = storage.list_studies()
        assert [(s.name, s.directions, s.n_trials, s.best_value) for s in summaries] == [
            ("min", ("minimize",), 3, 1.0),
            ("both", ("maximize", "minimize"), 3, 5.0),
            ("empty", ("minimize",), 0, None),
        ]
        counts = [{state: n for state, n in s.counts.items() if n} for s in summaries]
        assert counts == [{COMPLETE: 2, PRUNED: 1}, {COMPLETE: 2, RUNNING: 1}, {}]

    def test_a_taken_name_raises_duplicated_study_error_and_keeps_the_study(
        self, storage: BaseStorage, study_id: int
    ) -> None:
        complete_trial(storage, study_id, 1.0)
        with pytest.raises(DuplicatedStudyError, match="'s'"):
            storage.create_study("s", ("maximize",), None)
        kept = storage.get_study("s")
        assert (kept.study_id, kept.directions) == (study_id, ("minimize",))
        assert storage.count_trials(study_id) == 1

    def test_an_unknown_name_raises_study_not_found_error(self, storage: BaseStorage) -> None:
        with pytest.raises(StudyNotFoundError, match="'ghost'"):
            storage.get_study("ghost")

    def test_deleting_a_study_removes_it_and_its_trials_and_frees_its_name(
        self, storage: BaseStorage, study_id: int
    ) -> None:
        kept = storage.create_study("kept", ("minimize",), None).study_id
        complete_trial(storage, study_id, 1.0)
        complete_trial(storage, kept, 2.0)
        storage.delete_study(study_id)
        with pytest.raises(StudyNotFoundError):
            storage.get_study("s")
        assert [s.name for s in storage.list_studies()] == ["kept"]
        assert [r.values for r in storage.get_trials(kept)] == [(2.0,)]
        again = storage.create_study("s", ("minimize",), None).study_id
        assert storage.get_trials(again) == []
        assert storage.create_trial(again).number == 0

    def test_study_system_attrs_are_stored(self, storage: BaseStorage, study_id: int) -> None:
        storage.set_study_system_attr(study_id, "sampler", {"name": "random"})
        assert dict(storage.get_study("s").system_attrs) == {"sampler": {"name": "random"}}

    def test_study_user_attrs_are_stored_apart_from_system_attrs(
        self, storage: BaseStorage, study_id: int
    ) -> None:
        assert dict(storage.get_study("s").user_attrs) == {}
        storage.set_study_user_attr(study_id, "dataset", "digits")
        storage.set_study_user_attr(study_id, "sizes", [1, 2])
        storage.set_study_user_attr(study_id, "dataset", "mnist")
        storage.set_study_system_attr(study_id, "sampler", "tpe")
        found = storage.get_study("s")
        assert dict(found.user_attrs) == {"dataset": "mnist", "sizes": [1, 2]}
        assert dict(found.system_attrs) == {"sampler": "tpe"}

    def test_a_summary_has_the_study_id_attributes_and_when_its_first_trial_started(
        self, storage: BaseStorage, study_id: int
    ) -> None:
        storage.set_study_user_attr(study_id, "note", "first try")
        storage.set_study_system_attr(study_id, "sampler", "tpe")
        storage.create_trial(study_id, WAITING)  # not started: no start time
        assert storage.list_studies()[0].datetime_start is None
        first = complete_trial(storage, study_id, 2.0)
        complete_trial(storage, study_id, 1.0)

        (summary,) = storage.list_studies()
        assert (summary.study_id, summary.study_name, summary.direction) == (
            study_id,
            "s",
            "minimize",
        )
        assert (dict(summary.user_attrs), dict(summary.system_attrs)) == (
            {"note": "first try"},
            {"sampler": "tpe"},
        )
        assert summary.datetime_start == first.datetime_start
        assert summary.best_trial is None  # looked up by get_all_study_summaries only

    # Trials --------------------------------------------------------------------------------

    def test_trial_numbers_are_unique_and_contiguous_per_study(
        self, storage: BaseStorage, study_id: int
    ) -> None:
        other = storage.create_study("other", ("maximize",), None).study_id
        numbers = [storage.create_trial(study_id, state).number for state in [RUNNING, WAITING] * 5]
        numbers_other = [storage.create_trial(other).number for _ in range(3)]
        assert numbers == list(range(10))
        assert numbers_other == [0, 1, 2]
        assert [r.number for r in storage.get_trials(study_id)] == list(range(10))

    def test_get_trials_is_in_number_order_and_filters_by_state(
        self, storage: BaseStorage, study_id: int
    ) -> None:
        ids = [storage.create_trial(study_id).trial_id for _ in range(5)]
        storage.finish_trial(ids[3], COMPLETE, (3.0,))
        storage.finish_trial(ids[1], FAIL, None, "boom")
        storage.finish_trial(ids[0], PRUNED)
        storage.create_trial(study_id, WAITING)

        assert [r.number for r in storage.get_trials(study_id)] == [0, 1, 2, 3, 4, 5]
        assert [r.state for r in storage.get_trials(study_id)] == [
            PRUNED,
            FAIL,
            RUNNING,
            COMPLETE,
            RUNNING,
            WAITING,
        ]
        assert [r.number for r in storage.get_trials(study_id, [RUNNING])] == [2, 4]
        assert [r.number for r in storage.get_trials(study_id, (COMPLETE, FAIL))] == [1, 3]
        assert storage.get_trials(study_id, []) == []
        assert storage.count_trials(study_id) == 6
        assert storage.count_trials(study_id, [RUNNING, WAITING]) == 3

    def test_finishing_a_trial_twice_raises_and_keeps_the_first_result(
        self, storage: BaseStorage, study_id: int
    ) -> None:
        record = complete_trial(storage, study_id, 1.0)
        with pytest.raises(TrialFinishedError, match="not RUNNING"):
            storage.finish_trial(record.trial_id, FAIL, None, "late")
        assert storage.get_trial(record.trial_id).values == (1.0,)
        assert storage.get_trial(record.trial_id).state is COMPLETE

    @pytest.mark.parametrize(
        "change",
        [
            lambda s, tid: s.set_intermediate_value(tid, 0, 1.0),
            lambda s, tid: s.set_trial_params(tid, {"x": 0.5}, {"x": FloatDistribution(0.0, 1.0)}),
            lambda s, tid: s.set_trial_user_attr(tid, "k", "v"),
            lambda s, tid: s.set_trial_system_attr(tid, "k", "v"),
        ],
        ids=["intermediate", "params", "user_attr", "system_attr"],
    )
    def test_a_finished_trial_cannot_be_changed(
        self, storage: BaseStorage, study_id: int, change: Callable[[BaseStorage, int], None]
    ) -> None:
        record = complete_trial(storage, study_id, 1.0)
        with pytest.raises(TrialFinishedError):
            change(storage, record.trial_id)
        assert storage.get_trial(record.trial_id) == record

    def test_a_running_trial_record_is_refreshed(self, storage: BaseStorage, study_id: int) -> None:
        trial_id = storage.create_trial(study_id).trial_id
        assert dict(storage.get_trials(study_id)[0].intermediate_values) == {}
        storage.set_intermediate_value(trial_id, 0, 0.5)
        storage.set_trial_user_attr(trial_id, "epoch", 1)
        storage.set_trial_system_attr(trial_id, "telemetry", [{"epoch": 1}])
        record = storage.get_trials(study_id)[0]
        assert dict(record.intermediate_values) == {0: 0.5}
        assert dict(record.user_attrs) == {"epoch": 1}
        assert dict(record.system_attrs) == {"telemetry": [{"epoch": 1}]}
        storage.set_intermediate_value(trial_id, 1, 0.25)
        assert dict(storage.get_trials(study_id)[0].intermediate_values) == {0: 0.5, 1: 0.25}
        storage.finish_trial(trial_id, COMPLETE, (0.25,))
        assert storage.get_trials(study_id)[0].state is COMPLETE

    def test_finished_records_are_returned_as_the_same_objects(
        self, storage: BaseStorage, study_id: int
    ) -> None:
        """Finished trials never change, so they are kept rather than read again."""
        for value in (1.0, 2.0):
            complete_trial(storage, study_id, value)
        storage.create_trial(study_id)
        first = storage.get_trials(study_id)
        second = storage.get_trials(study_id)
        assert first[0] is second[0] and first[1] is second[1]

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 0.0, -1e300])
    def test_intermediate_values_round_trip(
        self, storage: BaseStorage, study_id: int, value: float
    ) -> None:
        trial_id = storage.create_trial(study_id).trial_id
        storage.set_intermediate_value(trial_id, 0, value)
        for record in (storage.get_trial(trial_id), storage.get_trials(study_id)[0]):
            stored = record.intermediate_values[0]
            assert math.isnan(stored) if math.isnan(value) else stored == value

    def test_whole_trials_added_keep_everything_but_their_id_and_number(
        self, storage: BaseStorage, study_id: int
    ) -> None:
        storage.create_trial(study_id)  # trial 0, running: the added ones come after it
        start = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)
        finished = TrialRecord(
            trial_id=-1,
            number=-1,
            state=COMPLETE,
            values=(0.5,),
            params={"lr": 0.01, "opt": "adam"},
            distributions={
                "lr": FloatDistribution(1e-4, 1.0, log=True),
                "opt": CategoricalDistribution(("sgd", "adam")),
            },
            intermediate_values={0: 0.9, 3: 0.6},
            user_attrs={"note": "from elsewhere"},
            system_attrs={"origin": [1, 2]},
            datetime_start=start,
            datetime_complete=start + timedelta(seconds=2.5),
        )
        pruned = dataclasses.replace(finished, state=PRUNED, values=None, fail_reason="stopped")
        waiting = TrialRecord(trial_id=-1, number=-1, state=WAITING, params={"lr": 0.1})
        added = storage.add_trials(study_id, [finished, pruned, waiting])
        assert [r.number for r in added] == [1, 2, 3]
        assert len({r.trial_id for r in added} | {-1}) == 4
        for stored, given in zip(added, [finished, pruned, waiting]):
            for again in (stored, storage.get_trial(stored.trial_id)):
                assert dataclasses.replace(again, trial_id=-1, number=-1) == given
        assert storage.add_trials(study_id, []) == []
        claimed = storage.claim_waiting_trial(study_id)
        assert claimed is not None and claimed.number == 3

    def test_params_distributions_and_results_round_trip(
        self, storage: BaseStorage, study_id: int
    ) -> None:
        params = {"lr": 0.003, "units": 64, "opt": None, "flag": True, "one": 1.0}
        distributions: dict[str, Distribution] = {
            "lr": FloatDistribution(1e-4, 1e-1, log=True),
            "units": IntDistribution(16, 256, step=16),
            "opt": CategoricalDistribution((None, "adam")),
            "flag": CategoricalDistribution((True, 1)),
            "one": CategoricalDistribution((1.0, 1)),
        }
        trial_id = storage.create_trial(
            study_id, user_attrs={"seed": 3}, system_attrs={"origin": "test"}
        ).trial_id
        storage.set_trial_params(trial_id, {"lr": 0.05}, {"lr": distributions["lr"]})
        finished = storage.finish_trial(trial_id, COMPLETE, (0.125,), None, (params, distributions))
        types = [float, int, type(None), bool, float]
        for record in (finished, storage.get_trial(trial_id), storage.get_trials(study_id)[0]):
            assert dict(record.params) == params
            assert [type(v) for v in record.params.values()] == types
            assert dict(record.distributions) == distributions
            assert record.values == (0.125,)
            assert dict(record.user_attrs) == {"seed": 3}
            assert dict(record.system_attrs) == {"origin": "test"}
            assert record.datetime_start is not None and record.datetime_start.tzinfo is not None
            assert record.datetime_complete is not None
            assert record.datetime_complete >= record.datetime_start

    def test_fail_reason_is_stored(self, storage: BaseStorage, study_id: int) -> None:
        trial_id = storage.create_trial(study_id).trial_id
        storage.finish_trial(trial_id, FAIL, None, "CUDA out of memory")
        assert storage.get_trials(study_id)[0].fail_reason == "CUDA out of memory"

    # Enqueued trials and heartbeats --------------------------------------------------------

    def test_waiting_trials_are_claimed_oldest_first_and_once(
        self, storage: BaseStorage, study_id: int
    ) -> None:
        first = storage.create_trial(study_id, WAITING, system_attrs={"fixed_params": {"x": 1}})
        second = storage.create_trial(study_id, WAITING)
        assert first.datetime_start is None
        claimed = storage.claim_waiting_trial(study_id)
        assert claimed is not None
        assert (claimed.number, claimed.state) == (first.number, RUNNING)
        assert claimed.system_attrs["fixed_params"] == {"x": 1}
        assert claimed.datetime_start is not None
        assert _claimed(storage, study_id).number == second.number
        assert storage.claim_waiting_trial(study_id) is None
        assert storage.start_trial(study_id).number == 2

    def test_a_waiting_trial_can_be_finished_only_once_claimed(
        self, storage: BaseStorage, study_id: int
    ) -> None:
        waiting = storage.create_trial(study_id, WAITING)
        with pytest.raises(TrialFinishedError):
            storage.finish_trial(waiting.trial_id, COMPLETE, (1.0,))
        claimed = _claimed(storage, study_id, {"worker": "w1"})
        assert dict(claimed.system_attrs) == {"worker": "w1"}
        assert storage.finish_trial(claimed.trial_id, COMPLETE, (1.0,)).values == (1.0,)

    def test_only_running_trials_whose_heartbeats_stopped_are_failed(
        self, storage: BaseStorage, study_id: int
    ) -> None:
        silent = storage.create_trial(study_id)
        beating = storage.create_trial(study_id)
        storage.create_trial(study_id, WAITING)
        done = complete_trial(storage, study_id, 1.0)
        assert storage.fail_stale_trials(study_id, 3600.0) == []
        time.sleep(1.0)
        storage.record_heartbeat(beating.trial_id)
        storage.record_heartbeat(done.trial_id)  # finished: nothing to note
        failed = storage.fail_stale_trials(study_id, 0.5)
        assert [(r.number, r.state) for r in failed] == [(silent.number, FAIL)]
        assert failed[0].fail_reason  # says why
        assert storage.get_trial(silent.trial_id) == failed[0]
        assert [r.state for r in storage.get_trials(study_id)] == [FAIL, RUNNING, WAITING, COMPLETE]
        assert storage.get_trial(done.trial_id) == done
        assert silent.number not in [r.number for r in storage.fail_stale_trials(study_id, 0.5)]

    # Several storage objects and processes on one backend ----------------------------------

    def test_two_storage_objects_see_each_others_studies_and_trials(
        self, storage: BaseStorage, other_storage: BaseStorage
    ) -> None:
        study_id = storage.create_study("shared", ("minimize",), None).study_id
        assert other_storage.get_study("shared").study_id == study_id
        running = storage.create_trial(study_id)
        assert [r.state for r in other_storage.get_trials(study_id)] == [RUNNING]
        other_storage.finish_trial(running.trial_id, COMPLETE, (2.0,))
        complete_trial(other_storage, study_id, 1.0)
        assert [(r.number, r.state, r.values) for r in storage.get_trials(study_id)] == [
            (0, COMPLETE, (2.0,)),
            (1, COMPLETE, (1.0,)),
        ]
        assert storage.create_trial(study_id).number == 2

    def test_a_study_recreated_by_another_storage_object_does_not_show_stale_trials(
        self, storage: BaseStorage, other_storage: BaseStorage
    ) -> None:
        old = storage.create_study("old", ("minimize",), None).study_id
        for value in (1.0, 2.0, 3.0):
            complete_trial(storage, old, value)
        storage.get_trials(old)
        other_storage.delete_study(old)
        new = other_storage.create_study("new", ("minimize",), None).study_id
        complete_trial(other_storage, new, 42.0)
        assert [r.values for r in storage.get_trials(new)] == [(42.0,)]

    def test_several_processes_optimizing_one_study_number_and_keep_every_trial(
        self, storage: BaseStorage, open_shared_storage: OpenStorage
    ) -> None:
        tunelab.create_study(name="parallel", storage=storage)
        arguments = [(open_shared_storage, "parallel", 25, seed) for seed in range(N_PROCESSES)]
        assert _in_processes(_optimize, arguments) == [25] * N_PROCESSES
        trials = storage.get_trials(storage.get_study("parallel").study_id)
        assert [r.number for r in trials] == list(range(25 * N_PROCESSES))
        assert {r.state for r in trials} == {COMPLETE}
        assert all(len(r.intermediate_values) == 1 for r in trials)

    def test_waiting_trials_are_handed_out_once_to_competing_processes(
        self, storage: BaseStorage, open_shared_storage: OpenStorage
    ) -> None:
        study_id = storage.create_study("queue", ("minimize",), None).study_id
        for _ in range(60):
            storage.create_trial(study_id, WAITING)
        claimed = _in_processes(_claim_all, [(open_shared_storage, study_id)] * N_PROCESSES)
        assert sorted(n for numbers in claimed for n in numbers) == list(range(60))
        assert {r.state for r in storage.get_trials(study_id)} == {RUNNING}

    def test_each_stale_trial_is_failed_by_one_of_competing_processes(
        self, storage: BaseStorage, open_shared_storage: OpenStorage
    ) -> None:
        study_id = storage.create_study("stale", ("minimize",), None).study_id
        for _ in range(40):
            storage.create_trial(study_id)
        time.sleep(0.1)
        failed = _in_processes(_fail_stale, [(open_shared_storage, study_id)] * N_PROCESSES)
        assert sorted(n for numbers in failed for n in numbers) == list(range(40))
        assert {r.state for r in storage.get_trials(study_id)} == {FAIL}


def _claimed(
    storage: BaseStorage, study_id: int, system_attrs: dict[str, Any] | None = None
) -> TrialRecord:
    """The waiting trial the storage hands out, which the test knows is there."""
    record = storage.claim_waiting_trial(study_id, system_attrs)
    assert record is not None, "the storage handed out no waiting trial"
    return record
