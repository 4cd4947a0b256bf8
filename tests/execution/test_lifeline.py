"""A worker process dies with its parent, by the kernel's parent-death signal on Linux or by a
thread that watches the parent elsewhere."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from .helpers import ROOT, wait_until_gone

WAYS = ["watch", pytest.param("kernel", marks=pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's"))]


STARTS = ["spawn", pytest.param("forkserver", marks=pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver here"))]


@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("way", WAYS)
def test_a_child_tied_to_its_parent_dies_when_the_parent_is_killed(tmp_path, way, start):
    """Started by the parent itself (spawned) or by the launcher that forks workers."""
    pid_file = tmp_path / "child.pid"
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""\
        import multiprocessing
        import os
        import sys
        import time
        sys.path.insert(0, {str(ROOT)!r})
        from tests.execution.helpers import outlive_the_parent

        if __name__ == "__main__":
            context = multiprocessing.get_context({start!r})
            arguments = ({way!r}, {str(pid_file)!r}, os.getpid())
            context.Process(target=outlive_the_parent, args=arguments).start()
            time.sleep(120)
    """))
    parent = subprocess.Popen([sys.executable, str(script)])
    child = None
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the child did not start"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        parent.kill()
        parent.wait(timeout=30)
        assert wait_until_gone([child]) == []
    finally:
        for pid in [parent.pid] + ([child] if child else []):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        parent.wait(timeout=30)
