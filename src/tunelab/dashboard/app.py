"""The dashboard's routes: static page shells, the JSON they draw, the live feed and the writes.

Pages (HTML shells that hold no data; their scripts fetch it):

- ``/``: the studies; ``/studies/NAME``: one study; ``/studies/NAME/trials``: its trial table;
  ``/studies/NAME/trials/N``: one trial; ``/studies/NAME/compare?trials=1,2``: trials side by side.

API (JSON): ``/api/config``, ``/api/studies``, ``/api/studies/NAME`` (with ``/figures``,
``/figures/contour`` and ``/figures/slice`` over ``?params=A,B``, ``/doctor``, ``/trials``
(the table's query, see :mod:`.table`), ``/trials/N``, ``/trials/N/figures``, ``/compare``,
``/changes?cursor=R``), and ``/api/studies/NAME/events?cursor=R``: the live feed as
server-sent events. Writes (POST, JSON): ``/api/studies/NAME/stop``, ``/enqueue``,
``/notes``, ``/trials/N/prune``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import tunelab
from tunelab._options import check_int
from tunelab.analysis.doctor import diagnose_study, diagnose_trial, study_verdict, trials_verdict
from tunelab.dashboard import figures, steer, views
from tunelab.dashboard.feed import Feeds, Snapshot
from tunelab.dashboard.remade import Remade
from tunelab.dashboard.security import Guard
from tunelab.dashboard.table import TrialQuery, TrialTable
from tunelab.exceptions import ConfigError, MissingExtraError, StudyNotFoundError, TunelabError
from tunelab.report.figures import compute_importances, metric_label
from tunelab.storage import BaseStorage, make_storage
from tunelab.study import Study, steering
from tunelab.trial import TrialRecord

STATIC = Path(str(resources.files("tunelab.dashboard") / "static"))
COMPARE_LIMITS = (2, 8)
DIAGNOSED = 3
PREPARED_STUDIES = 3
"""Studies whose figures the server makes as it starts, the ones active last."""
logger = logging.getLogger("tunelab")


def _plotly_js() -> Path:
    try:
        import plotly
    except ImportError as error:
        raise MissingExtraError("plotly", "web", "tunelab.dashboard") from error
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


class Dashboard:
    """What the routes share: the storage, a feed per study, the table and the caches."""

    def __init__(self, storage: BaseStorage, read_only: bool) -> None:
        self.storage = storage
        self.read_only = read_only
        self.feeds = Feeds(storage)
        self.table = TrialTable()
        self._studies: dict[str, Study] = {}
        self.remade = Remade()
        self._lock = threading.Lock()

    def study(self, name: str) -> Study:
        with self._lock:
            if name not in self._studies:
                self._studies[name] = tunelab.load_study(name, self.storage)
            return self._studies[name]

    def figures(self, name: str, snapshot: Snapshot) -> bytes:
        """The study's figures as the page asks for them, encoded (see :class:`Remade`)."""
        loaded = self.study(name)
        completed = snapshot.counts.get("COMPLETE", 0)  # importances change only with these

        def make() -> bytes:
            _, shares = self.remade.get(
                (name, "importances"), completed, lambda: compute_importances(loaded)
            )
            made = figures.study_figures(loaded, shares)
            return _json({"revision": snapshot.revision, "figures": made})

        # Megabytes for a large study: encoded once per making, not once per request.
        return self.remade.get((name, "figures"), snapshot.revision, make)[1]

    def diagnosis(self, name: str, snapshot: Snapshot) -> dict[str, Any]:
        """The doctor's findings on the study and its best trials (see :class:`Remade`)."""
        loaded = self.study(name)
        return self.remade.get((name, "doctor"), snapshot.revision, lambda: _diagnosis(loaded))[1]

    def prepare(self, limit: int = PREPARED_STUDIES) -> None:
        """Make what a study page asks for first, for the ``limit`` studies active last, so
        that the first page opened after the server starts need not wait seconds for a
        large study's figures. Run in a thread as the server starts; a page asking while it
        works waits for the same making rather than starting another."""
        try:
            latest = []
            for summary in self.storage.list_studies():
                snapshot = self.feeds[summary.name].snapshot()
                latest.append((views.last_activity(snapshot.trials), summary.name, snapshot))
            latest.sort(key=lambda row: row[0].timestamp() if row[0] else 0.0, reverse=True)
            for _, name, snapshot in latest[:limit]:
                self.figures(name, snapshot)
                self.diagnosis(name, snapshot)
        except Exception:  # a page asking later makes it, and shows any error itself
            logger.exception("the dashboard could not prepare the studies' figures")


