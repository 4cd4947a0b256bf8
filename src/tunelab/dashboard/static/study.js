"use strict";
/* One study: summary, running trials (live), best trials, figures, chosen contour/slice,
   the doctor's findings, and the controls that steer it. */
(() => {
  const {el, api, post, config, studyName, studyApi, studyPage, trialPage, num, when, table,
         section, crumbs, fail, plot, loadPlotlySoon, figureBox, showFigures, listen, throttled, findingsTable,
         noteForm} = TL;
  const name = studyName();
  const base = studyApi(name);
  const running = new Map();  // trial number -> latest row from the feed
  let writable = false;

  function countsText(counts, total) {
    return total + " trials: " + Object.entries(counts).map(([s, n]) => n + " " + s.toLowerCase()).join(", ");
  }

  function trialLink(number) { return el("a", {href: trialPage(name, number)}, "trial " + number); }

  function bestTable(study) {
    if (!study.best.length) return el("p", {class: "note", text: "No completed trial yet."});
    const params = Object.keys(study.params);
    return table(["trial", ...study.objectives, ...params], study.best.map(r => el("tr", {},
      el("td", {}, trialLink(r.number)),
      (r.values || []).map(v => el("td", {class: "num", text: num(v)})),
      params.map(p => el("td", {text: p in r.params ? num(r.params[p]) : "–"})))));
  }

  function runningSection() {
    const rows = [...running.values()].sort((a, b) => a.number - b.number);
    const body = rows.length ? table(["trial", "step", "value", ""], rows.map(r => el("tr", {"data-trial": r.number},
      el("td", {}, trialLink(r.number)),
      el("td", {class: "num", text: num(r.last_step)}),
      el("td", {class: "num", text: num(r.last_value)}),
      el("td", {}, writable ? el("button", {class: "prune", onclick: () => prune(r.number)}, "Prune") : null))))
      : el("p", {class: "note", text: "No trial is running."});
    document.getElementById("running-table").replaceChildren(body);
    const traces = rows.map(r => ({x: r.curve.map(p => p[0]), y: r.curve.map(p => p[1]),
                                   mode: "lines+markers", name: "trial " + r.number}));
    const div = document.getElementById("live-curves");
    if (traces.length || div.data) {
      plot(div, {data: traces, layout: {title: {text: "Running trials"}, height: 320,
        xaxis: {title: {text: "Step"}}, yaxis: {title: {text: "Intermediate value"}}, margin: {t: 40}}});
    }
  }

  async function prune(number) {
    try { await post(base + "/trials/" + number + "/prune"); status("Trial " + number + " will be pruned at its next report."); }
    catch (e) { status(e.message, true); }
  }

  function status(text, bad) {
    document.getElementById("status").replaceChildren(el("span", {class: bad ? "error" : "note", text}));
  }

  function controls(study) {
    if (!writable) return el("p", {class: "note", text: "Read-only: this dashboard changes nothing."});
    const stop = el("button", {id: "stop-study", onclick: async () => {
      try { await post(base + "/stop"); status("Stop requested: workers finish their current trials and stop."); }
      catch (e) { status(e.message, true); }
    }}, "Stop the study");
    return el("div", {}, el("div", {class: "controls"}, stop), enqueueForm(study),
      el("h3", {text: "Note on the study"}), noteForm(study.note, text => post(base + "/notes", {text, trial: null})));
  }

  function enqueueForm(study) {
    const inputs = {};
    const fields = Object.entries(study.params).map(([param, d]) => {
      let input;
      if (d.type === "categorical") {
        input = el("select", {name: param}, d.choices.map((c, i) => el("option", {value: i}, String(c))));
      } else {
        input = el("input", {type: "number", name: param, step: "any", min: d.low, max: d.high, placeholder: d.low + " … " + d.high});
      }
      inputs[param] = [input, d];
      return el("label", {}, param + " ", input);
    });
    const send = el("button", {id: "enqueue", onclick: async () => {
      const params = {};
      for (const [param, [input, d]] of Object.entries(inputs)) {
        if (d.type === "categorical") params[param] = d.choices[Number(input.value)];
        else if (input.value !== "") params[param] = Number(input.value);
      }
      try { const r = await post(base + "/enqueue", {params}); status("Enqueued as trial " + r.enqueued + "."); }
      catch (e) { status(e.message, true); }
    }}, "Enqueue");
    return el("fieldset", {id: "enqueue-form"}, el("legend", {text: "Enqueue a configuration"}),
      el("div", {class: "controls"}, fields, send));
  }

  function chooser(study) {
    const params = Object.keys(study.params);
    if (!params.length) return el("p", {class: "note", text: "The study has no parameters yet."});
    const boxes = params.map((p, i) => el("label", {}, el("input", {type: "checkbox", value: p, checked: i < 2}), " " + p));
    const kind = el("select", {id: "chosen-kind"}, el("option", {value: "contour"}, "contour"), el("option", {value: "slice"}, "slice"));
    const target = study.objectives.length > 1
      ? el("select", {id: "chosen-target"}, study.objectives.map((o, i) => el("option", {value: i}, o))) : null;
    const out = el("div", {id: "chosen-figure"});
    const draw = async () => {
      const chosen = boxes.map(b => b.firstChild).filter(b => b.checked).map(b => b.value);
      const query = "?params=" + encodeURIComponent(chosen.join(",")) + (target ? "&target=" + target.value : "");
      try { out.replaceChildren(figureBox(await api(base + "/figures/" + kind.value + query))); }
      catch (e) { out.replaceChildren(el("p", {class: "error", text: e.message})); }
    };
    return el("div", {}, el("div", {class: "controls"}, boxes, kind, target, el("button", {id: "draw-chosen", onclick: draw}, "Draw")), out);
  }

  let figuresRevision = null;  // the revision of the figures on the page

  async function drawFigures() {
    const answer = await api(base + "/figures");
    if (answer.revision === figuresRevision) return;  // the server has made none newer yet
    figuresRevision = answer.revision;
    showFigures(document.getElementById("figures"), answer.figures);
  }

  async function drawDoctor() {
    const found = await api(base + "/doctor");
    const parts = [el("h3", {text: "The study as a whole"}), ...findingsTable(found.study, found.study_verdict)];
    if (found.best.length) parts.push(el("h3", {text: "The best trials: " + found.best.join(", ")}),
                                      ...findingsTable(found.trials, found.trials_verdict));
    document.getElementById("doctor").replaceChildren(...parts);
  }

  function summary(study) {
    return el("div", {id: "summary"},
      el("p", {}, el("b", {text: "Objectives: "}), study.objectives.map((o, i) => o + " (" + study.directions[i] + ")").join(", ")),
      el("p", {id: "counts", text: countsText(study.counts, study.n_trials)}),
      el("p", {}, "Created " + when(study.created_at) + " · last activity ", el("span", {id: "last-activity", text: when(study.last_activity)})),
      study.note ? el("p", {}, el("b", {text: "Note: "}), el("span", {id: "study-note", text: study.note})) : null,
      el("p", {}, el("a", {href: studyPage(name) + "/trials"}, "All trials (table)"), " · ",
        el("a", {href: studyPage(name) + "/compare"}, "Compare trials")),
      el("div", {id: "status"}));
  }

  async function main() {
    writable = !(await config()).read_only;
    const study = await api(base);
    crumbs([study.name, null]);
    for (const r of study.running) running.set(r.number, r);
    document.getElementById("main").replaceChildren(
      el("h1", {text: study.name}), summary(study),
      section("Running trials", el("div", {id: "running-table"}), el("div", {id: "live-curves", class: "plot"})),
      section("Steering", controls(study)),
      section("Best trials", el("div", {id: "best"}, bestTable(study))),
      section("Figures", el("div", {id: "figures"}, el("p", {class: "note", text: "Drawing…"}))),
      section("Contour or slice over chosen parameters", chooser(study)),
      section("Training doctor", el("div", {id: "doctor"}, el("p", {class: "note", text: "Examining…"}))));
    loadPlotlySoon();  // while the figures' data come
    runningSection();
    drawFigures().catch(fail);
    drawDoctor().catch(fail);
    // A busy study changes several times a second, and the page shares a machine with the
    // training more often than not: the running trials are redrawn at most once a second,
    // the study's own figures (a second or more to draw for a large study) every 15 s.
    const drawRunning = throttled(runningSection, 1000);
    const refreshSlow = throttled(() => { drawDoctor().catch(fail); refreshStudy(); }, 5000);
    const refreshFigures = throttled(() => drawFigures().catch(fail), 15000);
    listen(name, study.revision, change => {
      document.getElementById("counts").textContent = countsText(change.counts, change.n_trials);
      for (const r of change.trials) {
        if (r.state === "RUNNING") running.set(r.number, r); else running.delete(r.number);
      }
      drawRunning();
      refreshSlow();
      refreshFigures();
    });
  }

  async function refreshStudy() {
    const study = await api(base);
    document.getElementById("best").replaceChildren(bestTable(study));
    document.getElementById("last-activity").textContent = when(study.last_activity);
  }

  main().catch(fail);
})();
