"""The training doctor: what went wrong in a training run, the numbers that show it, and the fix.

:func:`diagnose_trial` reads what the training engine stores with a trial
(:mod:`tunelab.telemetry`: per-epoch telemetry, and where the loss stopped being finite if it
did) and the trial's parameters; :func:`diagnose_study` adds findings about the study as a
whole (from its trials' states and failure messages) and diagnoses its best trials. Each
:class:`Finding` has a stable ``code``, a one-line ``title``, a ``severity``, the ``evidence``
(the numbers, epochs and layers behind it) and ``advice`` naming the recipe and model fields to
change.

The doctor says what it could not see. A trial without telemetry (a loop of the user's that
only calls ``trial.report``) gets no telemetry findings but ``no_telemetry``: its training was
not checked, with how to record telemetry (:data:`tunelab.telemetry.HOW_TO_RECORD`).
:func:`study_verdict` and :func:`trials_verdict` put a section's findings in one line that
never calls a study healthy when its training could not be checked: "3 trials checked, no
problems found" against "not checked (no telemetry) for 3 of 3 trials".

Findings about one trial, each with the rule that raises it (thresholds are the named
constants below, each with the reason for its value):

- ``vanishing_gradients``: in the last epoch, the first layer's gradient norm is below
  VANISHING_RATIO of the last layer's. Layers with a gradient norm of exactly zero are left
  out: they are frozen (transfer learning) or cut off by dead units, not vanishing.
- ``exploding_gradients``: the loss became non-finite (the training engine records where:
  :func:`tunelab.telemetry.read_divergence`) or, at its peak, the total gradient norm (or,
  from the gradients' distributions, the largest 1st or 99th percentile of a layer's values) is
  EXPLODING_GROWTH times the first epoch's or more while the training loss is more than
  OSCILLATION_RISE above its best before.
- ``dying_relu``: in the last epoch, at least DEAD_FRACTION of an activation layer's units gave
  the same output for every probe input. Sigmoid and tanh layers are left out: there a
  constant output is saturation, which ``vanishing_gradients`` covers (each layer's kind is in
  its telemetry; for older telemetry without it, the trial's searched ``model.activation``).
- ``saturated_activations``: in the last epoch with activation distributions, at least
  SATURATED_FRACTION of a sigmoid or tanh layer's outputs lie within SATURATION_MARGIN of the
  activation's bounds (read off the stored quantiles).
- ``overfitting``: the validation loss ended OVERFIT_RISE or more above its lowest value,
  reached at least OVERFIT_MIN_EPOCHS_AFTER_BEST epochs before the end, while the training
  loss kept falling.
- ``underfitting``: the training loss stalled (see STALL_MAX_IMPROVEMENT) while still above
  UNDERFIT_LOSS_FRACTION of its first epoch's value, and the validation loss stays within
  UNDERFIT_MAX_GAP of it: the model fits its training data no better than unseen data.
- ``lr_too_high``: the loss became non-finite, or the training loss rose from one epoch to the
  next by more than OSCILLATION_RISE (and by more than NOISE_FLOOR of the first epoch's loss).
- ``lr_too_low``: the validation loss fell in every epoch, yet by less than
  LR_TOO_LOW_MAX_DECREASE over the whole run.
- ``plateau``: training and validation losses stalled for the last epochs (see
  STALL_MAX_IMPROVEMENT) at a constant learning rate, while the training loss is still above
  CONVERGED_LOSS_FRACTION of its first epoch's value.

Some findings are symptoms that a more specific one explains (EXPLAINED_BY): a network whose
gradients vanish shows a flat loss whatever its learning rate, so ``lr_too_low`` is then left
out, since its advice would point the wrong way.

Findings about a study:

- ``param_at_range_edge``: with at least EDGE_MIN_COMPLETED completed trials, the best trial
  and more than half of the ``top`` best lie in the outer EDGE_FRACTION of a number
  parameter's range, at the same end: the optimum may lie outside the range.
- ``many_diverged_trials`` / ``many_failed_trials``: at least FAILED_FRACTION of the finished
  trials diverged (non-finite loss) / failed for another reason.
- ``all_trials_pruned``: at least ALL_PRUNED_MIN_TRIALS trials finished and every one was pruned.
- ``most_trials_pruned``: at least MOST_PRUNED_MIN_FINISHED trials finished, more than
  MOST_PRUNED_FRACTION of them were pruned, but not all. The evidence lists where the pruner
  cut (each pruned trial's last reported step). A trial paused by a pruner and carried on by a
  later one counts as neither. Here and in ``all_trials_pruned``, a trial pruned because the
  user asked (:func:`tunelab.study.request_prune`) is left out: the pruner did not stop it.
- ``metric_saturated``: at least SATURATED_MIN_TIED completed trials tie at the best value, and
  it is the bound of the metric: 1 for a maximized one (accuracy, F1), 0 for a minimized one
  (a loss, an error rate).
- ``validation_too_small``: the SEPARATION_TOP best completed trials all lie within
  SEPARATION_SE standard errors of the best value, for a metric that is a proportion (values in
  [0, 1] that are whole counts of the validation examples, or an objective named accuracy):
  SE = sqrt(p (1 - p) / n), p the best value and n its trial's validation size
  (:func:`tunelab.telemetry.read_validation_size`). Skipped where the size is unknown.
- ``pruner_never_consulted``: the study has a pruner (the one its trials ran with, kept with the
  study), at least CONSULT_MIN_TRIALS finished trials reported values at PRUNABLE_MIN_STEPS or
  more steps, and not one finished trial called ``should_prune()``.
- ``pruning_without_pruner``: finished trials called ``should_prune()`` where it can only say
  False: the study had no pruner (``pruner="none"``), or has several objectives. A trial
  pruned on request is left out: its should_prune() answered True.
- ``no_telemetry``: completed or pruned trials that recorded no telemetry, counted.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tunelab._attrs import PER_FOLD_PREFIX, PRUNER_ATTR, PRUNER_CONSULTED_ATTR, TELEMETRY_ATTR
from tunelab._display import ranked_trials
from tunelab._options import check_int
from tunelab.exceptions import MissingExtraError
from tunelab.pruners.base import continued_trials
from tunelab.space import FloatDistribution, IntDistribution
from tunelab.study.steering import pruned_on_request
from tunelab.telemetry import (
    HOW_TO_RECORD,
    QUANTILE_LEVELS,
    ActivationStats,
    Divergence,
    EpochTelemetry,
    has_telemetry,
    read_divergence,
    read_telemetry,
    read_validation_size,
)
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from rich.table import Table

    from tunelab.study import Study

WARNING = "warning"
INFO = "info"

VANISHING_GRADIENTS = "vanishing_gradients"
EXPLODING_GRADIENTS = "exploding_gradients"
DYING_RELU = "dying_relu"
SATURATED_ACTIVATIONS = "saturated_activations"
OVERFITTING = "overfitting"
UNDERFITTING = "underfitting"
LR_TOO_HIGH = "lr_too_high"
LR_TOO_LOW = "lr_too_low"
PLATEAU = "plateau"
PARAM_AT_RANGE_EDGE = "param_at_range_edge"
MANY_DIVERGED_TRIALS = "many_diverged_trials"
MANY_FAILED_TRIALS = "many_failed_trials"
ALL_TRIALS_PRUNED = "all_trials_pruned"
MOST_TRIALS_PRUNED = "most_trials_pruned"
METRIC_SATURATED = "metric_saturated"
VALIDATION_TOO_SMALL = "validation_too_small"
PRUNER_NEVER_CONSULTED = "pruner_never_consulted"
PRUNING_WITHOUT_PRUNER = "pruning_without_pruner"
NO_TELEMETRY = "no_telemetry"

# Healthy networks measured with tunelab's builders (ReLU MLPs, CNNs with and without batch
# norm or residual blocks, He or default init) have a first-to-last gradient ratio of 0.1 to 1,
# the lowest in a CNN whose first convolution has few weights; every sigmoid layer shrinks the
# gradient at least 4-fold, so a 20-layer sigmoid MLP is near 1e-17. Below 1/100 an SGD step
# moves the first layer a hundred times less than the last: it barely learns. The lowest
# healthy ratio is ten times above the threshold.
VANISHING_RATIO = 1e-2
# An order of magnitude: steps taken with the same learning rate become ten times longer.
EXPLODING_GROWTH = 10.0
# A unit that gives the same output for all probe inputs passes no signal and no gradient;
# with half the units of a layer gone it works at under half its width. Healthy ReLU layers
# measured with tunelab's probe have a few percent of such units.
DEAD_FRACTION = 0.5
# The validation set is fixed, so epoch-to-epoch changes come from the weights, not from
# sampling; a sustained 5% rise above the best value is a trend, not noise.
OVERFIT_RISE = 0.05
# Three epochs of rise past the best one make a trend rather than one bad epoch; they are also
# the early-stopping patience that would have stopped there.
OVERFIT_MIN_EPOCHS_AFTER_BEST = 3
# The loss "stalled" when its best value in the last STALL_WINDOW_FRACTION of the epochs (and
# at least STALL_MIN_WINDOW epochs) is less than STALL_MAX_IMPROVEMENT better than its best
# before them: another stretch as long would gain next to nothing.
STALL_WINDOW_FRACTION = 0.25
STALL_MIN_WINDOW = 5
STALL_MAX_IMPROVEMENT = 0.05
# "Still high": the model removed less than half of the loss it had in its first epoch.
UNDERFIT_LOSS_FRACTION = 0.5
# A model that can fit more than it generalizes has validation loss above training loss; a
# gap under 10% (or a validation loss below the training loss, as under strong dropout or
# augmentation) means it fits its training data no better than unseen data: it lacks capacity
# or time, not data or regularization. This is the bias side of the bias-variance diagnosis.
UNDERFIT_MAX_GAP = 0.10
# With a suitable learning rate the training loss, an average over every training sample,
# hardly ever rises between epochs; a rise of 10% is a step that overshot. Rises smaller than
# 5% of the first epoch's loss are noise around a loss near zero (dropout, augmentation, small
# batches): a well-trained model whose loss goes from 0.008 to 0.018 after starting at 0.34
# lost nothing that matters.
OSCILLATION_RISE = 0.10
NOISE_FLOOR = 0.05
# A steady decrease (every epoch) of under 2% in total: the direction is right, the steps too
# small. A run that converged shows noise, not a steady decrease, so it does not match.
LR_TOO_LOW_MAX_DECREASE = 0.02
# Below 1% of its first epoch's loss a run has converged: a plateau there is the end point.
CONVERGED_LOSS_FRACTION = 0.01
# Trend rules need a few epochs to tell a trend from a single step.
MIN_EPOCHS_FOR_TRENDS = 3
# The outer 10% of a range, on the range's own scale (log for log ranges).
EDGE_FRACTION = 0.10
# With fewer completed trials, the best ones say little about where the optimum lies.
EDGE_MIN_COMPLETED = 10
# One trial in five lost is a fifth of the study's budget spent on nothing.
FAILED_FRACTION = 0.2
# With fewer finished trials one failure is already a fifth: too few to call a pattern.
FAILED_MIN_FINISHED = 5
# One or two pruned trials can be bad luck of the first samples; three in a row, none
# completed, is the pruner.
ALL_PRUNED_MIN_TRIALS = 3
# Median pruning stops about half of the trials; successive halving (asha, hyperband) keeps a
# third at each rung by default, so that rungs at steps 1, 3 and 9 stop 8 in 9 by design. More
# than 80% pruned means most of the budget went to trials judged on their first steps, which is
# right only if early values predict final ones: worth a look, not an error.
MOST_PRUNED_FRACTION = 0.8
# With fewer finished trials, 80% is a handful, and the pruner's start-up weighs too much.
MOST_PRUNED_MIN_FINISHED = 10
# One trial at the metric's bound can be the one best model and two a coincidence; three tied
# at it mean the metric no longer ranks the best trials.
SATURATED_MIN_TIED = 3
# Gaps smaller than one standard error of the metric are within the noise of drawing the
# validation set: another draw of the same size would rank the trials otherwise about as often
# as not. Two runners-up inside it already make "the best" a draw among three.
SEPARATION_SE = 1.0
SEPARATION_TOP = 3
# An accuracy computed in float32 (a mean of 0/1) is off a whole count of n examples by at most
# n * 6e-8; a margin of 16 keeps every such value, while a loss or an F1 score lands within it
# of a whole count only by chance.
COUNT_TOLERANCE = 1e-6
PROPORTION_NAMES = frozenset({"accuracy", "acc"})  # words of an objective's name
# One or two trials may end before their loop gets to ask the pruner; three that reported at two
# steps or more (one report is a final value, with nothing to stop early) and never asked are
# the loop itself.
CONSULT_MIN_TRIALS = 3
PRUNABLE_MIN_STEPS = 2
NO_PRUNER = "none"  # the name the pruner that never prunes is kept under

NO_TELEMETRY_ADVICE = f"To record telemetry while the trials train, {HOW_TO_RECORD}."

# A sigmoid's slope within 5% of its range from a bound is under a fifth of its slope at the
# centre (tanh's likewise): an output there passes a fifth of the gradient or less. With half
# of a layer's outputs there, the layer mostly blocks learning. The share is read off the
# nine stored quantiles by interpolation, which understates it for outputs split between both
# bounds (the median then lies between them). Measured on a 3-layer sigmoid MLP on the breast
# cancer data: 0.1% at most with PyTorch's default init, 39-49% with initial weights 10 times
# larger (not flagged), 55-56% with 30 or 100 times larger (flagged).
SATURATION_MARGIN = 0.05
SATURATED_FRACTION = 0.5

SATURATING_ACTIVATIONS = ("sigmoid", "tanh")
# The range of each saturating activation's output.
ACTIVATION_BOUNDS = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
ACTIVATION_PARAM = "model.activation"
LR_PARAM = "lr"

# A finding is left out when one of the findings named here is present: they explain the
# same curve more specifically, and the symptom's advice would point the wrong way.
EXPLAINED_BY: Mapping[str, frozenset[str]] = {
    LR_TOO_LOW: frozenset({VANISHING_GRADIENTS, DYING_RELU, SATURATED_ACTIVATIONS}),
    UNDERFITTING: frozenset({LR_TOO_LOW, VANISHING_GRADIENTS, DYING_RELU, SATURATED_ACTIVATIONS}),
    PLATEAU: frozenset({
        UNDERFITTING, OVERFITTING, LR_TOO_LOW, VANISHING_GRADIENTS, DYING_RELU,
        SATURATED_ACTIVATIONS,
    }),
}


@dataclass(frozen=True)
class Finding:
    """One problem the doctor found, with its evidence and what to change.

    ``trial`` is the trial's number, or None for a finding about the whole study.
    """

    code: str
    title: str
    severity: str
    evidence: str
    advice: str
    trial: int | None = None

    @property
    def where(self) -> str:
        """``study``, or ``trial N``."""
        return "study" if self.trial is None else f"trial {self.trial}"


@dataclass(frozen=True)
class TrainingRun:
    """What the trial detectors look at: one trial's telemetry and what else it recorded."""

    trial: int
    epochs: tuple[EpochTelemetry, ...]
    divergence: Divergence | None
    activation: str | None  # the trial's model.activation, where the study searched it
    lr: float | None  # the base learning rate, where the trial's params or telemetry tell it

    @property
    def losses(self) -> tuple[EpochTelemetry, ...]:
        """The epochs whose training and validation losses are finite numbers."""
        return tuple(e for e in self.epochs if _finite(e.train_loss, e.val_loss))


