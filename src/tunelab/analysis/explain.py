"""Attributions of a trial's trained model: which parts of its inputs its predictions rest on.

:func:`explain` rebuilds a trial's model from the :class:`tunelab.torch.Task` that trained it,
with the best weights the trial saved, takes samples of the task's validation part (or of its
test part; never of the training part, which the model has fitted) and attributes each
sample's prediction to its input features with Captum (Kokhlikyan et al., "Captum: A unified
and generic model interpretability library for PyTorch", 2020):

- ``integrated_gradients``: the gradient integrated along the straight path from a baseline
  input to the sample (Sundararajan, Taly and Yan, "Axiomatic Attribution for Deep Networks",
  ICML 2017);
- ``saliency``: the gradient at the sample (Simonyan, Vedaldi and Zisserman, "Deep Inside
  Convolutional Networks", ICLR workshop 2014);
- ``gradient_shap``: gradients along random paths from baselines drawn from the training part,
  an estimate of SHAP values (Lundberg and Lee, "A Unified Approach to Interpreting Model
  Predictions", NeurIPS 2017);
- ``occlusion``, for images: how the output changes when a patch of the picture is replaced by
  the baseline, the patch slid over the picture (Zeiler and Fergus, "Visualizing and
  Understanding Convolutional Networks", ECCV 2014);
- ``feature_ablation``, for tabular data: how the output changes when one feature is replaced
  by the baseline. Over a vector of features this is occlusion with a window of one feature,
  so tabular data gets it under this name only.

What is attributed is the output of each sample's own class (its logit; with a single binary
logit ``z``, class 1's is ``z`` and class 0's ``-z``), and for regression each output in turn,
on the inputs as the model sees them (normalized as in training). A method's attributions are
summed up as mean absolute attributions over all samples and over each class's samples, and
for pictures also as each class's mean signed attribution map and one example per class.

Attributions depend on the baseline, the input taken to carry no information. A method that
takes one runs once per baseline: ``zeros`` (an all-zero input in the data's own units, such as
a blank picture), ``mean`` (the training part's mean) and ``samples`` (each sample paired with a
random training sample; ``n_draws`` draws). GradientSHAP always draws its baselines from the
training part, ``n_draws`` times. A feature's importance is its share of a run's total mean
absolute attribution; its mean and standard error over the runs show how far the ranking
depends on the choice of baseline.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from tunelab._options import check_choice, check_int
from tunelab.analysis.trained import check_keeps_weights, trained_model, trial_to_rebuild
from tunelab.exceptions import ConfigError, MissingExtraError, TunelabError
from tunelab.registry import did_you_mean

if TYPE_CHECKING:
    import torch

    from tunelab.study import Study
    from tunelab.torch.task import Task
    from tunelab.torch.trainer import Trainer

WHERE = "explain"
PRIMARY_METHOD = "integrated_gradients"
IMAGE_METHODS = ("integrated_gradients", "saliency", "gradient_shap", "occlusion")
TABULAR_METHODS = ("integrated_gradients", "saliency", "gradient_shap", "feature_ablation")
METHOD_NAMES = {
    "integrated_gradients": "Integrated gradients",
    "saliency": "Saliency",
    "gradient_shap": "GradientSHAP",
    "occlusion": "Occlusion",
    "feature_ablation": "Feature ablation",
}
BASELINES = ("zeros", "mean", "samples")
SPLITS = ("val", "test")
MAX_EXAMPLES = 10  # example pictures: the first sample of each class, for up to this many
CHUNK = 64  # samples attributed at once, which bounds the memory of the larger methods
SHAP_BASELINES = 64  # training samples each GradientSHAP run draws its baselines from
SHAP_PATHS = 16  # random paths per sample and GradientSHAP run
PERTURBATIONS_PER_PASS = 16  # occluded or ablated copies evaluated in one forward pass
OCCLUSION_PATCHES = 8  # an occlusion patch is about 1/8 of the picture's side
CONCENTRATION_TOP = 0.1  # the fraction of a picture's pixels whose share of attribution is told


@dataclass(frozen=True, eq=False)
class Attribution:
    """One method's attributions (arrays read-only).

    ``runs`` names its runs (one per baseline or draw). ``by_run`` is each run's mean absolute
    attribution of each input feature (or pixel) over all samples, ``(runs, *input_shape)``;
    ``per_class`` the mean absolute attribution over each class's samples (each output's, for
    regression) and ``class_maps`` the mean signed attribution, both ``(outputs,
    *input_shape)`` and averaged over the runs; nan for a class without samples.
    """

    method: str
    runs: tuple[str, ...]
    by_run: np.ndarray
    per_class: np.ndarray
    class_maps: np.ndarray

    @property
    def overall(self) -> np.ndarray:
        """The mean absolute attribution of each input feature, averaged over the runs."""
        overall: np.ndarray = self.by_run.mean(axis=0)
        return overall

    @property
    def shares(self) -> np.ndarray:
        """Each run's attributions as shares of its total, ``(runs, *input_shape)``."""
        totals = self.by_run.reshape(len(self.runs), -1).sum(axis=1)
        totals = np.where(totals > 0, totals, 1.0).reshape(-1, *[1] * (self.by_run.ndim - 1))
        shares: np.ndarray = self.by_run / totals
        return shares

    @property
    def mean_shares(self) -> np.ndarray:
        """Each input feature's share of the attribution, averaged over the runs."""
        mean: np.ndarray = self.shares.mean(axis=0)
        return mean

    @property
    def share_stderr(self) -> np.ndarray:
        """The standard error of the mean share over the runs (nan for a single run)."""
        if len(self.runs) < 2:
            return np.full(self.by_run.shape[1:], math.nan)
        spread: np.ndarray = self.shares.std(axis=0, ddof=1) / math.sqrt(len(self.runs))
        return spread


