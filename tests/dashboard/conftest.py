"""A stored study with hostile text everywhere a study can hold text, and a client for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

import tunelab
from tunelab.dashboard import create_app

HOSTILE = (
    "<script>window.__hostile=1</script>",
    "<img src=x onerror=window.__hostile=1>",
    "\"'><svg onload=window.__hostile=1>",
)
PARAM = HOSTILE[1]  # a parameter named like markup
BASE_URL = "http://127.0.0.1"


def hostile_objective(trial: tunelab.Trial) -> float:
    x = trial.suggest_float("x", -2.0, 2.0)
    y = trial.suggest_float(PARAM, 0.0, 1.0)
    choice = trial.suggest_categorical("choice", list(HOSTILE))
    for step in range(3):
        trial.report(x * x + y + step, step)
    trial.set_user_attr(HOSTILE[0], HOSTILE[2])
    if trial.number == 3:
        raise RuntimeError(f"failed on purpose: {choice}")
    return x * x + y


@pytest.fixture(scope="session")
def storage_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file with study 'hostile' (12 trials, one failed) and 'pair' (two objectives)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'tunelab.db'}"
    study = tunelab.create_study(name="hostile", storage=url, sampler="random", seed=0)
    study.set_user_attr("about", HOSTILE[2])
    study.optimize(hostile_objective, n_trials=12)
    pair = tunelab.create_study(
        name="pair", storage=url, directions=["minimize", "maximize"], sampler="random", seed=1
    )
    pair.optimize(lambda t: (t.suggest_float("a", 0, 1), t.suggest_float("b", 0, 1)), n_trials=8)
    return url


@pytest.fixture
def client(storage_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(storage_url), base_url=BASE_URL) as test_client:
        yield test_client


def database(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))
