"""TuneSearchCV: a scikit-learn estimator that searches with a tunelab study."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import Lasso, LogisticRegression, Ridge, SGDClassifier
from sklearn.model_selection import KFold, RandomizedSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

import tunelab
from tunelab._attrs import CV_CURVES_ATTR, WORKER_ATTR
from tunelab.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from tunelab.exceptions import ConfigError
from tunelab.sklearn import SearchFailedError, TuneSearchCV
from tunelab.trial import TrialState, worker_name


@pytest.fixture(autouse=True)
def one_math_thread():
    """The tests' fits are tiny: one BLAS thread runs them fastest, even on a busy machine."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


# --- scikit-learn's own checks ------------------------------------------------------------------

# As scikit-learn checks its own searches: error_score="raise", so that a fit's error is the
# error the check expects.
CHECKED = [
    TuneSearchCV(Ridge(), {"alpha": FloatDistribution(0.1, 10.0, log=True)}, n_trials=3, cv=2,
                 random_state=0, error_score="raise"),
    TuneSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, n_trials=3, cv=2, random_state=0,
                 error_score="raise"),
    TuneSearchCV(make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": [0.1, 1.0]},
                 n_trials=3, cv=2, random_state=0, error_score="raise"),
    TuneSearchCV(LogisticRegression(), {"C": stats.loguniform(0.1, 10.0)}, n_trials=3, cv=2,
                 random_state=0),
]


def expected_failed_checks(search):
    if search.error_score == "raise":
        return {}
    return {
        "check_dtype_object": (
            "with error_score=NaN (the default) a fit's TypeError fails only its trial, and a "
            "search whose every fit failed raises SearchFailedError (a ValueError naming the "
            "first error), as RandomizedSearchCV raises a ValueError; the check wants the "
            "TypeError itself, which error_score='raise' gives (checked above)"
        ),
    }


@parametrize_with_checks(CHECKED, expected_failed_checks=expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# --- parameters ---------------------------------------------------------------------------------


def test_parameters_are_kept_as_given_and_clone_and_nest():
    space = {"alpha": stats.loguniform(1e-3, 1e2)}
    search = TuneSearchCV(Ridge(), space, n_trials=7, pruner=None, random_state=3)
    assert search.param_distributions is space
    params = search.get_params()
    assert params["n_trials"] == 7 and params["pruner"] is None and params["estimator__alpha"] == 1
    search.set_params(estimator__alpha=5.0, n_trials=4)
    assert search.estimator.alpha == 5.0 and search.n_trials == 4
    copy = clone(search)
    assert copy is not search and copy.estimator is not search.estimator
    assert copy.get_params()["estimator__alpha"] == 5.0
    assert TuneSearchCV(Ridge(), space).get_params()["pruner"] == "median"


def test_a_fitted_search_pickles_with_its_study(diabetes):
    X, y = diabetes
    search = TuneSearchCV(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, n_trials=3, cv=3,
                          random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(search))
    np.testing.assert_allclose(copy.predict(X[:5]), search.predict(X[:5]))
    assert [r.params for r in copy.study_.trials] == [r.params for r in search.study_.trials]
    assert copy.study_.best_value == search.study_.best_value


# --- results ------------------------------------------------------------------------------------


def test_cv_results_have_randomized_search_keys_and_shapes(diabetes):
    X, y = diabetes
    space = {"alpha": stats.loguniform(1e-3, 1e2), "fit_intercept": [True, False]}
    ours = TuneSearchCV(Ridge(), space, n_trials=6, cv=3, return_train_score=True,
                        random_state=0).fit(X, y)
    theirs = RandomizedSearchCV(Ridge(), space, n_iter=6, cv=3, return_train_score=True,
                                random_state=0).fit(X, y)
    results = ours.cv_results_
    assert set(results) == set(theirs.cv_results_) | {"state"}
    assert list(results)[:4] == list(theirs.cv_results_)[:4]
    for key, value in results.items():
        assert len(value) == 6, key
    assert isinstance(results["param_alpha"], np.ma.MaskedArray)
    assert results["param_alpha"].dtype.kind == "f"
    assert results["params"][ours.best_index_] == ours.best_params_
    assert ours.best_score_ == results["mean_test_score"][ours.best_index_]
    assert results["rank_test_score"][ours.best_index_] == 1
    assert ours.n_splits_ == 3 and ours.refit_time_ >= 0 and not ours.multimetric_
    assert len(ours.trials_) == 6
    assert ours.study_.best_params == ours.trials_[ours.best_index_].params


def test_several_metrics_refit_on_the_one_named(iris):
    X, y = iris
    search = TuneSearchCV(
        LogisticRegression(max_iter=500), {"C": stats.loguniform(1e-2, 1e2)}, n_trials=4, cv=3,
        scoring={"acc": "accuracy", "nll": "neg_log_loss"}, refit="nll", random_state=0,
    ).fit(X, y)
    theirs = RandomizedSearchCV(
        LogisticRegression(max_iter=500), {"C": stats.loguniform(1e-2, 1e2)}, n_iter=4, cv=3,
        scoring={"acc": "accuracy", "nll": "neg_log_loss"}, refit="nll", random_state=0,
    ).fit(X, y)
    assert set(search.cv_results_) == set(theirs.cv_results_) | {"state"}
    assert search.multimetric_ and set(search.scorer_) == {"acc", "nll"}
    nll = search.cv_results_["mean_test_nll"]
    assert search.best_index_ == int(np.nanargmax(nll))
    assert search.study_.best_value == pytest.approx(nll[search.best_index_])
    assert search.score(X, y) == pytest.approx(search.scorer_["nll"](search.best_estimator_, X, y))


def test_without_refit_there_is_no_estimator_but_the_best_parameters(diabetes):
    X, y = diabetes
    search = TuneSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, n_trials=2, cv=3, refit=False,
                          random_state=0).fit(X, y)
    assert search.best_params_ in ({"alpha": 0.1}, {"alpha": 1.0})
    assert np.isfinite(search.best_score_)
    assert not hasattr(search, "best_estimator_") and not hasattr(search, "predict")
    with pytest.raises(AttributeError) as missing:
        search.predict(X)
    assert "made with refit=False" in str(missing.value.__cause__)
    several = TuneSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, n_trials=2, cv=3, refit=False,
                           scoring=["r2", "neg_mean_absolute_error"]).fit(X, y)
    assert not hasattr(several, "best_params_") and "mean_test_r2" in several.cv_results_


