"""Scripts that use Optuna's logging, distributions, visualization, importance and
search_space modules, run against Optuna and against tunelab: the results are of one kind."""

from __future__ import annotations

import importlib.util
import logging

import optuna as real_optuna
import pytest

from tests.compat.harness import run_both

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="the matplotlib extra is optional"
)


@pytest.fixture(autouse=True)
def loggers_as_they_were():
    """Scripts configure logging as their users would; each test leaves it as it found it."""
    loggers = [logging.getLogger(name) for name in ("optuna", "tunelab", "")]
    saved = [(lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    yield
    for logger, (level, handlers, propagate) in zip(loggers, saved):
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


def test_set_verbosity_warning_silences_the_trial_lines_and_info_brings_them_back(tmp_path):
    body = """
    import logging

    seen = []

    class Remember(logging.Handler):
        def emit(self, record):
            seen.append(record)

    library_logger = logging.getLogger(optuna.__name__)
    remember = Remember()
    library_logger.addHandler(remember)

    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        return (x - 2) ** 2

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=5)
    result["verbosity"] = optuna.logging.get_verbosity()
    result["info_records_while_quiet"] = sum(r.levelno == logging.INFO for r in seen)

    optuna.logging.set_verbosity(optuna.logging.INFO)
    study.optimize(objective, n_trials=3)
    result["trial_lines_when_verbose"] = sum(
        "Trial" in r.getMessage() and "finished" in r.getMessage() for r in seen
    )
    library_logger.removeHandler(remember)
    """
    from_optuna, from_tunelab = run_both(body, tmp_path)
    assert from_optuna == from_tunelab
    assert from_tunelab == {
        "verbosity": logging.WARNING,
        "info_records_while_quiet": 0,
        "trial_lines_when_verbose": 3,
    }


def test_the_log_propagates_to_a_file_of_the_application(tmp_path):
    body = """
    import logging

    root = logging.getLogger()
    root.setLevel(logging.INFO)
    to_file = logging.FileHandler(log_file, mode="w")
    root.addHandler(to_file)

    optuna.logging.set_verbosity(optuna.logging.INFO)
    optuna.logging.enable_propagation()  # the application's file gets the log
    optuna.logging.disable_default_handler()  # and stderr does not

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    root.info("Start optimization.")
    study.optimize(lambda trial: trial.suggest_int("n", 0, 9) ** 2, n_trials=4)

    root.removeHandler(to_file)
    to_file.close()
    with open(log_file) as log:
        lines = log.read().splitlines()
    result["our_line"] = "Start optimization." in lines
    result["trial_lines"] = sum("Trial" in line and "finished" in line for line in lines)
    """
    from_optuna, from_tunelab = run_both(body, tmp_path, log_file=str(tmp_path / "run.log"))
    assert from_optuna == from_tunelab == {"our_line": True, "trial_lines": 4}


def test_a_search_space_saved_as_json_reads_back_in_either_library(tmp_path):
    body = """
    import json

    space = {
        "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
        "dropout": optuna.distributions.FloatDistribution(0.0, 0.5, step=0.1),
        "units": optuna.distributions.IntDistribution(16, 256, log=True),
        "layers": optuna.distributions.IntDistribution(1, 5),
        "optimizer": optuna.distributions.CategoricalDistribution(["adam", "sgd", "rmsprop"]),
    }
    saved = {name: optuna.distributions.distribution_to_json(d) for name, d in space.items()}
    result["saved"] = {name: json.loads(text) for name, text in saved.items()}
    result["reads_back"] = all(
        optuna.distributions.json_to_distribution(text) == space[name]
        for name, text in saved.items()
    )
    # The same file read by Optuna, and Optuna's own file read here.
    by_optuna = {n: real_optuna.distributions.json_to_distribution(t) for n, t in saved.items()}
    result["optuna_reads_it"] = {
        name: json.loads(real_optuna.distributions.distribution_to_json(d))
        for name, d in by_optuna.items()
    }
    from_optuna = {
        name: optuna.distributions.json_to_distribution(
            real_optuna.distributions.distribution_to_json(d)
        )
        for name, d in by_optuna.items()
    }
    result["optunas_file_reads_here"] = from_optuna == space
    """
    from_optuna, from_tunelab = run_both(body, tmp_path, real_optuna=real_optuna)
    assert from_optuna == from_tunelab
    assert from_tunelab["saved"] == from_tunelab["optuna_reads_it"]
    assert from_tunelab["reads_back"] and from_tunelab["optunas_file_reads_here"]


def test_a_script_inspects_the_distributions_of_the_best_trial(tmp_path):
    body = """
    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        layers = trial.suggest_int("layers", 1, 4)
        batch = trial.suggest_int("batch", 16, 128, step=16)
        activation = trial.suggest_categorical("activation", ["relu", "tanh"])
        return lr * layers + batch / 128 + (activation == "tanh")

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=8)

    def describe(dist):
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            return ("choice of", list(dist.choices))
        if isinstance(dist, optuna.distributions.IntDistribution):
            return ("int", dist.low, dist.high, dist.log, dist.step)
        if isinstance(dist, optuna.distributions.FloatDistribution):
            return ("float", dist.low, dist.high, dist.log, dist.step)
        return ("unknown",)

    distributions = study.best_trial.distributions
    result["space"] = {name: describe(d) for name, d in sorted(distributions.items())}
    result["all_distributions"] = all(
        isinstance(d, optuna.distributions.BaseDistribution) for d in distributions.values()
    )
    """
    from_optuna, from_tunelab = run_both(body, tmp_path)
    assert from_optuna == from_tunelab
    assert from_tunelab["space"]["batch"] == ("int", 16, 128, False, 16)


STUDY = """
    def objective(trial):
        x = trial.suggest_float("x", -4.0, 4.0)
        y = trial.suggest_float("y", 1e-3, 1.0, log=True)
        for step in range(3):
            trial.report(x ** 2 + y / (step + 1), step)
        return x ** 2 + y

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=20)
"""

FIGURE_NAMES = [
    "plot_optimization_history",
    "plot_slice",
    "plot_contour",
    "plot_parallel_coordinate",
    "plot_param_importances",
    "plot_edf",
    "plot_intermediate_values",
    "plot_timeline",
    "plot_rank",
]


def test_each_plotly_figure_of_a_finished_study_builds(tmp_path):
    body = STUDY + """
    figures = {}
    for name in figure_names:
        figure = getattr(optuna.visualization, name)(study)
        figures[name] = (type(figure).__module__.split(".")[0], type(figure).__name__,
                         len(figure.data) > 0)
    result["figures"] = figures
    result["available"] = optuna.visualization.is_available()
    """
    from_optuna, from_tunelab = run_both(body, tmp_path, figure_names=FIGURE_NAMES)
    assert from_optuna == from_tunelab
    assert set(from_tunelab["figures"].values()) == {("plotly", "Figure", True)}


def test_hypervolume_history_of_a_two_objective_study(tmp_path):
    body = """
    def objective(trial):
        x = trial.suggest_float("x", 0, 5)
        y = trial.suggest_float("y", 0, 3)
        return 4 * x**2 + 4 * y**2, (x - 5) ** 2 + (y - 5) ** 2

    study = optuna.create_study(
        directions=["minimize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(objective, n_trials=30)
    (trace,) = optuna.visualization.plot_hypervolume_history(study, [140.0, 50.0]).data
    volumes = list(trace.y)
    result["one_point_per_trial"] = list(trace.x) == list(range(30))
    result["never_shrinks"] = all(a <= b for a, b in zip(volumes, volumes[1:]))
    result["grows"] = volumes[-1] > volumes[0] > 0
    result["mode"] = trace.mode
    try:
        optuna.visualization.plot_hypervolume_history(study, [1.0])
    except ValueError:
        result["bad_reference"] = "ValueError"
    """
    from_optuna, from_tunelab = run_both(body, tmp_path)
    assert from_optuna == from_tunelab
    assert from_tunelab["grows"] and from_tunelab["never_shrinks"]


def test_param_importances_of_one_objective_of_a_multi_objective_study(tmp_path):
    body = """
    def objective(trial):
        x = trial.suggest_float("x", -3.0, 3.0)
        y = trial.suggest_float("y", -3.0, 3.0)
        return x ** 2, (y - 1) ** 2 + 0.01 * x

    study = optuna.create_study(
        directions=["minimize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(objective, n_trials=40)
    figure = optuna.visualization.plot_param_importances(
        study, target=lambda t: t.values[0], target_name="error"
    )
    (bars,) = figure.data
    result["one_bar_trace"] = (type(figure).__name__, bars.type, bars.orientation, bars.name)
    result["drawn_top_down"] = list(bars.y)[::-1]
    result["traces_without_target"] = len(optuna.visualization.plot_param_importances(study).data)
    """
    from_optuna, from_tunelab = run_both(body, tmp_path)
    assert from_optuna == from_tunelab
    assert from_tunelab["drawn_top_down"] == ["x", "y"]
    assert from_tunelab["traces_without_target"] == 2


def test_get_param_importances_ranks_the_only_parameter_that_matters_first(tmp_path):
    body = """
    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        trial.suggest_float("y", -10, 10)
        trial.suggest_categorical("z", ["a", "b", "c"])
        return x ** 2

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=60)

    importances = optuna.importance.get_param_importances(study)
    result["type"] = type(importances).__name__
    result["parameters"] = sorted(importances)
    result["ordered"] = list(importances.values()) == sorted(importances.values(), reverse=True)
    result["sums_to_one"] = abs(sum(importances.values()) - 1.0) < 1e-9
    result["first"] = next(iter(importances))
    for evaluator in (
        optuna.importance.FanovaImportanceEvaluator(seed=0),
        optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=0),
        optuna.importance.PedAnovaImportanceEvaluator(target_quantile=0.2),
    ):
        ranked = optuna.importance.get_param_importances(study, evaluator=evaluator)
        result[type(evaluator).__name__] = next(iter(ranked))
    raw = optuna.importance.get_param_importances(
        study, target=lambda t: -t.value, normalize=False
    )
    result["raw_first"] = next(iter(raw))
    result["raw_is_not_a_share"] = abs(sum(raw.values()) - 1.0) > 1e-6
    """
    from_optuna, from_tunelab = run_both(body, tmp_path)
    assert from_optuna == from_tunelab
    assert from_tunelab["first"] == "x"


def test_a_users_sampler_searches_the_intersection_search_space(tmp_path):
    body = """
    import numpy as np

    class NearTheBestSampler(optuna.samplers.BaseSampler):
        # Proposes each float parameter that every trial shares near the best trial's value;
        # leaves the rest (choices, conditional parameters) to random sampling.

        def __init__(self, seed):
            self._rng = np.random.RandomState(seed)
            self._random = optuna.samplers.RandomSampler(seed=seed)
            self._space = optuna.search_space.IntersectionSearchSpace()
            self.spaces = []

        def infer_relative_search_space(self, study, trial):
            space = self._space.calculate(study)
            self.spaces.append(sorted(space))
            return space

        def sample_relative(self, study, trial, search_space):
            done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
            if not done:
                return {}
            best = min(done, key=lambda t: t.value)
            proposal = {}
            for name, dist in search_space.items():
                if isinstance(dist, optuna.distributions.FloatDistribution) and not dist.log:
                    width = 0.1 * (dist.high - dist.low)
                    moved = best.params[name] + self._rng.normal(0.0, width)
                    proposal[name] = float(np.clip(moved, dist.low, dist.high))
            return proposal

        def sample_independent(self, study, trial, param_name, param_distribution):
            return self._random.sample_independent(study, trial, param_name, param_distribution)

    def objective(trial):
        x = trial.suggest_float("x", -5.0, 5.0)
        y = trial.suggest_float("y", -5.0, 5.0)
        kind = trial.suggest_categorical("kind", ["plain", "shifted"])
        shift = trial.suggest_float("shift", 0.0, 1.0) if kind == "shifted" else 0.0
        return (x - 1) ** 2 + (y + 1) ** 2 + shift

    sampler = NearTheBestSampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=30)
    result["space_at_first"] = sampler.spaces[0]
    result["space_at_last"] = sampler.spaces[-1]
    result["whole_study"] = sorted(optuna.search_space.intersection_search_space(study.trials))
    result["closer_than_random"] = study.best_value < 1.0
    """
    from_optuna, from_tunelab = run_both(body, tmp_path)
    assert from_optuna == from_tunelab
    assert from_tunelab["space_at_last"] == ["kind", "x", "y"]  # shift is conditional


def test_histories_of_several_studies_with_and_without_error_bars(tmp_path):
    body = """
    def objective(trial):
        return trial.suggest_float("x", -1.0, 1.0) ** 2

    studies = []
    for seed in range(3):
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        study.optimize(objective, n_trials=10)
        studies.append(study)
    each = optuna.visualization.plot_optimization_history(studies)
    result["every_study_in_the_legend"] = all(
        any(study.study_name in (trace.name or "") for trace in each.data) for study in studies
    )
    spread = optuna.visualization.plot_optimization_history(studies, error_bar=True)
    result["error_bars"] = any(
        trace.error_y is not None and trace.error_y.array is not None for trace in spread.data
    )
    result["kind"] = type(spread).__name__
    """
    from_optuna, from_tunelab = run_both(body, tmp_path)
    assert from_optuna == from_tunelab
    assert from_tunelab == {"every_study_in_the_legend": True, "error_bars": True,
                            "kind": "Figure"}


@needs_matplotlib
def test_the_matplotlib_figures_are_axes(tmp_path):
    body = STUDY + """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    kinds = {}
    for name in figure_names:
        drawn = getattr(optuna.visualization.matplotlib, name)(study)
        if isinstance(drawn, np.ndarray):
            kinds[name] = ("array", drawn.shape, type(drawn.flat[0]).__name__)
        else:
            kinds[name] = ("single", type(drawn).__name__)
        plt.close("all")
    result["kinds"] = kinds
    result["available"] = optuna.visualization.matplotlib.is_available()
    """
    from_optuna, from_tunelab = run_both(body, tmp_path, figure_names=FIGURE_NAMES)
    assert from_optuna == from_tunelab
    assert from_tunelab["kinds"]["plot_slice"] == ("array", (2,), "Axes")
