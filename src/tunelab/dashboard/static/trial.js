"use strict";
/* One trial: parameters, values, intermediate values (live), training figures from its
   telemetry (redrawn as epochs arrive), the doctor's findings, artifacts by name, its note. */
(() => {
  const {el, api, post, config, studyName, studyApi, studyPage, num, when, duration, table,
         keyValues, section, crumbs, fail, plot, figureBox, showFigures, listen, throttled, findingsTable, noteForm} = TL;
  const name = studyName();
  const number = Number(location.pathname.split("/")[4]);
  const base = studyApi(name) + "/trials/" + number;
  let writable = false;
  let epochs = -1;

  function drawCurve(row) {
    const div = document.getElementById("trial-curve");
    if (!row.curve.length) { div.replaceChildren(el("p", {class: "note", text: "No intermediate values reported yet."})); return; }
    if (!div.data) div.replaceChildren();
    plot(div, {data: [{x: row.curve.map(p => p[0]), y: row.curve.map(p => p[1]), mode: "lines+markers", name: "trial " + row.number}],
               layout: {height: 320, margin: {t: 20}, xaxis: {title: {text: "Step"}}, yaxis: {title: {text: "Intermediate value"}}}});
  }

  function drawState(row) {
    const state = document.getElementById("trial-state");
    state.className = "state-" + row.state;
    state.textContent = row.state;
    document.getElementById("trial-values").textContent = row.values ? row.values.map(num).join(", ") : "–";
    const prune = document.getElementById("prune-trial");
    if (prune) prune.hidden = row.state !== "RUNNING";
  }

  async function drawFigures() {
    const answer = await api(base + "/figures");
    showFigures(document.getElementById("training"), answer.figures);
  }

  async function drawDetails() {
    const trial = await api(base);
    document.getElementById("findings").replaceChildren(...findingsTable(trial.findings, trial.verdict));
    document.getElementById("user-attrs").replaceChildren(keyValues(trial.user_attrs));
    return trial;
  }

  function controls(trial) {
    if (!writable) return el("p", {class: "note", text: "Read-only: this dashboard changes nothing."});
    const status = el("span", {class: "note", id: "status"});
    const prune = el("button", {id: "prune-trial", hidden: trial.state !== "RUNNING", onclick: async () => {
      try { await post(base + "/prune"); status.textContent = "The trial will be pruned at its next report."; }
      catch (e) { status.textContent = e.message; }
    }}, "Prune this trial");
    return el("div", {}, el("div", {class: "controls"}, prune, status),
      noteForm(trial.note, text => post(studyApi(name) + "/notes", {text, trial: number})));
  }

  async function main() {
    writable = !(await config()).read_only;
    const trial = await api(base);
    crumbs([name, studyPage(name)], ["trial " + number, null]);
    const params = table(["parameter", "value", "distribution"], Object.entries(trial.params).map(([p, v]) =>
      el("tr", {}, el("td", {text: p}), el("td", {text: num(v)}), el("td", {text: JSON.stringify(trial.distributions[p] || null)}))));
    document.getElementById("main").replaceChildren(...[
      el("h1", {text: "Trial " + trial.number + " of " + name}),
      el("p", {}, "State ", el("b", {id: "trial-state"}), " · values ", el("b", {id: "trial-values"}),
        " · started " + when(trial.started) + " · took " + duration(trial.duration),
        trial.worker ? " · worker " + trial.worker : "", trial.device ? " · device " + trial.device : ""),
      trial.fail_reason ? section("Failure", el("pre", {id: "fail-reason", text: trial.fail_reason})) : null,
      trial.note ? el("p", {}, el("b", {text: "Note: "}), el("span", {id: "trial-note", text: trial.note})) : null,
      section("Parameters", params),
      section("Intermediate values", el("div", {id: "trial-curve", class: "plot"})),
      section("Training", el("div", {id: "training"})),
      section("Training doctor", el("div", {id: "findings"})),
      section("User attributes", el("div", {id: "user-attrs"})),
      section("Artifacts", trial.artifacts.length ? el("ul", {id: "artifacts"}, trial.artifacts.map(a => el("li", {text: a})))
        : el("p", {class: "note", text: "No files were uploaded to this trial."})),
      section("Steering", controls(trial))].filter(Boolean));
    drawState(trial);
    drawCurve(trial);
    await drawDetails();
    epochs = trial.epochs;
    drawFigures().catch(fail);
    const refresh = throttled(() => { drawDetails().catch(fail); drawFigures().catch(fail); }, 2000);
    listen(name, trial.revision, change => {
      const row = change.trials.find(r => r.number === number);
      if (!row) return;
      drawState(row);
      drawCurve(row);
      if (row.epochs !== epochs || row.state !== "RUNNING") { epochs = row.epochs; refresh(); }
    });
  }

  main().catch(fail);
})();
