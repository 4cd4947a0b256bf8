"""Callbacks that bring tunelab into other frameworks' training loops.

One module per framework, each an optional extra and imported only when used:
:mod:`tunelab.integrations.lightning` (``pip install 'tunelab[lightning]'``) and
:mod:`tunelab.integrations.keras` (``pip install 'tunelab[keras]'``, with Keras's torch
backend). Each module's ``TunelabCallback`` reports the metric it monitors to the trial every
epoch, stops training the framework's way when the study's pruner says so (``fit`` then raises
:class:`tunelab.TrialPruned`, which makes the trial PRUNED), and records the telemetry of
tunelab's own trainer through :func:`tunelab.torch.watch`.
"""