Detector = Callable[[TrainingRun], Finding | None]


# --- one trial ------------------------------------------------------------------------------


def diagnose_trial(record: TrialRecord) -> list[Finding]:
    """The findings for one trial, most severe first (empty for a trial with nothing wrong);
    for a trial without telemetry, ``no_telemetry`` says that its training was not checked."""
    epochs = tuple(read_telemetry(record))
    divergence = read_divergence(record)
    run = TrainingRun(
        trial=record.number,
        epochs=epochs,
        divergence=divergence,
        activation=_activation(record),
        lr=_base_lr(record, epochs, divergence),
    )
    findings = [f for f in (detect(run) for detect in TRIAL_DETECTORS) if f is not None]
    if not _seen(record):
        findings.append(_not_checked(record))
    return _by_severity(_without_explained(findings))


def _seen(record: TrialRecord) -> bool:
    """Whether the training engine watched the trial's training: it recorded telemetry, or
    where the loss diverged (before the first epoch ended, which leaves no telemetry)."""
    return has_telemetry(record) or read_divergence(record) is not None


def _not_checked(record: TrialRecord) -> Finding:
    return Finding(
        code=NO_TELEMETRY,
        title="Not checked: no training telemetry",
        severity=INFO,
        evidence=(
            f"Trial {record.number} recorded no per-epoch telemetry, so its training (losses, "
            "gradients, activations) could not be checked, only its state and failure."
            f"{_per_fold_note([record])}"
        ),
        advice=NO_TELEMETRY_ADVICE,
        trial=record.number,
    )


