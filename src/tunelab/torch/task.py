"""Declarative training tasks: data, model, recipe and a search space, without writing Python.

A task is what a study file's ``task:`` section holds::

    task:
      data: {name: digits_images}
      model: {name: cnn, depth: 2}
      recipe: {epochs: 15, batch_size: 64}
      search:
        lr: {low: 1.0e-4, high: 1.0e-2, log: true}
        optimizer: [adam, sgd]
        momentum: {low: 0.0, high: 0.95, when: {optimizer: sgd}}
        model.channels: [16, 32, 64]

Search entries name a recipe field (``lr``) or a model option (``model.channels``); a list is
a categorical choice, a mapping with ``low``/``high`` a number range (``int`` when both bounds
are integers or ``type: int``), ``when`` makes an entry conditional on earlier ones. A task is
called like an objective: it suggests the parameters, builds the model, trains it with
:class:`~tunelab.torch.trainer.Trainer` and returns the best validation metric.

``cv: 5`` or ``cv: {folds: 5, stratified: true, seed: 0}`` cross-validates instead (see
:mod:`tunelab.cv`): the data's training and validation parts are merged and split into folds
(by class for classification, unless ``stratified: false``), a fresh model is trained per fold
with the same parameters, and the trial's value is the mean of the folds' best validation
metrics. The trial is reported to, and may be pruned, after each fold; the test part stays out
of every fold.

``objectives`` weighs the metric against costs of the model or its training (see
:mod:`tunelab.quantities`), each minimized, and makes the study multi-objective, its metric
names in the order given::

    objectives: [val_accuracy, parameters, inference_latency]

``limits`` bounds costs, in their units or with one: ``{parameters: 50k, peak_memory: 512MB,
train_seconds_per_epoch: 2s}``. Each limit is a named constraint of every trial (see
:mod:`tunelab.torch.costs`), which the constrained samplers use. A model over a limit on the
model's costs (parameters, FLOPs, inference latency) never trains; a training over a limit on
its time or memory stops at the end of the epoch in which it went over. Either way the trial
completes *infeasible*: never on the study's front, ranked by the samplers behind every trial
that meets the limits, and by how far it went over, so that they learn where the limits lie
(a pruned trial would teach NSGA-II nothing). It completes with the values it has: a refused
model's metric is that of a model that learned nothing, its training costs are zero, and the
limit it broke is its user attribute ``over_limit``. The measured costs are the user attribute
``costs`` of every trial.

:meth:`Task.validate` loads the data and builds and checks the model and recipe once, so that a
study file with a mistake fails before the first trial and before the storage is touched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunelab._attrs import (
    BEST_EPOCH_ATTR,
    COSTS_ATTR,
    EPOCHS_RUN_ATTR,
    OVER_LIMIT_ATTR,
    TEST_METRIC_PREFIX,
)
from tunelab._options import check_flag, check_int
from tunelab.cv import Fold, FoldTrial, cross_validate, k_fold_indices, stratified_k_fold_indices
from tunelab.exceptions import ConfigError, SearchSpaceError
from tunelab.quantities import COSTS
from tunelab.registry import did_you_mean, refuse_unknown
from tunelab.space import CategoricalDistribution, Distribution, FloatDistribution, IntDistribution
from tunelab.torch.costs import (
    MODEL_COSTS,
    Breach,
    Limits,
    UnmetLimitWarning,
    model_costs,
    training_costs,
)
from tunelab.torch.data import DataSplit, StreamedSplit, load_data
from tunelab.torch.metrics import CLASSIFICATION_METRICS, HIGHER_IS_BETTER, REGRESSION_METRICS
from tunelab.torch.models import build_model
from tunelab.torch.recipe import Recipe, field_names
from tunelab.torch.trainer import (
    FitResult,
    Trainer,
    resolve_device,
    resolve_metric,
    untrained_value,
)
from tunelab.trial import suggest

TASK_FIELDS = (
    "data", "model", "recipe", "search", "pretrain", "artifacts", "threads", "cv", "objectives",
    "limits",
)
PRETRAIN_FIELDS = ("data", "model", "recipe")
CV_FIELDS = ("folds", "stratified", "seed")
DEFAULT_ARTIFACTS = "tunelab-artifacts"
MODEL_PREFIX = "model."
METRIC_PREFIX = "val_"  # the metric's objective name: val_accuracy, val_mse, ...
SHIPPED_DATA_BYTES = 64 * 2**20

Values = float | tuple[float, ...]
logger = logging.getLogger("tunelab")


@dataclass(frozen=True)
class SearchParameter:
    """One searched field: its distribution and the earlier choices it depends on."""

    name: str
    distribution: Distribution
    when: Mapping[str, tuple[Any, ...]]

    def applies(self, chosen: Mapping[str, Any]) -> bool:
        return all(chosen.get(name) in allowed for name, allowed in self.when.items())

    def suggest(self, trial: Any) -> Any:
        return suggest(trial, self.name, self.distribution)


@dataclass(frozen=True)
class CrossValidation:
    """A task's ``cv`` entry: the number of folds, whether they are stratified by class (None:
    for classification tasks) and the seed that deals the rows to the folds."""

    folds: int = 5
    stratified: bool | None = None
    seed: int = 0


class Task:
    """A training task built from a study file's ``task:`` mapping (see the module docstring)."""

    def __init__(self, spec: Mapping[str, Any], *, base_dir: str | Path | None = None) -> None:
        spec = _mapping(spec, "task")
        refuse_unknown(spec, TASK_FIELDS, "task")
        if "data" not in spec:
            raise ConfigError(
                "task: 'data' is missing; name a data set, e.g. data: {name: digits}.",
                field="data",
            )
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        self.data_spec = spec["data"]
        self.model_spec = _model_mapping(spec.get("model", "mlp"))
        self.recipe = _recipe(spec.get("recipe", {}), "recipe")
        self.search = _parse_search(spec.get("search", {}))
        self.pretrain = _parse_pretrain(spec.get("pretrain"))
        self.artifacts = _artifacts(spec.get("artifacts", DEFAULT_ARTIFACTS))
        self.threads = _threads(spec.get("threads"))
        self.cv = _parse_cv(spec.get("cv"))
        self.objectives = _parse_objectives(spec.get("objectives"))
        self.limits = Limits.parse(spec.get("limits"))
        if self.cv is not None and (self.objectives or self.limits):
            raise ConfigError(
                "cv: costs (objectives, limits) are measured on one model and one training, "
                "and cross-validation trains one per fold; remove cv, or objectives and limits.",
                field="cv",
            )
        self._data: DataSplit | StreamedSplit | None = None

    @property
    def data(self) -> DataSplit | StreamedSplit:
        """The task's data: held in memory, or streamed from disk (see :func:`load_data`)."""
        if self._data is None:
            self._data = _load_cached(_json_key(self.data_spec), str(self.base_dir))
        return self._data

    def memory_data(self, purpose: str) -> DataSplit:
        """The task's data held in memory, which ``purpose`` needs; a ConfigError for data
        streamed from disk."""
        data = self.data
        if isinstance(data, StreamedSplit):
            raise ConfigError(
                f"data: {purpose} needs the data held in memory, but it is streamed from disk; "
                "set data: {stream: false} if it fits in memory.",
                field="data.stream",
            )
        return data

    def __getstate__(self) -> dict[str, Any]:
        """The task as worker processes receive it: with its data once loaded here, unless
        larger than SHIPPED_DATA_BYTES, so that a worker starts training without reading and
        splitting the data again, or importing what loads it (scikit-learn for the built-in
        data sets: a second of CPU per worker). Streamed data is opened again by each worker."""
        state = self.__dict__.copy()
        if isinstance(self._data, StreamedSplit) or (
            self._data is not None and _data_bytes(self._data) > SHIPPED_DATA_BYTES
        ):
            state["_data"] = None
        return state

    @property
    def metric(self) -> str:
        return resolve_metric(self.recipe.metric, self.data.task)

    @property
    def direction(self) -> str:
        """The metric's direction."""
        return "maximize" if HIGHER_IS_BETTER[self.metric] else "minimize"

    @property
    def objective_names(self) -> tuple[str, ...]:
        """The study's metric names: the task's objectives, else its validation metric."""
        return self.objectives or (METRIC_PREFIX + self.metric,)

    @property
    def directions(self) -> list[str]:
        """One direction per objective: the metric's own, and every cost minimized."""
        return ["minimize" if name in COSTS else self.direction for name in self.objective_names]

    @property
    def costs(self) -> tuple[str, ...]:
        """The costs a trial measures: those its objectives and limits name."""
        named = (*(self.objectives or ()), *self.limits.bounds)
        return tuple(dict.fromkeys(name for name in named if name in COSTS))

    def callbacks(self) -> list[Callable[..., None]]:
        """Callbacks for ``study.optimize`` that watch the trials of this task: a warning
        when no trial meets a limit (:class:`~tunelab.torch.costs.UnmetLimitWarning`).
        ``tunelab run`` passes them."""
        return [UnmetLimitWarning(self.limits)] if self.limits else []

    def validate(self) -> None:
        """Load the data and check model and recipe together with one value of every search
        entry (its lowest), so that mistakes surface before any trial runs.

        A model too large even with the lowest searched values fails here; one that only some
        trials draw too large fails those trials, each with the reason.
        """
        options: dict[str, Any] = {}
        for parameter in self.search:
            if parameter.applies(options):
                options[parameter.name] = _lowest(parameter.distribution)
        recipe, model_options = self.resolve(options)
        try:
            model = self.build_model(model_options, recipe)
        except ConfigError as error:
            if error.field not in options:
                raise
            # The file gives that value under search:, so that is the line to point at.
            raise ConfigError(str(error), field=f"search.{error.field}") from None
        Trainer(model, self.data, recipe, telemetry=False)
        if self.cv is not None:
            self.folds()
        self._check_metric_objective()

    def __call__(self, trial: Any) -> Values:
        self.use_threads()
        recipe, model_options = self.suggest(trial)
        if self.cv is not None:
            return self._cross_validate(trial, recipe, model_options)
        recipe = self.trial_recipe(recipe, trial)
        model = self.seeded_model(model_options, recipe)
        refused = self.refuse_over_limit(trial, model, recipe)
        if refused is not None:
            return refused
        result = Trainer(
            model,
            self.data,
            recipe,
            trial=trial,
            artifact_dir=self.artifact_dir(trial),
            checkpoint_dir=self._checkpoint_dir(trial),
            limits=self.limits,
        ).fit()
        return self.trial_value(trial, result, model, recipe)

    def fit_group(self, trials: list[Any], finish: Callable[[Any, Any], None]) -> None:
        """Train ``trials`` together where their models fuse (see :mod:`tunelab.torch.fused`);
        ``finish(trial, value or exception)`` hears of each one as it ends."""
        from tunelab.torch.fused import train_trials

        train_trials(self, trials, finish)

    def use_threads(self) -> None:
        """Apply the task's ``threads`` setting to this process."""
        if self.threads is not None:
            torch.set_num_threads(self.threads)

    def suggest(self, trial: Any) -> tuple[Recipe, dict[str, Any]]:
        """Suggest the trial's search values; the recipe and model options they make."""
        chosen: dict[str, Any] = {}
        for parameter in self.search:
            if parameter.applies(chosen):
                chosen[parameter.name] = parameter.suggest(trial)
        recipe, model_options = self.resolve(chosen)
        if self.pretrain is not None and recipe.pretrained is None:
            recipe = recipe.replace(pretrained=str(self.pretrained_weights()))
        return recipe, model_options

    @staticmethod
    def trial_recipe(recipe: Recipe, trial: Any) -> Recipe:
        """The recipe a trial trains with: seeded by its number, so trials differ."""
        return recipe.replace(seed=recipe.seed + trial.number)

    def seeded_model(self, model_options: Mapping[str, Any], recipe: Recipe) -> torch.nn.Module:
        """:meth:`build_model` with torch seeded by the recipe, so a trial rebuilds the same."""
        torch.manual_seed(recipe.seed)
        return self.build_model(model_options, recipe)

    def trial_value(
        self, trial: Any, result: FitResult, model: torch.nn.Module, recipe: Recipe
    ) -> Values:
        """Store a finished training's summary and costs on its trial; the trial's values."""
        _store_summary(trial, result)
        if not self.costs:
            return result.best_value
        costs = self._measure(model, recipe, [n for n in self.costs if n in MODEL_COSTS])
        costs.update(
            (name, value) for name, value in training_costs(result.history).items()
            if name in self.costs
        )
        # Limits on the training stopped it; the latency measured now may still be over.
        breach = result.breach or self.limits.breach(costs, "measured after training")
        return self._values(trial, result.best_value, costs, breach)

    def refuse_over_limit(
        self, trial: Any, model: torch.nn.Module, recipe: Recipe
    ) -> Values | None:
        """The values of a trial whose model is over a limit on the model's costs, recorded
        on the trial, which then never trains; None when the model may train."""
        if not self.limits.on_model:
            return None
        costs = self._measure(model, recipe, self.limits.on_model)
        breach = self.limits.breach(costs, "refused before training")
        if breach is None:
            return None
        others = [name for name in self.costs if name in MODEL_COSTS and name not in costs]
        costs.update(self._measure(model, recipe, others))
        return self._values(trial, untrained_value(self.data, recipe), costs, breach)

    def _measure(
        self, model: torch.nn.Module, recipe: Recipe, names: Sequence[str]
    ) -> dict[str, float]:
        """Costs of the model, on the trial's device (then the model goes back where it was,
        so that an untrained one trains as it would have)."""
        if not names:
            return {}
        data = self.data
        if isinstance(data, StreamedSplit):
            inputs = data.sample(recipe.batch_size)
        else:
            inputs = data.x_val if len(data.x_val) else data.x_train
        home = next(model.parameters(), torch.empty(0)).device
        model.to(resolve_device(recipe.device))
        try:
            return model_costs(model, names, inputs[:1], inputs[: recipe.batch_size])
        finally:
            model.to(home)

    def _values(
        self, trial: Any, metric: float, costs: dict[str, float], breach: Breach | None
    ) -> Values:
        """Record the measured ``costs``, the limits' constraints and ``breach`` on the
        trial; its values, one per objective (zero for a cost of a training that never ran)."""
        _store_costs(trial, costs, self.limits.constraints(costs), breach)
        if self.objectives is None:
            return metric
        return tuple(
            costs.get(name, 0.0) if name in COSTS else metric for name in self.objectives
        )

    def _check_metric_objective(self) -> None:
        if self.objectives is None:
            return
        given = next(name for name in self.objectives if name not in COSTS)
        expected = METRIC_PREFIX + self.metric
        if given != expected:
            raise ConfigError(
                f"objectives: {given!r} is not this task's metric, which is {self.metric!r} "
                f"(recipe field 'metric'); write {expected!r}, or set the recipe's metric to "
                f"{given.removeprefix(METRIC_PREFIX)!r}.",
                field="objectives",
            )

    def folds(self) -> list[Fold]:
        """The cross-validation folds over the data's training and validation parts, merged
        (training rows first); a ConfigError if the ``cv`` entry does not fit the data."""
        assert self.cv is not None
        data, cv = self.memory_data("cross-validation"), self.cv
        n_rows = len(data.y_train) + len(data.y_val)
        classification = data.task == "classification"
        if cv.stratified and not classification:
            raise ConfigError(
                "cv.stratified: true needs class labels, but this task is a regression; remove "
                "stratified or set it to false.",
                field="cv.stratified",
            )
        if cv.folds > n_rows:
            raise ConfigError(
                f"cv.folds: {cv.folds} folds need at least as many samples, but the training "
                f"and validation parts hold {n_rows}; lower folds or give more data.",
                field="cv.folds",
            )
        if not (classification and cv.stratified is not False):
            return k_fold_indices(n_rows, cv.folds, seed=cv.seed)
        labels = torch.cat([data.y_train, data.y_val]).cpu().numpy()
        counts = np.bincount(labels)
        smallest = int(min(np.flatnonzero(counts), key=lambda label: counts[label]))
        # Stricter than scikit-learn's warning: a study file should fail once, before any trial,
        # rather than warn in every trial and compare folds that miss a class.
        if counts[smallest] < cv.folds:
            name = data.class_names[smallest] if data.class_names else smallest
            raise ConfigError(
                f"cv.folds: class {name!r} has {counts[smallest]} sample(s) in the training and "
                f"validation parts, fewer than the {cv.folds} folds, so some folds would not "
                f"validate on it; lower folds to {counts[smallest]} or less, or leave that class "
                "out with data: {classes: [...]}.",
                field="cv.folds",
            )
        return stratified_k_fold_indices(labels, cv.folds, seed=cv.seed)

    def _cross_validate(
        self, trial: Any, recipe: Recipe, model_options: Mapping[str, Any]
    ) -> float:
        data = self.memory_data("cross-validation")
        x = torch.cat([data.x_train, data.x_val])
        y = torch.cat([data.y_train, data.y_val])
        folds = self.folds()
        trial_dir = self.artifact_dir(trial)

        def fit_fold(fold: Fold, fold_trial: FoldTrial) -> float:
            # Folds are independent fits: each gets a fresh model and its own seed, distinct
            # from every other fold of every trial.
            fold_recipe = recipe.replace(seed=recipe.seed + trial.number * len(folds) + fold.index)
            model = self.seeded_model(model_options, fold_recipe)
            train, validation = torch.from_numpy(fold.train), torch.from_numpy(fold.validation)
            fold_data = dataclasses.replace(
                data, x_train=x[train], y_train=y[train], x_val=x[validation], y_val=y[validation]
            )
            fold_dir = None if trial_dir is None else trial_dir / f"fold-{fold.index}"
            result = Trainer(
                model, fold_data, fold_recipe, trial=fold_trial, artifact_dir=fold_dir
            ).fit()
            _store_summary(fold_trial, result)
            return result.best_value

        return cross_validate(trial, fit_fold, folds)

    def pretrained_weights(self) -> Path:
        """Train the ``pretrain`` model once and cache its weights under the artifacts folder."""
        assert self.pretrain is not None
        key = hashlib.sha1(
            _json_key({"pretrain": self.pretrain, "model": self.model_spec}).encode()
        ).hexdigest()[:16]
        path = Path(self.artifacts or DEFAULT_ARTIFACTS) / "pretrained" / f"{key}.pt"
        if path.is_file():
            return path
        data = _load_cached(_json_key(self.pretrain["data"]), str(self.base_dir))
        model_spec = {**self.model_spec, **self.pretrain.get("model", {})}
        torch.manual_seed(self.pretrain["recipe"].seed)
        model = build_model(
            model_spec, data.input_shape, data.n_outputs, vocabulary_size=len(data.vocabulary)
        )
        Trainer(model, data, self.pretrain["recipe"], telemetry=False).fit()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save(model.state_dict(), partial)
        partial.replace(path)  # atomic, so that parallel workers never read half a file
        return path

    def resolve(self, chosen: Mapping[str, Any]) -> tuple[Recipe, dict[str, Any]]:
        """The recipe and model options for chosen search values (``model.x`` go to the model)."""
        recipe_changes = {k: v for k, v in chosen.items() if not k.startswith(MODEL_PREFIX)}
        model_options = {
            k.removeprefix(MODEL_PREFIX): v for k, v in chosen.items() if k.startswith(MODEL_PREFIX)
        }
        return self.recipe.replace(**recipe_changes), model_options

    def build_model(self, model_options: Mapping[str, Any], recipe: Recipe) -> torch.nn.Module:
        """The task's model with ``model_options`` applied, sized for its data and loss."""
        data = self.data
        n_outputs = 1 if recipe.loss == "bce" else data.n_outputs
        return build_model(
            {**self.model_spec, **model_options}, data.input_shape, n_outputs,
            vocabulary_size=len(data.vocabulary),
        )

    def artifact_dir(self, trial: Any) -> Path | None:
        """Where a trial's best weights go (None when the task keeps none)."""
        study_dir = self._study_dir(trial)
        return None if study_dir is None else study_dir / f"trial-{trial.number}"

    def _checkpoint_dir(self, trial: Any) -> Path | None:
        """Where the study's paused trials leave checkpoints for the trials that continue them."""
        study_dir = self._study_dir(trial)
        return None if study_dir is None else study_dir / "checkpoints"

    def _study_dir(self, trial: Any) -> Path | None:
        if self.artifacts is None:
            return None
        return Path(self.artifacts) / getattr(getattr(trial, "study", None), "study_name", "study")


