"""The HTML report, read back with an HTML parser: its sections, what they say about real
studies, what they say when something cannot be shown, and that text from a study is escaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tunelab
from tests.report.conftest import N_DIVERGING, N_TRAINED_TRIALS, digits_task_spec
from tests.report.page import ReportPage
from tunelab._attrs import ARTIFACT_ATTR, STUDY_FILE_ATTR
from tunelab.config import (
    StorageTrust,
    UntrustedStorageError,
    config_record,
    validate_study_config,
)
from tunelab.exceptions import ConfigError, TunelabError
from tunelab.report import SECTION_IDS, render_report, stored_task, write_report
from tunelab.trial import TrialState

PLOTLY_BANNER = "* plotly.js v"
SINGLE_OBJECTIVE_FIGURES = [
    "figure-optimization-history",
    "figure-edf",
    "figure-slice",
    "figure-parallel-coordinate",
    "figure-contour",
    "figure-intermediate-values",
    "figure-timeline",
    "figure-training-curves",
    "figure-gradient-norms",
    "figure-activations",
    "figure-gradients-distributions",
    "figure-activations-distributions",
    "figure-weights-distributions",
    "figure-importance",
    "figure-feature-attributions",
    "figure-confusion-matrix",
    "figure-confident-mistakes",
]


def figure_ids(page: ReportPage) -> list[str]:
    return [i for i in page.ids if i.startswith("figure-")]


def ranked_numbers(study: tunelab.Study) -> list[int]:
    completed = study.get_trials((TrialState.COMPLETE,))
    return [r.number for r in sorted(completed, key=lambda r: (-r.values[0], r.number))]


@pytest.fixture(scope="module")
def trained_page(reports: dict[str, Path]) -> ReportPage:
    return ReportPage.read(reports["trained"])


@pytest.fixture(scope="module")
def multi_page(reports: dict[str, Path]) -> ReportPage:
    return ReportPage.read(reports["multi"])


# --- the document -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["trained", "multi"])
def test_every_section_is_there_in_order(reports: dict[str, Path], name: str) -> None:
    page = ReportPage.read(reports[name])

    assert list(page.sections) == list(SECTION_IDS)
    # More than a heading (the longest, "Ensemble of the best trials", is five words).
    assert all(len(page.text(section).split()) > 8 for section in SECTION_IDS)


@pytest.mark.parametrize("name", ["trained", "multi"])
def test_plotly_js_is_inlined_once_and_nothing_is_fetched(
    reports: dict[str, Path], name: str
) -> None:
    source = reports[name].read_text(encoding="utf-8")
    page = ReportPage(source)

    assert source.count(PLOTLY_BANNER) == 1
    assert page.external == []  # no CDN script, stylesheet, font or image
    assert source.count("Plotly.newPlot(") == len(figure_ids(page))


def test_write_report_returns_the_path_it_wrote(reports: dict[str, Path]) -> None:
    path = reports["trained"]

    assert path.name == "trained.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# --- what the sections say --------------------------------------------------------------------


def test_summary_counts_the_trials_by_state_and_names_the_best(
    trained: tuple[tunelab.Study, object], trained_page: ReportPage
) -> None:
    study, _ = trained
    counts = {state: len(study.get_trials((state,))) for state in TrialState}
    text = trained_page.text("summary")

    assert counts[TrialState.COMPLETE] >= 2 and counts[TrialState.PRUNED] >= 1
    assert counts[TrialState.FAIL] >= N_DIVERGING
    assert (
        f"Study digits-report Objectives maximize val_accuracy Trials {N_TRAINED_TRIALS} in all"
        in text
    )
    for state, word in [(TrialState.COMPLETE, "complete"), (TrialState.PRUNED, "pruned"),
                        (TrialState.FAIL, "fail")]:
        assert f"{counts[state]} {word}" in text
    best = study.best_trial
    assert f"val_accuracy = {best.value:.6g} at trial {best.number}" in text
    assert f"lr={best.params['lr']:.6g}" in text
    assert " to " in text and "Created" in text


def test_best_trials_lists_the_completed_trials_best_first(
    trained: tuple[tunelab.Study, object], trained_page: ReportPage
) -> None:
    study, _ = trained
    heading, *rows = trained_page.table("best-trials")

    assert heading == ["trial", "val_accuracy", "lr", "model.width", "batch_size", "duration"]
    assert [int(row[0]) for row in rows] == ranked_numbers(study)
    assert float(rows[0][1]) == pytest.approx(study.best_value, rel=1e-5)


def test_top_limits_the_best_trials_table(
    trained: tuple[tunelab.Study, object], tmp_path: Path
) -> None:
    study, _ = trained
    page = ReportPage.read(write_report(study, tmp_path / "top.html", top=2))
    completed = len(study.get_trials((TrialState.COMPLETE,)))

    assert [int(row[0]) for row in page.table("best-trials")[1:]] == ranked_numbers(study)[:2]
    assert f"The 2 completed trial(s) with the highest val_accuracy, of {completed}" in page.text(
        "best-trials")


def test_a_trained_study_gets_every_figure_and_its_best_trials_training(
    trained: tuple[tunelab.Study, object], trained_page: ReportPage
) -> None:
    study, _ = trained
    text = trained_page.text("figures")

    assert figure_ids(trained_page) == SINGLE_OBJECTIVE_FIGURES
    assert f"Training of the best trial ({study.best_trial.number})" in text
    assert "not drawn" not in text


def test_a_multi_objective_study_gets_its_pareto_front_and_figures_per_objective(
    multi_objective: tunelab.Study, multi_page: ReportPage
) -> None:
    per_objective = [
        f"figure-{name}-{objective}"
        for objective in ("error", "speed")
        for name in ("optimization-history", "edf", "slice", "parallel-coordinate", "contour")
    ]
    expected = [
        "figure-pareto-front", *per_objective, "figure-timeline",
        "figure-importance-error", "figure-importance-speed",
    ]
    text = multi_page.text("figures")

    assert figure_ids(multi_page) == expected
    assert "not drawn. plot_intermediate_values: study 'error-vs-speed' has no trial with " \
           "intermediate values" in text
    best = sorted(multi_objective.best_trials, key=lambda r: tuple(r.values))[0]
    assert f"Trial {best.number} has no training telemetry" in text


def test_figures_with_nothing_to_draw_leave_a_note_that_says_why() -> None:
    def never_completes(trial: tunelab.Trial) -> float:
        trial.suggest_float("x", 0.0, 1.0)
        trial.report(1.0, 0)
        if trial.number % 2:
            raise tunelab.TrialPruned()
        raise ValueError("no luck")

    study = tunelab.create_study(name="nothing-yet", sampler="random", seed=0)
    study.optimize(never_completes, n_trials=4)
    page = ReportPage(render_report(study))
    figures = page.text("figures")

    assert figure_ids(page) == ["figure-intermediate-values", "figure-timeline"]
    assert "Optimization history: not drawn. plot_optimization_history: study 'nothing-yet' " \
           "has no COMPLETE trial (it holds 2 FAIL, 2 PRUNED)" in figures
    assert "Empirical distribution: not drawn." in figures
    assert "No completed trial yet, so there is nothing to rank" in page.text("best-trials")
    assert "Trials 4 in all 2 pruned 2 fail" in page.text("summary")
    assert "Importance of value: not computed. fanova_importances: study 'nothing-yet' has 0 " \
           "completed trial(s)" in page.text("importance")
    assert "No ensemble:" in page.text("ensemble")


def test_parallel_coordinates_leave_out_conditional_parameters() -> None:
    def conditional(trial: tunelab.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
        if trial.suggest_categorical("optimizer", ["sgd", "adam"]) == "sgd":
            return lr * trial.suggest_float("momentum", 0.0, 0.9)
        return lr

    study = tunelab.create_study(name="conditional", sampler="random", seed=0)
    study.optimize(conditional, n_trials=12)
    source = render_report(study)
    start = source.index('id="figure-parallel-coordinate"')
    drawing = source[start:source.index("</figure>", start)]

    assert "1 conditional parameter(s) left out, so that every trial has a line" in drawing
    assert '"label":"lr"' in drawing and '"label":"optimizer"' in drawing
    assert '"label":"momentum"' not in drawing
    # Every completed trial has its line: the objective's axis holds all their values.
    values = re.search(r'\{"label":"Objective value","values":\[([^\]]*)\]', drawing)
    assert values is not None and len(values[1].split(",")) == 12


def test_importance_shares_each_parameter_of_the_variance(
    trained: tuple[tunelab.Study, object], trained_page: ReportPage
) -> None:
    study, _ = trained
    heading, *rows = trained_page.table("importance")
    shares = {name: float(share.rstrip("%")) for name, share in rows}
    completed = len(study.get_trials((TrialState.COMPLETE,)))

    assert heading == ["parameter", "share"]
    assert set(shares) == {"lr", "model.width", "batch_size"}
    assert sum(shares.values()) == pytest.approx(100.0, abs=0.2)
    assert list(shares.values()) == sorted(shares.values(), reverse=True)
    assert f"With {completed} completed trials these shares are rough" in trained_page.text(
        "importance")


def test_the_doctor_reports_the_diverged_trials_and_examines_the_best(
    trained: tuple[tunelab.Study, object], trained_page: ReportPage
) -> None:
    study, _ = trained
    text = trained_page.text("doctor")
    diverged = [r.number for r in study.trials if "training loss became" in (r.fail_reason or "")]

    assert len(diverged) >= N_DIVERGING
    assert "warning Many trials diverged many_diverged_trials" in text
    assert f"trials {', '.join(map(str, diverged))}" in text
    assert "Narrow the learning rate's range: set lr's high below" in text
    best = ", ".join(str(n) for n in ranked_numbers(study)[:3])
    assert f"The best 3 trial(s): {best} 3 trials checked, " in text


def test_the_doctor_says_it_could_not_see_a_training_without_telemetry(
    multi_objective: tunelab.Study, multi_page: ReportPage
) -> None:
    text = multi_page.text("doctor")
    (best,) = multi_objective.best_trials  # the Pareto front: one trial dominates the others

    assert "no problem" not in text.lower()
    assert (
        "The study as a whole 24 finished trials, 1 finding; their training was not checked (no "
        "telemetry for 24 of 24 completed or pruned trials)."
    ) in text
    assert "info Not checked: no training telemetry no_telemetry" in text
    assert f"The best 1 trial(s): {best.number} Not checked (no telemetry)." in text


def test_the_ensemble_combines_the_best_trials_of_the_task(
    trained: tuple[tunelab.Study, object], trained_page: ReportPage
) -> None:
    study, _ = trained
    text = trained_page.text("ensemble")
    library = ranked_numbers(study)[:5]

    assert "Method greedy ensemble selection (Caruana et al., ICML 2004)" in text
    assert f"Library trials {', '.join(map(str, library))}" in text
    scores = re.search(r"Test accuracy ([\d.]+) for the ensemble, ([\d.]+) for trial (\d+)", text)
    assert scores is not None, text
    ensemble, single, trial = float(scores[1]), float(scores[2]), int(scores[3])
    # The trainer scored the best trial on the test part when it finished: the same number.
    assert trial == study.best_trial.number
    assert single == pytest.approx(study.best_trial.user_attrs["test_accuracy"], abs=1e-5)
    assert 0.0 < ensemble <= 1.0
    assert "On the test part the ensemble scores" in text


def test_the_ensemble_section_scores_every_method_beside_the_best_trial(
    trained: tuple[tunelab.Study, object], trained_page: ReportPage
) -> None:
    from tunelab.analysis.ensembles import build_ensembles

    study, task = trained
    heading, single, *methods = trained_page.table("ensemble")
    k = min(5, len(ranked_numbers(study)))  # the report combines as many as saved weights
    expected = build_ensembles(study, task, k=k)

    assert heading == ["combination", "test accuracy", "better than the best trial by"]
    best = study.best_trial
    assert single[0] == f"best single trial (trial {best.number})"
    assert float(single[1]) == pytest.approx(best.user_attrs["test_accuracy"], abs=1e-5)
    names = ["average", "majority vote", "greedy selection", "stacking"]
    assert [row[0] for row in methods] == [f"{name} of the best {k}" for name in names]
    for row, result in zip(methods, expected.values()):
        assert float(row[1]) == pytest.approx(result.test_value, abs=1e-5)
        assert float(row[2]) == pytest.approx(result.improvement, abs=1e-3)
    # Bagging retrains, so it is left out unless asked, and the section says how to ask.
    assert "Bagging (the best trial retrained on bootstrap resamples of the training part, " \
           "averaged) is left out" in trained_page.text("ensemble")
    assert "ensemble_bagging=5" in trained_page.text("ensemble")


def test_stacking_in_detail_and_bagging_when_asked(
    trained: tuple[tunelab.Study, object]
) -> None:
    study, task = trained

    page = ReportPage(render_report(study, task=task, ensemble_method="stack",
                                    ensemble_bagging=2, trust_storage=True))
    text = page.text("ensemble")
    *_, bagged = page.table("ensemble")

    assert "Method stacking: a regularized linear model over the members' predictions, fitted " \
           "on the validation part" in text
    assert bagged[0] == (f"bagging: trial {study.best_trial.number} retrained on 2 bootstrap "
                         "resamples")
    assert 0.0 < float(bagged[1]) <= 1.0
    assert "is left out" not in text


def test_a_validation_part_too_small_to_stack_on_leaves_the_other_methods(
    trained: tuple[tunelab.Study, object]
) -> None:
    from tunelab.torch import Task

    study, task = trained
    spec = digits_task_spec(task.artifacts)  # the same trials' weights, another split
    spec["data"] = {**spec["data"], "val_fraction": 0.006}  # about one row per class

    page = ReportPage(render_report(study, task=Task(spec), trust_storage=True))
    text = page.text("ensemble")
    combinations = [row[0] for row in page.table("ensemble")[2:]]

    assert "Method greedy ensemble selection" in text
    assert [name.rsplit(" of the best", 1)[0] for name in combinations] == [
        "average", "majority vote", "greedy selection"]
    assert re.search(r"No stacking: stacking cross-validates by class on the validation part, "
                     r"but class \d has a single row there; raise data.val_fraction", text)


def test_the_best_trials_attributions_rank_the_digits_pixels(
    trained: tuple[tunelab.Study, object], trained_page: ReportPage
) -> None:
    study, _ = trained
    text = trained_page.text("explain")
    heading, *rows = trained_page.table("explain")

    assert text.startswith(f"Attributions of the best trial Trial {study.best_trial.number}'s "
                           "model, on 256 samples of the validation part")
    assert "Integrated gradients ran once per baseline (zeros, training mean, training samples " \
           "(draw 1)" in text
    assert heading == ["rank", "feature", "Integrated gradients share", "Saliency",
                       "GradientSHAP", "Feature ablation"]
    assert [int(row[0]) for row in rows] == list(range(1, 21))
    assert all(row[1].startswith("pixel_") for row in rows)  # scikit-learn's names
    shares = [float(row[2].split("%")[0]) for row in rows]
    assert shares == sorted(shares, reverse=True) and all("±" in row[2] for row in rows)
    assert "The other 44 features share" in text


def test_without_trust_the_attributions_say_how_to_ask(
    trained: tuple[tunelab.Study, object]
) -> None:
    study, task = trained
    page = ReportPage(render_report(study, task=task))  # type: ignore[arg-type]

    assert "No attributions: it is built from what the storage names" in page.text("explain")
    assert "figure-feature-attributions" not in figure_ids(page)


def test_no_attributions_for_several_objectives(multi_page: ReportPage) -> None:
    assert multi_page.text("explain") == (
        "Attributions of the best trial No attributions: study 'error-vs-speed' has 2 "
        "objectives, so it has no single best trial; `tunelab explain STUDY TRIAL "
        "--trust-storage` explains any trial of it."
    )


def test_no_ensemble_for_several_objectives(multi_page: ReportPage) -> None:
    assert multi_page.text("ensemble") == (
        "Ensemble of the best trials No ensemble: study 'error-vs-speed' has 2 objectives, so "
        "its trials have no single ranking to pick the best from; ensembles need one objective."
    )


# --- the task behind a study ------------------------------------------------------------------


def with_study_file(name: str, fields: dict) -> tunelab.Study:
    """An empty study with the record `tunelab run` stores for a study file of ``fields``."""
    study = tunelab.create_study(name=name)
    config = validate_study_config({"name": name, "n_trials": 1, **fields}, "test")
    record = config_record(config, None)
    study.storage.set_study_system_attr(study.study_id, STUDY_FILE_ATTR, record)
    return study


def test_stored_task_rebuilds_the_task_of_a_study_file(tmp_path: Path) -> None:
    spec = digits_task_spec(tmp_path)
    study = with_study_file("from-file", {"task": spec})

    task = stored_task(study, StorageTrust(data_roots=[tmp_path]))

    assert task.artifacts == str(tmp_path)
    assert task.metric == "accuracy" and task.recipe.epochs == spec["recipe"]["epochs"]


def test_saved_weights_outside_the_data_roots_are_refused_before_any_is_read(
    tmp_path: Path,
) -> None:
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    study = with_study_file("weights-elsewhere", {"task": digits_task_spec(inside / "runs")})

    def planted(trial: tunelab.Trial) -> float:
        trial.set_system_attr(ARTIFACT_ATTR, str(outside / f"trial-{trial.number}"))
        return trial.suggest_float("lr", 0.01, 0.1)

    study.optimize(planted, n_trials=2)

    with pytest.raises(UntrustedStorageError, match=r"study 'weights-elsewhere': the saved "
                       r"weights of trial \d: '.*outside/trial-\d' lies outside the data roots"):
        render_report(study, trust_storage=StorageTrust(data_roots=[inside]))


def test_without_a_task_the_ensemble_section_says_what_to_pass(
    trained: tuple[tunelab.Study, object]
) -> None:
    study, _ = trained
    objective_study = with_study_file("objective-file", {"objective": "mod:objective"})

    page = ReportPage(render_report(study, trust_storage=True))  # no task given, none stored

    assert "was not started by `tunelab run` from a study file with a 'task:', and no task was " \
           "given" in page.text("ensemble")
    assert "write_report(study, path, task=task)" in page.text("ensemble")
    with pytest.raises(TunelabError, match="optimizes the objective 'mod:objective', not a "
                                           "declarative task"):
        stored_task(objective_study)


def test_a_task_that_keeps_no_weights_gets_the_ensembles_own_advice(
    trained: tuple[tunelab.Study, object]
) -> None:
    from tunelab.torch import Task

    study, _ = trained
    spec = {**digits_task_spec("unused"), "artifacts": False}

    page = ReportPage(render_report(study, task=Task(spec), trust_storage=True))

    assert "No ensemble: build_ensemble: the task keeps no weights (artifacts: false)" in \
        page.text("ensemble")


# --- escaping and options ---------------------------------------------------------------------


HOSTILE_CHOICE = '<script>alert("choice")</script>'
HOSTILE_FAILURE = "<img src=x onerror=alert(1)>"


def test_text_from_the_study_is_escaped() -> None:
    def hostile(trial: tunelab.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        kind = trial.suggest_categorical("kind", [HOSTILE_CHOICE, "plain"])
        if trial.number % 3 == 2:
            raise ValueError(HOSTILE_FAILURE)
        return x + (0.0 if kind == HOSTILE_CHOICE else 1.0)  # the best trial has the choice

    study = tunelab.create_study(name="hostile", sampler="random", seed=0)
    study.optimize(hostile, n_trials=9)
    source = render_report(study)
    page = ReportPage(source)

    assert HOSTILE_CHOICE not in source and HOSTILE_FAILURE not in source
    assert page.external == []  # the <img src=x> stayed text
    assert HOSTILE_FAILURE in page.text("doctor")  # shown, as text, in the failed-trials finding
    assert f"kind={HOSTILE_CHOICE}" in page.text("summary")  # the best parameters
    assert HOSTILE_CHOICE in page.text("best-trials")


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"top": 0}, "top", "top=0 must be an integer >= 1"),
        ({"diagnosed": 1.5}, "diagnosed", "diagnosed=1.5 must be an integer >= 1"),
        ({"ensemble_size": 1}, "ensemble_size", "an ensemble combines at least 2 trials"),
        ({"ensemble_method": "blend"}, "ensemble_method",
         "use one of: average, vote, greedy, stack"),
        ({"ensemble_method": "stak"}, "ensemble_method", "did you mean 'stack'"),
        ({"ensemble_bagging": 1}, "ensemble_bagging", "ensemble_bagging=1 bags a single model"),
        ({"ensemble_bagging": -2}, "ensemble_bagging", "ensemble_bagging=-2 must be an integer"),
        ({"trust_storage": "yes"}, "trust_storage", "trust_storage='yes' must be True, False or"),
    ],
)
def test_bad_options_name_the_field(
    multi_objective: tunelab.Study, options: dict, field: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as error:
        render_report(multi_objective, **options)
    assert error.value.field == field


def test_an_unwritable_path_names_the_path(
    multi_objective: tunelab.Study, tmp_path: Path
) -> None:
    target = tmp_path / "missing-folder" / "report.html"

    message = "write_report: path: cannot write .*missing-folder.*No such"
    with pytest.raises(ConfigError, match=message) as error:
        write_report(multi_objective, target)
    assert error.value.field == "path"
    assert not target.exists()


def test_the_best_trials_mistakes_are_counted_on_the_validation_part(
    trained: tuple[tunelab.Study, object], trained_page: ReportPage
) -> None:
    study, task = trained
    text = trained_page.text("mistakes")
    n_val = len(task.data.y_val)
    wrong = round((1.0 - study.best_value) * n_val)

    assert text.startswith(f"Mistakes of the best trial Trial {study.best_trial.number}'s model "
                           f"on the validation part: {wrong} of {n_val} examples wrong")
    assert "figure-confusion-matrix" in trained_page.ids


def test_without_trust_the_mistakes_section_says_how_to_ask(
    trained: tuple[tunelab.Study, object]
) -> None:
    study, _ = trained
    page = ReportPage(render_report(study))
    assert "No confusion matrix: it is built from what the storage names" in page.text("mistakes")
