"""Attributions of a trial's model: what the result holds, the errors, and two sanity checks on
real models (informative features of a synthetic table rank first; on the digits, integrated
gradients fall on the strokes)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import tunelab
from tunelab.analysis.explain import (
    BASELINES,
    TABULAR_METHODS,
    ExplainResult,
    class_summaries,
    explain,
    occlusion_window,
)
from tunelab.exceptions import ConfigError, MissingExtraError, TunelabError
from tunelab.torch import Task

pytest.importorskip("captum", reason="attributions need the explain extra")

N_FEATURES = 8
SIGNALS = ("signal_a", "signal_b")  # the label is the sign of their sum
NAMES = (*SIGNALS, *(f"noise_{i}" for i in range(N_FEATURES - len(SIGNALS))))
STROKE_LEVEL = 0.25  # a stroke pixel: the mean training picture is above 1/4 of its maximum


def synthetic_csv(folder: Path, seed: int, rows: int = 400) -> Path:
    """A table of standard normal features whose binary label is sign(signal_a + signal_b):
    the other features carry nothing about it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, N_FEATURES))
    labels = (x[:, 0] + x[:, 1] > 0).astype(int)
    path = folder / f"synthetic-{seed}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*NAMES, "label"])
        writer.writerows([*(f"{v:.5f}" for v in row), label] for row, label in zip(x, labels))
    return path


def tabular_task(folder: Path, seed: int, **data: object) -> Task:
    return Task({
        "data": {"name": "csv", "path": str(synthetic_csv(folder, seed)), "target": "label",
                 "seed": seed, **data},
        "model": {"name": "mlp", "depth": 1, "width": 16},
        "recipe": {"epochs": 20, "optimizer": "adam", "lr": 1e-2, "device": "cpu", "seed": seed},
        "artifacts": str(folder / "artifacts"),
        "threads": 1,
    })


def trained(task: Task, name: str = "explained", n_trials: int = 1) -> tunelab.Study:
    study = tunelab.create_study(name=name, direction=task.direction)
    study.optimize(task, n_trials=n_trials)
    return study


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> tuple[tunelab.Study, Task]:
    task = tabular_task(tmp_path_factory.mktemp("table"), seed=0, test_fraction=0.2)
    return trained(task), task


@pytest.fixture(scope="module")
def table_result(table: tuple[tunelab.Study, Task]) -> ExplainResult:
    study, task = table
    return explain(study, task, max_samples=50)


# --- what the result holds ----------------------------------------------------------------------


def test_the_result_names_the_features_classes_methods_and_runs(
    table: tuple[tunelab.Study, Task], table_result: ExplainResult
) -> None:
    study, task = table
    result = table_result

    assert result.trial == study.best_trial.number and result.split == "val"
    assert result.kind == "tabular" and result.input_shape == (N_FEATURES,)
    assert result.feature_names == NAMES  # the csv file's columns
    assert result.output_names == task.data.class_names == ("0", "1")
    assert result.n_samples == 50 and sum(result.class_counts) == 50
    assert result.methods == TABULAR_METHODS and result.headline == "integrated_gradients"
    assert result.baselines == BASELINES and result.examples == ()
    draws = tuple(f"training samples (draw {d})" for d in (1, 2, 3))
    assert result.attributions["integrated_gradients"].runs == ("zeros", "training mean", *draws)
    assert result.attributions["feature_ablation"].runs == ("zeros", "training mean", *draws)
    assert result.attributions["gradient_shap"].runs == draws
    assert result.attributions["saliency"].runs == ("gradient at the sample",)