def test_a_refit_callable_picks_the_best_index(diabetes):
    X, y = diabetes
    search = TuneSearchCV(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, n_trials=3, cv=3,
                          refit=lambda results: 0, random_state=0).fit(X, y)
    assert search.best_index_ == 0 and search.best_params_ == search.cv_results_["params"][0]
    assert not hasattr(search, "best_score_")
    assert search.best_estimator_.alpha == search.best_params_["alpha"]


def test_methods_follow_the_estimator(iris):
    X, y = iris
    svc = TuneSearchCV(SVC(), {"C": [0.5, 1.0]}, n_trials=2, cv=3, random_state=0)
    assert hasattr(svc, "decision_function") and not hasattr(svc, "predict_proba")
    assert not hasattr(svc, "transform")
    svc.fit(X, y)
    np.testing.assert_array_equal(svc.classes_, [0, 1, 2])
    assert svc.predict(X[:3]).shape == (3,) and svc.n_features_in_ == 4
    scaler = TuneSearchCV(make_pipeline(MinMaxScaler(), Ridge()), {"ridge__alpha": [1.0]},
                          n_trials=1, cv=3).fit(X, y)
    assert hasattr(scaler, "predict") and not hasattr(scaler, "predict_proba")


# --- search spaces ------------------------------------------------------------------------------


def test_scipy_distributions_become_tunelab_ranges_or_quantiles(diabetes):
    X, y = diabetes
    space = {
        "alpha": stats.loguniform(1e-3, 1e1),
        "tol": stats.uniform(1e-4, 1e-3),
        "max_iter": stats.randint(100, 200),
        "selection": ["cyclic", "random"],
    }
    search = TuneSearchCV(Lasso(), space, n_trials=3, cv=2, random_state=0).fit(X, y)
    distributions = search.study_.trials[0].distributions
    assert distributions["alpha"] == FloatDistribution(1e-3, 1e1, log=True)
    assert distributions["tol"] == FloatDistribution(1e-4, 1.1e-3)
    assert distributions["max_iter"] == IntDistribution(100, 199)
    assert distributions["selection"] == CategoricalDistribution(("cyclic", "random"))
    assert search.best_params_.keys() == space.keys()