def create_app(
    storage: str | BaseStorage, *, token: str | None = None, read_only: bool = False
) -> Starlette:
    """The dashboard over ``storage`` (a URL or a storage object) as an ASGI app.

    With a ``token``, every request must carry it (see :mod:`.security`); ``read_only``
    refuses every write. Serve it with :func:`tunelab.dashboard.serve` or any ASGI server.
    """
    dashboard = Dashboard(make_storage(storage), read_only)
    routes = [
        Route("/", _page("studies.js")),
        Route("/studies/{name}", _page("study.js")),
        Route("/studies/{name}/trials", _page("trials.js")),
        Route("/studies/{name}/trials/{number:int}", _page("trial.js")),
        Route("/studies/{name}/compare", _page("compare.js")),
        Route("/static/plotly.min.js", _plotly),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *_api_routes(dashboard),
    ]
    app = Starlette(routes=routes, exception_handlers={TunelabError: _error})
    app.state.dashboard = dashboard
    app.add_middleware(Guard, token=token, read_only=read_only)
    return app


def _page(script: str) -> Callable[[Request], Response]:
    """A page: the shell every page shares (``static/page.html``) with the shared script and
    its own. A page that draws loads plotly.js (3.5 MB) when it draws its first figure (see
    ``dashboard.js``), so that its text shows without waiting for plotly.js to be parsed."""
    tags = "\n".join(f'<script src="/static/{source}" defer></script>'
                     for source in ("dashboard.js", script))
    html = (STATIC / "page.html").read_text(encoding="utf-8").replace("<!-- scripts -->", tags)

    def page(request: Request) -> Response:
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    return page


def _plotly(request: Request) -> Response:
    return FileResponse(_plotly_js(), media_type="text/javascript")


async def _error(request: Request, error: Exception) -> Response:
    status = 400
    if isinstance(error, StudyNotFoundError):
        status = 404
    return JSONResponse({"error": str(error)}, status_code=status)


