"""A headless Chromium driven over the DevTools protocol, for the report's browser tests.

Chromium speaks the protocol over a pipe when started with ``--remote-debugging-pipe``: it reads
commands from its file descriptor 3 and writes answers and events to 4, each message a JSON
object followed by a NUL byte. No port is opened and no package is needed beyond Python's own.
A shell wrapper hands Chromium our end of two pipes as its descriptors 3 and 4, since
``subprocess`` cannot place a descriptor at a chosen number by itself.

:meth:`Chromium.open` loads a page with the network switched off (a report that needs the
internet fails here as it would on a plane) and returns what a reader would see: the
uncaught exceptions, console errors and failed loads, and the page's own answers to
JavaScript questions.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BINARY_VARIABLE = "TUNELAB_TEST_CHROMIUM"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
# Root (as in CI's containers) cannot use Chromium's sandbox; software WebGL stands in for the
# graphics card a reader's browser has (plotly draws parallel coordinates with WebGL).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--remote-debugging-pipe",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-background-networking",
    "--mute-audio",
    "--hide-scrollbars",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--window-size=1280,900",
)
# Hands our pipe ends to Chromium as its descriptors 3 and 4, then gives it /dev/null for
# standard input and our standard error for standard output.
LAUNCHER = 'exec "$0" "$@" 3<&0 4>&1 </dev/null >&2'
COMMAND_TIMEOUT_S = 60.0
MAX_SCREENSHOT_PX = 8000
# After the load event, figures may still throw from a later frame (plotly draws WebGL
# figures asynchronously); this long with no new message counts as settled.
SETTLE_S = 0.5
SETTLE_MAX_S = 10.0


class ChromiumError(RuntimeError):
    """Chromium did not answer as the protocol says, or went away."""


@dataclass
class PageResult:
    """What loading a page showed: the problems a reader's console would show, and answers."""

    url: str
    problems: list[str] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)