def test_a_distribution_without_a_tunelab_range_is_searched_by_its_quantiles(diabetes):
    X, y = diabetes
    scale = stats.lognorm(s=1.0, scale=1.0)
    search = TuneSearchCV(Ridge(), {"alpha": scale, "max_iter": stats.poisson(50)}, n_trials=4,
                          cv=2, random_state=0).fit(X, y)
    for record, params in zip(search.trials_, search.cv_results_["params"]):
        assert set(record.params) == {"alpha.quantile", "max_iter.quantile"}
        assert params["alpha"] == pytest.approx(scale.ppf(record.params["alpha.quantile"]))
        assert isinstance(params["max_iter"], int)
        assert params["max_iter"] == stats.poisson(50).ppf(record.params["max_iter.quantile"])


def test_a_pipeline_searches_step_parameters_and_whole_steps(iris):
    X, y = iris
    pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    space = {"scale": [StandardScaler(), MinMaxScaler(), "passthrough"],
             "model__C": stats.loguniform(1e-2, 1e2)}
    search = TuneSearchCV(pipeline, space, n_trials=6, cv=3, random_state=0).fit(X, y)
    labels = {record.params["scale"] for record in search.trials_}
    assert labels <= {"StandardScaler()", "MinMaxScaler()", "'passthrough'"}
    chosen = search.best_estimator_.get_params()["scale"]
    assert repr(chosen) == search.trials_[search.best_index_].params["scale"]
    assert chosen is not space["scale"][0]  # each fit gets a copy of a chosen estimator
    assert search.cv_results_["param_scale"].dtype == object


def test_a_list_of_dicts_searches_each_space(iris):
    X, y = iris
    spaces = [{"kernel": ["linear"], "C": [0.1, 1.0]}, {"kernel": ["rbf"], "gamma": [0.1, 1.0]}]
    search = TuneSearchCV(SVC(), spaces, n_trials=8, cv=3, sampler="random",
                          random_state=0).fit(X, y)
    for params in search.cv_results_["params"]:
        assert set(params) in ({"kernel", "C"}, {"kernel", "gamma"})
    gamma = search.cv_results_["param_gamma"]
    used = [params["kernel"] == "rbf" for params in search.cv_results_["params"]]
    np.testing.assert_array_equal(~gamma.mask, used)
    assert {record.params["param_distributions"] for record in search.trials_} == {0, 1}


# --- pruning ------------------------------------------------------------------------------------


def test_pruning_between_folds_leaves_the_unrun_folds_nan(diabetes):
    X, y = diabetes
    search = TuneSearchCV(Ridge(), {"alpha": stats.loguniform(1e-4, 1e4)}, n_trials=20, cv=5,
                          sampler="random", random_state=0).fit(X, y)
    results = search.cv_results_
    pruned = [i for i, r in enumerate(search.trials_) if r.state is TrialState.PRUNED]
    assert pruned and len(pruned) < 20
    for row in pruned:
        ran = len(search.trials_[row].intermediate_values)
        splits = [results[f"split{k}_test_score"][row] for k in range(5)]
        assert np.isfinite(splits[:ran]).all() and np.isnan(splits[ran:]).all()
        assert results["state"][row] == "PRUNED" and np.isnan(results["mean_test_score"][row])
        assert results["rank_test_score"][row] == results["rank_test_score"].max()
    record = search.trials_[pruned[0]]
    for fold, mean in record.intermediate_values.items():  # the running mean, fold by fold
        expected = np.mean([results[f"split{k}_test_score"][pruned[0]] for k in range(fold + 1)])
        assert mean == pytest.approx(expected)
    assert search.trials_[search.best_index_].state is TrialState.COMPLETE


def test_no_pruner_runs_every_fold(diabetes):
    X, y = diabetes
    search = TuneSearchCV(Ridge(), {"alpha": stats.loguniform(1e-4, 1e4)}, n_trials=12, cv=3,
                          pruner=None, sampler="random", random_state=0).fit(X, y)
    assert set(search.cv_results_["state"]) == {"COMPLETE"}


