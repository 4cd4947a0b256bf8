"""Training a population: K members of one architecture in one fused network.

A member is what :class:`~tunelab.torch.trainer.Trainer` trains alone: a model, a recipe and
a trial to report to. The population trains them together and each member follows its own
recipe: learning rate and schedule, momentum and betas, weight decay, L1, label smoothing,
initialization, dropout rate, gradient clipping, augmentation, early stopping, epochs, seed.
What one step does for all members at once must be shared (:data:`SHARED_FIELDS`: batch size,
optimizer, loss, metric, normalization, device).

Members may differ in widths: each is then zero-padded to the widest, and its gradients are
masked so that its padding never moves (:mod:`~tunelab.torch.fused.padding`); its telemetry
describes its own units only, and its weights come back in its own shapes.

Each member draws its own batches (its seed's order) and, without dropout, ends with the weights
it would have alone (with dropout, the population draws its own masks, over padded shapes).
Members leave at the end of the epoch in which they finish, stop early or are pruned, and are
handed back at once: the population is then compacted, and narrowed to its widest remaining
member, so that a stopped member costs nothing more. A member whose loss stops being finite is
masked (it no longer moves) until the end of that epoch and fails as it would alone. Every
member reports each epoch, with its telemetry, to its trial, whose pruner judges it there.

Costs (:mod:`tunelab.torch.costs`). A member's epoch time is the population's epoch time divided
equally among the members that trained in that epoch: each of them took the same steps on
batches of one size at the population's (padded) widths, so each caused an equal part of the
work, whatever its own width. Its training time is the sum of those shares; its peak memory is
the population's. Limits on the training are checked for each member after every epoch, and a
member over one leaves the population then, with the breach in its result.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from tunelab.exceptions import TrialPruned
from tunelab.telemetry import EpochTelemetry
from tunelab.torch import costs
from tunelab.torch import metrics as metric_functions
from tunelab.torch.augment import Augmenter
from tunelab.torch.costs import Breach, Limits
from tunelab.torch.data import DataSplit
from tunelab.torch.fused.network import FusedNetwork, FusionError, Pass
from tunelab.torch.fused.optim import PopulationOptimizer
from tunelab.torch.init import initialize
from tunelab.torch.optim import resolve_loss
from tunelab.torch.recipe import Recipe
from tunelab.torch.schedules import PlateauReducer, lr_factor, moves_within_epochs
from tunelab.torch.telemetry import GradientNorms, describe_activations, peak_memory_mb
from tunelab.torch.trainer import (
    EVAL_CHUNK,
    BestTracker,
    FitResult,
    ReportingTrial,
    check_output_shape,
    in_target_units,
    patience_ran_out,
    prepare_data,
    record_divergence,
    record_validation_size,
    report_epoch,
    resolve_device,
    resolve_metric,
    save_artifacts,
)

SHARED_FIELDS = ("batch_size", "optimizer", "nesterov", "loss", "metric", "normalization", "device")
# Per-member numbers the step reads as tensors.
PER_MEMBER = ("lr", "l1", "label_smoothing", "grad_clip_value", "grad_clip_norm")

Outcome = FitResult | BaseException
OnDone = Callable[[int, Outcome], None]


def fusion_blocker(recipe: Recipe) -> str | None:
    """What keeps a recipe from training in a population, or None."""
    if recipe.mixed_precision:
        return "mixed_precision"
    if (
        recipe.precision != "fp32"
        or recipe.compile
        or recipe.channels_last
        or recipe.gradient_accumulation_steps > 1
    ):
        return "speed settings (precision, compile, channels_last, gradient_accumulation_steps)"
    if recipe.pretrained is not None or recipe.freeze or recipe.lr_multipliers:
        return "transfer learning (pretrained, freeze, lr_multipliers)"
    return None


def shared_settings(recipe: Recipe) -> tuple[object, ...]:
    """The recipe fields that members of one population must share."""
    return tuple(getattr(recipe, name) for name in SHARED_FIELDS)


@dataclass
class _Member:
    index: int  # the member's position in the trainer's models, recipes and trials
    recipe: Recipe
    trial: ReportingTrial | None
    generator: torch.Generator
    augmenter: Augmenter | None
    tracker: BestTracker
    plateau: PlateauReducer
    history: list[EpochTelemetry] = field(default_factory=list)
    failure: FloatingPointError | None = None
    breach: Breach | None = None


@dataclass
class _Epoch:
    """What a training epoch leaves for the epoch's end: per-member sums and outputs."""

    loss: list[float]
    outputs: torch.Tensor  # (K, N, outputs), in the order each member saw the samples
    targets: torch.Tensor  # (K, N, ...)
    lr: list[float]


