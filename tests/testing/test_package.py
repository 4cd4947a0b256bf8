"""tunelab.testing is for test code: importing tunelab loads neither it nor pytest."""

from __future__ import annotations

import subprocess
import sys


def test_importing_tunelab_loads_neither_the_suites_nor_pytest():
    code = "import sys, tunelab; print(sorted({'tunelab.testing', 'pytest'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