class Chromium:
    """One headless Chromium with one tab; close it with :meth:`close` (or use ``with``)."""

    def __init__(self, binary: str, profile: Path, log: Path) -> None:
        self._log_path = log
        self._log = log.open("wb")
        self._process = subprocess.Popen(
            ["/bin/sh", "-c", LAUNCHER, binary, *FLAGS, f"--user-data-dir={profile}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._events: list[dict[str, Any]] = []
        self._next_id = 0
        self._session = ""
        self._reader = threading.Thread(target=self._read_messages, daemon=True)
        self._reader.start()
        try:
            self._attach_tab()
        except ChromiumError as error:
            self.close()
            raise ChromiumError(f"{error}; Chromium's log ends with: {self._log_tail()}") from None

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _log_tail(self, characters: int = 2000) -> str:
        return self._log_path.read_text(errors="replace")[-characters:]

    def close(self) -> None:
        try:
            self._command("Browser.close")
        except ChromiumError:
            pass  # already gone: the wait below reaps it
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(timeout=10)  # it reads to the end of Chromium's output, then stops
        for stream in (self._process.stdin, self._process.stdout, self._log):
            if stream is not None and not stream.closed:
                with contextlib.suppress(OSError):  # a dead Chromium's pipe cannot be flushed
                    stream.close()

    def open(self, path: Path, questions: dict[str, str] | None = None) -> PageResult:
        """Load ``path``, wait until it has loaded and settled, and return the problems it
        showed and the value of each JavaScript expression in ``questions``."""
        self._events.clear()
        url = path.resolve().as_uri()
        self._command("Page.navigate", {"url": url}, session=True)
        self._wait_for_event("Page.loadEventFired")
        self._settle()
        result = PageResult(url)
        for name, expression in (questions or {}).items():
            result.answers[name] = self.evaluate(expression)
        result.problems = [p for p in map(_problem, self._events) if p is not None]
        return result

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        answer = self._command("Runtime.evaluate", params, session=True)
        if "exceptionDetails" in answer:
            raise ChromiumError(f"{expression!r} threw: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """Save the whole page, not only the window, as a PNG. A page taller than
        MAX_SCREENSHOT_PX is scaled down to it: beyond the largest texture the graphics
        layer has, Chromium repeats the top of the page instead of drawing the rest."""
        size = self._command("Page.getLayoutMetrics", session=True)["cssContentSize"]
        scale = min(1.0, MAX_SCREENSHOT_PX / size["height"])
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": scale}
        params = {"format": "png", "captureBeyondViewport": True, "clip": clip}
        shot = self._command("Page.captureScreenshot", params, session=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    # protocol ------------------------------------------------------------------------------

    def _attach_tab(self) -> None:
        """Open a tab, attach to it, and switch its network off."""
        target = self._command("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._command("Target.attachToTarget", {"targetId": target, "flatten": True})
        self._session = session["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self._command(f"{domain}.enable", session=True)
        offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
        self._command("Network.emulateNetworkConditions", offline, session=True)

    def _command(
        self, method: str, params: dict[str, Any] | None = None, session: bool = False
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        try:
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps(message).encode() + b"\0")
            self._process.stdin.flush()
        except (BrokenPipeError, ValueError) as error:
            raise ChromiumError(f"Chromium went away before {method}: {error}") from None
        reply = self._wait_for(lambda m: m.get("id") == message["id"], method)
        if "error" in reply:
            raise ChromiumError(f"{method} failed: {reply['error']}")
        return reply["result"]

    def _wait_for_event(self, method: str) -> dict[str, Any]:
        for event in self._events:
            if event.get("method") == method:
                return event
        return self._wait_for(lambda m: m.get("method") == method, method)

    def _wait_for(self, matches: Any, what: str) -> dict[str, Any]:
        """The first message that ``matches``, keeping the events that arrive before it."""
        deadline = time.monotonic() + COMMAND_TIMEOUT_S
        while True:
            try:
                message = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise ChromiumError(f"no answer to {what} in {COMMAND_TIMEOUT_S:.0f}s") from None
            if message is None:
                raise ChromiumError(f"Chromium closed the pipe while waiting for {what}")
            if "method" in message:
                self._events.append(message)
            if matches(message):
                return message

    def _settle(self) -> None:
        """Wait two animation frames, then until no message came for SETTLE_S (at most
        SETTLE_MAX_S, for a page that never stops logging)."""
        frames = "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
        self.evaluate(frames)
        deadline = time.monotonic() + SETTLE_MAX_S
        while time.monotonic() < deadline:
            try:
                message = self._messages.get(timeout=SETTLE_S)
            except queue.Empty:
                return
            if message is None:
                raise ChromiumError("Chromium closed the pipe while the page settled")
            if "method" in message:
                self._events.append(message)

    def _read_messages(self) -> None:
        assert self._process.stdout is not None
        pending = b""
        while chunk := self._process.stdout.read1(1 << 16):
            pending += chunk
            *complete, pending = pending.split(b"\0")
            for raw in complete:
                self._messages.put(json.loads(raw))
        self._messages.put(None)


def _problem(event: dict[str, Any]) -> str | None:
    """The text of an event that a reader's console shows as an error, else None."""
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        description = details.get("exception", {}).get("description") or details.get("text")
        return f"uncaught exception: {description}"
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        texts = [str(arg.get("value", arg.get("description", ""))) for arg in params["args"]]
        return f"console.{params['type']}: {' '.join(texts)}"
    if method == "Log.entryAdded" and params["entry"].get("level") == "error":
        entry = params["entry"]
        return f"{entry.get('source')} error: {entry.get('text')} ({entry.get('url', '')})"
    return None


def required_binary() -> str:
    """Chromium's path for a browser test; the test is skipped, saying what is missing, when
    there is none, except in CI (CI=true), where the browser tests must run."""
    import pytest  # only the tests ask for a binary this way

    binary = find_binary()
    missing = None
    if binary is None:
        missing = (
            f"no Chromium found: set {BINARY_VARIABLE} to its path, or install the Debian "
            "package chromium (scripts/chromium.sh does it; `make test` runs that script)"
        )
    elif not os.access(binary, os.X_OK):
        missing = f"{BINARY_VARIABLE}={binary} is not an executable file"
    if missing is None:
        return str(binary)
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser tests must run in CI, but {missing}")
    pytest.skip(f"browser tests skipped: {missing}")


def find_binary() -> str | None:
    """Chromium's path: from TUNELAB_TEST_CHROMIUM (scripts/run-tests.sh sets it), else the
    first of CANDIDATES on the PATH."""
    given = os.environ.get(BINARY_VARIABLE)
    if given:
        return given
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)
