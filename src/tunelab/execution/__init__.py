"""How trials run: in this process (the serial loop of :meth:`Study.optimize`), in worker
processes on every core (``n_jobs``), on given devices (``devices``), on an existing Dask
cluster (``executor=``, :mod:`tunelab.execution.dask`), or wherever a worker opens the same
storage (``tunelab worker``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tunelab.execution.dask import optimize_on_dask
from tunelab.execution.processes import WorkerError, optimize_in_processes
from tunelab.execution.worker import (
    WorkerSpec,
    check_picklable,
    shared_storage_url,
    why_not_processes,
)

if TYPE_CHECKING:
    from tunelab.study import Study


def worker_spec(
    study: Study,
    objective: Callable[..., Any],
    catch: tuple[type[BaseException], ...],
    what: str,
    *,
    cloudpickle: bool = False,
    fuse: int | None = None,
) -> WorkerSpec:
    """The study as workers elsewhere run it; a ConfigError if it cannot travel (by pickle,
    or by ``cloudpickle`` for Dask: see :func:`check_picklable`)."""
    url = shared_storage_url(study, what)
    check_picklable(objective, what, cloudpickle=cloudpickle)
    return WorkerSpec(
        url,
        study.study_name,
        objective,
        study.sampler,
        study.pruner,
        catch,
        study.trial_budget,
        fuse=fuse,
        stop_requests_seen=study.stop_requests_seen,
    )


__all__ = [
    "WorkerError",
    "WorkerSpec",
    "optimize_in_processes",
    "optimize_on_dask",
    "why_not_processes",
    "worker_spec",
]
