"""Study files: valid ones load, and every malformed one fails with a message that names the
field (or the file-level problem) and says how to fix it.

``MALFORMED`` and ``write_case`` are shared with ``test_cli.py``, which checks that the command
line reports the same problems with exit code 2 and no traceback.
"""

from __future__ import annotations

import re
import sys
import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tunelab.config import (
    StudyConfig,
    load_study_config,
    parse_duration,
    read_study_file,
    resolve_objective,
    validate_study_config,
)
from tunelab.exceptions import ConfigError

OBJECTIVE_SOURCE = """\
def objective(trial):
    x = trial.suggest_float("x", -5.0, 5.0)
    return (x - 1.0) ** 2
"""

HEADER = "name: demo\nobjective: {mod}:objective\nn_trials: 3\n"


@dataclass(frozen=True)
class Case:
    """A malformed study file and the words its error message must contain.

    ``{mod}`` in ``body`` and ``expected`` stands for a module name unique to each test, since
    imported modules stay in ``sys.modules`` for the rest of the session.
    """

    id: str
    body: str | None
    expected: tuple[str, ...]
    module_source: str = OBJECTIVE_SOURCE
    extra_modules: dict[str, str] = field(default_factory=dict)


def _without(line_start: str, extra: str = "") -> str:
    kept = [line for line in HEADER.splitlines(keepends=True) if not line.startswith(line_start)]
    return "".join(kept) + extra