def _per_fold_note(records: Sequence[TrialRecord]) -> str:
    """A note for cross-validated trials, whose telemetry is kept per fold."""
    if not any(PER_FOLD_PREFIX + TELEMETRY_ATTR in r.system_attrs for r in records):
        return ""
    return (
        " (A cross-validated trial keeps its telemetry per fold, which the doctor does not "
        "read.)"
    )


def _activation(record: TrialRecord) -> str | None:
    value = record.params.get(ACTIVATION_PARAM)
    return value if isinstance(value, str) else None


def _base_lr(
    record: TrialRecord, epochs: Sequence[EpochTelemetry], divergence: Divergence | None
) -> float | None:
    # The searched value, or the one the divergence record holds, is the base rate itself;
    # without them, the largest rate an epoch ended with is the nearest to it (warm-up, decay
    # and plateau cuts only lower it).
    searched = _param_values([record], LR_PARAM)
    if searched:
        return searched[0]
    if divergence is not None:
        return divergence.lr
    seen = [e.lr for e in epochs if math.isfinite(e.lr) and e.lr > 0]
    return max(seen) if seen else None


def _without_explained(findings: list[Finding]) -> list[Finding]:
    codes = {f.code for f in findings}
    return [f for f in findings if not EXPLAINED_BY.get(f.code, frozenset()) & codes]


def _by_severity(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: f.severity != WARNING)


def detect_vanishing_gradients(run: TrainingRun) -> Finding | None:
    """The first layer gets under VANISHING_RATIO of the last layer's gradient."""
    epoch = _last_epoch_with_gradients(run)
    if epoch is None:
        return None
    norms = {name: norm for name, norm in epoch.grad_norm.items() if norm > 0.0}
    if len(norms) < 2:
        return None
    names = list(norms)
    first, last = names[0], names[-1]
    ratio = norms[first] / norms[last]
    if ratio >= VANISHING_RATIO:
        return None
    starved = [name for name in names if norms[name] < VANISHING_RATIO * norms[last]]
    return Finding(
        code=VANISHING_GRADIENTS,
        title="Vanishing gradients: the early layers barely learn",
        severity=WARNING,
        evidence=(
            f"In epoch {epoch.epoch} the gradient norm of {first} ({_num(norms[first])}) is "
            f"{_num(ratio)} times that of {last} ({_num(norms[last])}); {len(starved)} of "
            f"{len(names)} layers ({_shortened(starved)}) get less than "
            f"{_percent(VANISHING_RATIO)} of {last}'s gradient."
        ),
        advice=(
            "Keep the gradient's scale through the depth: init: kaiming_normal (He) with "
            "model.activation: relu or leaky_relu instead of sigmoid/tanh, "
            "model.batch_norm: true, model.residual: true, or a smaller model.depth."
        ),
        trial=run.trial,
    )


def _last_epoch_with_gradients(run: TrainingRun) -> EpochTelemetry | None:
    # Non-finite norms are left out: without mixed precision they end the run with a
    # non-finite loss, which detect_exploding_gradients reports; with float16 mixed precision
    # they are overflows that the gradient scaler skips by design.
    for epoch in reversed(run.epochs):
        if epoch.grad_norm and _finite(*epoch.grad_norm.values()):
            return epoch
    return None


def detect_exploding_gradients(run: TrainingRun) -> Finding | None:
    """The loss became non-finite, or the gradient norm grew tenfold as the loss rose."""
    if run.divergence is not None:
        return _exploding(run, f"{_diverged_text(run.divergence)}, and training stopped there.")
    evidence = _gradient_growth(run, "total gradient norm", _total_norm_of) or _gradient_growth(
        run, "gradients' tail (the 1st or 99th percentile of a layer's values)", _tail_of
    )
    return None if evidence is None else _exploding(run, evidence)


def _gradient_growth(
    run: TrainingRun, what: str, size: Callable[[EpochTelemetry], float | None]
) -> str | None:
    """Evidence if the gradients' ``size`` (the total norm, or the tails of their
    distributions) peaked EXPLODING_GROWTH-fold above its start while the training loss got
    worse, else None.

    Growth alone is no fault: a network leaving its flat initial region sees its gradient grow
    tenfold and more while the loss falls. Growth while the loss gets worse is.
    """
    sizes = [(e, size(e)) for e in run.losses]
    known = [(epoch, value) for epoch, value in sizes if value is not None and math.isfinite(value)]
    if len(known) < 2 or known[0][1] <= 0.0:
        return None
    first, first_size = known[0]
    peak_index = max(range(1, len(known)), key=lambda i: known[i][1])
    peak, peak_size = known[peak_index]
    best = min((e for e, _ in known[:peak_index]), key=lambda e: e.train_loss)
    if peak_size < EXPLODING_GROWTH * first_size:
        return None
    if peak.train_loss <= (1.0 + OSCILLATION_RISE) * best.train_loss:
        return None
    return (
        f"The {what} grew from {_num(first_size)} in epoch {first.epoch} to "
        f"{_num(peak_size)} in epoch {peak.epoch} ({_num(peak_size / first_size)}x) while the "
        f"training loss rose from {_num(best.train_loss)} (epoch {best.epoch}) to "
        f"{_num(peak.train_loss)}."
    )


def _total_norm_of(epoch: EpochTelemetry) -> float | None:
    return _total_norm(epoch.grad_norm) if epoch.grad_norm else None


