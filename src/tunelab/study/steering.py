"""Steering a study while ``optimize`` runs it elsewhere: stop the run, prune a running trial,
queue a trial with checked parameters, and keep notes.

Everything here writes to the study's storage only, so that a process that merely opened the
storage (the dashboard, a script, a shell) steers an ``optimize`` call running in another
process, in worker processes (``n_jobs``) or on a Dask cluster:

- A stop is a counter of stop requests kept with the study (``stop_requests``). An ``optimize``
  call reads it as it starts and stops starting trials once it has grown; a request made
  before the call started, which stopped an earlier run, never stops a later one. Every loop
  reads it once before each trial it starts (:func:`stop_is_requested`); a running trial ends
  as usual.
- A prune request is a system attribute of the running trial (``prune_request``): its next
  ``should_prune()`` answers True, whatever the study's pruner. It stays on the finished
  record, so that the doctor does not blame the pruner for a prune the user asked for
  (:func:`pruned_on_request`).
- Notes are study system attributes, one per trial under a prefix, since a finished trial's
  record never changes.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tunelab._attrs import NOTE_ATTR, PRUNE_REQUEST_ATTR, STOP_REQUESTS_ATTR, TRIAL_NOTE_PREFIX
from tunelab.exceptions import ConfigError, TrialFinishedError
from tunelab.space import CategoricalDistribution, Distribution, FloatDistribution, JsonScalar
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study

NOTE_MAX_CHARS = 10_000
"""The longest note :func:`set_note` keeps."""


# Stop ---------------------------------------------------------------------------------------


def request_stop(study: Study) -> None:
    """Every ``optimize()`` running on this study, in any process, starts no new trial; trials
    running finish as usual (their results are stored). A later ``optimize()`` call is not
    affected."""
    study.storage.set_study_system_attr(
        study.study_id, STOP_REQUESTS_ATTR, stop_requests(study) + 1
    )


def stop_requests(study: Study) -> int:
    """How many stops were requested on the study so far (one query): what a run notes as it
    starts (``study.stop_requests_seen``) and compares with before each trial."""
    count = study.storage.get_study(study.study_name).system_attrs.get(STOP_REQUESTS_ATTR, 0)
    return int(count)


def stop_is_requested(study: Study) -> bool:
    """Whether the run in progress on ``study`` must start no new trial: :meth:`Study.stop`
    was called in this process, or a stop was requested from anywhere after the run started
    (one query; none outside a run, when ``study.stop_requests_seen`` is None)."""
    if study.stop_requested:
        return True
    seen = study.stop_requests_seen
    return seen is not None and stop_requests(study) > seen


# Prune --------------------------------------------------------------------------------------


def request_prune(study: Study, number: int) -> None:
    """The running trial ``number`` is pruned at its next ``should_prune()`` (i.e. after its
    next report), even when the study has no pruner. A training loop that never calls
    ``should_prune()`` cannot be pruned from outside; tunelab's trainer, its Lightning and
    Keras callbacks and a loop under ``tunelab.torch.watch`` that follows its pattern call it
    after every epoch.

    A :class:`ConfigError` if the study has no trial ``number`` or it waits to run, a
    :class:`TrialFinishedError` if it has finished.
    """
    record = _trial_numbered(study, number, "request_prune")
    if record.state is TrialState.WAITING:
        raise ConfigError(
            f"request_prune: trial {number} of study {study.study_name!r} is WAITING, not "
            "running, so there is nothing to prune yet; prune it once it runs.",
            field="number",
        )
    if record.state.is_finished():
        raise _finished(study, number, record.state)
    requested_at = datetime.now(timezone.utc).isoformat()
    try:
        study.storage.set_trial_system_attr(record.trial_id, PRUNE_REQUEST_ATTR, requested_at)
    except TrialFinishedError:  # it finished since it was read
        raise _finished(study, number, study.storage.get_trial(record.trial_id).state) from None


def _finished(study: Study, number: int, state: TrialState) -> TrialFinishedError:
    return TrialFinishedError(
        f"request_prune: trial {number} of study {study.study_name!r} has finished "
        f"({state.name}); only a RUNNING trial can be pruned."
    )


def pruned_on_request(record: TrialRecord) -> bool:
    """Whether a trial was pruned because a prune was requested for it, not by the pruner."""
    return record.state is TrialState.PRUNED and PRUNE_REQUEST_ATTR in record.system_attrs


# Enqueue ------------------------------------------------------------------------------------


def search_space_of(study: Study) -> dict[str, Distribution]:
    """The distributions the study's trials used: their union, the latest trial's where two
    trials used a parameter with different ones."""
    space: dict[str, Distribution] = {}
    for record in study.trials:
        space.update(record.distributions)
    return space


def enqueue_checked(study: Study, params: Mapping[str, Any]) -> int:
    """Enqueue a trial with these parameters after checking each against the distribution the
    study's trials used (:func:`search_space_of`): a known name, a value inside the range or
    among the choices, an integer for an integer parameter, on the step's grid. Numbers given
    as text (from a web form) are taken when they parse. Parameters left out are sampled as
    usual. Returns the number of the WAITING trial; a :class:`ConfigError` naming the
    parameter and the fix otherwise."""
    if not params:
        raise ConfigError(
            "enqueue_checked: no parameters given; give at least one, e.g. {'lr': 0.01}.",
            field="params",
        )
    space = search_space_of(study)
    if not space:
        raise ConfigError(
            f"enqueue_checked: study {study.study_name!r} has no search space yet: no trial "
            "has suggested a parameter, so there is nothing to check the values against. Run "
            "a trial first, or queue unchecked parameters with study.enqueue_trial(params).",
            field="params",
        )
    checked: dict[str, JsonScalar] = {}
    for name, value in params.items():
        if name not in space:
            known = ", ".join(repr(known) for known in sorted(space))
            raise ConfigError(
                f"enqueue_checked: {name!r} is not a parameter of study {study.study_name!r}; "
                f"its parameters are {known}. Check the spelling.",
                field=str(name),
            )
        checked[name] = _checked_value(name, value, space[name])
    return study.enqueue_trial(checked)


def _checked_value(name: str, value: Any, distribution: Distribution) -> JsonScalar:
    """``value`` as the parameter's type, if ``distribution`` holds it; a ConfigError if not."""
    if isinstance(distribution, CategoricalDistribution):
        return _checked_choice(name, value, distribution)
    number = _as_number(name, value, distribution)
    if not distribution.contains(number):
        low, high = distribution.low, distribution.high
        if not low <= number <= high:
            fix = f"give a value in [{low!r}, {high!r}]"
        else:
            fix = f"give low + a multiple of step={distribution.step!r}, e.g. " + " or ".join(
                repr(v) for v in _grid_neighbours(number, distribution)
            )
        raise ConfigError(
            f"enqueue_checked: {name}={value!r} is not in the parameter's distribution "
            f"{distribution}; {fix}.",
            field=name,
        )
    return number