def _store_costs(
    trial: Any, costs: dict[str, float], constraints: dict[str, float], breach: Breach | None
) -> None:
    """Keep a trial's costs, its limits as named constraints, and the limit it broke."""
    set_user_attr = getattr(trial, "set_user_attr", None)
    if set_user_attr is None:
        return
    set_user_attr(COSTS_ATTR, costs)
    for name, value in constraints.items():
        trial.set_constraint(name, value)
    if breach is not None:
        set_user_attr(OVER_LIMIT_ATTR, str(breach))
        logger.info("Trial %d is infeasible: %s.", trial.number, breach)


def _store_summary(trial: Any, result: FitResult) -> None:
    """Keep what a user looks for first as user attributes: the epoch and the test scores."""
    set_user_attr = getattr(trial, "set_user_attr", None)
    if set_user_attr is None:
        return
    set_user_attr(BEST_EPOCH_ATTR, result.best_epoch)
    set_user_attr(EPOCHS_RUN_ATTR, result.epochs_run)
    for name, value in result.test.items():
        set_user_attr(TEST_METRIC_PREFIX + name, value)


@lru_cache(maxsize=4)
def _load_cached(spec_json: str, base_dir: str) -> DataSplit | StreamedSplit:
    """Trials of one process share the loaded data instead of reading it again."""
    return load_data(json.loads(spec_json), base_dir=base_dir)