def _tail_of(epoch: EpochTelemetry) -> float | None:
    """The largest 1st or 99th percentile magnitude of any layer's gradient values: the
    distributions' tails, which widen as gradients explode even where a few large steps are
    averaged into a moderate norm."""
    layers = epoch.distributions.get("gradients") or {}
    tails = [max(abs(q[1]), abs(q[-2])) for q in layers.values()]
    return max(tails) if tails else None


def _diverged_text(divergence: Divergence) -> str:
    step = "" if divergence.step is None else f", step {divergence.step}"
    return f"The training loss became {divergence.loss} in epoch {divergence.epoch}{step}"


def _exploding(run: TrainingRun, evidence: str) -> Finding:
    return Finding(
        code=EXPLODING_GRADIENTS,
        title="Exploding gradients: the updates grow out of control",
        severity=WARNING,
        evidence=evidence,
        advice=(
            "Clip the gradients (grad_clip_norm: 1.0) and lower the learning rate "
            f"({_lr_hint(run)}); model.batch_norm: true also keeps activations in range."
        ),
        trial=run.trial,
    )


def _total_norm(norms: Mapping[str, float]) -> float:
    return math.sqrt(sum(norm * norm for norm in norms.values()))


def detect_dying_relu(run: TrainingRun) -> Finding | None:
    """An activation layer ends with at least DEAD_FRACTION of its units dead."""
    if not run.epochs:
        return None
    last = run.epochs[-1]
    dead = [
        name
        for name, stats in last.activations.items()
        if stats.dead >= DEAD_FRACTION and not _saturating(stats, run)
    ]
    if not dead:
        return None
    layers = _shortened([_dead_units_text(name, run.epochs) for name in dead], "; ")
    return Finding(
        code=DYING_RELU,
        title="Dying ReLU: many units output the same value for every input",
        severity=WARNING,
        evidence=(
            f"In epoch {last.epoch}, {len(dead)} activation layer(s) have at least "
            f"{_percent(DEAD_FRACTION)} dead units (same output for every probe input): {layers}."
        ),
        advice=(
            "Use model.activation: leaky_relu (its units cannot die), lower the learning rate "
            f"({_lr_hint(run)}) so that one large step cannot push units off for good, and "
            "start from init: kaiming_normal (He); model.batch_norm: true also keeps units "
            "centred."
        ),
        trial=run.trial,
    )


def _saturating(stats: ActivationStats, run: TrainingRun) -> bool:
    """Whether a layer is a sigmoid or tanh, whose constant output is saturation (which
    vanishing_gradients covers) rather than a dead unit. Telemetry recorded before layers' kinds
    were kept is judged by the trial's searched ``model.activation``."""
    if stats.kind:
        return stats.kind.lower() in SATURATING_ACTIVATIONS
    return run.activation in SATURATING_ACTIVATIONS


def _dead_units_text(layer: str, epochs: Sequence[EpochTelemetry]) -> str:
    """``layer: 72% (epoch 1: 62%)``: its dead fraction at the end and at the start."""
    first, last = epochs[0], epochs[-1]
    text = f"{layer}: {_percent(last.activations[layer].dead)}"
    if first is not last and layer in first.activations:
        text += f" (epoch {first.epoch}: {_percent(first.activations[layer].dead)})"
    return text


def detect_saturated_activations(run: TrainingRun) -> Finding | None:
    """At least SATURATED_FRACTION of a sigmoid or tanh layer's outputs lie within
    SATURATION_MARGIN of its bounds in the last epoch with activation distributions."""
    epoch = next((e for e in reversed(run.epochs) if e.distributions.get("activations")), None)
    if epoch is None:
        return None
    saturated = {}
    for layer, quantiles in epoch.distributions["activations"].items():
        kind = _activation_kind(layer, epoch, run)
        if kind in ACTIVATION_BOUNDS:
            fraction = _fraction_near_bounds(quantiles, *ACTIVATION_BOUNDS[kind])
            if fraction >= SATURATED_FRACTION:
                saturated[layer] = fraction
    if not saturated:
        return None
    layers = _shortened([f"{name}: {_percent(f)}" for name, f in saturated.items()], "; ")
    return Finding(
        code=SATURATED_ACTIVATIONS,
        title="Saturated activations: sigmoid or tanh outputs piled against their bounds",
        severity=WARNING,
        evidence=(
            f"In epoch {epoch.epoch}, {len(saturated)} layer(s) have at least "
            f"{_percent(SATURATED_FRACTION)} of their outputs within "
            f"{_percent(SATURATION_MARGIN)} of the activation's bounds, where its slope passes "
            f"a fifth of the gradient or less: {layers}."
        ),
        advice=(
            "Keep the inputs of the activation small: init: xavier_normal (Glorot) for sigmoid "
            "and tanh, model.batch_norm: true before the activation, standardized inputs, or "
            "model.activation: relu or gelu, which do not saturate for positive inputs."
        ),
        trial=run.trial,
    )


def _activation_kind(layer: str, epoch: EpochTelemetry, run: TrainingRun) -> str | None:
    stats = epoch.activations.get(layer)
    if stats is not None and stats.kind:
        return stats.kind.lower()
    return run.activation


def _fraction_near_bounds(quantiles: Sequence[float], low: float, high: float) -> float:
    """The share of values within SATURATION_MARGIN of ``low`` or ``high``, read off the
    quantiles by linear interpolation between them."""
    margin = SATURATION_MARGIN * (high - low)
    below = float(np.interp(low + margin, quantiles, QUANTILE_LEVELS, left=0.0, right=1.0))
    above = float(np.interp(high - margin, quantiles, QUANTILE_LEVELS, left=0.0, right=1.0))
    return below + (1.0 - above)


def detect_overfitting(run: TrainingRun) -> Finding | None:
    """The validation loss ends OVERFIT_RISE above its best while the training loss falls."""
    epochs = run.losses
    if len(epochs) < MIN_EPOCHS_FOR_TRENDS:
        return None
    best = min(epochs, key=lambda e: e.val_loss)
    last = epochs[-1]
    if last.epoch - best.epoch < OVERFIT_MIN_EPOCHS_AFTER_BEST:
        return None
    if last.val_loss < (1.0 + OVERFIT_RISE) * best.val_loss or last.train_loss >= best.train_loss:
        return None
    rise = last.val_loss / best.val_loss - 1.0
    return Finding(
        code=OVERFITTING,
        title="Overfitting: validation loss rises while training loss falls",
        severity=WARNING,
        evidence=(
            f"The validation loss rose from {_num(best.val_loss)} at epoch {best.epoch} to "
            f"{_num(last.val_loss)} at epoch {last.epoch} (+{_percent(rise)}) while the "
            f"training loss fell from {_num(best.train_loss)} to {_num(last.train_loss)}."
        ),
        advice=(
            "Regularize: weight_decay: 1.0e-4 (L2), model.dropout: 0.3, data augmentation "
            "(noise: 0.1; shift: 0.1 or hflip: 0.5 for images), and early_stopping_patience: "
            f"{OVERFIT_MIN_EPOCHS_AFTER_BEST} to stop near epoch {best.epoch} "
            "(restore_best keeps the best weights); more training data helps most."
        ),
        trial=run.trial,
    )