def test_each_method_holds_mean_absolute_attributions_per_run_and_per_class(
    table_result: ExplainResult,
) -> None:
    for attribution in table_result.attributions.values():
        runs = len(attribution.runs)
        assert attribution.by_run.shape == (runs, N_FEATURES)
        assert attribution.per_class.shape == attribution.class_maps.shape == (2, N_FEATURES)
        assert (attribution.by_run >= 0).all() and (attribution.per_class >= 0).all()
        # The mean over all samples is the class means weighted by the class counts.
        counts = np.array(table_result.class_counts, dtype=float)
        weighted = (attribution.per_class * counts[:, None]).sum(axis=0) / counts.sum()
        np.testing.assert_allclose(attribution.overall, weighted, rtol=1e-9)
        np.testing.assert_allclose(attribution.shares.sum(axis=1), 1.0)
        assert np.abs(attribution.class_maps).max() <= attribution.per_class.max() + 1e-12
        with pytest.raises(ValueError, match="read-only"):
            attribution.by_run[0, 0] = 1.0
    assert np.isnan(table_result.attributions["saliency"].share_stderr).all()  # one run


def test_the_ranking_orders_the_features_by_their_mean_share(table_result: ExplainResult) -> None:
    ranking = table_result.ranking()
    shares = table_result.attributions["integrated_gradients"].mean_shares

    assert [f.index for f in ranking] == sorted(range(N_FEATURES), key=lambda i: -shares[i])
    assert [f.name for f in ranking] == [NAMES[f.index] for f in ranking]
    assert sum(f.share for f in ranking) == pytest.approx(1.0)
    assert all(f.stderr >= 0 for f in ranking)
    assert table_result.ranking("feature_ablation")[0].name in SIGNALS


def test_explaining_keeps_the_callers_random_state_and_threads(
    table: tuple[tunelab.Study, Task]
) -> None:
    study, task = table
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    state, numpy_state = torch.get_rng_state(), np.random.get_state()
    try:
        first = explain(study, task, methods=["gradient_shap"], max_samples=20, seed=3)
        assert torch.equal(torch.get_rng_state(), state)
        assert np.array_equal(np.random.get_state()[1], numpy_state[1])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    again = explain(study, task, methods=["gradient_shap"], max_samples=20, seed=3)
    np.testing.assert_array_equal(first.attributions["gradient_shap"].by_run,
                                  again.attributions["gradient_shap"].by_run)


def test_the_test_part_and_a_chosen_trial_can_be_explained(
    table: tuple[tunelab.Study, Task]
) -> None:
    study, task = table
    result = explain(study, task, 0, split="test", methods=["saliency"], baselines=["zeros"])

    assert result.split == "test" and result.trial == 0
    assert result.n_samples == len(task.data.x_test) and result.methods == ("saliency",)


def test_regression_attributes_each_output_over_every_sample(tmp_path: Path) -> None:
    task = Task({"data": {"name": "diabetes"}, "recipe": {"epochs": 2, "device": "cpu"},
                 "artifacts": str(tmp_path), "threads": 1})
    result = explain(trained(task, "diabetes"), task, max_samples=30, methods=["saliency"])

    assert result.output_names == ("target",) and result.class_counts == (30,)
    assert result.feature_names[:3] == ("age", "sex", "bmi")  # scikit-learn's names
    assert result.attributions["saliency"].per_class.shape == (1, 10)


def test_a_single_binary_logit_is_attributed_for_both_classes(tmp_path: Path) -> None:
    task = Task({"data": {"name": "breast_cancer"},
                 "recipe": {"epochs": 2, "loss": "bce", "device": "cpu"},
                 "artifacts": str(tmp_path), "threads": 1})
    result = explain(trained(task, "binary"), task, max_samples=40, methods=["saliency"])
    attribution = result.attributions["saliency"]

    assert result.output_names == ("malignant", "benign")
    assert all(result.class_counts) and attribution.per_class.shape == (2, 30)
    assert np.isfinite(attribution.class_maps).all()


# --- errors -------------------------------------------------------------------------------------


def test_errors_name_the_argument_and_the_fix(table: tuple[tunelab.Study, Task]) -> None:
    study, task = table
    cases = [
        ({"split": "train"}, "split", "split='train' is unknown; use one of: val, test"),
        ({"methods": ["occlusion"]}, "methods", "use 'feature_ablation' (occlusion replaces "
         "patches of a picture"),
        ({"methods": ["saliancy"]}, "methods", "did you mean 'saliency'"),
        ({"methods": []}, "methods", "methods is empty"),
        ({"baselines": ["zero"]}, "baselines", "'zero' is unknown (did you mean 'zeros'"),
        ({"baselines": ["mean", "mean"]}, "baselines", "give each baseline once"),
        ({"max_samples": 0}, "max_samples", "max_samples=0 must be an integer >= 1"),
        ({"trial": 99}, "trial", "study 'explained' has no such trial"),
    ]
    for options, field, message in cases:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as error:
            explain(study, task, **options)
        assert error.value.field == field


