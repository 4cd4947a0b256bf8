"use strict";
/* 2 to 8 trials side by side: their parameters and values, and their curves overlaid. */
(() => {
  const {el, api, studyName, studyApi, studyPage, trialPage, num, table, section, crumbs, fail, plot} = TL;
  const name = studyName();

  function overlay(id, title, trials, x, y) {
    const traces = trials.filter(t => y(t).length).map(t => ({x: x(t), y: y(t), mode: "lines+markers", name: "trial " + t.number}));
    const box = el("div", {id, class: "plot"});
    if (!traces.length) return el("p", {class: "note", text: title + ": none of these trials recorded it."});
    requestAnimationFrame(() => plot(box, {data: traces, layout: {title: {text: title}, height: 340, xaxis: {title: {text: "Step"}}}}));
    return box;
  }

  function picker(current) {
    const input = el("input", {id: "compare-trials", size: 30, placeholder: "e.g. 3,7,12"});
    input.value = current;
    const go = el("button", {id: "compare-go", onclick: () => { location.search = "?trials=" + encodeURIComponent(input.value); }}, "Compare");
    return el("div", {class: "controls"}, el("label", {}, "Trial numbers (2 to 8) ", input), go);
  }

  async function main() {
    crumbs([name, studyPage(name)], ["compare", null]);
    const chosen = new URLSearchParams(location.search).get("trials") || "";
    const main = document.getElementById("main");
    main.replaceChildren(el("h1", {text: "Compare trials of " + name}), picker(chosen));
    if (!chosen) { main.append(el("p", {class: "note", text: "Choose trials to compare, or tick them in the trial table."})); return; }
    const {trials} = await api(studyApi(name) + "/compare?trials=" + encodeURIComponent(chosen));
    const params = [...new Set(trials.flatMap(t => Object.keys(t.params)))];
    const head = ["", ...trials.map(t => el("th", {}, el("a", {href: trialPage(name, t.number)}, "trial " + t.number)))];
    const rows = [
      el("tr", {}, el("th", {text: "state"}), trials.map(t => el("td", {class: "state-" + t.state, text: t.state}))),
      el("tr", {}, el("th", {text: "values"}), trials.map(t => el("td", {text: t.values ? t.values.map(num).join(", ") : "–"}))),
      ...params.map(p => el("tr", {}, el("th", {text: p}), trials.map(t => el("td", {text: p in t.params ? num(t.params[p]) : "–"})))),
    ];
    main.append(section("Parameters and values", table(head, rows)),
      section("Curves",
        overlay("compare-intermediate", "Intermediate values", trials, t => t.curve.map(p => p[0]), t => t.curve.map(p => p[1])),
        overlay("compare-val-loss", "Validation loss per epoch", trials, t => t.epochs, t => t.val_loss),
        overlay("compare-train-loss", "Training loss per epoch", trials, t => t.epochs, t => t.train_loss)));
  }

  main().catch(fail);
})();