def detect_underfitting(run: TrainingRun) -> Finding | None:
    """The training loss stalled high, and validation does no worse than training."""
    epochs = run.losses
    stall = _stall(epochs, lambda e: e.train_loss)
    if stall is None:
        return None
    first, last = epochs[0], epochs[-1]
    if last.train_loss < UNDERFIT_LOSS_FRACTION * first.train_loss:
        return None
    if last.val_loss > (1.0 + UNDERFIT_MAX_GAP) * last.train_loss:
        return None
    return Finding(
        code=UNDERFITTING,
        title="Underfitting: the model cannot fit even its training data",
        severity=WARNING,
        evidence=(
            f"The training loss went from {_num(first.train_loss)} (epoch {first.epoch}) to "
            f"{_num(last.train_loss)} (epoch {last.epoch}), {stall}; the validation loss "
            f"({_num(last.val_loss)}) is not more than {_percent(UNDERFIT_MAX_GAP)} above it, "
            f"and the final metrics are {_num(last.train_metric)} (training) and "
            f"{_num(last.val_metric)} (validation)."
        ),
        advice=(
            "Give the model more capacity (a larger model.width or model.depth), a higher "
            f"learning rate ({_lr_hint(run, higher=True)}) and more epochs; weaken any "
            "regularization (weight_decay, model.dropout, augmentation strengths)."
        ),
        trial=run.trial,
    )


def detect_lr_too_high(run: TrainingRun) -> Finding | None:
    """The loss became non-finite, or the training loss jumped up between epochs."""
    if run.divergence is not None:
        return _lr_too_high(run, f"{_diverged_text(run.divergence)}: the run diverged.")
    rises = _loss_rises(run.losses)
    if not rises:
        return None
    listed = ", ".join(
        f"{_num(before.train_loss)} -> {_num(after.train_loss)} (epoch {before.epoch} -> "
        f"{after.epoch})"
        for before, after in rises
    )
    evidence = f"The training loss rose {len(rises)} time(s) between epochs: {listed}."
    return _lr_too_high(run, evidence)


def _lr_too_high(run: TrainingRun, evidence: str) -> Finding:
    return Finding(
        code=LR_TOO_HIGH,
        title="Learning rate too high: the optimizer overshoots",
        severity=WARNING,
        evidence=evidence,
        advice=(
            f"Lower the learning rate by 10x ({_lr_hint(run)}), or warm it up "
            "(warmup_epochs: 1) and decay it (schedule: cosine); grad_clip_norm: 1.0 guards "
            "against single bad steps."
        ),
        trial=run.trial,
    )


def _loss_rises(epochs: Sequence[EpochTelemetry]) -> list[tuple[EpochTelemetry, EpochTelemetry]]:
    if len(epochs) < 2:
        return []
    floor = NOISE_FLOOR * epochs[0].train_loss
    return [
        (before, after)
        for before, after in zip(epochs, epochs[1:])
        if after.train_loss > (1.0 + OSCILLATION_RISE) * before.train_loss
        and after.train_loss - before.train_loss > floor
    ]


def detect_lr_too_low(run: TrainingRun) -> Finding | None:
    """The validation loss fell every epoch, by under LR_TOO_LOW_MAX_DECREASE in all."""
    epochs = run.losses
    if len(epochs) < MIN_EPOCHS_FOR_TRENDS:
        return None
    val_losses = [e.val_loss for e in epochs]
    steady = all(later < earlier for earlier, later in zip(val_losses, val_losses[1:]))
    decrease = 1.0 - val_losses[-1] / val_losses[0] if val_losses[0] > 0 else 0.0
    if not steady or decrease >= LR_TOO_LOW_MAX_DECREASE:
        return None
    first, last = epochs[0], epochs[-1]
    return Finding(
        code=LR_TOO_LOW,
        title="Learning rate too low: the loss barely moves",
        severity=WARNING,
        evidence=(
            # Enough digits to show a change of a fraction of LR_TOO_LOW_MAX_DECREASE.
            f"The validation loss fell in every epoch but only from {_num(first.val_loss, 5)} "
            f"(epoch {first.epoch}) to {_num(last.val_loss, 5)} (epoch {last.epoch}), "
            f"{_percent(decrease)} in all, at lr={_num(last.lr)}."
        ),
        advice=(
            f"Raise the learning rate by 10x to 100x ({_lr_hint(run, higher=True)}), or "
            "search it on a log range, e.g. lr: {low: 1.0e-4, high: 1.0e-1, log: true}."
        ),
        trial=run.trial,
    )


def detect_plateau(run: TrainingRun) -> Finding | None:
    """Both losses stalled at a constant learning rate, short of convergence."""
    epochs = run.losses
    train_stall = _stall(epochs, lambda e: e.train_loss)
    val_stall = _stall(epochs, lambda e: e.val_loss)
    if train_stall is None or val_stall is None:
        return None
    first, last = epochs[0], epochs[-1]
    window = epochs[-_window_size(len(epochs)):]
    if last.train_loss < CONVERGED_LOSS_FRACTION * first.train_loss:
        return None
    if any(not math.isclose(e.lr, window[0].lr, rel_tol=1e-9) for e in window):
        return None  # a schedule is already lowering the learning rate
    return Finding(
        code=PLATEAU,
        title="Plateau: the loss stopped improving long before the end",
        severity=INFO,
        evidence=(
            f"From epoch {window[0].epoch} to {last.epoch} the learning rate stayed at "
            f"{_num(last.lr)}; the training loss {train_stall}, the validation loss "
            f"{val_stall}. The training loss is still {_num(last.train_loss)}, against "
            f"{_num(first.train_loss)} in epoch {first.epoch}."
        ),
        advice=(
            "Lower the learning rate as training goes on: schedule: cosine, or schedule: "
            "plateau (plateau_patience: 3) to cut it when the validation metric stalls; "
            "early_stopping_patience: 5 saves the epochs that bring nothing."
        ),
        trial=run.trial,
    )


def _window_size(n_epochs: int) -> int:
    return max(STALL_MIN_WINDOW, math.ceil(STALL_WINDOW_FRACTION * n_epochs))


def _stall(epochs: Sequence[EpochTelemetry], loss: Callable[[EpochTelemetry], float]) -> str | None:
    """A description of the stall if ``loss`` stalled over the last epochs, else None."""
    size = _window_size(len(epochs))
    if len(epochs) <= size:
        return None
    before = min(loss(e) for e in epochs[:-size])
    during = min(loss(e) for e in epochs[-size:])
    if before <= 0.0:
        return None
    improvement = 1.0 - during / before
    if improvement >= STALL_MAX_IMPROVEMENT:
        return None
    return (
        f"improved by {_percent(max(improvement, 0.0))} over the last {size} epochs "
        f"(best {_num(before)} before them, {_num(during)} during them)"
    )


TRIAL_DETECTORS: tuple[Detector, ...] = (
    detect_exploding_gradients,
    detect_lr_too_high,
    detect_vanishing_gradients,
    detect_saturated_activations,
    detect_dying_relu,
    detect_overfitting,
    detect_underfitting,
    detect_lr_too_low,
    detect_plateau,
)


# --- a study --------------------------------------------------------------------------------


def diagnose_study(study: Study, top: int = 3) -> list[Finding]:
    """Findings about the whole study, then :func:`diagnose_trial`'s for its ``top`` best
    trials, in the order the command line and the report list them
    (:func:`tunelab._display.ranked_trials`: feasible ones only; for several objectives, the
    Pareto front)."""
    check_int("diagnose_study", "top", top, 1, "how many best trials to diagnose, e.g. 3.")
    records = study.trials
    ranked = ranked_trials(study)
    best = ranked[:top]
    single = len(study.directions) == 1
    found = [
        detect_diverged_trials(records),
        detect_failed_trials(records),
        detect_all_pruned(records),
        detect_most_pruned(records),
        detect_saturated_metric(ranked, study.direction, study.objective_names[0])
        if single else None,
        detect_validation_too_small(ranked, study.objective_names[0]) if single else None,
        detect_pruner_never_consulted(records, _stored_pruner(study)),
        detect_pruning_without_pruner(records, len(study.directions)),
        detect_no_telemetry(records),
    ]
    study_findings = [
        *detect_params_at_range_edge(records, best), *(f for f in found if f is not None)
    ]
    # The study's no_telemetry finding names the best trials without telemetry, with the advice.
    trial_findings = [
        finding
        for record in best
        for finding in diagnose_trial(record)
        if finding.code != NO_TELEMETRY
    ]
    return [*study_findings, *trial_findings]


