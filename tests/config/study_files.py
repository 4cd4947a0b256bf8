"""Study files for tests: valid ones next to a fresh objective module, and the malformed ones
(``MALFORMED``) with the words each error message must contain.

``test_loading.py`` checks that loading reports each malformed file's problem, and
``tests/test_cli.py`` that the command line reports the same with exit code 2 and no traceback.
"""

from __future__ import annotations

import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path

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


def _laughs(levels: int) -> str:
    """A list whose aliases multiply ten values by ten at each level."""
    anchors = ["&l0 [" + ", ".join(["lol"] * 10) + "]"]
    anchors += [f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "[" + ", ".join(anchors) + "]"


def _without(line_start: str, extra: str = "") -> str:
    kept = [line for line in HEADER.splitlines(keepends=True) if not line.startswith(line_start)]
    return "".join(kept) + extra


MALFORMED: list[Case] = [
    Case("file-missing", None, ("no such file",)),
    Case("not-yaml", "name: demo\nobjective: [a, b\nn_trials: 3\n", ("not valid YAML", "line 3")),
    Case("not-a-mapping", "- name: demo\n- n_trials: 3\n", ("a list", "mapping of fields")),
    Case("scalar-document", "just some words\n", ("the text 'just some words'", "mapping")),
    Case("empty-file", "", ("empty",)),
    Case(
        "duplicate-key",
        HEADER + "n_trials: 5\n",
        ("key 'n_trials' is given twice", "line 3 and line 4", "keep only the last"),
    ),
    Case(
        "duplicate-nested-key",
        HEADER + "sampler:\n  name: random\n  seed: 1\n  seed: 2\n",
        ("key 'seed' is given twice", "line 6 and line 7"),
    ),
    Case(
        "nested-too-deep",
        HEADER + "x: " + "[" * 5000 + "]" * 5000 + "\n",
        ("deeper than 100 levels", "line 4", "bracket"),
    ),
    Case(
        "aliases-multiply-values",
        HEADER + f"sampler: {{name: grid, search_space: {{x: {_laughs(9)}}}}}\n",
        ("line 4", "more than 100,000 values", "alias"),
    ),
    Case(
        "alias-contains-itself",
        HEADER + "sampler: &s {name: grid, search_space: {x: [*s]}}\n",
        ("line 4 contains itself", "alias"),
    ),
    Case(
        "python-tag",
        HEADER + "seed: !!python/object/apply:os.system ['echo pwned']\n",
        ("'!!python/object/apply:os.system'", "line 4", "not allowed"),
    ),
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
            "choose one of: annealing, auto, bohb, bruteforce, cmaes, genetic, gp, grid, halton, "
            "nsga2, nsga3, pso, qmc, quasi-random, random, reinforce, sobol, tabu, tpe, or name "
            "your own class as 'package.module:Class'.",
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
