"""Worker processes die with the process that started them.

A worker whose parent was killed (kill -9, the out-of-memory killer, a closed terminal) would
go on taking trials of a budget that nobody follows any more, for as long as the budget lasts.
On Linux the kernel sends the worker SIGTERM when its parent dies (``PR_SET_PDEATHSIG``): the
process that forked it, the launcher (:mod:`.launcher`), which leaves when the process that
started the workers dies, or that process itself when workers are spawned. Elsewhere a thread
waits on the pipe that multiprocessing keeps open from the starting process, which closes when
it dies, and interrupts the main thread as SIGTERM would. Either way the
worker's SIGTERM handler fails its running trial as interrupted, as Ctrl-C does.

Dask workers and ``tunelab worker`` processes are started to live on their own and do not tie
themselves to anything.
"""

from __future__ import annotations

import _thread
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from multiprocessing.connection import wait

_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


def tie_to_parent(parent_pid: int) -> bool:
    """Make this process get SIGTERM when the process ``parent_pid`` that started it dies;
    False if it already died, while this process started and before it could ask (the check
    closes that gap)."""
    _release_the_launcher()
    if not _ask_the_kernel():
        _watch_the_parent()
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return os.getppid() == parent_pid
    return parent.pid == parent_pid and not wait([parent.sentinel], timeout=0)


def _release_the_launcher() -> None:
    """Close this process's copy of the pipe by which the launcher learns that the process
    that started the workers is gone: the launcher waits for every copy to close, so with one
    left open here it would outlive that process, and so would this one."""
    from multiprocessing import forkserver

    launcher = getattr(forkserver, "_forkserver", None)
    alive = getattr(launcher, "_forkserver_alive_fd", None)
    if multiprocessing.get_start_method(allow_none=True) == "forkserver" and alive is not None:
        with contextlib.suppress(OSError):
            os.close(alive)
        launcher._forkserver_alive_fd = None  # type: ignore[union-attr]


def _ask_the_kernel() -> bool:
    """Whether the kernel will send SIGTERM at the parent's death (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0)
    except (OSError, AttributeError):  # no C library to load, or one without prctl
        return False


def _watch_the_parent() -> None:
    """A thread that interrupts the main thread with SIGTERM once the parent is gone."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return  # not started by multiprocessing: nothing to watch

    main = threading.main_thread().ident
    assert main is not None

    def watch(sentinel: int) -> None:
        wait([sentinel])
        if hasattr(signal, "pthread_kill"):  # a real signal, which also ends a blocking call
            signal.pthread_kill(main, signal.SIGTERM)
        else:
            _thread.interrupt_main(signal.SIGTERM)

    threading.Thread(
        target=watch, args=(parent.sentinel,), name="tunelab-parent-watch", daemon=True
    ).start()
