"""TunelabCallback in a real Keras 3 ``fit`` on the torch backend, on the CPU: it reports the
monitored metric every epoch, ends the trials its pruner stops as PRUNED after Keras stopped
them, and keeps tunelab's training telemetry for every trial, in this process and in workers."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is first imported
keras = pytest.importorskip("keras")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import tunelab  # noqa: E402
from tests.cli.helpers import python_env  # noqa: E402
from tests.integrations.helpers import (  # noqa: E402
    EPOCHS,
    GOOD_LR,
    SLOW_LR,
    assert_pruned_only_if_slow,
    assert_watched_every_epoch,
    load_example,
    new_study,
)
from tunelab.exceptions import ConfigError  # noqa: E402
from tunelab.integrations.keras import (  # noqa: E402
    TunelabCallback,
    described_layers,
    named_parameters,
)
from tunelab.torch import read_telemetry  # noqa: E402
from tunelab.trial import FixedTrial  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    # Keras's torch backend hands tensors to NumPy the way NumPy 2 deprecates, every batch.
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

# Adam at 1e-2 passes 80% validation accuracy on digits within two epochs; at 1e-6 it stays
# near chance (10%). The pruner's bound, 50% from epoch 2 on, lies far from both.


def digits() -> tuple[np.ndarray, ...]:
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x = (x / 16.0).astype("float32")
    train, val = order[:1400], order[1400:]
    return x[train], y[train], x[val], y[val]


X_TRAIN, Y_TRAIN, X_VAL, Y_VAL = digits()


def mlp(lr: float, width: int) -> keras.Model:
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(width, activation="relu", name="hidden"),
        keras.layers.Dense(10, name="out"),
    ])
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def fit(model: keras.Model, callback: TunelabCallback, **options) -> keras.callbacks.History:
    options = {"epochs": EPOCHS, "validation_data": (X_VAL, Y_VAL), **options}
    return model.fit(X_TRAIN, Y_TRAIN, batch_size=64, verbose=0, callbacks=[callback], **options)


def objective(trial: tunelab.Trial) -> float:
    lr = trial.suggest_categorical("lr", [SLOW_LR, GOOD_LR])
    width = trial.suggest_categorical("width", [16, 32])
    keras.utils.set_random_seed(trial.number)
    callback = TunelabCallback(trial, monitor="val_accuracy", validation_size=len(Y_VAL))
    return fit(mlp(lr, width), callback).history["val_accuracy"][-1]




def test_a_study_prunes_the_trials_that_learn_nothing_and_keeps_telemetry_for_all():
    study = new_study()
    study.optimize(objective, n_trials=12)

    assert_pruned_only_if_slow(study.trials)
    for trial in study.trials:
        assert_watched_every_epoch(trial, ["hidden", "out"], ("hidden", "relu"), len(Y_VAL))


def test_fit_raises_trial_pruned_once_keras_stopped_training():
    study = new_study()
    model = mlp(SLOW_LR, 16)

    with pytest.raises(tunelab.TrialPruned, match=r"pruned after epoch 2 with val_accuracy="):
        fit(model, TunelabCallback(study.ask(), monitor="val_accuracy"))

    assert model.stop_training
    assert sorted(study.trials[0].intermediate_values) == [1, 2]
    assert not any(layer._forward_hooks for layer in model.layers)  # the watch is closed


def test_activations_are_described_on_the_validation_pass():
    # Keras switches only the model between training and evaluation, not its layers: the
    # statistics must still come from the validation inputs, which here are all zero.
    study = new_study()
    fit(mlp(GOOD_LR, 16), TunelabCallback(study.ask(), monitor="val_accuracy"), epochs=1,
        validation_data=(np.zeros_like(X_VAL), Y_VAL))
    (epoch,) = read_telemetry(study.trials[0])
    assert epoch.activations["hidden"].dead == 1.0  # each unit gave one output for all inputs


def test_an_epoch_without_validation_reports_nothing_and_records_no_validation_numbers():
    study = new_study()
    fit(mlp(GOOD_LR, 16), TunelabCallback(study.ask(), monitor="val_accuracy"),
        validation_freq=2)

    record = study.trials[0]
    assert sorted(record.intermediate_values) == [2, 4]
    epochs = read_telemetry(record)
    assert [math.isnan(e.val_loss) for e in epochs] == [True, False, True, False]


def test_a_monitor_that_was_never_logged_fails_the_fit_with_the_names_that_were():
    study = new_study()
    with pytest.raises(ConfigError, match=r"monitor='val_acc'.*'val_accuracy'"):
        fit(mlp(GOOD_LR, 16), TunelabCallback(study.ask(), monitor="val_acc"), epochs=1)


def test_layers_are_named_by_their_place_in_nested_models():
    block = keras.Sequential([keras.layers.Dense(8, activation="tanh", name="inner")],
                             name="block")
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(32, name="hidden"),
        keras.layers.ReLU(name="relu"),
        block,
        keras.layers.Dense(10, name="out"),
    ])
    names = [name for name, _ in named_parameters(model)]
    assert names == ["hidden.kernel", "hidden.bias", "block.inner.kernel", "block.inner.bias",
                     "out.kernel", "out.bias"]
    assert [(name, kind) for name, _, kind in described_layers(model)] == [
        ("relu", "ReLU"), ("block.inner", "tanh")
    ]
    linear = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="only")])
    assert [(name, kind) for name, _, kind in described_layers(linear)] == [("only", "linear")]


@pytest.mark.any_cpu_math  # the in-process study checks the same numbers
def test_trials_in_worker_processes_report_prune_and_keep_telemetry(tmp_path):
    study = new_study(storage=f"sqlite:///{tmp_path / 'tunelab.db'}")
    study.optimize(objective, n_trials=4, n_jobs=2)
    assert_pruned_only_if_slow(study.trials)


def test_the_example_trains_a_fixed_trial_which_keeps_no_telemetry():
    example = load_example("keras_digits.py")
    accuracy = example.objective(FixedTrial({"lr": GOOD_LR, "width": 16}))
    assert 0.5 < accuracy <= 1.0


def test_another_backend_is_refused_with_the_setting_that_fixes_it():
    code = "import tunelab.integrations.keras"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=python_env(KERAS_BACKEND="jax"), timeout=120)
    assert run.returncode != 0
    assert "ConfigError" in run.stderr and "KERAS_BACKEND=torch" in run.stderr