class PopulationTrainer:
    """Train ``models[k]`` on ``data`` as ``recipes[k]`` says, reporting to ``trials[k]``.

    The models must share an architecture up to widths (see
    :func:`~tunelab.torch.fused.padding.architecture_signature`) and the recipes
    :data:`SHARED_FIELDS`; otherwise, or for a layer that does not fuse, a
    :class:`~tunelab.torch.fused.network.FusionError` says why before anything trains.
    ``artifact_dirs[k]`` (or None) receives member k's best weights and recipe, as with the
    ordinary trainer. After :meth:`fit`, each model holds its member's final weights (the best
    ones when its recipe restores them), in its own shapes.
    """

    def __init__(
        self,
        models: Sequence[nn.Module],
        data: DataSplit,
        recipes: Sequence[Recipe],
        *,
        trials: Sequence[ReportingTrial | None] | None = None,
        artifact_dirs: Sequence[Path | None] | None = None,
        telemetry: bool = True,
        limits: Limits | None = None,
    ) -> None:
        size = len(models)
        assert size >= 1 and len(recipes) == size, "one recipe per model"
        trials = list(trials) if trials is not None else [None] * size
        self.artifact_dirs = list(artifact_dirs) if artifact_dirs is not None else [None] * size
        _check_recipes(recipes)
        first = recipes[0]
        self.models = list(models)
        self.telemetry = telemetry
        self.limits = limits or Limits({})
        self.device = resolve_device(first.device)
        self.data, self.target_scale = prepare_data(data, first.normalization, self.device)
        self.loss_name = resolve_loss(first, data.task)
        self.metric = resolve_metric(first.metric, data.task)
        higher_is_better = metric_functions.HIGHER_IS_BETTER[self.metric]
        self.members = [
            _new_member(index, recipe, trial, higher_is_better, tuple(data.input_shape))
            for index, (recipe, trial) in enumerate(zip(recipes, trials))
        ]
        for model, recipe in zip(self.models, recipes):
            torch.manual_seed(recipe.seed)  # as the ordinary trainer, so weights start alike
            initialize(model, recipe.init, scale=recipe.init_scale)
            model.to(self.device)
        check_output_shape(self.models[0], self.data, self.loss_name)
        self.network = FusedNetwork(self.models)
        self.tensors = self.network.stack(self.models)
        self.padding = self.network.padding
        """The current members' shapes, narrowed as members leave."""
        self.masks = self._masks()
        # Per-member numbers in the weights' own type: the step then never converts them.
        dtype = self.tensors[self.network.parameter_names[0]].dtype
        self.dropout = {n: r.to(self.device, dtype) for n, r in self.network.dropout.items()}
        self.per_member = {
            name: torch.tensor([float(getattr(r, name)) for r in recipes], dtype=dtype,
                               device=self.device)
            for name in PER_MEMBER
        }
        self.switched_on = self._switched_on()
        self.alive: torch.Tensor | None = None
        """Which members still move, while some diverged in this epoch; None: all do."""
        self.optimizer = PopulationOptimizer(recipes, self.device)
        self.member_steps = 0
        """Training steps summed over members: what the population computed."""
        self.epochs_reported = 0
        """The last epoch whose results went to the members' trials (0: none yet)."""

    def fit(self, on_done: OnDone | None = None) -> list[Outcome]:
        """Train until every member finished, stopped early, failed or was pruned.

        Returns each member's outcome, in member order: a FitResult, a TrialPruned or the
        FloatingPointError of a diverged member; ``on_done(k, outcome)`` hears of each member
        as soon as it leaves the population.
        """
        outcomes: list[Outcome | None] = [None] * len(self.models)
        steps_per_epoch = math.ceil(len(self.data.x_train) / self.members[0].recipe.batch_size)
        gradients = GradientNorms(self.network.parameter_names, steps_per_epoch)
        for member in self.members:
            record_validation_size(member.trial, self.data)
        epoch = 0
        while self.members:
            epoch += 1
            started = costs.clock()
            trained = self._train_epoch(epoch, steps_per_epoch, gradients)
            recorded: dict[str, torch.Tensor] | None = {} if self.telemetry else None
            val_outputs = self._outputs(self.data.x_val, self.tensors, len(self.members), recorded)
            positions = list(range(len(self.members)))
            val = self._evaluation(val_outputs, self.data.y_val, positions, (self.metric,))
            seconds = costs.clock() - started
            self._record_epoch(epoch, trained, val, seconds, gradients, recorded)
            self.epochs_reported = epoch
            stopped = []
            for position, member in enumerate(self.members):
                ended, outcome = self._end_epoch(member, position, epoch)
                if ended:
                    stopped.append((position, outcome))
            if stopped:
                self._leave(stopped, outcomes, on_done, gradients)
        assert all(outcome is not None for outcome in outcomes)
        return outcomes  # type: ignore[return-value]

    # One epoch -----------------------------------------------------------------------------

    def _train_epoch(self, epoch: int, steps_per_epoch: int, gradients: GradientNorms) -> _Epoch:
        members, data = self.members, self.data
        orders = torch.stack(
            [torch.randperm(len(data.x_train), generator=m.generator) for m in members]
        ).to(self.device)
        rates = _LearningRates(members, self.per_member["lr"], epoch, steps_per_epoch)
        augmented = [(p, m.augmenter, m) for p, m in enumerate(members) if m.augmenter is not None]
        loss_sum = torch.zeros(len(members), dtype=torch.float64, device=self.device)
        outputs_seen = []
        for index, batch in enumerate(orders.split(members[0].recipe.batch_size, dim=1)):
            inputs, targets = data.x_train[batch], data.y_train[batch]
            for position, augmenter, member in augmented:
                inputs[position] = augmenter(inputs[position], member.generator)
            losses, outputs = self._step(inputs, targets, rates.at(index), epoch, index, gradients)
            loss_sum += losses * batch.shape[1]
            outputs_seen.append(outputs)
            self.member_steps += len(members) if self.alive is None else int(self.alive.sum())
        return _Epoch(
            loss=(loss_sum / orders.shape[1]).tolist(),
            outputs=torch.cat(outputs_seen, dim=1),
            targets=data.y_train[orders],
            lr=rates.latest(),
        )

    def _step(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        lr: torch.Tensor,
        epoch: int,
        index: int,
        gradients: GradientNorms,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        run = Pass(self.tensors, len(self.members), True, self.dropout)
        outputs = self.network(inputs, run)
        losses = member_losses(outputs, targets, self.loss_name, self.per_member["label_smoothing"])
        objective = losses
        if self.switched_on["l1"]:
            objective = objective + self.per_member["l1"].to(losses.dtype) * self._l1_penalty()
        # One check a step, as the ordinary trainer's loss.item() is.
        if not bool(torch.isfinite(losses.detach()).all()):
            self._note_divergence(losses.detach(), epoch, index)
        if self.alive is not None:  # diverged members neither pass gradients nor move
            objective = torch.where(self.alive, objective, torch.zeros_like(objective))
            lr = torch.where(self.alive, lr, torch.zeros_like(lr))
        parameters = [self.tensors[name] for name in self.network.parameter_names]
        for parameter in parameters:
            parameter.grad = None
        objective.sum().backward()
        for name, mask in self.masks.items():  # padding neither moves nor counts in norms
            gradient = self.tensors[name].grad
            if gradient is not None:
                gradient.mul_(mask)
        if self.telemetry and index % gradients.every == 0:
            gradients.add(_member_norms(parameters))
        self._clip_gradients(parameters)
        self.optimizer.step(dict(zip(self.network.parameter_names, parameters)), lr.tolist())
        return losses.detach().double(), outputs.detach()

    def _note_divergence(self, losses: torch.Tensor, epoch: int, index: int) -> None:
        """Fail the members whose loss stopped being finite, noting where on their trials, as
        the ordinary trainer does; mask them until the epoch ends."""
        for position in (~torch.isfinite(losses)).nonzero().flatten().tolist():
            member = self.members[position]
            if member.failure is None:
                loss = losses[position].item()
                member.failure = record_divergence(
                    member.trial, loss, epoch, index + 1, member.recipe.lr
                )
        alive = [member.failure is None for member in self.members]
        self.alive = torch.tensor(alive, device=self.device)

    def _l1_penalty(self) -> torch.Tensor:
        """Per member, the sum of absolute weights (biases and norm scales excluded)."""
        stacked = [self.tensors[name] for name in self.network.parameter_names]
        weights = [tensor for tensor in stacked if tensor.dim() > 2]
        return torch.stack([w.abs().flatten(1).sum(dim=1) for w in weights]).sum(dim=0)

    def _clip_gradients(self, parameters: list[torch.Tensor]) -> None:
        """Each member's clipping, as ``clip_grad_value_`` then ``clip_grad_norm_`` do."""
        value, norm = self.per_member["grad_clip_value"], self.per_member["grad_clip_norm"]
        grads = [p.grad for p in parameters if p.grad is not None]
        if self.switched_on["grad_clip_value"]:
            bound = torch.where(value > 0, value, torch.full_like(value, math.inf))
            for grad in grads:
                shaped = stacked_view(bound, grad)
                grad.clamp_(min=-shaped, max=shaped)
        if self.switched_on["grad_clip_norm"]:
            norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads])
            total = norms.square().sum(dim=0).sqrt()
            scale = (norm / (total + 1e-6)).clamp(max=1.0)
            scale = torch.where(norm > 0, scale, torch.ones_like(scale))
            for grad in grads:
                grad.mul_(stacked_view(scale, grad))

    def _record_epoch(
        self,
        epoch: int,
        trained: _Epoch,
        val: list[dict[str, float]],
        seconds: float,
        gradients: GradientNorms,
        recorded: dict[str, torch.Tensor] | None,
    ) -> None:
        """Append the epoch's telemetry to the history of every member still training.

        A member's ``epoch_time`` is its equal share of the fused epoch's time (see the module
        docstring).
        """
        size = len(self.members)
        means = gradients.epoch_means()
        layers = gradients.layer_names
        memory = peak_memory_mb(self.device)
        for position, member in enumerate(self.members):
            if member.failure is not None:
                continue
            outputs, targets = trained.outputs[position], trained.targets[position]
            train = self._metrics(outputs, targets, (self.metric,))
            member.history.append(EpochTelemetry(
                epoch=epoch,
                train_loss=trained.loss[position],
                val_loss=val[position]["loss"],
                train_metric=train[self.metric],
                val_metric=val[position][self.metric],
                lr=trained.lr[position],
                epoch_time=seconds / size,
                peak_memory_mb=memory,
                grad_norm={} if means is None else dict(zip(layers, means[:, position].tolist())),
                activations=describe_activations(
                    {name: self._own_units(name, outputs[position], position)
                     for name, outputs in (recorded or {}).items()},
                    self.network.recorded,
                ),
                finished_at=time.time(),
            ))

    def _own_units(self, layer: str, outputs: torch.Tensor, position: int) -> torch.Tensor:
        """A recorded layer's outputs (N, units, ...) for the member at ``position``, without
        its padded units."""
        source = self.network.recorded_widths.get(layer)
        return outputs[:, : self.padding.own_units(source, position, outputs.shape[1])]

    def _end_epoch(self, member: _Member, position: int, epoch: int) -> tuple[bool, Outcome | None]:
        """Report the member's epoch: (whether it leaves, its outcome unless it finished)."""
        if member.failure is not None:
            return True, member.failure
        value = member.history[-1].val_metric
        improved = member.tracker.update(value, epoch, lambda: self._member_state(position))
        member.plateau.end_epoch(value)
        if report_epoch(member.trial, epoch, value, member.history if self.telemetry else None):
            return True, TrialPruned(f"pruned after epoch {epoch} with {self.metric}={value:.4g}")
        recipe = member.recipe
        member.breach = self.limits.training_breach(member.history, recipe.epochs)
        stalled = not improved and patience_ran_out(recipe, epoch - member.tracker.best_epoch)
        return epoch >= recipe.epochs or stalled or member.breach is not None, None

    # Leaving ------------------------------------------------------------------------------

    def _leave(
        self,
        stopped: list[tuple[int, Outcome | None]],
        outcomes: list[Outcome | None],
        on_done: OnDone | None,
        gradients: GradientNorms,
    ) -> None:
        """Finish the members that stopped, tell ``on_done``, and compact the population."""
        finished = [position for position, outcome in stopped if outcome is None]
        final = {position: self._final_state(position, position in finished)
                 for position, _ in stopped}
        tests = self._test_results(finished, final)
        for position, outcome in stopped:
            member = self.members[position]
            self.models[member.index].load_state_dict(final[position])
            if outcome is None:
                outcome = self._result(member, final[position], tests.get(position, {}))
            outcomes[member.index] = outcome
            if on_done is not None:
                on_done(member.index, outcome)
        leaving = {position for position, _ in stopped}
        self._keep([p for p in range(len(self.members)) if p not in leaving], gradients)

    def _final_state(self, position: int, finished: bool) -> dict[str, torch.Tensor]:
        member = self.members[position]
        best = member.tracker.best_state
        if finished and member.recipe.restore_best and best is not None:
            return best
        return self._member_state(position)

    def _test_results(
        self, finished: list[int], final: dict[int, dict[str, torch.Tensor]]
    ) -> dict[int, dict[str, float]]:
        """Loss and every metric on the test split for the finished members, in one pass."""
        if not finished or not len(self.data.x_test):
            return {}
        stacked = self.padding.keep(finished).stack([final[p] for p in finished])
        outputs = self._outputs(self.data.x_test, stacked, len(finished), None)
        results = self._evaluation(outputs, self.data.y_test, finished, None)
        return dict(zip(finished, results))

    def _result(
        self, member: _Member, weights: dict[str, torch.Tensor], test: dict[str, float]
    ) -> FitResult:
        artifact_dir = self.artifact_dirs[member.index]
        if artifact_dir is not None:
            best = member.tracker.best_state or weights
            save_artifacts(Path(artifact_dir), best, member.recipe, member.trial)
        return FitResult(
            metric=self.metric,
            best_value=member.tracker.best_value,
            best_epoch=member.tracker.best_epoch,
            epochs_run=len(member.history),
            stopped_early=len(member.history) < member.recipe.epochs,
            history=tuple(member.history),
            test=test,
            breach=member.breach,
        )

    def _switched_on(self) -> dict[str, bool]:
        """For L1 and clipping, whether any member uses it (else the step skips it)."""
        return {name: bool((self.per_member[name] > 0).any())
                for name in ("l1", "grad_clip_value", "grad_clip_norm")}

    def _keep(self, positions: list[int], gradients: GradientNorms) -> None:
        """Compact the population to the members at ``positions``."""
        self.members = [self.members[p] for p in positions]
        self.alive = None
        if not positions:
            return
        index = torch.tensor(positions, device=self.device)
        self.padding = self.padding.keep(positions)
        parameters = set(self.network.parameter_names)
        self.tensors = {
            name: self.padding.narrow(name, t.detach()[index]).requires_grad_(name in parameters)
            for name, t in self.tensors.items()
        }
        self.masks = self._masks()
        self.dropout = {name: rates[index] for name, rates in self.dropout.items()}
        self.per_member = {name: values[index] for name, values in self.per_member.items()}
        self.switched_on = self._switched_on()
        self.optimizer.keep(index, self.padding.narrow)
        gradients.keep_members(index)

    def _masks(self) -> dict[str, torch.Tensor]:
        """For each parameter some member holds padded, where its own entries are."""
        names = self.network.parameter_names
        return self.padding.masks(names, self.tensors[names[0]].detach())

    # Evaluation ---------------------------------------------------------------------------

    @torch.no_grad()
    def _outputs(
        self,
        x: torch.Tensor,
        tensors: dict[str, torch.Tensor],
        size: int,
        record: dict[str, torch.Tensor] | None,
    ) -> torch.Tensor:
        """Every member's outputs (K, N, outputs) for the shared inputs ``x``, in eval mode."""
        chunks = []
        for chunk in x.to(self.device).split(EVAL_CHUNK):
            run = Pass(tensors, size, False, self.dropout, record)
            chunks.append(self.network(chunk.expand(size, *chunk.shape), run))
        return torch.cat(chunks, dim=1).float()

    def _evaluation(
        self,
        outputs: torch.Tensor,
        targets: torch.Tensor,
        member_positions: list[int],
        names: tuple[str, ...] | None,
    ) -> list[dict[str, float]]:
        """Loss and metrics (``names``, or all) of the given members' outputs (K', N, ...)."""
        smoothing = self.per_member["label_smoothing"][member_positions]
        shared = targets.expand(len(member_positions), *targets.shape)
        losses = member_losses(outputs, shared, self.loss_name, smoothing).tolist()
        results = []
        for member_outputs, loss in zip(outputs, losses):
            results.append({**self._metrics(member_outputs, targets, names), "loss": loss})
        return results

    def _metrics(
        self, outputs: torch.Tensor, targets: torch.Tensor, names: tuple[str, ...] | None
    ) -> dict[str, float]:
        return metric_functions.compute_metrics(
            self.data.task,
            in_target_units(outputs, self.target_scale),
            in_target_units(targets, self.target_scale),
            self.data.n_classes,
            names,
        )

    def _member_state(self, position: int) -> dict[str, torch.Tensor]:
        return self.padding.member(self.tensors, position)