@dataclass(frozen=True)
class FeatureImportance:
    """A feature's share of a method's total attribution: the mean over the runs, and its
    standard error (nan for a method with a single run)."""

    name: str
    index: int
    share: float
    stderr: float


@dataclass(frozen=True, eq=False)
class Example:
    """One explained picture: its class (or output), the class the model predicts (None for
    regression), the input in the data's own units, and each method's signed attribution of
    it averaged over the runs (arrays read-only, shaped like the input)."""

    label: int
    predicted: int | None
    input: np.ndarray
    attributions: Mapping[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class ExplainResult:
    """What :func:`explain` found for one trial, on ``n_samples`` samples of the ``split``
    part, with the methods' ``attributions`` (by method name) and the ``baselines`` they ran
    with.

    ``kind`` is ``"tabular"`` (samples are feature vectors, named by ``feature_names``: the
    data's own names, or ``feature i``) or ``"image"`` (``(C, H, W)`` pictures; no feature
    names, but ``examples``). ``output_names`` names what was attributed: the classes, or the
    regression targets; ``class_counts`` how many of the ``n_samples`` explained samples
    each class has (for regression, every sample counts for every output).
    """

    trial: int
    split: str
    n_samples: int
    kind: str
    input_shape: tuple[int, ...]
    feature_names: tuple[str, ...]
    output_names: tuple[str, ...]
    class_counts: tuple[int, ...]
    baselines: tuple[str, ...]
    attributions: Mapping[str, Attribution]
    examples: tuple[Example, ...] = ()

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self.attributions)

    @property
    def headline(self) -> str:
        """The method that rankings and figures show unless told otherwise: integrated
        gradients, when it ran."""
        return PRIMARY_METHOD if PRIMARY_METHOD in self.attributions else self.methods[0]

    def ranking(self, method: str | None = None) -> tuple[FeatureImportance, ...]:
        """Every feature by its share of ``method``'s attribution (default: the headline
        method), the largest first; tabular data only, as a picture's pixels are read as
        maps, not as a list."""
        if self.kind != "tabular":
            raise TunelabError(
                f"ranking: the inputs are {self.kind}s, whose pixels are not ranked one by one; "
                "read the per-class maps (class_maps, examples) instead."
            )
        method = self.headline if method is None else method
        attribution = self.attributions[_known_method(method, self.methods, "ranking", self.kind)]
        shares, stderr = attribution.mean_shares, attribution.share_stderr
        order = sorted(range(len(shares)), key=lambda i: (-shares[i], i))
        return tuple(
            FeatureImportance(self.feature_names[i], i, float(shares[i]), float(stderr[i]))
            for i in order
        )


