"""The study file's fields: defaults, accepted forms, and pydantic's errors told in the words of
a study file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.study_files import write_study
from tunelab.config import StudyConfig, load_study_config, validate_study_config
from tunelab.exceptions import ConfigError


def test_other_problems_are_named_after_the_first(tmp_path: Path) -> None:
    path = write_study(tmp_path, "name: demo\nobjective: {mod}:objective\nn_trials: 0\nseed: x\n")

    with pytest.raises(ConfigError, match=r"field 'n_trials'.*problems in 'seed' too"):
        load_study_config(path)


def test_command_line_values_are_blamed_as_such(tmp_path: Path) -> None:
    path = write_study(tmp_path, "name: demo\nobjective: {mod}:objective\nn_trials: 3\n")

    with pytest.raises(ConfigError, match=r"field 'sampler.name' \(given on the command line\)"):
        load_study_config(path, {"sampler": "tpx"})


def test_minimal_file_gets_the_defaults(tmp_path: Path) -> None:
    path = write_study(tmp_path, "name: demo\nobjective: {mod}:objective\nn_trials: 3\n")

    config = load_study_config(path)

    assert config.storage == "sqlite:///tunelab.db"
    assert config.sampler == "auto"
    assert config.pruner is None
    assert config.timeout is None
    assert config.seed is None
    assert config.objective_directions == ["minimize"]


def test_full_file_with_string_sampler_loads(tmp_path: Path) -> None:
    path = write_study(
        tmp_path,
        """\
        name: full-study_1.0
        storage: sqlite:///results/db.sqlite
        objective: {mod}:objective
        direction: Maximize
        metric_names: [accuracy]
        sampler: sobol
        pruner: median
        n_trials: 50
        timeout: 2m
        seed: 7
        """,
    )

    config = load_study_config(path)

    assert config.name == "full-study_1.0"
    assert config.direction == "maximize"
    assert config.metric_names == ["accuracy"]
    assert config.sampler == "sobol"
    assert config.pruner == "median"
    assert (config.n_trials, config.timeout, config.seed) == (50, 120.0, 7)


def test_mapping_sampler_and_pruner_load(tmp_path: Path) -> None:
    path = write_study(
        tmp_path,
        """\
        name: demo
        objective: {mod}:objective
        sampler: {name: qmc, qmc_type: halton, scramble: false}
        pruner: {name: median, n_warmup_steps: 2}
        timeout: 90
        """,
    )

    config = load_study_config(path)

    assert config.sampler == {"name": "qmc", "qmc_type": "halton", "scramble": False}
    assert config.pruner == {"name": "median", "n_warmup_steps": 2}
    assert config.n_trials is None and config.timeout == 90.0


def test_grid_with_search_space_and_multi_objective_load(tmp_path: Path) -> None:
    path = write_study(
        tmp_path,
        """\
        name: grid
        objective: {mod}:objective
        directions: [minimize, maximize]
        metric_names: [loss, accuracy]
        sampler:
          name: grid
          search_space:
            x: [-1.0, 0.0, 1.0]
            optimizer: [sgd, adam]
        n_trials: 6
        storage: memory
        """,
    )

    config = load_study_config(path)

    assert config.sampler["search_space"]["optimizer"] == ["sgd", "adam"]
    assert config.objective_directions == ["minimize", "maximize"]
    assert config.storage == "memory"


def test_validate_study_config_builds_a_study_config_from_a_mapping() -> None:
    config = validate_study_config(
        {"name": "inline", "objective": "math:sqrt", "n_trials": 1, "sampler": "halton"}, "inline"
    )

    assert isinstance(config, StudyConfig)
    with pytest.raises(ConfigError, match=r"^inline: field 'n_trials'"):
        validate_study_config(
            {"name": "inline", "objective": "math:sqrt", "n_trials": -1}, "inline"
        )