def _stored_pruner(study: Study) -> str | None:
    """The name of the pruner the study's trials last ran with, as the study keeps it (the
    pruner of a study loaded to be looked at is not that one); None if it keeps none."""
    name = study.system_attrs.get(PRUNER_ATTR)
    return name if isinstance(name, str) else None


def detect_params_at_range_edge(
    records: Sequence[TrialRecord], best: Sequence[TrialRecord]
) -> list[Finding]:
    """One finding per number parameter whose best values crowd one end of its range."""
    completed = [r for r in records if r.state is TrialState.COMPLETE]
    if len(completed) < EDGE_MIN_COMPLETED or not best:
        return []
    findings = []
    for name, distribution in best[0].distributions.items():
        if not isinstance(distribution, (FloatDistribution, IntDistribution)):
            continue
        if distribution.low == distribution.high:
            continue
        finding = _edge_finding(name, distribution, best)
        if finding is not None:
            findings.append(finding)
    return findings


def _edge_finding(
    name: str, distribution: FloatDistribution | IntDistribution, best: Sequence[TrialRecord]
) -> Finding | None:
    end = _edge(distribution, best[0].params[name])
    if end is None:
        return None
    values = [v for r in best if isinstance(v := r.params.get(name), (int, float))]
    at_edge = [v for v in values if _edge(distribution, v) == end]
    if 2 * len(at_edge) <= len(best):
        return None
    bound = distribution.high if end == "high" else distribution.low
    side = "top" if end == "high" else "bottom"
    listed = ", ".join(_num(v) for v in values)
    beyond = (
        "the best value may be 0 itself"
        if _at_zero_floor(distribution, end)
        else f"the best value may lie beyond {_num(bound)}"
    )
    return Finding(
        code=PARAM_AT_RANGE_EDGE,
        title=f"{name}: the best trials sit at the {end} end of its range",
        severity=WARNING,
        evidence=(
            f"{len(at_edge)} of the {len(best)} best trials chose {name} in the {side} "
            f"{_percent(EDGE_FRACTION)} of [{_num(distribution.low)}, {_num(distribution.high)}]"
            f" ({listed}); {beyond}."
        ),
        advice=_widen_advice(name, distribution, end),
    )


def _edge(distribution: FloatDistribution | IntDistribution, value: Any) -> str | None:
    """The end of the range ("low" or "high") whose outer EDGE_FRACTION holds ``value``."""
    position = _position(distribution, float(value))
    if position <= EDGE_FRACTION:
        return "low"
    if position >= 1.0 - EDGE_FRACTION:
        return "high"
    return None


def _position(distribution: FloatDistribution | IntDistribution, value: float) -> float:
    """Where ``value`` lies in the range, from 0 (low) to 1 (high), on the range's scale."""
    low, high = float(distribution.low), float(distribution.high)
    if distribution.log:
        return math.log(value / low) / math.log(high / low)
    return (value - low) / (high - low)


def _at_zero_floor(distribution: FloatDistribution | IntDistribution, end: str) -> bool:
    """Whether the crowded end is a low bound of 0, where such parameters are "off"."""
    return end == "low" and distribution.low == 0


def _widen_advice(name: str, distribution: FloatDistribution | IntDistribution, end: str) -> str:
    low, high = distribution.low, distribution.high
    if _at_zero_floor(distribution, end):
        return (
            f"The best trials want {name} at 0 or just above: fix it at 0 and drop it from the "
            "search, or search its small values on a log range (e.g. {low: 1.0e-6, high: "
            f"{_num(high)}, log: true}})."
        )
    if distribution.log:
        widened = high * 10 if end == "high" else low / 10
    elif end == "high":
        widened = high + (high - low) / 2
    else:  # a range that starts at or above 0 (a rate, a count) is not widened below 0
        widened = low - (high - low) / 2 if low < 0 else max(low - (high - low) / 2, 0.0)
    if isinstance(distribution, IntDistribution):
        widened = round(widened)
    bound_name = "high" if end == "high" else "low"
    return (
        f"Widen {name}'s range past its {end} end, e.g. {bound_name}: {_num(widened)} "
        f"(unless {_num(high if end == 'high' else low)} is a hard limit of {name})."
    )


def detect_diverged_trials(records: Sequence[TrialRecord]) -> Finding | None:
    """At least FAILED_FRACTION of the finished trials diverged."""
    finished = [r for r in records if r.state.is_finished()]
    diverged = [r for r in finished if read_divergence(r) is not None]
    if len(finished) < FAILED_MIN_FINISHED or len(diverged) < FAILED_FRACTION * len(finished):
        return None
    completed = [r for r in finished if r.state is TrialState.COMPLETE]
    diverged_lrs = _param_values(diverged, LR_PARAM)
    return Finding(
        code=MANY_DIVERGED_TRIALS,
        title="Many trials diverged",
        severity=WARNING,
        evidence=(
            f"{len(diverged)} of {len(finished)} finished trials "
            f"({_percent(len(diverged) / len(finished))}) diverged (their training loss became "
            f"nan or inf): trials {_number_list(diverged)}."
            + _lr_ranges_text(diverged_lrs, _param_values(completed, LR_PARAM))
        ),
        advice=(
            (f"Narrow the learning rate's range: set lr's high below {_num(min(diverged_lrs))}, "
             "the smallest lr that diverged, "
             if diverged_lrs else "Search lower learning rates (lr), ")
            + "and clip gradients (grad_clip_norm: 1.0) so that one bad step cannot end a trial."
        ),
    )


def _lr_ranges_text(diverged_lrs: Sequence[float], completed_lrs: Sequence[float]) -> str:
    """`` They used lr from a to b; completed trials used lr up to c.`` (what is known of it)."""
    if not diverged_lrs:
        return ""
    text = f" They used lr from {_num(min(diverged_lrs))} to {_num(max(diverged_lrs))}"
    if completed_lrs:
        text += f"; completed trials used lr up to {_num(max(completed_lrs))}"
    return text + "."


def _param_values(records: Iterable[TrialRecord], name: str) -> list[float]:
    values = [r.params.get(name) for r in records]
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]


def detect_failed_trials(records: Sequence[TrialRecord]) -> Finding | None:
    """At least FAILED_FRACTION of the finished trials failed, other than by diverging."""
    finished = [r for r in records if r.state.is_finished()]
    failed = [r for r in finished if r.state is TrialState.FAIL and read_divergence(r) is None]
    if len(finished) < FAILED_MIN_FINISHED or len(failed) < FAILED_FRACTION * len(finished):
        return None
    reasons = Counter(_first_line(r.fail_reason) for r in failed)
    reason, count = reasons.most_common(1)[0]
    return Finding(
        code=MANY_FAILED_TRIALS,
        title="Many trials failed",
        severity=WARNING,
        evidence=(
            f"{len(failed)} of {len(finished)} finished trials "
            f"({_percent(len(failed) / len(finished))}) failed (trials {_number_list(failed)}); "
            f"the most common reason ({count} trial(s)): {reason}"
        ),
        advice=(
            "Fix the cause before spending more trials: run study.optimize(..., catch=()) to "
            "stop at the first failure with its traceback, or read the failure of trial "
            f"{failed[0].number}."
        ),
    )