def member_losses(
    outputs: torch.Tensor, targets: torch.Tensor, loss_name: str, label_smoothing: torch.Tensor
) -> torch.Tensor:
    """Each member's mean loss (K,) over its batch: outputs (K, B, ...), targets (K, B, ...).

    The same numbers as the ordinary trainer's loss functions, one member at a time;
    ``label_smoothing`` (K,) applies to cross-entropy.
    """
    size, batch = outputs.shape[:2]
    if loss_name == "cross_entropy":
        # log_softmax's kernel is slow along a short last dimension; this is the same number.
        log_probabilities = outputs - outputs.logsumexp(dim=-1, keepdim=True)
        picked = -log_probabilities.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        uniform = -log_probabilities.mean(dim=-1)
        smoothing = label_smoothing.to(picked.dtype).unsqueeze(1)
        return ((1.0 - smoothing) * picked + smoothing * uniform).mean(dim=1)
    if loss_name == "bce":
        per_sample = F.binary_cross_entropy_with_logits(
            outputs[..., 0], targets.to(outputs.dtype), reduction="none"
        )
    else:
        functions: dict[str, Callable[..., torch.Tensor]] = {
            "mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss
        }
        function = functions[loss_name]
        per_sample = function(outputs, targets.to(outputs.dtype), reduction="none")
    return per_sample.reshape(size, -1).mean(dim=1)