@dataclass(frozen=True)
class ClassSummary:
    """Where a method's attribution of one class's pictures lies: ``samples`` explained,
    ``attribution`` the mean absolute attribution summed over a picture, ``concentration``
    the share of it in the picture's top CONCENTRATION_TOP of pixels (0.1 for an even spread,
    near 1 when a few pixels decide), and ``hottest`` the (row, column) of the pixel with the
    most (channels summed)."""

    name: str
    samples: int
    attribution: float
    concentration: float
    hottest: tuple[int, int]


def class_summaries(
    result: ExplainResult, method: str | None = None
) -> tuple[ClassSummary, ...]:
    """A :class:`ClassSummary` per class of a picture ``result`` with samples explained, for
    ``method`` (default: the headline method)."""
    if result.kind != "image":
        raise TunelabError(
            "class_summaries: the inputs are feature vectors; rank the features instead "
            "(ExplainResult.ranking)."
        )
    method = result.headline if method is None else method
    known = _known_method(method, result.methods, "class_summaries", result.kind)
    attribution = result.attributions[known]
    summaries = []
    for index, name in enumerate(result.output_names):
        if result.class_counts[index] == 0:
            continue
        pixels = attribution.per_class[index].sum(axis=0)  # (H, W), channels summed
        flat = np.sort(pixels.ravel())[::-1]
        top = max(1, round(CONCENTRATION_TOP * flat.size))
        total = float(flat.sum())
        row, column = np.unravel_index(int(pixels.argmax()), pixels.shape)
        summaries.append(ClassSummary(
            name=name,
            samples=result.class_counts[index],
            attribution=total,
            concentration=float(flat[:top].sum() / total) if total > 0 else math.nan,
            hottest=(int(row), int(column)),
        ))
    return tuple(summaries)


def explain(
    study: Study,
    task: Task,
    trial: int | None = None,
    *,
    split: str = "val",
    methods: Sequence[str] | None = None,
    baselines: Sequence[str] = BASELINES,
    n_draws: int = 3,
    max_samples: int = 256,
    n_steps: int = 32,
    seed: int = 0,
) -> ExplainResult:
    """Attribute the predictions of a trial's saved model to its inputs.

    Args:
        study: a study that ``task`` trained, with saved weights (the task's ``artifacts``).
        task: the task that trained it (same data, model and search).
        trial: the number of the trial to explain; by default the best trial that saved
            weights (a study with several objectives has no best: give a number).
        split: ``"val"`` or ``"test"``, the part of the data whose samples are explained.
        methods: which of IMAGE_METHODS or TABULAR_METHODS to run (default: all that fit).
        baselines: which of BASELINES the methods that take a baseline run with.
        n_draws: how many draws of random training samples make baselines (``samples``, and
            GradientSHAP's runs).
        max_samples: at most this many samples are explained (a seeded random choice).
        n_steps: steps of the integral of integrated gradients.
        seed: seeds the choice of samples and the random baselines; the caller's random
            state is kept.
    """
    split = check_choice(WHERE, "split", split, SPLITS)
    baselines = _check_baselines(baselines)
    n_draws = check_int(WHERE, "n_draws", n_draws, 1, "e.g. 3 draws of random baselines.")
    max_samples = check_int(WHERE, "max_samples", max_samples, 1, "e.g. 256.")
    n_steps = check_int(WHERE, "n_steps", n_steps, 2, "e.g. 32 steps of the integral.")
    seed = check_int(WHERE, "seed", seed, 0, "any integer >= 0.")
    check_keeps_weights(task, WHERE)
    kind = _input_kind(task.memory_data(WHERE).input_shape)
    chosen = _check_methods(methods, kind)
    record = trial_to_rebuild(study, trial, WHERE)
    _check_split(task, split)
    captum = _captum()
    trainer = trained_model(record, task, WHERE)
    with _computing(seed, task) as rng:
        samples = _Samples.choose(trainer, task, split, max_samples, rng)
        settings = _Settings(
            runs=_baseline_runs(baselines, n_draws, samples, trainer, task, rng),
            shap_runs=_shap_runs(n_draws, trainer, rng),
            n_steps=n_steps,
        )
        example_rows = _example_rows(samples) if kind == "image" else []
        computed = {m: _attribution(captum, m, samples, settings, example_rows) for m in chosen}
        examples = _examples(samples, example_rows, {m: c[1] for m, c in computed.items()})
    return ExplainResult(
        trial=record.number,
        split=split,
        n_samples=samples.n_samples,
        kind=kind,
        input_shape=tuple(task.data.input_shape),
        feature_names=_feature_names(task, kind),
        output_names=_output_names(task),
        class_counts=tuple(np.bincount(samples.groups, minlength=samples.n_groups).tolist()),
        baselines=baselines,
        attributions=MappingProxyType({m: c[0] for m, c in computed.items()}),
        examples=examples,
    )


