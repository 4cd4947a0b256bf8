"""Where worker processes come from: a launcher process that has the libraries imported.

A worker spawned as a new interpreter imports tunelab, PyTorch, SciPy and SQLAlchemy before its
first trial: 2 to 3 s of CPU each, and with a PyTorch optimizer another second for
``torch._dynamo``, which ``torch.optim`` imports as it builds its first optimizer. Where the
platform has it, workers are forked instead from multiprocessing's *forkserver*, which imports
those libraries once, as it starts, and never trains anything itself: a process forked before
PyTorch ran its thread pool is safe, and each worker then starts with its libraries in memory
(shared with the others until written). ``tunelab run`` starts the launcher as soon as the study
file says it will run worker processes, so that its imports overlap the task's data loading and
checks in the calling process.

Only installed libraries and tunelab are imported in the launcher: a user's own modules (and
the script being run) may change between calls, so every worker imports them afresh, as a
spawned one does. A worker also takes the caller's environment as it is when the worker starts
(the launcher's is the one it started with) and sets its share of the cores on the thread pools
that the launcher's libraries already created. Elsewhere (Windows) workers are spawned.
"""

from __future__ import annotations

import contextlib
import importlib.util
import multiprocessing
import os
import pickletools
import sys
import sysconfig
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from multiprocessing.context import ForkServerContext, SpawnContext

    WorkerContext: TypeAlias = SpawnContext | ForkServerContext

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_ALWAYS = ("tunelab.execution.child",)  # what every worker runs
# Imported by a library at its first use, at a cost worth paying once in the launcher.
_FIRST_USE_IMPORTS = {"torch": "torch._dynamo"}  # torch.optim imports it to build an optimizer


def worker_context() -> WorkerContext:
    """The multiprocessing context that starts worker processes."""
    if _has_launcher():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def start_launcher(n_workers: int, modules: Iterable[str] = ()) -> None:
    """Start the launcher, if this platform has one and it is not running, importing what a
    worker runs, tunelab's modules that this process has imported, ``modules`` (those of
    installed libraries only) and what their first use imports. Returns at once: the launcher
    imports in the background, and the first worker waits for it."""
    if not _has_launcher():
        return
    from multiprocessing import forkserver

    preload = [*_ALWAYS, *(name for name in sys.modules if name.startswith("tunelab."))]
    preload += [name for name in modules if _is_library(name)]
    roots = {name.partition(".")[0] for name in preload}
    preload += [later for root, later in _FIRST_USE_IMPORTS.items() if root in roots]
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(sorted(set(preload)))
    with _environment(thread_share_environment(n_workers)):
        forkserver.ensure_running()


def modules_in(pickled: bytes) -> set[str]:
    """The modules whose classes and functions ``pickled`` names: what unpickling it imports."""
    modules: set[str] = set()
    strings: list[str | None] = []  # protocol 4's STACK_GLOBAL takes module and name from these
    memo: list[str | None] = []
    last: str | None = None  # the value the last opcode pushed, if a string
    for opcode, argument, _ in pickletools.genops(pickled):
        if opcode.name == "MEMOIZE":
            memo.append(last)
            continue
        last = None
        if opcode.name == "GLOBAL":
            modules.add(str(argument).partition(" ")[0])
        elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2 and strings[-2] is not None:
            modules.add(str(strings[-2]))
        elif "UNICODE" in opcode.name:
            last = str(argument)
        elif opcode.name in ("BINGET", "LONG_BINGET", "GET") and isinstance(argument, int):
            last = memo[argument] if argument < len(memo) else None
        if last is not None:
            strings.append(last)
    return modules


def thread_share_environment(n_workers: int) -> dict[str, str]:
    """Environment variables that give each of ``n_workers`` processes its share of this
    machine's cores for the math libraries' thread pools (PyTorch's, MKL's, OpenBLAS's).

    Left alone, every worker starts a pool as large as the machine, and N workers then run N
    times as many busy threads as there are cores, which contend for them on every step of
    training (see ``bench/peers.py``). A variable the user has set is kept.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    share = str(max(1, (cores or 1) // max(1, n_workers)))
    return {name: share for name in _THREAD_VARIABLES if name not in os.environ}


def enter_environment(environment: Mapping[str, str]) -> None:
    """In a worker as it starts: take ``environment`` (the caller's, with the worker's own
    variables), and size the thread pools of the libraries already imported to it."""
    os.environ.clear()
    os.environ.update(environment)
    threads = environment.get("OMP_NUM_THREADS")
    if threads is None or not threads.isdigit():
        return
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(threads))
    if "numpy" in sys.modules:
        with contextlib.suppress(ImportError):  # threadpoolctl comes with scikit-learn
            from threadpoolctl import threadpool_limits

            threadpool_limits(int(threads))


def _has_launcher() -> bool:
    return "forkserver" in multiprocessing.get_all_start_methods()


def _is_library(module: str) -> bool:
    """Whether ``module`` is tunelab's or an installed library's, not the user's own."""
    root = module.partition(".")[0]
    if root == "tunelab":
        return True
    try:
        found = importlib.util.find_spec(root)
    except (ImportError, ValueError):
        return False
    if found is None or found.origin is None:
        return False
    libraries = {sysconfig.get_paths()[kind] for kind in ("purelib", "platlib", "stdlib")}
    return any(Path(found.origin).is_relative_to(folder) for folder in libraries)


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """``variables`` set in this process while the block runs (a child started in it copies
    them)."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