def _data_bytes(data: DataSplit) -> int:
    tensors = (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test)
    return sum(t.element_size() * t.nelement() for t in tensors)


def _json_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Recipe):
        return value.to_json()
    raise TypeError(f"{value!r} is not JSON")


def _mapping(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{field}: {value!r} must be a mapping of fields, e.g. {field}: {{...}}.", field=field
        )
    return dict(value)


def _model_mapping(spec: Any) -> dict[str, Any]:
    if isinstance(spec, str):
        return {"name": spec}
    return _mapping(spec, "model")


def _recipe(spec: Any, field: str) -> Recipe:
    try:
        return Recipe.from_mapping(_mapping(spec, field))
    except ConfigError as error:
        raise ConfigError(str(error), field=f"{field}.{error.field}") from None


def _parse_pretrain(spec: Any) -> dict[str, Any] | None:
    if spec is None:
        return None
    spec = _mapping(spec, "pretrain")
    refuse_unknown(spec, PRETRAIN_FIELDS, "pretrain")
    if "data" not in spec:
        raise ConfigError(
            "pretrain: 'data' is missing; name the data to pre-train on, e.g. "
            "data: {name: digits_images, classes: [0, 1, 2, 3, 4]}.",
            field="pretrain.data",
        )
    return {
        "data": spec["data"],
        "model": _mapping(spec.get("model", {}), "pretrain.model"),
        "recipe": _recipe(spec.get("recipe", {}), "pretrain.recipe"),
    }


