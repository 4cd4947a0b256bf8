"""The dashboard's JSON, pages and live feed, through Starlette's test client."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

import tunelab
from tests.dashboard.conftest import BASE_URL, HOSTILE, PARAM
from tunelab.dashboard import create_app

PAGES = [
    "/",
    "/studies/hostile",
    "/studies/hostile/trials",
    "/studies/hostile/trials/3",
    "/studies/hostile/compare?trials=1,2",
]


def test_the_studies_list_counts_trials_by_state(client: TestClient) -> None:
    studies = {s["name"]: s for s in client.get("/api/studies").json()}

    assert studies["hostile"]["counts"] == {"COMPLETE": 11, "FAIL": 1}
    assert studies["hostile"]["n_trials"] == 12
    assert studies["pair"]["directions"] == ["minimize", "maximize"]
    assert studies["hostile"]["best_value"] is not None and studies["hostile"]["last_activity"]


def test_a_study_lists_its_best_trials_parameters_and_attributes(client: TestClient) -> None:
    study = client.get("/api/studies/hostile").json()

    values = [row["values"][0] for row in study["best"]]
    assert values == sorted(values) and len(values) == 10
    assert set(study["params"]) == {"x", PARAM, "choice"}
    assert study["params"]["choice"]["choices"] == list(HOSTILE)
    assert study["user_attrs"] == {"about": HOSTILE[2]}
    assert study["running"] == [] and study["revision"] > 0


def test_an_unknown_study_or_trial_is_404(client: TestClient) -> None:
    assert client.get("/api/studies/nope").status_code == 404
    assert client.get("/api/studies/hostile/trials/99").status_code == 404


def test_a_trial_holds_its_values_curve_failure_and_findings(client: TestClient) -> None:
    trial = client.get("/api/studies/hostile/trials/3").json()

    assert trial["state"] == "FAIL"
    assert HOSTILE[0] in trial["fail_reason"] or any(h in trial["fail_reason"] for h in HOSTILE)
    assert [step for step, _ in trial["curve"]] == [0, 1, 2]
    assert trial["user_attrs"] == {HOSTILE[0]: HOSTILE[2]}
    assert trial["artifacts"] == [] and isinstance(trial["findings"], list) and trial["verdict"]


def test_the_table_sorts_filters_and_pages(client: TestClient) -> None:
    page = client.get("/api/studies/hostile/trials?sort=value&order=desc&per_page=4&page=1").json()
    assert (page["total"], page["matching"], page["per_page"], len(page["rows"])) == (12, 12, 4, 4)
    everything = client.get("/api/studies/hostile/trials?sort=value&order=desc&per_page=50").json()
    values = [r["values"][0] for r in everything["rows"] if r["values"]]
    assert values == sorted(values, reverse=True)
    assert everything["rows"][-1]["state"] == "FAIL"  # no value: last, either way
    assert [r["number"] for r in page["rows"]] == [r["number"] for r in everything["rows"][4:8]]

    failed = client.get("/api/studies/hostile/trials?state=fail").json()
    assert [r["number"] for r in failed["rows"]] == [3]
    ranged = client.get("/api/studies/hostile/trials", params={"range": "x:0:2"}).json()
    assert ranged["matching"] == sum(r["params"]["x"] >= 0 for r in everything["rows"])
    assert all(r["params"]["x"] >= 0 for r in ranged["rows"])

    chosen = client.get("/api/studies/hostile/trials?columns=param:x").json()
    assert all(set(r["params"]) <= {"x"} for r in chosen["rows"])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sort=colour", "sort"),
        ("state=DONE", "state"),
        ("range=x:a:b", "range"),
        ("page=-1", "page"),
    ],
)
def test_a_bad_table_query_is_400_naming_the_field(
    client: TestClient, query: str, field: str
) -> None:
    answer = client.get(f"/api/studies/hostile/trials?{query}")
    assert answer.status_code == 400
    assert field in answer.json()["error"]


def test_the_study_figures_are_drawn_or_say_why_not(client: TestClient) -> None:
    figures = client.get("/api/studies/hostile/figures").json()["figures"]
    ids = [f["id"] for f in figures]

    assert "figure-optimization-history" in ids and "figure-timeline" in ids
    assert all(("figure" in f) != ("note" in f) for f in figures)
    history = next(f for f in figures if f["id"] == "figure-optimization-history")
    assert history["figure"]["data"]


def test_figure_text_is_escaped_for_plotly(client: TestClient) -> None:
    contour = client.get("/api/studies/hostile/figures/slice", params={"params": f"choice,{PARAM}"})
    text = contour.text

    assert "<script>" not in text and "<img" not in text and "<svg" not in text
    assert "&lt;script&gt;" in text


def test_a_pareto_front_for_two_objectives_and_contour_on_chosen_parameters(
    client: TestClient,
) -> None:
    figures = client.get("/api/studies/pair/figures").json()["figures"]
    assert figures[0]["id"] == "figure-pareto-front" and "figure" in figures[0]
    contour = client.get("/api/studies/pair/figures/contour?params=a,b&target=1").json()
    assert contour["figure"]["data"]


def test_compare_takes_2_to_8_trials(client: TestClient) -> None:
    compared = client.get("/api/studies/hostile/compare?trials=1,2,5").json()["trials"]
    assert [t["number"] for t in compared] == [1, 2, 5]
    assert all(len(t["curve"]) == 3 for t in compared)
    assert client.get("/api/studies/hostile/compare?trials=1").status_code == 400
    assert client.get("/api/studies/hostile/compare?trials=0,1,2,4,5,6,7,8,9").status_code == 400


def test_the_doctor_speaks_about_the_study_and_its_best_trials(client: TestClient) -> None:
    found = client.get("/api/studies/hostile/doctor").json()
    assert any(f["code"] == "pruner_never_consulted" for f in found["study"]), found["study"]
    assert len(found["best"]) == 3 and found["study_verdict"]


def test_changes_after_a_cursor_hold_only_the_trials_that_changed(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    study = tunelab.create_study(name="live", storage=url)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)
    with TestClient(create_app(url), base_url=BASE_URL) as client:
        first = client.get("/api/studies/live/changes?cursor=0").json()
        assert [t["number"] for t in first["trials"]] == [0, 1, 2, 3, 4]

        trial = study.ask()
        trial.report(0.5, step=0)
        second = client.get(f"/api/studies/live/changes?cursor={first['revision']}").json()
        trial.report(0.25, step=1)
        third = client.get(f"/api/studies/live/changes?cursor={second['revision']}").json()
        nothing = client.get(f"/api/studies/live/changes?cursor={third['revision']}").json()

    assert [(t["number"], t["state"], t["curve"]) for t in second["trials"]] == [
        (5, "RUNNING", [[0, 0.5]])
    ]
    assert [t["curve"] for t in third["trials"]] == [[[0, 0.5], [1, 0.25]]]
    assert nothing["trials"] == [] and nothing["counts"] == {"COMPLETE": 5, "RUNNING": 1}


def test_pages_are_data_free_shells_that_load_only_local_assets(client: TestClient) -> None:
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert all(s.startswith("/static/") or s in ("/", "data:,") for s in sources), sources
        assert not any(h in page.text for h in HOSTILE)
    assert client.get("/static/plotly.min.js").status_code == 200
    assert client.get("/static/study.js").headers["content-type"].startswith("text/javascript")
    script_sources = "".join(
        client.get(f"/static/{n}.js").text
        for n in ("dashboard", "studies", "study", "trials", "trial", "compare")
    )
    assert "innerHTML" not in script_sources and "http://" not in script_sources


def test_hostile_text_comes_back_as_json_data(client: TestClient) -> None:
    for path in (
        "/api/studies/hostile",
        "/api/studies/hostile/trials/3",
        "/api/studies/hostile/trials?per_page=50",
    ):
        answer = client.get(path)
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert client.get("/api/studies/hostile/trials/3").json()["params"]["choice"] in HOSTILE


WRITE = {"x-tunelab-request": "1"}


def test_writes_go_through_steering(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'steer.db'}"
    study = tunelab.create_study(name="steer", storage=url)
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 1, 3), n_trials=2)
    running = study.ask()
    running.suggest_float("x", 0, 1)
    with TestClient(create_app(url), base_url=BASE_URL) as client:
        enqueued = client.post(
            "/api/studies/steer/enqueue", json={"params": {"x": 0.25, "k": 2}}, headers=WRITE
        )
        refused = client.post(
            "/api/studies/steer/enqueue", json={"params": {"x": 5, "k": 2}}, headers=WRITE
        )
        noted = client.post(
            "/api/studies/steer/notes", json={"text": HOSTILE[1], "trial": None}, headers=WRITE
        )
        trial_note = client.post(
            "/api/studies/steer/notes", json={"text": "ok", "trial": 0}, headers=WRITE
        )
        pruned = client.post(
            f"/api/studies/steer/trials/{running.number}/prune", json={}, headers=WRITE
        )
        stopped = client.post("/api/studies/steer/stop", json={}, headers=WRITE)
        study_json = client.get("/api/studies/steer").json()
        trial_json = client.get("/api/studies/steer/trials/0").json()

    assert enqueued.status_code == 200 and enqueued.json() == {"enqueued": 3}
    assert refused.status_code == 400 and "x" in refused.json()["error"]
    assert noted.status_code == trial_note.status_code == pruned.status_code == 200
    assert stopped.status_code == 200
    assert study_json["note"] == HOSTILE[1] and trial_json["note"] == "ok"
    assert study.trials[3].state.name == "WAITING"  # the enqueued configuration
    assert running.should_prune()


def test_the_studies_active_last_have_their_figures_made_before_a_page_asks(
    storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tunelab.dashboard import app as app_module

    made: list[str] = []
    real = app_module.compute_importances
    monkeypatch.setattr(app_module, "compute_importances",
                        lambda study: made.append(study.study_name) or real(study))
    app = create_app(storage_url)
    app.state.dashboard.prepare(limit=1)
    assert made == ["pair"]  # created, and run, after "hostile"

    with TestClient(app, base_url=BASE_URL) as client:
        assert client.get("/api/studies/pair/figures").json()["figures"]
        assert client.get("/api/studies/pair/doctor").json()["study_verdict"]
        assert client.get("/api/studies/hostile/figures").json()["figures"]
    assert made == ["pair", "hostile"]  # the prepared figures were served as they were