class _LearningRates:
    """Each member's learning rate at each step of one epoch, as its schedule sets it.

    Only members whose schedule moves within an epoch are recomputed at each step; the
    others keep the rate of the epoch's first step (times their plateau factor).
    """

    def __init__(
        self, members: list[_Member], base: torch.Tensor, epoch: int, steps_per_epoch: int
    ) -> None:
        self.members = members
        self.base = base
        self.first_step = (epoch - 1) * steps_per_epoch
        self.steps_per_epoch = steps_per_epoch
        self.factors = [self._factor(member, 0) for member in members]
        self.moving = [p for p, m in enumerate(members) if moves_within_epochs(m.recipe)]
        self.rates = self._rates()

    def at(self, index: int) -> torch.Tensor:
        """The rates (K,) of the epoch's step ``index``."""
        if index > 0 and self.moving:
            for position in self.moving:
                self.factors[position] = self._factor(self.members[position], index)
            self.rates = self._rates()
        return self.rates

    def latest(self) -> list[float]:
        return self.rates.tolist()

    def _factor(self, member: _Member, index: int) -> float:
        step = self.first_step + index
        return lr_factor(member.recipe, step, self.steps_per_epoch) * member.plateau.factor

    def _rates(self) -> torch.Tensor:
        factors = torch.tensor(self.factors, dtype=self.base.dtype, device=self.base.device)
        return self.base * factors


