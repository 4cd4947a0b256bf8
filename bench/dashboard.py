"""How fast the dashboard answers on a large study, and what watching costs busy workers.

1. A large study: a SQLite study of ``--trials`` trials (10,000 by default: four parameters,
   20 intermediate values each, 8% pruned and 2% failed), served by ``tunelab dashboard`` in a
   process of its own. Timed: opening the study page in Chromium (Playwright, headless,
   1280x900), from navigation until the page's own parts are there (summary, tables,
   controls), until the figures' data are, until its first figure is drawn once scrolled to,
   and until every figure is (figures are drawn as they come near the screen). Opened the
   first time as soon as the server answers (it is still reading the study and making the
   figures it makes as it starts), again (median of 5), and the first time on a fresh server
   left 10 s to make them. Then each JSON request the pages make, as the round trip on
   loopback from this process (median and worst of 10 after one warm-up): the study, its
   figures, the trial table's first and 100th page, sorted by value and by a parameter,
   filtered by state and by a parameter range. The same requests again on a study of
   ``--table-trials`` trials (100,000), without the browser.
2. Workers beside watchers: ``optimize(n_jobs=8)`` on a SQLite study, for ``--seconds`` a
   run, on an objective that reports 10 steps, each after ``--step-ms`` of sleep (a stand-in
   for training on an accelerator, which leaves the CPU to the tuning and the storage). Each
   round runs it three ways, in rotating order: with nobody watching; with the dashboard
   serving three Chromium contexts on this machine (the study page, which follows the live
   feed, the trial table, and the compare view of four trials finished before the run), whose
   drawing shares the workers' two cores; and with the dashboard serving what three study
   pages ask of it (the live feed; the study and the doctor's findings every 5 s, its figures
   every 15 s, as the page asks), their browsers elsewhere, as a dashboard watched from a
   laptop would. The figure is trials completed per second; after each run every completed
   trial must hold all its 10 intermediate values and no trial may have failed (a write lost
   or refused would show). The watchers are there before the workers start, so that the run
   measures watching, not starting a browser.

Usage: ``python bench/dashboard.py [--trials 10000] [--table-trials 100000] [--seconds 20]
[--rounds 3] [--step-ms 20] [--skip-large] [--skip-load]``; about 8 minutes on 2 cores.
Needs the ``web`` extra, Playwright and a Chromium (``TUNELAB_TEST_CHROMIUM``, else
``scripts/chromium.sh`` finds or installs it).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

import tunelab
from report import environment, load_average, markdown_table  # bench/report.py, beside this
from tunelab.space import CategoricalDistribution, FloatDistribution, IntDistribution
from tunelab.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]
STEPS = 20
LOAD_STEPS = 10
WORKERS = 8
PREPARE_WAIT_S = 10.0  # what a fresh server is given to make the figures before a page asks
FINISHED_BEFORE = (1.0, 2.0, 3.0, 4.0)  # x of the trials the compare view shows
CHUNK = 1000


# 1. A large study ---------------------------------------------------------------------------


def build_large_study(url: str, n_trials: int, seed: int = 0) -> None:
    """A study of ``n_trials`` finished trials with curves, written ``CHUNK`` at a time."""
    rng = random.Random(seed)
    study = tunelab.create_study(name="large", storage=url, direction="maximize")
    distributions = {
        "lr": FloatDistribution(1e-4, 1e-1, log=True),
        "width": IntDistribution(16, 512, log=True),
        "dropout": FloatDistribution(0.0, 0.5),
        "optimizer": CategoricalDistribution(("sgd", "adam", "rmsprop")),
    }
    for start in range(0, n_trials, CHUNK):
        study.add_trials(
            large_trial(rng, distributions) for _ in range(min(CHUNK, n_trials - start))
        )


def large_trial(rng: random.Random, distributions: dict[str, Any]) -> tunelab.TrialRecord:
    params = {
        "lr": math.exp(rng.uniform(math.log(1e-4), math.log(1e-1))),
        "width": int(math.exp(rng.uniform(math.log(16), math.log(512)))),
        "dropout": rng.uniform(0.0, 0.5),
        "optimizer": rng.choice(("sgd", "adam", "rmsprop")),
    }
    ceiling = 0.99 - 0.2 * abs(math.log10(params["lr"]) + 2.5) / 1.5 - 0.1 * params["dropout"]
    curve = {step: ceiling * (1 - math.exp(-(step + 1) / 4)) for step in range(STEPS)}
    draw = rng.random()
    if draw < 0.02:
        return tunelab.create_trial(state=TrialState.FAIL, params=params,
                                    distributions=distributions, intermediate_values=curve)
    if draw < 0.10:
        cut = {step: value for step, value in curve.items() if step < 5}
        return tunelab.create_trial(state=TrialState.PRUNED, value=cut[4], params=params,
                                    distributions=distributions, intermediate_values=cut)
    return tunelab.create_trial(value=curve[STEPS - 1], params=params,
                                distributions=distributions, intermediate_values=curve)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def dashboard(url: str) -> Iterator[str]:
    """``tunelab dashboard`` over ``url`` in its own process; its address."""
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "tunelab"), "dashboard", "--storage", url,
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(address + "/api/config", timeout=1.0)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the dashboard did not start: {process.stderr.read()}"
                    ) from None
                time.sleep(0.1)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=30)


def chromium_path() -> str:
    given = os.environ.get("TUNELAB_TEST_CHROMIUM")
    if given:
        return given
    found = subprocess.run([str(ROOT / "scripts" / "chromium.sh")], capture_output=True,
                           text=True, check=True)
    return found.stdout.strip()


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(),
                                              args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


# The page's own parts are there (its summary, tables of running and best trials, controls);
# then the figures' boxes too (their data arrived), each figure drawn as it comes near the
# screen.
PAGE_SHOWN = "() => document.getElementById('summary') && document.getElementById('best')"
PAGE_READY = (
    "() => document.getElementById('summary') && "
    "document.querySelectorAll('#figures figure.fig').length > 0"
)
FIRST_FIGURE = (
    "() => { document.getElementById('figures').scrollIntoView(); return "
    "document.querySelector('#figures figure.fig .main-svg, #figures figure.fig .note'); }"
)
EVERY_FIGURE = (  # scrolled to the first figure not drawn yet, a poll at a time
    "() => { const waiting = [...document.querySelectorAll('#figures figure.fig')].find(b => "
    "!b.querySelector('.main-svg') && !b.querySelector('.note')); "
    "if (waiting) waiting.scrollIntoView(); return !waiting; }"
)


def open_study_page(page: Any, address: str, study: str) -> tuple[float, ...]:
    """Seconds from navigating to the study page until its own parts are there (summary,
    tables, controls), until the figures' data are, until the first figure is drawn once
    scrolled to, and until every figure is, scrolled through."""
    started = time.perf_counter()
    page.goto(f"{address}/studies/{study}")
    times = []
    for condition in (PAGE_SHOWN, PAGE_READY, FIRST_FIGURE, EVERY_FIGURE):
        page.wait_for_function(condition, timeout=300_000, polling=50)
        times.append(time.perf_counter() - started)
    return tuple(times)


API_REQUESTS = {
    "study": "/api/studies/large",
    "study figures": "/api/studies/large/figures",
    "trial table, first page": "/api/studies/large/trials",
    "trial table, page 100": "/api/studies/large/trials?page=100",
    "sorted by value, descending": "/api/studies/large/trials?sort=value&order=desc",
    "sorted by a parameter": "/api/studies/large/trials?sort=param:lr&page=20",
    "filtered: pruned, lr in [1e-3, 1e-2]":
        "/api/studies/large/trials?state=PRUNED&range=lr:0.001:0.01",
}


def time_requests(address: str, repeats: int = 10) -> list[list[str]]:
    rows = []
    with httpx.Client(base_url=address, timeout=60.0) as client:
        for label, path in API_REQUESTS.items():
            client.get(path).raise_for_status()  # warm-up: caches that every later visit uses
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                client.get(path).raise_for_status()
                times.append(time.perf_counter() - started)
            rows.append([label, f"{statistics.median(times) * 1e3:.1f}",
                         f"{max(times) * 1e3:.1f}"])
    return rows


def built(folder: Path, n_trials: int) -> str:
    url = f"sqlite:///{folder / f'large-{n_trials}.db'}"
    started = time.perf_counter()
    build_large_study(url, n_trials)
    print(f"built {n_trials} trials in {time.perf_counter() - started:.1f} s", flush=True)
    return url


def large_study_tables(folder: Path, n_trials: int) -> None:
    url = built(folder, n_trials)
    with browser() as chromium:
        with dashboard(url) as address:
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            first = open_study_page(page, address, "large")
            again = [open_study_page(page, address, "large") for _ in range(5)]
            requests = time_requests(address)
        with dashboard(url) as address:  # a fresh server, left to prepare the figures
            time.sleep(PREPARE_WAIT_S)
            later = open_study_page(chromium.new_page(viewport={"width": 1280, "height": 900}),
                                    address, "large")
    print(f"\nStudy page of {n_trials} trials in Chromium (1280x900), seconds from navigation:")
    columns = ["summary and tables", "figures' data", "first figure drawn", "every figure drawn"]
    print(markdown_table(["open", *columns], [
        ["first, as soon as the server answers", *(f"{t:.2f}" for t in first)],
        [f"first, {PREPARE_WAIT_S:.0f} s after the server started", *(f"{t:.2f}" for t in later)],
        ["again (median of 5)",
         *(f"{statistics.median(t[i] for t in again):.2f}" for i in range(len(columns)))],
    ]))
    print("\nJSON requests on the same study, round trip on loopback (ms, 10 each):")
    print(markdown_table(["request", "median", "worst"], requests))


def table_tables(folder: Path, n_trials: int) -> None:
    """The JSON requests alone, on a study too large to draw: the trial table's paging."""
    url = built(folder, n_trials)
    with dashboard(url) as address:
        requests = time_requests(address)
    print(f"\nJSON requests on a study of {n_trials} trials (ms, 10 each):")
    print(markdown_table(["request", "median", "worst"], requests))