MALFORMED: list[Case] = [
    Case("file-missing", None, ("no such file",)),
    Case("not-yaml", "name: demo\nobjective: [a, b\nn_trials: 3\n", ("not valid YAML", "line 3")),
    Case("not-a-mapping", "- name: demo\n- n_trials: 3\n", ("a list", "mapping of fields")),
    Case("scalar-document", "just some words\n", ("the text 'just some words'", "mapping")),
    Case("empty-file", "", ("empty",)),
    Case("only-comments", "# nothing yet\n", ("empty",)),
    Case("unknown-field", HEADER + "n_trial: 5\n", ("field 'n_trial'", "did you mean 'n_trials'")),
    Case("missing-name", _without("name"), ("field 'name'", "required")),
    Case(
        "invalid-name",
        HEADER.replace("demo", "'my study!'"),
        ("field 'name'", "not valid", "letters, digits"),
    ),
    Case("name-not-text", HEADER.replace("demo", "2024"), ("field 'name'", "quote it")),
    Case("missing-objective", _without("objective"), ("field 'objective'", "required")),
    Case(
        "objective-without-colon",
        HEADER.replace("{mod}:objective", "{mod}.objective"),
        ("field 'objective'", "'module:function'", "{mod}:objective"),
    ),
    Case(
        "objective-path-not-module",
        HEADER.replace("{mod}:objective", "src/{mod}.py:objective"),
        ("field 'objective'", "src.{mod}:objective"),
    ),
    Case(
        "objective-module-missing",
        HEADER.replace("{mod}:", "{mod}_absent:"),
        ("field 'objective'", "no module named '{mod}_absent'"),
    ),
    Case(
        "objective-attribute-missing",
        HEADER.replace(":objective", ":objectve"),
        ("field 'objective'", "no attribute 'objectve'", "did you mean 'objective'"),
    ),
    Case(
        "objective-not-callable",
        HEADER,
        ("field 'objective'", "is the number 42, not a function"),
        module_source="objective = 42\n",
    ),
    Case(
        "objective-import-raises",
        HEADER,
        ("field 'objective'", "ZeroDivisionError", "line 2"),
        module_source="import math\nRATE = 1 / 0\n",
    ),
    Case(
        "objective-syntax-error",
        HEADER,
        ("field 'objective'", "SyntaxError", "line 1"),
        module_source="def objective(trial) return 1\n",
    ),
    Case(
        "objective-dependency-missing",
        HEADER,
        ("field 'objective'", "'tunelab_no_such_dependency'", "not installed"),
        module_source="import tunelab_no_such_dependency\n",
    ),
    Case(
        "n-trials-wrong-type",
        _without("n_trials", "n_trials: many\n"),
        ("field 'n_trials'", "whole number", "'many'"),
    ),
    Case(
        "n-trials-float",
        _without("n_trials", "n_trials: 2.5\n"),
        ("field 'n_trials'", "whole number"),
    ),
    Case(
        "n-trials-zero", _without("n_trials", "n_trials: 0\n"), ("field 'n_trials'", "at least 1")
    ),
    Case(
        "n-trials-negative",
        _without("n_trials", "n_trials: -4\n"),
        ("field 'n_trials'", "at least 1"),
    ),
    Case("timeout-bad-string", HEADER + "timeout: 10 minutes\n", ("field 'timeout'", "'10m'")),
    Case("timeout-negative", HEADER + "timeout: -5\n", ("field 'timeout'", "positive")),
    Case("timeout-wrong-type", HEADER + "timeout: [10]\n", ("field 'timeout'", "not a duration")),
    Case("no-budget", _without("n_trials"), ("field 'n_trials'", "no budget", "timeout")),
    Case(
        "direction-and-directions",
        HEADER + "direction: minimize\ndirections: [minimize, maximize]\n",
        ("field 'directions'", "both 'direction' and 'directions'"),
    ),
    Case(
        "unknown-direction",
        HEADER + "direction: minimise\n",
        ("field 'direction'", "did you mean 'minimize'"),
    ),
    Case(
        "unknown-direction-in-list",
        HEADER + "directions: [minimize, up]\n",
        ("field 'directions[1]'", "'up' is not a direction"),
    ),
    Case("directions-empty", HEADER + "directions: []\n", ("field 'directions'", "empty")),
    Case(
        "metric-names-count",
        HEADER + "directions: [minimize, maximize]\nmetric_names: [loss]\n",
        ("field 'metric_names'", "1 name(s) for 2 objective(s)"),
    ),
    Case(
        "metric-names-not-list", HEADER + "metric_names: loss\n", ("field 'metric_names'", "a list")
    ),
    Case(
        "unknown-sampler",
        HEADER + "sampler: tpx\n",
        (
            "field 'sampler.name': unknown name 'tpx' (did you mean 'tpe'?); "
            "choose one of: annealing, auto, bohb, cmaes, genetic, gp, grid, halton, nsga2, pso, qmc, "
            "quasi-random, random, reinforce, sobol, tabu, tpe.",
        ),
    ),
    Case(
        "sampler-mapping-without-name",
        HEADER + "sampler: {seed: 1}\n",
        ("field 'sampler.name'", "missing"),
    ),
    Case(
        "sampler-wrong-type", HEADER + "sampler: [random]\n", ("field 'sampler'", "not a sampler")
    ),
    Case(
        "unknown-sampler-option",
        HEADER + "sampler: {name: random, sed: 1}\n",
        ("field 'sampler.sed'", "did you mean 'seed'", "its options are: seed"),
    ),
    Case(
        "bad-sampler-option-value",
        HEADER + "sampler: {name: qmc, qmc_type: lattice}\n",
        ("field 'sampler.qmc_type'", "'lattice'", "sobol, halton"),
    ),
    Case(
        "bad-grid-search-space",
        HEADER + "sampler: {name: grid, search_space: {x: 3}}\n",
        ("field 'sampler.search_space'", "non-empty list"),
    ),
    Case(
        "unknown-pruner",
        HEADER + "pruner: medain\n",
        ("field 'pruner.name'", "did you mean 'median'"),
    ),
    Case(
        "unknown-pruner-option",
        HEADER + "pruner: {name: median, patience: 3}\n",
        ("field 'pruner.patience'", "n_warmup_steps"),
    ),
    Case(
        "bad-pruner-option",
        HEADER + "pruner: {name: median, n_warmup_steps: -1}\n",
        ("field 'pruner.n_warmup_steps'", ">= 0"),
    ),
    Case(
        "malformed-storage-url",
        HEADER + "storage: postgresql://me@db.example.com:port/tuning\n",
        ("field 'storage'", "malformed"),
    ),
    Case(
        "storage-not-a-url",
        HEADER + "storage: results.db\n",
        ("field 'storage'", "sqlite:///results.db"),
    ),
    Case(
        "unsupported-storage-scheme",
        HEADER + "storage: mysql://me@host/db\n",
        ("field 'storage'", "'mysql'"),
    ),
    Case("seed-not-int", HEADER + "seed: abc\n", ("field 'seed'", "whole number")),
    Case("seed-float", HEADER + "seed: 1.5\n", ("field 'seed'", "whole number")),
    Case("seed-bool", HEADER + "seed: true\n", ("field 'seed'", "whole number", "boolean")),
]