def test_partial_fit_epochs_prune_between_epochs(digits):
    X, y = digits
    search = TuneSearchCV(
        SGDClassifier(random_state=0), {"alpha": stats.loguniform(1e-6, 1e0)}, n_trials=12,
        cv=3, partial_fit_epochs=4, sampler="random", random_state=0,
    ).fit(X, y)
    states = [record.state for record in search.trials_]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    for record, state in zip(search.trials_, states):
        curves = record.system_attrs[CV_CURVES_ATTR]
        steps = sorted(record.intermediate_values)
        assert steps == list(range(len(steps)))  # one report per epoch
        assert all([point[0] for point in curve] == steps for curve in curves)
        mean = np.mean([curve[-1][1] for curve in curves])
        assert record.intermediate_values[steps[-1]] == pytest.approx(mean)
        assert len(steps) == 4 if state is TrialState.COMPLETE else len(steps) < 4
    best = search.best_estimator_
    assert best.t_ > 1 and best.alpha == search.best_params_["alpha"]


@pytest.mark.parametrize(
    ("epochs", "every", "scored"),
    [(5, 2, [1, 3, 4]), (10, None, [1, 3, 5, 7, 9]), (4, None, [0, 1, 2, 3]), (3, 5, [2])],
)
def test_partial_fit_epochs_are_scored_every_score_every_epochs_and_after_the_last(
    digits, epochs, every, scored
):
    X, y = digits
    search = TuneSearchCV(
        SGDClassifier(random_state=0), {"alpha": stats.loguniform(1e-6, 1e0)}, n_trials=8,
        cv=3, partial_fit_epochs=epochs, score_every_epochs=every, sampler="random",
        random_state=0,
    ).fit(X, y)
    for record in search.trials_:
        steps = sorted(record.intermediate_values)
        assert steps == scored[: len(steps)]  # a pruned trial stops at a scored epoch
        if record.state is TrialState.COMPLETE:
            assert steps == scored
        curves = record.system_attrs[CV_CURVES_ATTR]
        assert all([point[0] for point in curve] == steps for curve in curves)


class _PartialFitCalls(SGDClassifier):
    """An SGDClassifier that notes, per partial_fit call, whether it was given the classes."""

    given_classes: list[bool] = []

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        self.given_classes.append(classes is not None)
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)


def test_partial_fit_gets_the_classes_on_its_first_call_only(digits):
    X, y = digits
    _PartialFitCalls.given_classes.clear()
    search = TuneSearchCV(
        _PartialFitCalls(random_state=0), {"alpha": [1e-4]}, n_trials=1, cv=2,
        partial_fit_epochs=3, pruner=None,
    ).fit(X, y)
    # two folds trained side by side for 3 epochs, then the refit on all the data
    assert _PartialFitCalls.given_classes == [True, True, False, False, False, False,
                                              True, False, False]
    assert list(search.best_estimator_.classes_) == list(np.unique(y))


def test_the_default_sampler_is_tpe(diabetes):
    X, y = diabetes
    search = TuneSearchCV(Ridge(), {"alpha": stats.loguniform(1e-3, 1e2)}, n_trials=3, cv=2,
                          random_state=0).fit(X, y)
    assert isinstance(search.study_.sampler, tunelab.samplers.TPESampler)


# --- failures and mistakes ----------------------------------------------------------------------


def test_a_numeric_error_score_scores_the_failed_fits(iris):
    X, y = iris
    space = {"C": [1.0], "solver": ["lbfgs", "no-such-solver"]}
    with pytest.warns(FitFailedWarning, match="fits failed"):
        search = TuneSearchCV(LogisticRegression(max_iter=500), space, n_trials=4, cv=3,
                              error_score=-1.0, sampler="bruteforce").fit(X, y)
    failed = [p["solver"] == "no-such-solver" for p in search.cv_results_["params"]]
    assert any(failed)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"][failed], -1.0)
    assert search.best_params_["solver"] == "lbfgs"