def _first_line(text: str | None) -> str:
    return (text or "no reason recorded").strip().splitlines()[0]


def detect_all_pruned(records: Sequence[TrialRecord]) -> Finding | None:
    """Every finished trial (at least ALL_PRUNED_MIN_TRIALS) was pruned by the pruner."""
    finished = _finished_by_themselves(records)
    if len(finished) < ALL_PRUNED_MIN_TRIALS:
        return None
    if any(r.state is not TrialState.PRUNED for r in finished):
        return None
    steps = [r.last_step for r in finished if r.last_step is not None]
    at_steps = f", after at most {max(steps)} step(s) each" if steps else ""
    return Finding(
        code=ALL_TRIALS_PRUNED,
        title="Every trial was pruned",
        severity=WARNING,
        evidence=f"All {len(finished)} finished trials were pruned{at_steps}; none completed.",
        advice=(
            "The pruner stops everything: let it wait longer (n_warmup_steps and "
            "n_startup_trials for median/percentile, min_resource for asha/hyperband), or use "
            "pruner: none until a few trials have completed."
        ),
    )


def detect_most_pruned(records: Sequence[TrialRecord]) -> Finding | None:
    """More than MOST_PRUNED_FRACTION of the finished trials were pruned, not all of them."""
    carried_on = continued_trials(list(records))
    finished = [r for r in _finished_by_themselves(records) if r.number not in carried_on]
    pruned = [r for r in finished if r.state is TrialState.PRUNED]
    if len(finished) < MOST_PRUNED_MIN_FINISHED or len(pruned) == len(finished):
        return None
    if len(pruned) <= MOST_PRUNED_FRACTION * len(finished):
        return None
    completed = sum(r.state is TrialState.COMPLETE for r in finished)
    return Finding(
        code=MOST_TRIALS_PRUNED,
        title="Most trials were pruned",
        severity=INFO,
        evidence=(
            f"{len(pruned)} of {len(finished)} finished trials "
            f"({_percent(len(pruned) / len(finished))}) were pruned: {_stops_text(pruned)}; "
            f"{completed} completed."
        ),
        advice=(
            "Most of the budget went to trials judged on their first steps. If early values do "
            "not predict final ones (compare them with plot_intermediate_values), prune later "
            "or less: more warm-up (n_warmup_steps and n_startup_trials for median/percentile), "
            "a larger min_resource or a smaller reduction_factor for asha/hyperband, or a "
            "gentler rule (pruner: percentile with percentile: 75 keeps the best three quarters)."
        ),
    )