def _artifacts(value: Any) -> str | None:
    if value is None or value is False:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"artifacts: {value!r} must be a folder path (or false to keep no weights).",
            field="artifacts",
        )
    return value


def _threads(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"threads: {value!r} must be a positive number of CPU threads per trial, e.g. 1.",
            field="threads",
        )
    return value


def _parse_cv(value: Any) -> CrossValidation | None:
    if value is None or value is False:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"folds": value}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"cv: {value!r} must be a number of folds (cv: 5) or a mapping such as "
            "{folds: 5, stratified: true, seed: 0}.",
            field="cv",
        )
    try:
        refuse_unknown(value, CV_FIELDS, "cv")
        folds = check_int(
            "cv", "folds", value.get("folds", 5), 2,
            "remove cv for a single train/validation split.",
        )
        stratified = value.get("stratified")
        if stratified is not None:
            check_flag("cv", "stratified", stratified)
        seed = check_int(
            "cv", "seed", value.get("seed", 0), 0,
            "it deals the rows to the folds; every trial uses the same folds.",
        )
    except ConfigError as error:
        raise ConfigError(str(error), field=f"cv.{error.field}") from None
    return CrossValidation(folds, stratified, seed)


def _parse_objectives(value: Any) -> tuple[str, ...] | None:
    """The ``objectives`` list: the metric's name (``val_<metric>``) once, and costs."""
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ConfigError(
            f"objectives: {value!r} must be a list of names, the task's metric and costs, "
            "e.g. [val_accuracy, parameters, inference_latency].",
            field="objectives",
        )
    metrics = [METRIC_PREFIX + m for m in (*CLASSIFICATION_METRICS, *REGRESSION_METRICS, "loss")]
    known = [*metrics, *COSTS]
    for index, name in enumerate(value):
        if name not in known:
            hint = did_you_mean(name, known) if isinstance(name, str) else ""
            raise ConfigError(
                f"objectives[{index}]: {name!r} is neither the task's metric (val_accuracy, "
                f"val_mse, ...) nor a cost{hint}; the costs are: {', '.join(COSTS)}.",
                field=f"objectives[{index}]",
            )
    names = tuple(value)
    if len(set(names)) < len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise ConfigError(
            f"objectives: {twice!r} is listed twice; name each objective once.",
            field="objectives",
        )
    if sum(name not in COSTS for name in names) != 1:
        raise ConfigError(
            f"objectives: {list(names)!r} must name the task's metric exactly once (such as "
            "val_accuracy), with the costs to weigh against it.",
            field="objectives",
        )
    return names


