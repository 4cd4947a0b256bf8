"""Keras 3 on its torch backend: report, prune and record telemetry from ``Model.fit``.

::

    import os
    os.environ["KERAS_BACKEND"] = "torch"        # before Keras is first imported
    import keras
    from tunelab.integrations.keras import TunelabCallback

    def objective(trial):
        model = build_model(units=trial.suggest_int("units", 16, 128, log=True))
        model.fit(x, y, validation_data=(x_val, y_val), epochs=10,   # may raise TrialPruned
                  callbacks=[TunelabCallback(trial, monitor="val_accuracy")])
        return model.evaluate(x_val, y_val, return_dict=True)["accuracy"]

After every epoch whose validation ran (every epoch, for a monitor that is not a validation
metric), the value Keras logged as ``monitor`` is reported at step = epoch, counted from 1 as
tunelab's trainer counts. When the pruner says to stop, the callback sets
``model.stop_training``, so that Keras ends ``fit`` as it does for early stopping, and then
raises :class:`tunelab.TrialPruned` from ``on_train_end``: ``fit`` raises it and the trial ends
PRUNED.

Telemetry is :func:`tunelab.torch.watch` on the model, which the torch backend makes a
``torch.nn.Module``: losses and the monitored metric from the epoch's logs, the optimizer's
learning rate, gradient norms per Keras layer (from each trainable variable's torch
parameter, named by its path) and statistics of the outputs of the layers that apply an
activation (a ``Dense(..., activation="relu")`` or an activation layer; the Dense and
convolution layers when none does), taken on the validation pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tunelab.exceptions import ConfigError, MissingExtraError


def _needs_torch_backend(problem: str) -> ConfigError:
    return ConfigError(
        f"tunelab.integrations.keras needs Keras's torch backend, but {problem}. Set the "
        "environment variable KERAS_BACKEND=torch before Keras is first imported (in the shell, "
        "or os.environ['KERAS_BACKEND'] = 'torch' at the top of the script).",
        field="KERAS_BACKEND",
    )


try:
    import keras
except ImportError as exc:
    if exc.name in ("keras", "torch"):
        raise MissingExtraError(exc.name, "keras", "tunelab.integrations.keras") from exc
    raise _needs_torch_backend(f"Keras could not load another backend ({exc})") from exc

if keras.backend.backend() != "torch":
    raise _needs_torch_backend(f"Keras runs on {keras.backend.backend()!r}")

from torch import nn  # noqa: E402

from tunelab.integrations._reporting import EpochReporter, keeps_telemetry  # noqa: E402
from tunelab.torch.trainer import ReportingTrial  # noqa: E402
from tunelab.torch.watching import Watch  # noqa: E402

__all__ = ["TunelabCallback"]

# Layers that are an activation themselves; other layers name theirs in ``layer.activation``.
ACTIVATION_LAYERS = (
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
    keras.layers.ELU,
    keras.layers.Softmax,
)


class TunelabCallback(keras.callbacks.Callback):
    """Reports ``monitor`` to ``trial`` every epoch, stops a pruned trial and records its
    telemetry (see the module's docstring).

    Args:
        trial: the trial the objective was given.
        monitor: a key of Keras's epoch logs ("val_loss", "val_accuracy", ...); the study's
            direction says whether higher is better.
        gradients, activations, validation_size: as for :func:`tunelab.torch.watch`.
    """

    def __init__(
        self,
        trial: ReportingTrial,
        monitor: str,
        *,
        gradients: bool = True,
        activations: bool = True,
        validation_size: int | None = None,
    ) -> None:
        super().__init__()
        self.reporter = EpochReporter(trial, monitor, "TunelabCallback")
        self.watch_options: dict[str, Any] = {
            "gradients": gradients, "activations": activations, "validation_size": validation_size
        }
        self.watch: Watch | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.reporter.pruned, self.watch = None, None
        if not keeps_telemetry(self.reporter.trial):
            return
        channels_last = keras.config.image_data_format() == "channels_last"
        self.watch = Watch(
            self.reporter.trial,
            self.model,
            parameters=named_parameters(self.model),
            layers=described_layers(self.model),
            feature_axis=-1 if channels_last else 1,
            **self.watch_options,
        )
        self.watch.start()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        number = epoch + 1
        monitor = self.reporter.monitor
        is_validation_metric = monitor.startswith("val_")
        if self.watch is not None:
            self.watch.epoch(
                train_loss=logs.get("loss"),
                val_loss=logs.get("val_loss"),
                train_metric=logs.get(monitor.removeprefix("val_")),
                val_metric=logs.get(monitor) if is_validation_metric else None,
                lr=learning_rate(self.model),
                epoch=number,
            )
        # An epoch without validation (validation_freq > 1) has no new value.
        validated = any(name.startswith("val_") for name in logs)
        if validated or not is_validation_metric:
            if self.reporter.report(number, logs):
                self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        # Keras calls no hook when fit raises: the watch's hooks then stay on the model, which
        # is dropped with its trial.
        if self.watch is not None:
            self.watch.close()
        self.reporter.raise_if_pruned()


def named_parameters(model: Any) -> list[tuple[str, nn.Parameter]]:
    """Each trainable variable's torch parameter, in the model's order, named by its path
    within the model with dots ("hidden.kernel"), so that its layer is "hidden"."""
    prefix = model.name + "/"
    return [
        (variable.path.removeprefix(prefix).replace("/", "."), variable.value)
        for variable in model.trainable_variables
    ]


def described_layers(model: Any) -> list[tuple[str, nn.Module, str]]:
    """The layers whose outputs the telemetry describes, as ``(name, layer, kind)``: those
    that apply an activation, kind its name ("relu"); without any, the layers with a kernel
    (Dense, convolutions), kind "linear"."""
    layers = list(_walk(model))
    described = [(name, layer, kind) for name, layer in layers if (kind := _activation(layer))]
    return described or [
        (name, layer, "linear") for name, layer in layers if hasattr(layer, "kernel")
    ]


def learning_rate(model: Any) -> float | None:
    """The optimizer's current learning rate (a schedule's value at this step)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _walk(model: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every layer of ``model``, those of nested models too, named like its variables."""
    for layer in model.layers:
        name = prefix + layer.name
        yield name, layer
        if hasattr(layer, "layers"):
            yield from _walk(layer, name + ".")


def _activation(layer: Any) -> str | None:
    if isinstance(layer, ACTIVATION_LAYERS):
        return type(layer).__name__
    name = getattr(getattr(layer, "activation", None), "__name__", None)
    return None if name in (None, "linear") else name