@contextlib.contextmanager
def _computing(seed: int, task: Task) -> Iterator[np.random.Generator]:
    """Torch seeded with ``seed`` and on the task's ``threads``, as its trials trained (a
    small model on more threads than it can use mostly waits for them), and numpy's global
    generator seeded too (Captum's GradientSHAP draws from it), all restored after; and a numpy
    generator of our own, seeded alike."""
    import torch

    threads, numpy_state = torch.get_num_threads(), np.random.get_state()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        np.random.seed(seed)
        task.use_threads()
        try:
            yield np.random.default_rng(seed)
        finally:
            torch.set_num_threads(threads)
            np.random.set_state(numpy_state)


# --- what is explained --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Samples:
    """The rows attributed, as the model sees them, each with the output attributed (its
    class, or for regression each output of each sample) and the model's forward function."""

    forward: Callable[[torch.Tensor], torch.Tensor]
    inputs: torch.Tensor  # (rows, *input_shape), normalized as in training
    raw: torch.Tensor  # (rows, *input_shape), in the data's own units
    targets: torch.Tensor  # (rows,) the output attributed, which is also the row's group
    n_samples: int
    n_groups: int
    classification: bool

    @property
    def groups(self) -> np.ndarray:
        groups: np.ndarray = self.targets.cpu().numpy()
        return groups

    @classmethod
    def choose(
        cls, trainer: Trainer, task: Task, split: str, limit: int, rng: np.random.Generator
    ) -> _Samples:
        import torch

        data = task.memory_data(WHERE)
        count = len(getattr(data, f"x_{split}"))
        rows = torch.from_numpy(np.sort(rng.permutation(count)[:limit]))
        inputs = getattr(trainer.data, f"x_{split}")[rows.to(trainer.device)]
        raw = getattr(data, f"x_{split}")[rows]
        forward = _forward(trainer)
        if data.task == "classification":
            targets = getattr(data, f"y_{split}")[rows].to(trainer.device)
            return cls(forward, inputs, raw, targets, len(rows), data.n_outputs, True)
        outputs = data.n_outputs  # each sample once per output, attributing that output
        targets = torch.arange(outputs, device=trainer.device).repeat_interleave(len(rows))
        repeat = (outputs,) + (1,) * (inputs.dim() - 1)
        return cls(
            forward, inputs.repeat(repeat), raw.repeat(repeat), targets, len(rows), outputs, False
        )


