"""Loading a study file whole: every malformed file fails with one message that names the field
(or the file-level problem) and says how to fix it, and a declared task completes the config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.config.study_files import MALFORMED, Case, expected_fragments, write_case
from tunelab.config import load_study_config, load_study_file
from tunelab.exceptions import ConfigError


@pytest.mark.parametrize("case", MALFORMED, ids=[case.id for case in MALFORMED])
def test_malformed_file_names_the_problem(case: Case, tmp_path: Path) -> None:
    path, module = write_case(case, tmp_path)

    with pytest.raises(ConfigError) as raised:
        load_study_config(path)

    message = str(raised.value)
    assert message.startswith(str(path) + ":")
    for fragment in expected_fragments(case, module):
        assert fragment in message
    assert "\n" not in message.strip()
    assert not re.search(r"(?<!\.)\.\.(?!\.)", message), "a sentence ends twice"
    for pydantic_words in ("Input should", "validation error", "pydantic", "Value error,"):
        assert pydantic_words not in message


def test_malformed_cases_are_many_and_distinct() -> None:
    assert len(MALFORMED) >= 22
    assert len({case.id for case in MALFORMED}) == len(MALFORMED)


# Declarative tasks -----------------------------------------------------------------------------

TASK = "name: t\nn_trials: 1\ntask:\n  data: {name: iris}\n  model: {name: mlp, width: 8}\n"


def test_a_task_gives_the_study_its_direction_and_metric_name(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "task.yaml"
    path.write_text(TASK)
    config = load_study_config(path)
    assert config.objective_directions == ["maximize"]
    assert config.metric_names == ["val_accuracy"]


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ("objective: m:f\n", ["field 'task'", "both 'objective' and 'task'"]),
        ("direction: minimize\n", ["field 'direction'", "contradicts", "'accuracy'"]),
        ("directions: [maximize, minimize]\n", ["field 'directions'", "one metric"]),
    ],
)
def test_a_task_refuses_what_contradicts_it(
    tmp_path: Path, extra: str, fragments: list[str]
) -> None:
    error = refused(tmp_path, extra)
    for fragment in fragments:
        assert fragment in str(error)


def refused(tmp_path: Path, extra: str) -> ConfigError:
    """The error that loading the task study file with ``extra`` lines raises."""
    pytest.importorskip("torch")
    path = tmp_path / "task.yaml"
    path.write_text(TASK + extra)
    with pytest.raises(ConfigError) as caught:
        load_study_config(path)
    return caught.value


COSTS = "  objectives: [val_accuracy, parameters, inference_latency]\n"


def test_a_tasks_objectives_make_the_study_multi_objective(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "task.yaml"
    path.write_text(TASK + COSTS + "  limits: {parameters: 50k}\n")
    config = load_study_config(path)
    assert config.objective_directions == ["maximize", "minimize", "minimize"]
    assert config.metric_names == ["val_accuracy", "parameters", "inference_latency"]
    assert config.direction is None


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ("directions: [maximize, maximize, minimize]\n",
         ["field 'directions[1]'", "contradicts the task's cost 'parameters'", "low"]),
        ("direction: maximize\n", ["field 'direction'", "set its 3 directions"]),
        ("metric_names: [a, b]\n", ["field 'metric_names'", "2 name(s)", "3 objective(s)"]),
        ("", []),
    ],
)
def test_a_study_file_agrees_with_its_tasks_objectives_or_fails(
    tmp_path: Path, extra: str, fragments: list[str]
) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "task.yaml"
    path.write_text(extra + TASK + COSTS)
    if not fragments:
        assert load_study_config(path).metric_names == [
            "val_accuracy", "parameters", "inference_latency"
        ]
        return
    with pytest.raises(ConfigError) as caught:
        load_study_config(path)
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("extra", "field", "fragments"),
    [
        ("  objectives: [val_accuracy, inference_latncy]\n", "task.objectives[1]",
         ["did you mean 'inference_latency'"]),
        ("  objectives: [val_f1, parameters]\n", "task.objectives",
         ["not this task's metric", "'accuracy'"]),
        ("  limits: {memory: 1GB}\n", "task.limits.memory", ["did you mean 'peak_memory'"]),
        ("  limits: {train_seconds: 2MB}\n", "task.limits.train_seconds",
         ["'MB'", "does not measure train_seconds"]),
    ],
)
def test_bad_objectives_and_limits_name_the_task_field(
    tmp_path: Path, extra: str, field: str, fragments: list[str]
) -> None:
    error = refused(tmp_path, extra)
    assert error.field == field
    assert f"field '{field}'" in str(error)
    for fragment in fragments:
        assert fragment in str(error)


@pytest.mark.parametrize(
    ("extra", "pruner"),
    [
        ("pruner: asha\n", {"name": "asha", "max_resource": 7}),
        ("pruner: {name: hyperband, reduction_factor: 2}\n",
         {"name": "hyperband", "reduction_factor": 2, "max_resource": 7}),
        # What the file says stays: its own budget, or epochs that differ per trial.
        ("pruner: {name: asha, max_resource: 5}\n", {"name": "asha", "max_resource": 5}),
        ("pruner: asha\n  search: {epochs: [3, 7]}\n", "asha"),
        ("pruner: median\n", "median"),
    ],
)
def test_halving_pruners_count_their_rungs_down_from_the_tasks_epochs(
    tmp_path: Path, extra: str, pruner: object
) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "task.yaml"
    task = TASK + "  recipe: {epochs: 7}\n"
    if "search" in extra:  # the search entry belongs under task:
        pruner_line, search = extra.split("\n", 1)
        path.write_text(f"{pruner_line}\n{task}{search}")
    else:
        path.write_text(extra + task)
    assert load_study_config(path).pruner == pruner


# A sampler of the user's, named by its class path ----------------------------------------------

USER_SAMPLER = '''
from tunelab.samplers import BaseSampler


class Midpoint(BaseSampler):
    def __init__(self, at: float = 0.5, seed: int | None = None) -> None:
        self.at, self.seed = at, seed

    def sample_independent(self, study, trial, name, distribution):
        return distribution.from_unit(self.at)
'''


def test_a_study_file_runs_a_sampler_of_a_package_next_to_it(tmp_path: Path) -> None:
    import tunelab

    (tmp_path / "mysearch").mkdir()
    (tmp_path / "mysearch" / "__init__.py").write_text("")
    (tmp_path / "mysearch" / "samplers.py").write_text(USER_SAMPLER)
    (tmp_path / "objectives.py").write_text(
        "def line(trial):\n    return trial.suggest_float('x', 0.0, 10.0)\n"
    )
    study_file = tmp_path / "study.yaml"
    study_file.write_text(
        "name: mine\nobjective: objectives:line\nn_trials: 4\nn_jobs: 2\n"
        f"storage: sqlite:///{tmp_path / 'mine.db'}\n"
        "sampler: {name: mysearch.samplers:Midpoint, at: 0.3}\n"
    )
    config, objective = load_study_file(study_file)
    study = tunelab.create_study(
        name=config.name, storage=config.storage, sampler=config.sampler, seed=config.seed
    )
    study.optimize(objective, n_trials=config.n_trials, n_jobs=config.n_jobs)  # in workers
    assert [r.params["x"] for r in study.trials] == [3.0] * 4
    assert type(study.sampler).__name__ == "Midpoint"