def test_what_cannot_be_explained_says_why(table: tuple[tunelab.Study, Task], tmp_path: Path):
    study, task = table
    no_test = tabular_task(tmp_path, seed=0)
    with pytest.raises(ConfigError, match="no test part; explain the validation part"):
        explain(study, no_test, split="test")
    no_weights = tabular_task(tmp_path, seed=0)
    no_weights.artifacts = None
    with pytest.raises(ConfigError, match="keeps no weights"):
        explain(study, no_weights)
    two = tunelab.create_study(name="two", directions=["maximize", "minimize"])
    with pytest.raises(ConfigError, match="2 objectives, so it has no single best trial"):
        explain(two, task)
    empty = tunelab.create_study(name="empty")
    with pytest.raises(TunelabError, match="no completed trial with saved weights"):
        explain(empty, task)


def test_without_captum_the_error_names_the_extra(
    table: tuple[tunelab.Study, Task], monkeypatch: pytest.MonkeyPatch
) -> None:
    study, task = table
    monkeypatch.setitem(sys.modules, "captum.attr", None)  # import fails

    with pytest.raises(MissingExtraError, match=r"pip install 'tunelab\[explain\]'"):
        explain(study, task)


def test_the_occlusion_patch_is_about_an_eighth_of_the_picture() -> None:
    assert occlusion_window((1, 8, 8)) == ((1, 2, 2), (1, 1, 1))
    assert occlusion_window((3, 32, 32)) == ((3, 4, 4), (3, 2, 2))
    assert occlusion_window((1, 1, 5)) == ((1, 1, 1), (1, 1, 1))


# --- sanity on real models ----------------------------------------------------------------------


def test_informative_features_rank_first_in_at_least_nine_of_ten_seeds(tmp_path: Path) -> None:
    """A fresh table, split and model per seed; every method must put the two signals on top."""
    hits = dict.fromkeys(TABULAR_METHODS, 0)
    for seed in range(10):
        folder = tmp_path / str(seed)
        folder.mkdir()
        task = tabular_task(folder, seed)
        result = explain(trained(task, f"seed-{seed}"), task, max_samples=128, n_steps=16)
        for method in TABULAR_METHODS:
            hits[method] += {f.name for f in result.ranking(method)[:2]} == set(SIGNALS)
    assert all(count >= 9 for count in hits.values()), hits


def test_on_the_digits_integrated_gradients_fall_on_the_strokes(tmp_path: Path) -> None:
    task = Task({
        "data": {"name": "digits_images", "val_fraction": 0.2, "seed": 0},
        "model": {"name": "cnn", "depth": 2, "channels": 8},
        "recipe": {"epochs": 6, "optimizer": "adam", "lr": 5e-3, "batch_size": 32,
                   "device": "cpu", "seed": 0},
        "artifacts": str(tmp_path),
        "threads": 1,
    })
    study = trained(task, "digits")
    result = explain(study, task, methods=["integrated_gradients"])
    mean_picture = task.data.x_train.numpy().mean(axis=0)  # (1, 8, 8), in ink levels 0..16
    strokes = mean_picture > STROKE_LEVEL * mean_picture.max()
    attribution = result.attributions["integrated_gradients"].overall

    assert study.best_value > 0.9  # a model worth explaining
    assert attribution[strokes].sum() / attribution.sum() > 0.8
    assert result.kind == "image" and result.feature_names == ()
    assert [e.label for e in result.examples] == list(range(10))
    assert all(e.input.shape == (1, 8, 8) for e in result.examples)
    assert [s.name for s in class_summaries(result)] == list(task.data.class_names)
    assert result.methods == ("integrated_gradients",)
    with pytest.raises(TunelabError, match="pixels are not ranked one by one"):
        result.ranking()