def test_a_search_whose_every_fit_fails_says_why(iris):
    X, y = iris
    search = TuneSearchCV(LogisticRegression(), {"solver": ["no-such-solver"]}, n_trials=2, cv=3)
    with pytest.raises(SearchFailedError, match="no candidate could be scored.*no-such-solver"):
        search.fit(X, y)
    with pytest.raises(ValueError, match="no-such-solver"):
        search.set_params(error_score="raise").fit(X, y)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"param_distributions": {"alpah": [1.0]}},
         r"'alpah', which Ridge does not take \(did you mean 'alpha'\?\).*alpha, copy_X"),
        ({"param_distributions": {"alpha": "1.0"}}, r"param_distributions\['alpha'\].*list"),
        ({"param_distributions": {"alpha": []}}, r"param_distributions\['alpha'\].*empty"),
        ({"param_distributions": {"alpha": stats.uniform(5, -1)}}, r"param_distributions"),
        ({"param_distributions": {}}, "non-empty dict"),
        ({"scoring": ["r2", "neg_mean_squared_error"]}, "refit must name the one"),
        ({"scoring": ["r2", "neg_max_error"], "refit": "neg_max_eror"},
         r"'neg_max_eror' is not a metric of scoring \(did you mean 'neg_max_error'"),
        ({"refit": "r2"}, "names a metric"),
        ({"scoring": "neg_mean_squared_eror"},
         r"not a scorer name \(did you mean 'neg_mean_squared_error'"),
        ({"partial_fit_epochs": 3}, "partial_fit, which Ridge has not"),
        ({"score_every_epochs": 2}, "partial_fit_epochs is None.*set partial_fit_epochs too"),
        ({"score_every_epochs": 0}, "score_every_epochs=0 must be an integer >= 1"),
        ({"n_trials": 0}, "n_trials=0 must be an integer >= 1"),
        ({"error_score": "ignore"}, "error_score='ignore'"),
        ({"random_state": "seed"}, "random_state='seed'"),
        ({"n_jobs": 0}, "n_jobs=0"),
    ],
)
def test_mistakes_are_named_with_their_fix(diabetes, options, match):
    X, y = diabetes
    settings = {"estimator": Ridge(), "param_distributions": {"alpha": [1.0]}, "n_trials": 2,
                "cv": 2, **options}
    with pytest.raises(ConfigError, match=match):
        TuneSearchCV(**settings).fit(X, y)


def test_a_pipeline_parameter_name_mistake_lists_the_step_parameters(diabetes):
    X, y = diabetes
    search = TuneSearchCV(make_pipeline(StandardScaler(), Ridge()), {"ridge_alpha": [1.0]})
    with pytest.raises(ConfigError, match=r"ridge__alpha.*step__parameter"):
        search.fit(X, y)


def test_a_study_name_taken_in_the_storage_is_refused(tmp_path, diabetes):
    X, y = diabetes
    url = f"sqlite:///{tmp_path / 'search.db'}"
    search = TuneSearchCV(Ridge(), {"alpha": [1.0, 2.0]}, n_trials=2, cv=2, storage=url,
                          study_name="ridge").fit(X, y)
    assert tunelab.load_study("ridge", url).best_value == search.best_score_
    with pytest.raises(ConfigError, match="study_name='ridge' already names a study"):
        search.fit(X, y)


# --- worker processes and skorch ----------------------------------------------------------------


@pytest.mark.slow
def test_n_jobs_runs_the_trials_in_worker_processes(diabetes):
    X, y = diabetes
    search = TuneSearchCV(Ridge(), {"alpha": stats.loguniform(1e-3, 1e2)}, n_trials=6, cv=3,
                          n_jobs=2, random_state=0).fit(X, y)
    assert len(search.trials_) == 6
    assert all(r.system_attrs[WORKER_ATTR] != worker_name() for r in search.trials_)
    assert search.study_.storage.__class__.__name__ == "InMemoryStorage"
    assert search.best_estimator_.alpha == search.best_params_["alpha"]


@pytest.mark.slow
def test_a_skorch_net_is_searched_epoch_by_epoch(iris, request):
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    request.addfinalizer(lambda: torch.set_num_threads(threads))

    class TinyNet(torch.nn.Module):
        def __init__(self, hidden=8):
            super().__init__()
            self.layers = torch.nn.Sequential(
                torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 3)
            )

        def forward(self, X):
            return self.layers(X)

    X, y = iris
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    net = skorch.NeuralNetClassifier(
        TinyNet, max_epochs=1, lr=0.1, batch_size=32, train_split=None, verbose=0,
        optimizer=torch.optim.SGD, criterion=torch.nn.CrossEntropyLoss,
    )
    space = {"lr": FloatDistribution(1e-3, 0.5, log=True), "module__hidden": [4, 16]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        search = TuneSearchCV(net, space, n_trials=6, cv=KFold(3, shuffle=True, random_state=0),
                              partial_fit_epochs=4, random_state=0).fit(X, y.astype(np.int64))
    assert len(search.trials_) == 6
    assert search.best_estimator_.module_.layers[0].out_features == search.best_params_[
        "module__hidden"]
    assert search.predict_proba(X[:5]).shape == (5, 3)