def _finished_by_themselves(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The finished trials, but those pruned because the user asked: what the pruner judged."""
    return [r for r in records if r.state.is_finished() and not pruned_on_request(r)]


def _stops_text(pruned: Sequence[TrialRecord]) -> str:
    """``40 at step 1, 15 at step 3``: how many pruned trials stopped at each last step."""
    stops = Counter(r.last_step for r in pruned)
    parts = [f"{stops[None]} before any report"] if None in stops else []
    steps = sorted(step for step in stops if step is not None)
    parts += [f"{stops[step]} at step {step}" for step in steps]
    return _shortened(parts, shown=6)


def detect_saturated_metric(
    ranked: Sequence[TrialRecord], direction: str, name: str
) -> Finding | None:
    """At least SATURATED_MIN_TIED completed trials tie at the best value, the metric's bound."""
    bound = 1.0 if direction == "maximize" else 0.0
    if not ranked or _value(ranked[0]) != bound:
        return None
    tied = [r for r in ranked if _value(r) == bound]
    if len(tied) < SATURATED_MIN_TIED:
        return None
    end = "ceiling" if direction == "maximize" else "floor"
    return Finding(
        code=METRIC_SATURATED,
        title=f"{name} saturated: many trials tie at its best possible value",
        severity=WARNING,
        evidence=(
            f"{len(tied)} of {len(ranked)} completed trials reach {name} = {_num(bound)}, the "
            f"metric's {end} (trials {_number_list(tied)}): it cannot rank them, so which one "
            f"is best is arbitrary (trial {tied[0].number}, the first to get there)."
        ),
        advice=(
            "Give the metric room to tell the trials apart: a harder or larger validation set, "
            "more data, or a finer metric (the validation loss instead of accuracy: metric: loss "
            "for a task); meanwhile choose among the tied trials by another criterion (training "
            "time, model size)."
        ),
    )


def detect_validation_too_small(ranked: Sequence[TrialRecord], name: str) -> Finding | None:
    """The SEPARATION_TOP best trials lie within SEPARATION_SE standard errors of the best
    value, for a proportion measured on a known number of validation examples."""
    top = ranked[:SEPARATION_TOP]
    if len(top) < SEPARATION_TOP:
        return None
    size = read_validation_size(top[0])
    values = [_value(r) for r in top]
    if size is None or not _is_proportion(values, size, name):
        return None
    best = values[0]
    error = math.sqrt(best * (1.0 - best) / size)
    gaps = [abs(value - best) for value in values[1:]]
    if error == 0.0 or max(gaps) > SEPARATION_SE * error:
        return None  # a best value of 0 or 1 has no spread: metric_saturated covers it
    runners_up = ", ".join(f"trial {r.number}: {_num(_value(r), 4)}" for r in top[1:])
    return Finding(
        code=VALIDATION_TOO_SMALL,
        title="Validation set too small to separate the best trials",
        severity=INFO,
        evidence=(
            f"The best trial ({top[0].number}) has {name} = {_num(best, 4)} on {size} validation "
            f"examples, a standard error of {_num(error)} (about {_num(error * size)} examples); "
            f"the next {len(gaps)} best ({runners_up}) lie within {_num(SEPARATION_SE)} standard "
            "error of it: another validation set of the same size could rank them otherwise."
        ),
        advice=(
            "Validate on more examples (four times as many halve the standard error, to "
            f"{_num(error / 2)}), or cross-validate (cv: 5 for a task, tunelab.cv for your own "
            "loop) so that every example validates once; compare the candidates on a finer "
            "metric (the validation loss), or score the best few on a larger held-out set "
            "before choosing one."
        ),
    )


def _value(record: TrialRecord) -> float:
    assert record.values, "ranked trials are completed"
    return record.values[0]


def _is_proportion(values: Sequence[float], size: int, name: str) -> bool:
    """Whether ``values`` are shares of ``size`` examples (an accuracy, an error rate): in
    [0, 1] and either whole counts of them or the values of an objective named accuracy."""
    if not all(0.0 <= value <= 1.0 for value in values):
        return False
    if PROPORTION_NAMES & set(re.split(r"[^a-z]+", name.lower())):
        return True
    tolerance = COUNT_TOLERANCE * size
    return all(abs(value * size - round(value * size)) <= tolerance for value in values)


def detect_pruner_never_consulted(
    records: Sequence[TrialRecord], pruner: str | None
) -> Finding | None:
    """The study has a pruner, its trials report values at several steps, and not one finished
    trial asked the pruner (``pruner``: the name the study keeps, or None if it keeps none)."""
    if pruner is None or pruner == NO_PRUNER:
        return None
    finished = [r for r in records if r.state.is_finished()]
    if any(PRUNER_CONSULTED_ATTR in r.system_attrs for r in finished):
        return None
    stepped = [r for r in finished if len(r.intermediate_values) >= PRUNABLE_MIN_STEPS]
    if len(stepped) < CONSULT_MIN_TRIALS:
        return None
    last = max(max(r.intermediate_values) for r in stepped)
    return Finding(
        code=PRUNER_NEVER_CONSULTED,
        title="The pruner was never asked: no trial called should_prune()",
        severity=WARNING,
        evidence=(
            f"The study's pruner is {pruner}, and {len(stepped)} of {len(finished)} finished "
            f"trials reported values at {PRUNABLE_MIN_STEPS} or more steps (up to step {last}), "
            "but none called trial.should_prune(): the pruner never judged a trial, so none was "
            "stopped early by it."
        ),
        advice=(
            "After each trial.report(value, step), ask the pruner: if trial.should_prune(): "
            "raise tunelab.TrialPruned(). (tunelab's Trainer and callbacks do it for you.) If "
            "you stop trials by a rule of your own, create the study with pruner='none'."
        ),
    )


def detect_pruning_without_pruner(
    records: Sequence[TrialRecord], n_objectives: int
) -> Finding | None:
    """Finished trials asked ``should_prune()`` where it can only say False: the study had no
    pruner, or has several objectives."""
    finished = [r for r in records if r.state.is_finished()]
    multi = n_objectives > 1
    asked = [
        r for r in _finished_by_themselves(records)
        if PRUNER_CONSULTED_ATTR in r.system_attrs
        and (multi or r.system_attrs[PRUNER_CONSULTED_ATTR] == NO_PRUNER)
    ]
    if not asked:
        return None
    why = (
        f"the study has {n_objectives} objectives, and a pruner judges one reported value"
        if multi
        else f"the study had no pruner (pruner='{NO_PRUNER}')"
    )
    advice = (
        "Pruners judge one value: to stop poor trials early, prune in a single-objective study "
        "(one per objective, or one objective that weighs them); otherwise the should_prune() "
        "calls can go."
        if multi
        else "If poor trials should stop early, give the study a pruner: create_study(..., "
        "pruner='median') (the default), or asha, hyperband, percentile; if every trial should "
        "run to its end, nothing needs to change."
    )
    return Finding(
        code=PRUNING_WITHOUT_PRUNER,
        title="should_prune() was asked where no pruner can answer",
        severity=INFO,
        evidence=(
            f"{len(asked)} of {len(finished)} finished trials called trial.should_prune() "
            f"(trials {_number_list(asked)}), but {why}: every answer was False, and no trial "
            "was stopped early."
        ),
        advice=advice,
    )


def detect_no_telemetry(records: Sequence[TrialRecord]) -> Finding | None:
    """Completed or pruned trials that recorded no telemetry: their training was not checked."""
    trained = _trained(records)
    unseen = [r for r in trained if not _seen(r)]
    if not unseen:
        return None
    return Finding(
        code=NO_TELEMETRY,
        title="Not checked: no training telemetry",
        severity=INFO,
        evidence=(
            f"{len(unseen)} of {len(trained)} completed or pruned trials (trials "
            f"{_number_list(unseen)}) recorded no per-epoch telemetry: their training (losses, "
            "gradients, activations) could not be checked, only their states, values, "
            f"parameters and failures.{_per_fold_note(unseen)}"
        ),
        advice=NO_TELEMETRY_ADVICE,
    )


def _trained(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The trials whose training ran its course or was stopped by the pruner: the ones that
    telemetry would show (a failed trial's failure is judged by its own findings)."""
    return [r for r in records if r.state in (TrialState.COMPLETE, TrialState.PRUNED)]


# --- verdicts -------------------------------------------------------------------------------


def study_verdict(findings: Sequence[Finding], records: Sequence[TrialRecord]) -> str:
    """One line on the study as a whole: its study findings counted, and whether its trials'
    training could be checked. ``findings``: :func:`diagnose_study`'s; ``records``: the
    study's trials."""
    finished = [r for r in records if r.state.is_finished()]
    if not finished:
        return "no trial has finished yet, so there is nothing to check."
    problems = [f for f in findings if f.trial is None and f.code != NO_TELEMETRY]
    trained = _trained(finished)
    unseen = [r for r in trained if not _seen(r)]
    counted = _count(len(finished), "finished trial")
    if not unseen:
        return f"{counted} checked, {_found(problems)}."
    shown = (
        _count(len(problems), "finding")
        if problems
        else "whose states, values, parameters and pruning show no problem"
    )
    return (
        f"{counted}, {shown}; their training was not checked (no telemetry for {len(unseen)} "
        f"of {_count(len(trained), 'completed or pruned trial')})."
    )


def trials_verdict(findings: Sequence[Finding], records: Sequence[TrialRecord]) -> str:
    """One line on the diagnosed trials ``records``: their findings counted, and which of them
    could not be checked (no telemetry)."""
    if not records:
        return "no trial to diagnose."
    problems = [f for f in findings if f.trial is not None and f.code != NO_TELEMETRY]
    unseen = [r for r in records if not _seen(r)]
    if not unseen:
        return f"{_count(len(records), 'trial')} checked, {_found(problems)}."
    not_checked = (
        "not checked (no telemetry)"
        if len(records) == 1
        else f"not checked (no telemetry) for {len(unseen)} of {_count(len(records), 'trial')}"
    )
    if len(unseen) == len(records):
        recorded = f"; {_count(len(problems), 'finding')} from what else they recorded"
        return f"{not_checked}{recorded if problems else ''}."
    checked = len(records) - len(unseen)
    return (
        f"{checked} of {_count(len(records), 'trial')} checked, {_found(problems)}; "
        f"not checked (no telemetry): {'trial' if len(unseen) == 1 else 'trials'} "
        f"{_number_list(unseen)}."
    )


def _found(problems: Sequence[Finding]) -> str:
    return _count(len(problems), "finding") if problems else "no problems found"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# --- rendering ------------------------------------------------------------------------------


def findings_table(
    findings: Sequence[Finding], title: str | None = "Training doctor"
) -> Table:
    """The findings as a rich table (needs the ``cli`` extra); ``title=None`` leaves the
    title out, for a table under a heading of its own."""
    try:
        from rich.table import Table
        from rich.text import Text
    except ImportError as error:
        raise MissingExtraError("rich", "cli", "findings_table()") from error
    table = Table(title=title, show_lines=True, caption=None if findings else "No problems found.")
    for column in ("Where", "Finding", "Evidence", "Advice"):
        table.add_column(column, overflow="fold")
    for finding in findings:
        style = "yellow" if finding.severity == WARNING else "cyan"
        # Text, not markup: evidence quotes ranges such as [0, 1] and users' error messages.
        table.add_row(
            Text(finding.where),
            Text.assemble(
                (finding.severity, style), " ", finding.title, "\n", (finding.code, "dim")
            ),
            Text(finding.evidence),
            Text(finding.advice),
        )
    return table


# --- formatting -----------------------------------------------------------------------------


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _num(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g}"


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.3g}%"


def _shortened(items: Sequence[str], separator: str = ", ", shown: int = 4) -> str:
    """``items`` joined, the middle ones left out when there are more than ``shown``."""
    if len(items) <= shown:
        return separator.join(items)
    return separator.join([*items[:shown - 1], "...", items[-1]])


def _number_list(records: Sequence[TrialRecord]) -> str:
    return _shortened([str(r.number) for r in records], shown=8)


def _lr_hint(run: TrainingRun, higher: bool = False) -> str:
    """``lr: <10x lower>`` (or higher) from the run's own learning rate, where it is known."""
    if run.lr is None:
        return "lr 10x " + ("higher" if higher else "lower")
    return f"lr: {_num(run.lr * 10 if higher else run.lr / 10)} instead of {_num(run.lr)}"


__all__ = [
    "Finding",
    "diagnose_study",
    "diagnose_trial",
    "findings_table",
    "study_verdict",
    "trials_verdict",
]