def _as_number(name: str, value: Any, distribution: Distribution) -> int | float:
    """A number given as a number or as text, as an int for an integer parameter."""
    integer = not isinstance(distribution, FloatDistribution)
    kind = "an integer" if integer else "a number"
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, numbers.Real):  # numpy's too
        number = None
    if number is None or not math.isfinite(number) or (integer and not float(number).is_integer()):
        raise ConfigError(
            f"enqueue_checked: {name}={value!r} is not {kind}; the parameter is {distribution}, "
            f"so give {kind}" + (", e.g. 3." if integer else ", e.g. 0.01."),
            field=name,
        )
    return int(number) if integer else float(number)


def _grid_neighbours(number: float, distribution: Distribution) -> list[int | float]:
    """The grid values of a stepped range on either side of ``number``."""
    assert not isinstance(distribution, CategoricalDistribution) and distribution.step
    below = math.floor((number - distribution.low) / distribution.step)
    values = [distribution.low + k * distribution.step for k in (below, below + 1)]
    if isinstance(distribution, FloatDistribution):
        return [round(v, 12) for v in values]
    return [int(v) for v in values]


def _checked_choice(name: str, value: Any, distribution: CategoricalDistribution) -> JsonScalar:
    """The choice ``value`` is, or spells as text (``"64"`` for 64, ``"true"`` for True)."""
    index = distribution.index(value)
    if index is None and isinstance(value, str):
        text = value.strip()
        spelled = [
            i for i, choice in enumerate(distribution.choices)
            if text in (str(choice), json.dumps(choice))
        ]
        index = spelled[0] if len(spelled) == 1 else None
    if index is None:
        choices = ", ".join(repr(choice) for choice in distribution.choices)
        raise ConfigError(
            f"enqueue_checked: {name}={value!r} is not one of the parameter's choices; pick "
            f"one of {choices}.",
            field=name,
        )
    return distribution.choices[index]


# Notes --------------------------------------------------------------------------------------


def set_note(study: Study, text: str, number: int | None = None) -> None:
    """A note on the study (``number`` None) or on its trial ``number``, whatever its state;
    it replaces the note there was. Empty text clears the note (the storage keeps ""; notes()
    leaves it out). At most NOTE_MAX_CHARS characters."""
    if not isinstance(text, str):
        raise ConfigError(
            f"set_note: text={text!r} is a {type(text).__name__}; a note is text.", field="text"
        )
    if len(text) > NOTE_MAX_CHARS:
        raise ConfigError(
            f"set_note: the note has {len(text):,} characters and a note holds at most "
            f"{NOTE_MAX_CHARS:,}; shorten it, or keep the long text in a file and note where.",
            field="text",
        )
    key = NOTE_ATTR
    if number is not None:
        _check_trial_number(study, number, "set_note")
        key = f"{TRIAL_NOTE_PREFIX}{number}"
    study.storage.set_study_system_attr(study.study_id, key, text)


def notes(study: Study) -> dict[int | None, str]:
    """The notes: ``None`` -> the study's note, ``N`` -> trial N's (those not cleared)."""
    attrs = study.storage.get_study(study.study_name).system_attrs
    found: dict[int | None, str] = {}
    if attrs.get(NOTE_ATTR):
        found[None] = attrs[NOTE_ATTR]
    trial_notes = {
        int(key.removeprefix(TRIAL_NOTE_PREFIX)): text
        for key, text in attrs.items()
        if key.startswith(TRIAL_NOTE_PREFIX) and text
    }
    found.update(sorted(trial_notes.items()))
    return found


# Trials by number ---------------------------------------------------------------------------


def _check_trial_number(study: Study, number: Any, what: str) -> int:
    """``number`` if the study has a trial with it (one count query); a ConfigError if not."""
    count = study.storage.count_trials(study.study_id)
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < count:
        which = f"trials 0 to {count - 1}" if count else "no trials yet"
        raise ConfigError(
            f"{what}: study {study.study_name!r} has no trial {number!r}; it has {which}.",
            field="number",
        )
    return number


def _trial_numbered(study: Study, number: Any, what: str) -> TrialRecord:
    _check_trial_number(study, number, what)
    record = next((r for r in study.trials if r.number == number), None)
    assert record is not None, f"trial {number} counted but not listed"
    return record
