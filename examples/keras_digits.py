"""Tune a Keras model with tunelab: the learning rate and width of a small MLP on scikit-learn's
digits, 12 trials in two worker processes, the median pruner stopping the poor ones.

``TunelabCallback`` reports the validation accuracy every epoch, stops the trials the pruner
stops (``model.fit`` then raises ``TrialPruned``) and records the telemetry that
``tunelab report`` and ``tunelab doctor`` read. Keras runs on its torch backend. Run it with::

    python examples/keras_digits.py        # needs: pip install 'tunelab[keras]'

It keeps the study in ./tunelab.db; run it again to add 12 more trials.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is imported; workers inherit it

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import tunelab  # noqa: E402
from tunelab.integrations.keras import TunelabCallback  # noqa: E402

STUDY = "keras-digits"
EPOCHS = 10


def objective(trial: tunelab.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    width = trial.suggest_int("width", 16, 128, log=True)
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x / 16.0, y, test_size=0.2, random_state=0)
    keras.utils.set_random_seed(trial.number)
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(width, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(
        x_train, y_train,
        validation_data=(x_val, y_val),
        epochs=EPOCHS,
        batch_size=64,
        verbose=0,
        callbacks=[TunelabCallback(trial, monitor="val_accuracy", validation_size=len(y_val))],
    )
    return history.history["val_accuracy"][-1]


def main() -> None:
    study = tunelab.create_study(
        name=STUDY,
        storage="sqlite:///tunelab.db",
        direction="maximize",
        pruner=tunelab.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=2),
        seed=0,
        load_if_exists=True,
    )
    study.optimize(objective, n_trials=12, n_jobs=2)  # two worker processes
    pruned = sum(t.state is tunelab.TrialState.PRUNED for t in study.trials)
    print(f"{len(study.trials)} trials, {pruned} pruned")
    print(f"best: val_accuracy={study.best_value:.4f} with {study.best_params}")
    print(f"report: tunelab report {STUDY} -o {STUDY}.html")


if __name__ == "__main__":
    main()
