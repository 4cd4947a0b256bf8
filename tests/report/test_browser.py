"""Acceptance: the report opens in a real browser, offline, without a single console error.

A headless Chromium (see tests/report/chromium.py) loads each report with the network off,
collects the uncaught exceptions, console errors and failed loads, asks the page which
sections it has and how many figures plotly drew, and saves a screenshot in the test's
tmp_path. Two more pages prove the check can fail: one whose script throws, and one that
loads plotly.js from a CDN, as a report that needs the internet would.

Chromium is the Debian package ``chromium``: ``scripts/chromium.sh`` installs it and
``make test`` exports its path as TUNELAB_TEST_CHROMIUM. In CI (CI=true) these tests must run;
elsewhere they are skipped, saying what is missing, when no Chromium is found.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.report.chromium import Chromium, required_binary
from tests.report.page import ReportPage
from tunelab.report import SECTION_IDS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
QUESTIONS = {
    "sections": "Array.from(document.querySelectorAll('section[id]'), s => s.id)",
    "figures": "document.querySelectorAll('.plotly-graph-div').length",
    # Plotly.newPlot marks a div it drew and gives it its SVG layers.
    "drawn": "document.querySelectorAll('.plotly-graph-div.js-plotly-plot .main-svg').length",
    "drawn_divs": "Array.from(document.querySelectorAll('.plotly-graph-div'))"
    ".filter(d => d.classList.contains('js-plotly-plot') && d.querySelector('.main-svg'))"
    ".length",
}


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    return required_binary()


@pytest.fixture(scope="session")
def browser(
    chromium_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Chromium]:
    folder = tmp_path_factory.mktemp("chromium")
    with Chromium(chromium_binary, folder / "profile", folder / "chromium.log") as chromium:
        yield chromium


@pytest.mark.parametrize("name", ["trained", "multi"])
def test_the_report_opens_offline_without_console_errors(
    browser: Chromium, reports: dict[str, Path], name: str, tmp_path: Path
) -> None:
    figures = [i for i in ReportPage.read(reports[name]).ids if i.startswith("figure-")]

    result = browser.open(reports[name], QUESTIONS)
    screenshot = browser.screenshot(tmp_path / f"{name}-report.png")

    assert result.problems == []
    assert result.answers["sections"] == list(SECTION_IDS)
    assert result.answers["figures"] == result.answers["drawn_divs"] == len(figures) > 0
    assert result.answers["drawn"] >= len(figures)
    image = screenshot.read_bytes()
    assert image.startswith(PNG_SIGNATURE) and len(image) > 50_000


def test_the_check_catches_a_script_that_throws(browser: Chromium, tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><body><section id='summary'>text</section><script>"
        "console.error('logged on purpose'); throw new Error('deliberately broken');"
        "</script></body></html>",
        encoding="utf-8",
    )

    result = browser.open(page, QUESTIONS)

    assert result.answers["sections"] == ["summary"]
    assert len(result.problems) == 2, result.problems
    assert result.problems[0] == "console.error: logged on purpose"
    assert result.problems[1].startswith("uncaught exception: Error: deliberately broken")


def test_the_check_catches_a_page_that_needs_the_network(
    browser: Chromium, tmp_path: Path
) -> None:
    page = tmp_path / "from-cdn.html"
    page.write_text(
        "<!DOCTYPE html><html><head><script src='https://cdn.plot.ly/plotly-2.35.2.min.js'>"
        "</script></head><body><div id='plot'></div>"
        "<script>Plotly.newPlot('plot', [{y: [1, 2]}]);</script></body></html>",
        encoding="utf-8",
    )

    result = browser.open(page, QUESTIONS)

    assert any(
        p.startswith("network error: Failed to load resource: net::ERR_INTERNET_DISCONNECTED")
        and "cdn.plot.ly" in p
        for p in result.problems
    ), result.problems
    assert any("Plotly is not defined" in p for p in result.problems), result.problems
    assert result.answers["drawn"] == 0
