"""Acceptance: the dashboard in a real browser (Playwright driving Debian's Chromium), offline.

Every page opens without a console error, shows hostile text as text (the flag its scripts
would set stays unset), and a trial that another process is running grows its curve in an
open page without a reload. A token is required when set; read-only pages offer no writes
and the server refuses them. Screenshots go to $TUNELAB_TEST_SCREENSHOTS, else tmp_path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tunelab
from tests.cli.helpers import python_env
from tests.dashboard.conftest import HOSTILE
from tests.report.chromium import required_binary
from tunelab.dashboard import serving
from tunelab.trial import TrialState

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.slow

WAIT_MS = 15_000  # generous: the live feed promises 2 s, a loaded machine may take longer
TOKEN = "browser-token"
PAGES = {
    "studies": ("/", "table a"),
    "study": ("/studies/hostile", "#figures figure.fig"),
    "trials": ("/studies/hostile/trials", "#trial-table tbody tr"),
    "trial": ("/studies/hostile/trials/3", "#findings p, #training figure.fig"),
    "compare": ("/studies/hostile/compare?trials=1,2,4", "#compare-intermediate .main-svg"),
}

# True once no figure waits to be drawn; else scrolls to the first that does.
UNDRAWN_FIGURE_SCROLLED_TO = (
    "() => { const waiting = [...document.querySelectorAll('figure.fig .plot')]"
    ".find(p => !p.querySelector('.main-svg')); "
    "if (waiting) waiting.scrollIntoView(); return !waiting; }"
)

SLOW_OBJECTIVE = """\
import sys, time
import tunelab

def objective(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(40):
        time.sleep(0.25)
        trial.report(x + step, step)
    return x

study = tunelab.create_study(name="slow", storage=sys.argv[1], load_if_exists=True)
study.optimize(objective, n_trials=1)
"""


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("TUNELAB_TEST_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    binary = required_binary()
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        yield launched
        launched.close()


class Watched:
    """A page whose console errors, uncaught exceptions and refused loads are collected,
    with every request that leaves the dashboard's own address refused (no network)."""

    def __init__(self, browser: Any, address: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.problems: list[str] = []
        self.context.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith(address) else route.abort()
            ),
        )
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(m.text))
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.address = address.rstrip("/")

    def open(self, path: str, ready: str) -> Any:
        """The page at ``path`` once ``ready`` is in it, with every figure drawn: figures are
        drawn as they come near the screen, so the page is scrolled to each in turn."""
        self.page.goto(self.address + path)
        for selector in ready.split(", "):
            self.page.wait_for_selector(selector, timeout=WAIT_MS)
        self.page.wait_for_function(UNDRAWN_FIGURE_SCROLLED_TO, timeout=WAIT_MS, polling=50)
        return self.page


@pytest.fixture(scope="module")
def address(storage_url: str) -> Iterator[str]:
    with serving(storage_url, port=0) as served:
        yield served


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_opens_offline_without_errors_and_runs_no_hostile_text(
    browser: Any, address: str, screenshots: Path, name: str
) -> None:
    watched = Watched(browser, address)
    path, ready = PAGES[name]
    page = watched.open(path, ready)
    page.wait_for_timeout(300)  # figures drawn in later frames

    page.screenshot(path=str(screenshots / f"dashboard-{name}.png"), full_page=True)
    assert watched.problems == []
    assert page.evaluate("window.__hostile") is None
    assert page.evaluate("document.querySelectorAll('main script, main img').length") == 0
    if name in ("study", "trials", "trial"):
        text = page.inner_text("main")
        assert any(h in text for h in HOSTILE), text[:500]
    watched.context.close()


