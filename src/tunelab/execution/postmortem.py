"""What to tell the user about a worker process that died: how it ended, in which trial, its
last error, and the mistake that kills every worker as it starts.

A worker process is not a copy of the calling one: it imports the script being run, as a
module, before it runs trials (:mod:`.launcher`). A script that calls ``optimize(n_jobs=...)``
at its top level, outside ``if __name__ == "__main__":``, calls it again in every worker, where
starting processes fails, and each worker dies before its first trial with only its own
traceback to say why.
"""

from __future__ import annotations

import ast
import inspect
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

MAIN_GUARD = 'if __name__ == "__main__":'


def how_it_ended(exitcode: int | None) -> str:
    """A process's end as a phrase: "was killed by SIGKILL", "exited with code 1"."""
    assert exitcode is not None, "the process still runs"
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


def death_text(
    worker: int,
    pid: int | None,
    exitcode: int | None,
    finished: int,
    running: Sequence[int],
    error: str | None,
) -> str:
    """One worker's death: "worker 1 (pid 123) died in trial 5: it was killed by SIGKILL"."""
    if running:
        when = f"in trial {', '.join(map(str, running))}"
    elif finished:
        when = f"after {finished} trial{'s' if finished > 1 else ''}"
    else:
        when = "before its first trial"
    text = f"worker {worker} (pid {pid}) died {when}: it {how_it_ended(exitcode)}"
    return text if error is None else f"{text} after this error: {error}"


def unguarded_main_call() -> str | None:
    """Where the script being run calls the code that runs this one at its top level, outside
    ``if __name__ == "__main__":`` ("path:line"), if it does."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    frame = inspect.currentframe()
    while frame is not None and not (
        main is not None and frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"
    ):
        frame = frame.f_back
    if frame is None or path is None:
        return None  # an interactive session, a notebook, python -c: workers import nothing
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    line = frame.f_lineno
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_guard(node.test):
            if node.lineno <= line <= (node.end_lineno or node.lineno):
                return None
    return f"{path}:{line}"


def _is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"``, either way round."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    values = [s.value for s in sides if isinstance(s, ast.Constant)]
    return isinstance(test.ops[0], ast.Eq) and names == ["__name__"] and values == ["__main__"]