def _forward(trainer: Trainer) -> Callable[[torch.Tensor], torch.Tensor]:
    """The model's outputs, with a single binary logit ``z`` as the two columns ``(-z, z)``, so
    that each class has an output to attribute."""
    import torch

    model = trainer.model
    with torch.no_grad():
        width = model(trainer.memory_data.x_train[:1]).shape[1]
    single_logit = trainer.task == "classification" and width == 1

    def forward(x: torch.Tensor) -> torch.Tensor:
        outputs = model(x)
        return torch.cat([-outputs, outputs], dim=1) if single_logit else outputs

    return forward


# --- baselines ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """One run of a method: its name and its baselines (one for every row, ``(1, ...)``
    for all rows alike, or GradientSHAP's pool; None for saliency, which takes none)."""

    label: str
    baselines: torch.Tensor | None


@dataclass(frozen=True)
class _Settings:
    runs: list[_Run]
    shap_runs: list[_Run]
    n_steps: int


def _baseline_runs(
    names: Sequence[str],
    n_draws: int,
    samples: _Samples,
    trainer: Trainer,
    task: Task,
    rng: np.random.Generator,
) -> list[_Run]:
    import torch

    from tunelab.torch.data import normalize_like

    x_train, mode = task.memory_data(WHERE).x_train, trainer.recipe.normalization
    made_up = {  # one input for all rows, in the data's own units
        "zeros": ("zeros", torch.zeros((1, *x_train.shape[1:]))),
        "mean": ("training mean", x_train.double().mean(dim=0, keepdim=True).float()),
    }
    runs = []
    for name in names:
        if name in made_up:
            label, single = made_up[name]
            runs.append(_Run(label, normalize_like(single, x_train, mode).to(trainer.device)))
            continue
        for draw in range(n_draws):  # each row paired with a random training sample
            rows = torch.from_numpy(rng.integers(len(x_train), size=len(samples.inputs)))
            pairs = trainer.memory_data.x_train[rows.to(trainer.device)]
            runs.append(_Run(f"training samples (draw {draw + 1})", pairs))
    return runs


def _shap_runs(n_draws: int, trainer: Trainer, rng: np.random.Generator) -> list[_Run]:
    import torch

    x_train = trainer.memory_data.x_train
    runs = []
    for draw in range(n_draws):
        rows = rng.permutation(len(x_train))[:SHAP_BASELINES]
        pool = x_train[torch.from_numpy(rows).to(x_train.device)]
        runs.append(_Run(f"training samples (draw {draw + 1})", pool))
    return runs


# --- attributing ------------------------------------------------------------------------------

ExampleMaps = dict[int, np.ndarray]
"""A method's signed attributions of the example rows (by row), averaged over its runs."""


@dataclass(frozen=True)
class _Sums:
    """Sums of one run's attributions: absolute over all rows and per group, signed per group,
    and the attributions of the example rows."""

    absolute: torch.Tensor
    absolute_by_group: torch.Tensor
    signed_by_group: torch.Tensor
    examples: dict[int, torch.Tensor]


def _attribution(
    captum: Any, method: str, samples: _Samples, settings: _Settings, example_rows: list[int]
) -> tuple[Attribution, ExampleMaps]:
    runs = _method_runs(method, settings)
    sums = [_run_sums(captum, method, samples, run, settings.n_steps, example_rows)
            for run in runs]
    counts = np.bincount(samples.groups, minlength=samples.n_groups).astype(float)
    counts = np.where(counts > 0, counts, math.nan).reshape(-1, *[1] * (samples.inputs.dim() - 1))

    def mean_over_runs(arrays: list[torch.Tensor]) -> np.ndarray:
        mean: np.ndarray = np.mean([a.cpu().numpy() for a in arrays], axis=0)
        return mean

    attribution = Attribution(
        method=method,
        runs=tuple(run.label for run in runs),
        by_run=_frozen(np.stack([s.absolute.cpu().numpy() for s in sums]) / len(samples.inputs)),
        per_class=_frozen(mean_over_runs([s.absolute_by_group for s in sums]) / counts),
        class_maps=_frozen(mean_over_runs([s.signed_by_group for s in sums]) / counts),
    )
    maps = {row: _frozen(mean_over_runs([s.examples[row] for s in sums])) for row in example_rows}
    return attribution, maps