def test_a_running_trial_grows_its_curve_without_a_reload(
    browser: Any, tmp_path: Path, screenshots: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    tunelab.create_study(name="slow", storage=url)
    script = tmp_path / "slow.py"
    script.write_text(SLOW_OBJECTIVE)
    with serving(url, port=0) as served:
        watched = Watched(browser, served)
        page = watched.open("/studies/slow", "#running-table")
        page.evaluate("window.__loaded = true")  # gone if the page reloads
        table = Watched(browser, served)
        table.open("/studies/slow/trials", "#trial-table")
        runner = subprocess.Popen([sys.executable, str(script), url], env=python_env())
        try:
            table.page.wait_for_selector("#trial-table tr[data-trial='0'] .state-RUNNING",
                                         timeout=WAIT_MS)
            points = "(document.getElementById('live-curves').data || [{x: []}])[0].x.length"
            page.wait_for_function(f"{points} >= 3", timeout=WAIT_MS)
            seen = page.evaluate(points)
            page.wait_for_function(f"{points} > {seen}", timeout=WAIT_MS)
            page.screenshot(path=str(screenshots / "dashboard-live.png"), full_page=True)
            assert page.evaluate("window.__loaded") is True
            trial = watched.open("/studies/slow/trials/0", "#trial-curve .main-svg")
            shown = trial.evaluate("document.getElementById('trial-curve').data[0].x.length")
            trial.wait_for_function(
                f"document.getElementById('trial-curve').data[0].x.length > {shown}",
                timeout=WAIT_MS,
            )
        finally:
            runner.kill()
            runner.wait()
        assert watched.problems == [] and table.problems == []
        watched.context.close()
        table.context.close()


def test_a_token_is_required_and_then_carried_by_the_pages(browser: Any, storage_url: str) -> None:
    with serving(storage_url, port=0, token=TOKEN) as served:
        watched = Watched(browser, served)
        refused = watched.page.goto(served)
        assert refused is not None and refused.status == 401
        watched.problems.clear()  # the browser logs the 401 itself

        page = watched.open(f"/studies/hostile?token={TOKEN}", "#figures figure.fig")
        assert "token" not in page.url
        assert watched.problems == []
        watched.context.close()


def test_read_only_pages_offer_no_writes_and_the_server_refuses_them(
    browser: Any, storage_url: str
) -> None:
    with serving(storage_url, port=0, read_only=True) as served:
        watched = Watched(browser, served)
        page = watched.open("/studies/hostile", "#figures figure.fig")
        assert page.locator("#stop-study").count() == 0
        assert "Read-only" in page.inner_text("main")
        status = page.evaluate(
            "fetch('/api/studies/hostile/stop', {method: 'POST', headers: {'Content-Type': "
            "'application/json', 'X-Tunelab-Request': '1'}, body: '{}'}).then(r => r.status)"
        )
        assert status == 403
        watched.context.close()


STEERED_OBJECTIVE = """\
import sys, time
import tunelab

def objective(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(8):
        time.sleep(0.1)
        trial.report(x + step, step)
    return x

study = tunelab.create_study(name="steered", storage=sys.argv[1], load_if_exists=True)
study.optimize(objective, n_trials=1000)
"""


def test_a_configuration_enqueued_and_a_stop_from_the_page_reach_the_running_process(
    browser: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'steered.db'}"
    study = tunelab.create_study(name="steered", storage=url)
    script = tmp_path / "steered.py"
    script.write_text(STEERED_OBJECTIVE)
    runner = subprocess.Popen([sys.executable, str(script), url], env=python_env())
    try:
        deadline = time.monotonic() + WAIT_MS / 1000
        # The page offers the parameters that trials have suggested.
        while not any(r.distributions for r in study.trials) and time.monotonic() < deadline:
            time.sleep(0.1)
        with serving(url, port=0) as served:
            watched = Watched(browser, served)
            page = watched.open("/studies/steered", "#enqueue-form input")
            page.fill("#enqueue-form input[name=x]", "0.125")
            page.click("#enqueue")
            page.wait_for_selector("#status >> text=Enqueued", timeout=WAIT_MS)
            deadline = time.monotonic() + WAIT_MS / 1000
            while not _ran_with(study, 0.125) and time.monotonic() < deadline:
                time.sleep(0.1)  # the running process picks the configuration up
            page.click("#stop-study")
            page.wait_for_selector("#status >> text=Stop requested", timeout=WAIT_MS)
            assert runner.wait(timeout=30) == 0
            assert watched.problems == []
            watched.context.close()
    finally:
        runner.kill()
        runner.wait()
    assert _ran_with(study, 0.125)


def _ran_with(study: tunelab.Study, x: float) -> bool:
    """Whether a trial of ``study`` started (or ran) with parameter x = ``x``."""
    return any(r.params.get("x") == x for r in study.trials if r.state is not TrialState.WAITING)
