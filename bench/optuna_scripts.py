"""Run Optuna scripts as they are and with ``import optuna`` swapped for tunelab; compare.

Point it at a folder of scripts written for Optuna (a checkout of Optuna's examples, its
tutorial, your own). Each script runs twice in a folder of its own, with a time limit: once
as written, once with every import of ``optuna`` rewritten to import tunelab under the same
name (``import optuna`` -> ``import tunelab as optuna``, ``from optuna.x import y`` -> ``from
tunelab.x import y``; nothing else changes). The table gives each script's exit code under
both and the last line it printed; the summary counts the scripts that ran under Optuna and,
of those, the ones that also ran under tunelab. Read the printed lines to judge whether the
results are of the same kind (a best value, a Pareto front, trials pruned).

    .venv/bin/python bench/optuna_scripts.py ~/optuna-examples/basic ~/tutorial
    .venv/bin/python bench/optuna_scripts.py scripts/ --only tunelab --timeout 600 --out runs/

A script that needs a package this machine lacks, or the network, fails under both: such
scripts are counted apart, as the environment's failures.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from report import environment, markdown_table  # bench/report.py, beside this file

LIBRARIES = ("optuna", "tunelab")
SWAPS = [  # (pattern, replacement), applied line by line; \r? keeps Windows line ends
    (re.compile(r"^(\s*)import optuna(\r?)$"), r"\1import tunelab as optuna\2"),
    (re.compile(r"^(\s*)import optuna\.(\S+)(\r?)$"), r"\1import tunelab.\2\3"),
    (re.compile(r"^(\s*)from optuna(\.| )"), r"\1from tunelab\2"),
]
UNAVAILABLE = ("ModuleNotFoundError", "URLError", "ConnectionError", "optuna-integration")


def swapped(source: str) -> str:
    """``source`` with each import of optuna importing tunelab under optuna's name."""
    lines = source.split("\n")
    for pattern, replacement in SWAPS:
        lines = [pattern.sub(replacement, line) for line in lines]
    return "\n".join(lines)


def run(script: Path, library: str, folder: Path, timeout: float) -> tuple[int, str]:
    """Exit code and output of ``script`` run for ``library`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = script.read_text(encoding="utf-8")
    (folder / "script.py").write_text(swapped(text) if library == "tunelab" else text)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    try:
        done = subprocess.run(
            [sys.executable, "script.py"], cwd=folder, env=env, capture_output=True,
            text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired as expired:
        output = (expired.stdout or b"").decode() if isinstance(expired.stdout, bytes) else ""
        return 124, output
    (folder / "output.txt").write_text(done.stdout + done.stderr)
    return done.returncode, done.stdout + done.stderr


def last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:70]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders of Optuna scripts")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--only", choices=LIBRARIES, help="run one library only")
    parser.add_argument("--out", type=Path, help="keep each run's folder here")
    args = parser.parse_args()
    scripts = sorted(p for folder in args.folders for p in folder.rglob("*.py"))
    libraries = [args.only] if args.only else list(LIBRARIES)
    out = args.out or Path(tempfile.mkdtemp(prefix="optuna-scripts-"))
    rows, codes = [], {}
    for script in scripts:
        name = script.stem
        for library in libraries:
            code, output = run(script, library, out / library / name, args.timeout)
            codes[name, library] = (code, output)
            print(f"{library:8} {name}: exit {code}", file=sys.stderr)
        rows.append([name, *(str(codes[name, lib][0]) for lib in libraries),
                     last_line(codes[name, libraries[-1]][1])])
    print(environment())
    print(markdown_table(["script", *libraries, f"last line ({libraries[-1]})"], rows))
    if len(libraries) == 2:
        ran = [s.stem for s in scripts if codes[s.stem, "optuna"][0] == 0]
        both = [name for name in ran if codes[name, "tunelab"][0] == 0]
        lacking = [
            s.stem for s in scripts if codes[s.stem, "optuna"][0] != 0
            and any(word in codes[s.stem, "optuna"][1] for word in UNAVAILABLE)
        ]
        print(f"\n{len(scripts)} scripts; {len(ran)} ran under Optuna, and {len(both)} of "
              f"those under tunelab ({100 * len(both) / max(len(ran), 1):.0f}%); "
              f"{len(lacking)} need what this machine lacks: {', '.join(lacking) or 'none'}.")


if __name__ == "__main__":
    main()