def _parse_search(spec: Any) -> tuple[SearchParameter, ...]:
    parameters: list[SearchParameter] = []
    for name, entry in _mapping(spec, "search").items():
        field = f"search.{name}"
        _check_searchable(str(name), field)
        try:
            distribution, when = _entry(entry, field)
        except (SearchSpaceError, TypeError) as error:
            raise ConfigError(f"{field}: {error}", field=field) from None
        for earlier in when:
            if earlier not in {p.name for p in parameters}:
                raise ConfigError(
                    f"{field}: 'when' refers to {earlier!r}, which is not an earlier search "
                    "entry; list the entry it depends on above it.",
                    field=f"{field}.when",
                )
        parameters.append(SearchParameter(str(name), distribution, when))
    return tuple(parameters)


def _check_searchable(name: str, field: str) -> None:
    if name.startswith(MODEL_PREFIX) and len(name) > len(MODEL_PREFIX):
        return  # model options are checked when the model is built in validate()
    recipe_fields = field_names()
    if name not in recipe_fields:
        raise ConfigError(
            f"{field}: {name!r} is neither a recipe field{did_you_mean(name, recipe_fields)} "
            "nor a model option (write model.<option>, e.g. model.width).",
            field=field,
        )


def _entry(entry: Any, field: str) -> tuple[Distribution, dict[str, tuple[Any, ...]]]:
    if isinstance(entry, list):
        return CategoricalDistribution(tuple(entry)), {}
    entry = _mapping(entry, field)
    when = _when(entry.pop("when", {}), field)
    if "choices" in entry:
        refuse_unknown(entry, ("choices",), field)
        return CategoricalDistribution(tuple(entry["choices"])), when
    refuse_unknown(entry, ("low", "high", "log", "step", "type"), field)
    if "low" not in entry or "high" not in entry:
        raise ConfigError(
            f"{field}: give a list of choices or a range with low and high, e.g. "
            "{low: 1.0e-4, high: 1.0e-1, log: true}.",
            field=field,
        )
    kind = entry.pop("type", None)
    if kind not in (None, "int", "float"):
        raise ConfigError(f"{field}: type {kind!r} must be int or float.", field=f"{field}.type")
    integral = all(
        isinstance(entry[k], int) and not isinstance(entry[k], bool) for k in ("low", "high")
    )
    if kind == "int" or (kind is None and integral):
        return IntDistribution(**entry), when
    return FloatDistribution(**entry), when


def _when(spec: Any, field: str) -> dict[str, tuple[Any, ...]]:
    conditions = _mapping(spec, f"{field}.when")
    return {
        name: tuple(allowed) if isinstance(allowed, list) else (allowed,)
        for name, allowed in conditions.items()
    }


def _lowest(distribution: Distribution) -> Any:
    """The value that validation tries: the smallest, which makes the smallest model."""
    if isinstance(distribution, CategoricalDistribution):
        choices = distribution.choices
        numbers = [c for c in choices if isinstance(c, (int, float)) and not isinstance(c, bool)]
        return min(numbers) if len(numbers) == len(choices) else choices[0]
    return distribution.low
