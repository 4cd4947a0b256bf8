"""tunelab.logging: Optuna's verbosity functions over the "tunelab" logger."""

from __future__ import annotations

import logging

import pytest

import tunelab as optuna


@pytest.fixture(autouse=True)
def library_logger():
    """The "tunelab" logger (with the default handler that importing tunelab.logging adds),
    put back as it was after each test."""
    logger = logging.getLogger(optuna.logging.LIBRARY_LOGGER)
    saved = (logger.level, list(logger.handlers), logger.propagate)
    yield logger
    logger.setLevel(saved[0])
    logger.handlers[:] = saved[1]
    logger.propagate = saved[2]


def objective(trial):
    return trial.suggest_float("x", -1.0, 1.0) ** 2


def run_a_study():
    optuna.create_study(sampler="random", seed=0).optimize(objective, n_trials=3)


def test_the_level_constants_are_the_standard_ones():
    levels = ("CRITICAL", "FATAL", "ERROR", "WARNING", "WARN", "INFO", "DEBUG")
    assert [getattr(optuna.logging, name) for name in levels] == [
        getattr(logging, name) for name in levels
    ]


def test_tunelab_is_quiet_until_asked():
    assert optuna.logging.get_verbosity() == optuna.logging.WARNING
    optuna.logging.set_verbosity(optuna.logging.INFO)
    assert optuna.logging.get_verbosity() == optuna.logging.INFO


def test_warning_silences_the_trial_lines_and_info_brings_them_back(capsys):
    optuna.logging.disable_propagation()  # so that the default handler is the one to write
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run_a_study()
    assert "finished" not in capsys.readouterr().err
    optuna.logging.set_verbosity(optuna.logging.INFO)
    run_a_study()
    lines = [line for line in capsys.readouterr().err.splitlines() if "finished" in line]
    assert len(lines) == 3
    assert lines[0].startswith("[I ")


def test_a_configured_root_logger_gets_each_line_once(capsys, caplog):
    optuna.logging.set_verbosity(optuna.logging.INFO)
    with caplog.at_level(logging.INFO, logger="tunelab"):  # caplog's handler is on the root
        run_a_study()
    assert sum("finished" in record.getMessage() for record in caplog.records) == 3
    assert "finished" not in capsys.readouterr().err


def test_a_handler_of_the_application_on_the_logger_replaces_the_default_one(
    capsys, library_logger
):
    optuna.logging.disable_propagation()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    seen = []
    handler = logging.Handler()
    handler.emit = seen.append  # as the CLI's rich handler does, it takes the records
    library_logger.addHandler(handler)
    run_a_study()
    assert len(seen) == 3
    assert capsys.readouterr().err == ""


def test_the_default_handler_can_be_turned_off_and_on(capsys):
    optuna.logging.disable_propagation()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    optuna.logging.disable_default_handler()
    run_a_study()
    assert capsys.readouterr().err == ""
    optuna.logging.enable_default_handler()
    run_a_study()
    assert "finished" in capsys.readouterr().err


def test_propagation_can_be_turned_off_and_on(library_logger):
    optuna.logging.disable_propagation()
    assert library_logger.propagate is False
    optuna.logging.enable_propagation()
    assert library_logger.propagate is True


def test_get_logger_gives_the_named_logger():
    assert optuna.logging.get_logger("tunelab.mine") is logging.getLogger("tunelab.mine")
    assert optuna.logging.get_logger("mine") is logging.getLogger("mine")


def test_optunas_logger_names_mean_tunelabs_logger():
    assert optuna.logging.get_logger("optuna") is logging.getLogger("tunelab")
    assert optuna.logging.get_logger("optuna.study") is logging.getLogger("tunelab.study")
    assert optuna.logging.get_logger("optunax") is logging.getLogger("optunax")


def test_every_name_of_optunas_logging_is_here():
    import optuna as real_optuna

    public = {name for name in dir(real_optuna.logging) if not name.startswith("_")}
    public -= {"annotations", "colorlog", "logging", "sys", "threading",
               "create_default_formatter"}
    assert public <= set(dir(optuna.logging))
