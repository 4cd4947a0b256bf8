"""The sequence examples as a user runs them: ``tunelab run`` on each study file, timed.

For each example (by default ``examples/digits_lstm.yaml`` and
``examples/digits_transformer.yaml``) this runs the ``tunelab run`` command in a fresh
folder, so that it starts from an empty storage, and reports the command's wall time, the
trials it finished, the best validation value and how long after the command started the
first trial reaching ``--target`` (0.95 by default) completed. The machine's load average is
printed with the table: these are CPU timings, and other work on the machine slows them.

Usage: ``python bench/sequences.py [EXAMPLE.yaml ...] [--target 0.95]``; about 8 minutes on 2
cores for the two digits examples.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tunelab
from report import load_average, markdown_table  # bench/report.py, beside this
from tunelab.config import read_study_file

EXAMPLES = Path(__file__).parents[1] / "examples"
DEFAULT_EXAMPLES = [EXAMPLES / "digits_lstm.yaml", EXAMPLES / "digits_transformer.yaml"]
CLI = "import sys; sys.argv[0] = 'tunelab'; from tunelab.cli import main; main()"


def run_example(example: Path, target: float) -> list[str]:
    """One row of the table: the example run with ``tunelab run`` in an empty folder."""
    name = read_study_file(example)["name"]
    with tempfile.TemporaryDirectory() as folder:
        started = time.time()
        subprocess.run(
            [sys.executable, "-c", CLI, "run", str(example)], cwd=folder, check=True,
            stdout=subprocess.DEVNULL,
        )
        wall = time.time() - started
        study = tunelab.load_study(study_name=name, storage=f"sqlite:///{folder}/tunelab.db")
        finished = [t for t in study.trials if t.value is not None]
        reached = [
            t.datetime_complete.timestamp() - started
            for t in finished
            if t.datetime_complete is not None and t.value >= target
        ]
    first = f"{min(reached):.0f} s" if reached else "never"
    return [example.name, f"{wall:.0f} s", str(len(finished)), f"{study.best_value:.4f}", first]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="*", type=Path, default=DEFAULT_EXAMPLES)
    parser.add_argument("--target", type=float, default=0.95)
    args = parser.parse_args()
    print(f"load average before: {load_average()}")
    rows = [run_example(example.resolve(), args.target) for example in args.examples]
    print(f"load average after: {load_average()}")
    print(markdown_table(
        ["example", "wall time", "trials", "best value", f"first >= {args.target}"], rows
    ))


if __name__ == "__main__":
    main()