def write_case(case: Case, directory: Path) -> tuple[Path, str]:
    """Write the case's study file and module into ``directory``; return (file, module name)."""
    module = f"objectives_{uuid.uuid4().hex[:10]}"
    (directory / f"{module}.py").write_text(case.module_source)
    path = directory / "study.yaml"
    if case.body is not None:
        path.write_text(case.body.replace("{mod}", module))
    return path, module


def expected_fragments(case: Case, module: str) -> list[str]:
    return [fragment.replace("{mod}", module) for fragment in case.expected]


def write_study(directory: Path, body: str, module_source: str = OBJECTIVE_SOURCE) -> Path:
    """A valid study file whose ``{mod}`` placeholders point at a fresh objective module."""
    module = f"objectives_{uuid.uuid4().hex[:10]}"
    (directory / f"{module}.py").write_text(module_source)
    path = directory / "study.yaml"
    path.write_text(textwrap.dedent(body).replace("{mod}", module))
    return path


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a study file puts its directory on sys.path; keep that inside each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))


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


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2m", 120.0),
        ("90s", 90.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("1.5m", 90.0),
        ("45", 45.0),
        (30, 30.0),
    ],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "10 minutes", "5x", "0s", "-1m", "inf", "nan", True])
def test_bad_durations(text: str | bool) -> None:
    with pytest.raises(ValueError, match="'10m'"):
        parse_duration(text)


def test_validate_study_config_builds_a_study_config_from_a_mapping() -> None:
    config = validate_study_config(
        {"name": "inline", "objective": "math:sqrt", "n_trials": 1, "sampler": "halton"}, "inline"
    )

    assert isinstance(config, StudyConfig)
    with pytest.raises(ConfigError, match=r"^inline: field 'n_trials'"):
        validate_study_config(
            {"name": "inline", "objective": "math:sqrt", "n_trials": -1}, "inline"
        )


def test_objective_is_found_next_to_the_study_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study_dir = tmp_path / "studies"
    study_dir.mkdir()
    path = write_study(study_dir, "name: demo\nobjective: {mod}:objective\nn_trials: 1\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load_study_config(path)
    objective = resolve_objective(config.objective, path)

    class FixedTrial:
        def suggest_float(self, name: str, low: float, high: float) -> float:
            return 3.0

    assert objective(FixedTrial()) == 4.0


def test_objective_is_found_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / f"pkg_{uuid.uuid4().hex[:8]}"
    package.mkdir()
    (package / "train.py").write_text(
        "class Tasks:\n    @staticmethod\n    def run(trial):\n        return 1.0\n"
    )
    monkeypatch.chdir(tmp_path)

    objective = resolve_objective(f"{package.name}.train:Tasks.run")

    assert objective(None) == 1.0


def test_resolve_objective_without_a_file_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"^field 'objective': 'math' .* no attribute 'nope'"):
        resolve_objective("math:nope")


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
def test_a_task_refuses_what_contradicts_it(tmp_path: Path, extra: str, fragments: list[str]) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "task.yaml"
    path.write_text(TASK + extra)
    with pytest.raises(ConfigError) as caught:
        load_study_config(path)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_exponents_without_a_decimal_point_are_numbers(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("name: t\nobjective: m:f\nn_trials: 1\ntask_lr: 1e-4\nx: -2E+3\n")
    data = read_study_file(path)
    assert data["task_lr"] == 1e-4 and data["x"] == -2000.0