def _method_runs(method: str, settings: _Settings) -> list[_Run]:
    if method == "saliency":
        return [_Run("gradient at the sample", None)]
    if method == "gradient_shap":
        return settings.shap_runs
    return settings.runs


def _run_sums(
    captum: Any, method: str, samples: _Samples, run: _Run, n_steps: int, example_rows: list[int]
) -> _Sums:
    import torch

    inputs = samples.inputs
    by_group = torch.zeros((samples.n_groups, *inputs.shape[1:]), dtype=torch.float64,
                           device=inputs.device)
    sums = _Sums(by_group[0].clone(), by_group.clone(), by_group, examples={})
    for start in range(0, len(inputs), CHUNK):
        rows = slice(start, start + CHUNK)
        groups = samples.targets[rows]
        attributions = _attribute(
            captum, method, samples.forward, inputs[rows], groups, _chunk(run, method, rows),
            n_steps,
        ).detach().double()
        sums.absolute.add_(attributions.abs().sum(dim=0))
        sums.absolute_by_group.index_add_(0, groups, attributions.abs())
        sums.signed_by_group.index_add_(0, groups, attributions)
        for row in example_rows:
            if start <= row < start + CHUNK:
                sums.examples[row] = attributions[row - start]
    return sums


def _chunk(run: _Run, method: str, rows: slice) -> torch.Tensor | None:
    """The baselines of the rows: a run's own for each row, else all of them (one for all
    rows, or GradientSHAP's pool)."""
    baselines = run.baselines
    if baselines is None or method == "gradient_shap" or len(baselines) == 1:
        return baselines
    return baselines[rows]


def _attribute(
    captum: Any,
    method: str,
    forward: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    baselines: torch.Tensor | None,
    n_steps: int,
) -> torch.Tensor:
    """Captum's attributions of ``inputs`` by ``method``, shaped like the inputs."""
    if method == "integrated_gradients":
        return captum.IntegratedGradients(forward).attribute(
            inputs, baselines=baselines, target=targets, n_steps=n_steps
        )
    if method == "saliency":  # signed, so that class maps say which way a pixel pushes
        gradients_of = inputs.detach().requires_grad_()
        return captum.Saliency(forward).attribute(gradients_of, target=targets, abs=False)
    if method == "gradient_shap":
        return captum.GradientShap(forward).attribute(
            inputs, baselines=baselines, n_samples=SHAP_PATHS, target=targets
        )
    if method == "occlusion":
        window, stride = occlusion_window(tuple(inputs.shape[1:]))
        return captum.Occlusion(forward).attribute(
            inputs, sliding_window_shapes=window, strides=stride, baselines=baselines,
            target=targets, perturbations_per_eval=PERTURBATIONS_PER_PASS,
        )
    assert method == "feature_ablation", method
    return captum.FeatureAblation(forward).attribute(
        inputs, baselines=baselines, target=targets, perturbations_per_eval=PERTURBATIONS_PER_PASS
    )