def _api_routes(d: Dashboard) -> list[Route]:
    def config(request: Request) -> Response:
        return JSONResponse({"read_only": d.read_only})

    def studies(request: Request) -> Response:
        rows = []
        for summary in d.storage.list_studies():
            records = d.feeds[summary.name].snapshot().trials
            rows.append(views.summary_json(summary, views.last_activity(records)))
        return JSONResponse(rows)

    def study(request: Request) -> Response:
        name, snapshot = _snapshot(d, request)
        return JSONResponse(
            views.study_json(d.study(name), snapshot, steering.notes(d.study(name)))
        )

    def study_figures(request: Request) -> Response:
        name, snapshot = _snapshot(d, request)
        return Response(d.figures(name, snapshot), media_type="application/json")

    def chosen_figure(request: Request) -> Response:
        name, _ = _snapshot(d, request)
        kind = request.path_params["kind"]
        if kind not in ("contour", "slice"):
            raise ConfigError(f"figure {kind!r}: choose contour or slice.", field="kind")
        params = [p for p in request.query_params.get("params", "").split(",") if p]
        target = request.query_params.get("target")
        index = int(target) if target and target.isdigit() else None
        loaded = d.study(name)
        if index is None and len(loaded.directions) > 1:
            index = 0
        return JSONResponse(figures.chosen_figure(loaded, kind, params, index))

    def doctor(request: Request) -> Response:
        name, snapshot = _snapshot(d, request)
        return JSONResponse(d.diagnosis(name, snapshot))

    def trials(request: Request) -> Response:
        _, snapshot = _snapshot(d, request)
        query = TrialQuery.parse(request.query_params, request.query_params.getlist("range"))
        columns = request.query_params.get("columns")
        chosen = None if columns is None else [c for c in columns.split(",") if c]
        return JSONResponse(d.table.page(snapshot, query, chosen))

    def trial(request: Request) -> Response:
        name, snapshot = _snapshot(d, request)
        record = _trial(snapshot, request.path_params["number"])
        found = diagnose_trial(record)
        body = views.trial_json(record, steering.notes(d.study(name)))
        body.update(
            revision=snapshot.revision,
            findings=views.findings_json(found),
            verdict=trials_verdict(found, [record]),
        )
        return JSONResponse(body)

    def trial_figures(request: Request) -> Response:
        name, snapshot = _snapshot(d, request)
        record = _trial(snapshot, request.path_params["number"])
        metric = metric_label(d.study(name))
        return JSONResponse(
            {"revision": snapshot.revision, "figures": figures.trial_figures(record, metric)}
        )

    def compare(request: Request) -> Response:
        _, snapshot = _snapshot(d, request)
        numbers = _numbers(request.query_params.get("trials", ""))
        return JSONResponse({"trials": [views.curves_json(_trial(snapshot, n)) for n in numbers]})

    def changes(request: Request) -> Response:
        name = _name(d, request)
        cursor = _cursor(request)
        # Asked for explicitly (a client that cannot listen), so read now, not a poll ago.
        snapshot, changed = d.feeds[name].changes_since(cursor, max_age=0.0)
        return JSONResponse(_change(snapshot, changed, cursor))

    async def events(request: Request) -> Response:
        name = _name(d, request)
        cursor = _cursor(request)
        return StreamingResponse(
            _event_stream(d, name, cursor),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    def stop(request: Request) -> Response:
        name, _ = _snapshot(d, request)
        steering.request_stop(d.study(name))
        return JSONResponse({"stopping": True})

    async def prune(request: Request) -> Response:
        await _body(request)
        return await _in_thread(lambda: _prune(d, request))

    async def enqueue(request: Request) -> Response:
        body = await _body(request)
        return await _in_thread(
            lambda: JSONResponse(
                {"enqueued": steer.enqueue(d.study(_name(d, request)), body.get("params"))}
            )
        )

    async def note(request: Request) -> Response:
        body = await _body(request)

        def write() -> Response:
            steer.note(d.study(_name(d, request)), body.get("text"), body.get("trial"))
            return JSONResponse({"noted": True})

        return await _in_thread(write)

    study_path = "/api/studies/{name}"
    return [
        Route("/api/config", config),
        Route("/api/studies", studies),
        Route(study_path, study),
        Route(f"{study_path}/figures", study_figures),
        Route(f"{study_path}/figures/{{kind}}", chosen_figure),
        Route(f"{study_path}/doctor", doctor),
        Route(f"{study_path}/trials", trials),
        Route(f"{study_path}/trials/{{number:int}}", trial),
        Route(f"{study_path}/trials/{{number:int}}/figures", trial_figures),
        Route(f"{study_path}/compare", compare),
        Route(f"{study_path}/changes", changes),
        Route(f"{study_path}/events", events),
        Route(f"{study_path}/stop", stop, methods=["POST"]),
        Route(f"{study_path}/trials/{{number:int}}/prune", prune, methods=["POST"]),
        Route(f"{study_path}/enqueue", enqueue, methods=["POST"]),
        Route(f"{study_path}/notes", note, methods=["POST"]),
    ]


def _name(d: Dashboard, request: Request) -> str:
    name: str = request.path_params["name"]
    d.study(name)  # StudyNotFoundError (404) before anything else
    return name


def _snapshot(d: Dashboard, request: Request) -> tuple[str, Snapshot]:
    name = _name(d, request)
    return name, d.feeds[name].snapshot()


def _trial(snapshot: Snapshot, number: int) -> TrialRecord:
    for record in snapshot.trials:
        if record.number == number:
            return record
    raise StudyNotFoundError(f"study {snapshot.info.name!r} has no trial {number}.")


def _numbers(text: str) -> list[int]:
    try:
        numbers = list(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        raise ConfigError(
            f"trials={text!r}: give trial numbers separated by commas.", field="trials"
        ) from None
    low, high = COMPARE_LIMITS
    if not low <= len(numbers) <= high:
        raise ConfigError(f"trials={text!r}: compare {low} to {high} trials.", field="trials")
    return numbers


def _cursor(request: Request) -> int:
    """The revision a client has seen: a reconnecting EventSource says it in Last-Event-ID."""
    text = request.headers.get("last-event-id") or request.query_params.get("cursor", "0")
    try:
        cursor = int(text)
    except ValueError:
        raise ConfigError(f"cursor={text!r} must be a revision number.", field="cursor") from None
    check_int("the feed", "cursor", cursor, 0, "0 asks for every trial.")
    return cursor


def _change(snapshot: Snapshot, changed: list[TrialRecord], cursor: int) -> dict[str, Any]:
    """A feed message: the study's counts and the trials that changed (the latest of them)."""
    shown = changed[-views.RECENT_TRIALS :]
    return {
        "revision": snapshot.revision,
        "counts": dict(snapshot.counts),
        "n_trials": len(snapshot.trials),
        "study_changed": snapshot.info_revision > cursor,
        "trials": [views.trial_row(r, with_curve=True) for r in shown],
        "left_out": len(changed) - len(shown),
    }


async def _event_stream(d: Dashboard, name: str, cursor: int) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    async for change in d.feeds[name].listen(cursor):
        if change is None:
            yield ": still here\n\n"
            continue
        snapshot, changed = change
        message = json.dumps(_change(snapshot, changed, cursor))
        cursor = snapshot.revision
        yield f"id: {snapshot.revision}\nevent: change\ndata: {message}\n\n"


def _json(content: Any) -> bytes:
    """``content`` encoded as JSONResponse encodes it."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _diagnosis(study: Study) -> dict[str, Any]:
    from tunelab._display import ranked_trials

    best = ranked_trials(study)[:DIAGNOSED]
    findings = diagnose_study(study, top=DIAGNOSED)
    about_study = [f for f in findings if f.trial is None]
    about_trials = [f for f in findings if f.trial is not None]
    return {
        "study": views.findings_json(about_study),
        "study_verdict": study_verdict(about_study, study.trials),
        "best": [r.number for r in best],
        "trials": views.findings_json(about_trials),
        "trials_verdict": trials_verdict(about_trials, best) if best else "",
    }


def _prune(d: Dashboard, request: Request) -> Response:
    name = _name(d, request)
    steering.request_prune(d.study(name), request.path_params["number"])
    return JSONResponse({"pruning": request.path_params["number"]})


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ConfigError("the request's body is not JSON.", field="body") from None
    if not isinstance(body, dict):
        raise ConfigError("the request's body must be a JSON object.", field="body")
    return body


async def _in_thread(work: Callable[[], Response]) -> Response:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(work)