# 2. Workers beside watchers -----------------------------------------------------------------


def reporting_objective(trial: tunelab.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", -5.0, 5.0)
    pause = float(os.environ["BENCH_STEP_SECONDS"])
    value = 0.0
    for step in range(LOAD_STEPS):
        time.sleep(pause)
        value = -(x * x + y * y) * (step + 1) / LOAD_STEPS
        trial.report(value, step)
    return value


def run_workers(url: str, study: str, seconds: float, step_ms: float) -> None:
    """``optimize(n_jobs=WORKERS)`` for ``seconds`` in a process of its own."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import dashboard, tunelab\n"
        "study = tunelab.create_study(name=sys.argv[3], storage=sys.argv[2], "
        "direction='maximize', sampler='random', load_if_exists=True)\n"
        f"study.optimize(dashboard.reporting_objective, n_jobs={WORKERS}, "
        "timeout=float(sys.argv[4]))\n"
    )
    env = {**os.environ, "BENCH_STEP_SECONDS": str(step_ms / 1000)}
    subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), url, study,
                    str(seconds)], check=True, env=env)


def outcome(url: str, study: str, seconds: float) -> tuple[float, str]:
    """Trials completed per second, and what the run lost (empty if nothing)."""
    trials = tunelab.load_study(study, url).trials[len(FINISHED_BEFORE):]
    complete = [r for r in trials if r.state is TrialState.COMPLETE]
    short = [r.number for r in complete if len(r.intermediate_values) != LOAD_STEPS]
    failed = [r.number for r in trials if r.state is TrialState.FAIL]
    unfinished = [r.number for r in trials if not r.state.is_finished()]
    problems = []
    if short:
        problems.append(f"{len(short)} completed trials miss intermediate values")
    if failed:
        problems.append(f"{len(failed)} failed")
    if unfinished:
        problems.append(f"{len(unfinished)} left unfinished")
    return len(complete) / seconds, "; ".join(problems)


def browsers_watching(
    address: str, study: str, ready: threading.Event, stop: threading.Event
) -> None:
    """Three browser contexts on this machine watch the dashboard: the study page and the trial
    table, and the compare view of the four trials finished before the run."""
    with browser() as chromium:
        for path in [f"/studies/{study}", f"/studies/{study}/trials",
                     f"/studies/{study}/compare?trials=0,1,2,3"]:
            page = chromium.new_context().new_page()
            page.goto(address + path)
            page.wait_for_load_state("networkidle")
        ready.set()
        stop.wait()


def requests_watching(
    address: str, study: str, ready: threading.Event, stop: threading.Event
) -> None:
    """What three study pages ask of the server, with their browsers elsewhere: each follows
    the live feed and, as the page does, asks again for the study and the doctor's findings
    every 5 s and for its figures every 15 s."""
    following = threading.Barrier(4, action=ready.set)

    def page() -> None:
        api = f"/api/studies/{study}"
        with httpx.Client(base_url=address, timeout=60.0) as client:
            revision = client.get(api).json()["revision"]
            next_refresh = next_figures = time.monotonic()
            with contextlib.suppress(httpx.HTTPError), client.stream(
                "GET", f"{api}/events?cursor={revision}"
            ) as events:
                following.wait()
                for _ in events.iter_lines():  # cut when the server stops, after the run
                    if stop.is_set():
                        return
                    if time.monotonic() >= next_refresh:
                        client.get(api)
                        client.get(f"{api}/doctor")
                        next_refresh = time.monotonic() + 5.0
                    if time.monotonic() >= next_figures:
                        client.get(f"{api}/figures")
                        next_figures = time.monotonic() + 15.0

    pages = [threading.Thread(target=page, daemon=True) for _ in range(3)]
    for thread in pages:
        thread.start()
    following.wait()
    stop.wait()


WATCHERS = {"browsers": browsers_watching, "requests": requests_watching}


def new_load_study(url: str, study: str) -> None:
    """The study the workers fill, holding four finished trials for the compare view."""
    created = tunelab.create_study(name=study, storage=url, direction="maximize",
                                   sampler="random")
    space = {"x": FloatDistribution(-5.0, 5.0), "y": FloatDistribution(-5.0, 5.0)}
    created.add_trials(
        tunelab.create_trial(value=-x * x, params={"x": x, "y": 0.0}, distributions=space,
                             intermediate_values={step: -x * x * (step + 1) / LOAD_STEPS
                                                  for step in range(LOAD_STEPS)})
        for x in FINISHED_BEFORE
    )


def watched_run(url: str, study: str, seconds: float, step_ms: float, watchers: str) -> None:
    """A run of the workers while the dashboard serves ``watchers`` (see WATCHERS), which
    are watching before the workers start."""
    with dashboard(url) as address:
        ready, stop = threading.Event(), threading.Event()
        watching = threading.Thread(target=WATCHERS[watchers],
                                    args=(address, study, ready, stop))
        watching.start()
        if not ready.wait(timeout=120):
            raise RuntimeError(f"the {watchers} watching the dashboard did not get ready")
        run_workers(url, study, seconds, step_ms)
        stop.set()
        watching.join(timeout=60)


LOAD_COLUMNS = {
    "alone": "nobody watching",
    "browsers": "3 browsers here",
    "requests": "3 pages' requests",
}


def load_table(folder: Path, rounds: int, seconds: float, step_ms: float) -> None:
    rows = []
    for index in range(rounds):
        order = list(LOAD_COLUMNS)
        order = order[index % 3:] + order[:index % 3]
        rates: dict[str, float] = {}
        for how in order:
            url = f"sqlite:///{folder / f'load-{index}-{how}.db'}"
            study = "load"
            new_load_study(url, study)
            if how == "alone":
                run_workers(url, study, seconds, step_ms)
            else:
                watched_run(url, study, seconds, step_ms, how)
            rates[how], lost = outcome(url, study, seconds)
            print(f"round {index + 1}, {how}: {rates[how]:.2f} trials/s, "
                  f"{lost or 'nothing lost'}", flush=True)
        rows.append([str(index + 1), *(f"{rates[how]:.2f}" for how in LOAD_COLUMNS),
                     *(f"{rates[how] / rates['alone']:.3f}" for how in ("browsers", "requests"))])
    print(f"\n{WORKERS} workers, {seconds:.0f} s a run, {LOAD_STEPS} reports a trial "
          f"{step_ms:.0f} ms apart; trials completed per second, and the ratios to nobody "
          "watching:")
    print(markdown_table(["round", *LOAD_COLUMNS.values(), "browsers / alone",
                          "requests / alone"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--table-trials", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--step-ms", type=float, default=20.0)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    import playwright
    import starlette
    import uvicorn

    print(environment(starlette=starlette.__version__, uvicorn=uvicorn.__version__,
                      playwright=getattr(playwright, "__version__", "?")))
    print(f"load average before: {load_average()}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        if not args.skip_large:
            large_study_tables(Path(folder), args.trials)
            table_tables(Path(folder), args.table_trials)
        if not args.skip_load:
            load_table(Path(folder), args.rounds, args.seconds, args.step_ms)
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