def occlusion_window(shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The occlusion patch over a ``(C, H, W)`` picture, all channels at once, and its stride:
    about 1/OCCLUSION_PATCHES of the shorter side (2 pixels at least), moved by half a patch."""
    channels, height, width = shape
    side = min(max(2, round(min(height, width) / OCCLUSION_PATCHES)), height, width)
    step = max(1, side // 2)
    return (channels, side, side), (channels, step, step)


# --- examples and names -----------------------------------------------------------------------


def _example_rows(samples: _Samples) -> list[int]:
    """The first row of each group (class), for up to MAX_EXAMPLES groups."""
    groups = samples.groups
    present = [g for g in range(samples.n_groups) if (groups == g).any()][:MAX_EXAMPLES]
    return [int(np.flatnonzero(groups == g)[0]) for g in present]


def _examples(
    samples: _Samples, rows: list[int], maps: Mapping[str, ExampleMaps]
) -> tuple[Example, ...]:
    import torch

    if not rows:
        return ()
    index = torch.tensor(rows, device=samples.inputs.device)
    with torch.no_grad():
        predicted = samples.forward(samples.inputs[index]).argmax(dim=1).tolist()
    return tuple(
        Example(
            label=int(samples.targets[row]),
            predicted=int(predicted[i]) if samples.classification else None,
            input=_frozen(samples.raw[row].cpu().double().numpy()),
            attributions=MappingProxyType({m: by_row[row] for m, by_row in maps.items()}),
        )
        for i, row in enumerate(rows)
    )


def _frozen(array: np.ndarray) -> np.ndarray:
    """``array`` made read-only, so that a result cannot be changed after the fact."""
    array.flags.writeable = False
    return array


def _feature_names(task: Task, kind: str) -> tuple[str, ...]:
    data = task.data
    if kind == "image":
        return ()
    return data.feature_names or tuple(f"feature {i}" for i in range(data.input_shape[0]))


def _output_names(task: Task) -> tuple[str, ...]:
    data = task.data
    if data.task == "classification":
        return data.class_names
    if data.n_outputs == 1:
        return ("target",)
    return tuple(f"target {i}" for i in range(data.n_outputs))


# --- checks ---------------------------------------------------------------------------------


def _captum() -> Any:
    try:
        import captum.attr
    except ImportError as exc:
        raise MissingExtraError("captum", "explain", "tunelab.analysis.explain") from exc
    return captum.attr


def _check_baselines(baselines: Any) -> tuple[str, ...]:
    names = [baselines] if isinstance(baselines, str) else list(baselines)
    unknown = [n for n in names if n not in BASELINES]
    if not names or unknown or len(set(names)) < len(names):
        problem = f"{unknown[0]!r} is unknown{did_you_mean(str(unknown[0]), BASELINES)}" if (
            unknown) else "give each baseline once, and at least one"
        raise ConfigError(
            f"{WHERE}: baselines={baselines!r}: {problem}; choose among: {', '.join(BASELINES)}.",
            field="baselines",
        )
    return tuple(names)


def _input_kind(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return "tabular"
    if len(shape) == 3:
        return "image"
    raise ConfigError(
        f"{WHERE}: the task's samples have shape {tuple(shape)}; attributions are made for "
        "feature vectors (features,) and pictures (channels, height, width).",
        field="data",
    )


def _check_methods(methods: Sequence[str] | None, kind: str) -> tuple[str, ...]:
    fitting = IMAGE_METHODS if kind == "image" else TABULAR_METHODS
    if methods is None:
        return fitting
    names = [methods] if isinstance(methods, str) else list(methods)
    if not names:
        raise ConfigError(f"{WHERE}: methods is empty; give some of: {', '.join(fitting)}, or "
                          "leave it out for all of them.", field="methods")
    for name in names:
        _known_method(name, fitting, WHERE, kind)
    return tuple(dict.fromkeys(names))


def _known_method(method: Any, methods: Sequence[str], where: str, kind: str) -> str:
    if method in methods:
        return str(method)
    twin = {"occlusion": "feature_ablation", "feature_ablation": "occlusion"}.get(method)
    if twin in methods:
        fix = (f"use {twin!r} (occlusion replaces patches of a picture, feature_ablation single "
               "features)")
    else:
        fix = f"use one of: {', '.join(methods)}"
    hint = "" if method in METHOD_NAMES else did_you_mean(str(method), methods)
    raise ConfigError(
        f"{where}: method {method!r} is not available for {kind} inputs{hint}; {fix}.",
        field="method" if where == "ranking" else "methods",
    )


def _check_split(task: Task, split: str) -> None:
    if split == "test" and len(task.memory_data(WHERE).x_test) == 0:
        raise ConfigError(
            f"{WHERE}: split='test' but the task's data has no test part; explain the "
            "validation part (split='val'), or add a test part to the data spec, e.g. "
            "data: {name: digits, test_fraction: 0.2}, and run the study with it.",
            field="split",
        )