def stacked_view(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-member values (K,) shaped to broadcast over a stacked tensor (K, ...)."""
    return values.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


def _member_norms(parameters: list[torch.Tensor]) -> torch.Tensor:
    """Each member's gradient norm per stacked parameter, (P, K)."""
    return torch.stack([
        p.grad.flatten(1).norm(dim=1) if p.grad is not None else p.new_zeros(p.shape[0])
        for p in parameters
    ])


def _check_recipes(recipes: Sequence[Recipe]) -> None:
    for recipe in recipes:
        if (blocker := fusion_blocker(recipe)) is not None:
            raise FusionError(f"{blocker} is not supported in fused training")
    for name in SHARED_FIELDS:
        values = {repr(getattr(recipe, name)) for recipe in recipes}
        if len(values) > 1:
            raise FusionError(
                f"recipe field {name!r} differs between members ({', '.join(sorted(values))}); "
                "the members of one population share it."
            )


def _new_member(
    index: int,
    recipe: Recipe,
    trial: ReportingTrial | None,
    higher_is_better: bool,
    input_shape: tuple[int, ...],
) -> _Member:
    augmenter = recipe.augmenter()
    augmenter.check_input_shape(input_shape)
    return _Member(
        index=index,
        recipe=recipe,
        trial=trial,
        generator=torch.Generator().manual_seed(recipe.seed),
        augmenter=augmenter if augmenter.active else None,
        tracker=BestTracker(higher_is_better, recipe.early_stopping_min_delta),
        plateau=PlateauReducer(recipe, higher_is_better),
    )


