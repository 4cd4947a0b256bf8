"use strict";
/* The trial table: sorted, filtered and paged by the server; columns chosen here. */
(() => {
  const {el, api, studyName, studyApi, studyPage, trialPage, num, when, duration, section, crumbs, fail, listen, throttled} = TL;
  const name = studyName();
  const STATES = ["COMPLETE", "RUNNING", "PRUNED", "FAIL", "WAITING"];
  const query = {sort: "number", order: "asc", page: 0, per_page: 50, states: new Set(), ranges: []};
  const picked = new Set();
  let study = null, shown = null;

  function url() {
    const q = new URLSearchParams({sort: query.sort, order: query.order, page: query.page, per_page: query.per_page});
    if (query.states.size) q.set("state", [...query.states].join(","));
    for (const r of query.ranges) q.append("range", r.param + ":" + r.low + ":" + r.high);
    q.set("columns", [...shown].map(p => "param:" + p).join(","));
    return studyApi(name) + "/trials?" + q;
  }

  function header(label, key) {
    const arrow = query.sort === key ? (query.order === "asc" ? " ▲" : " ▼") : "";
    return el("th", {class: "sortable", "data-sort": key, onclick: () => {
      query.order = query.sort === key && query.order === "asc" ? "desc" : "asc";
      query.sort = key; query.page = 0; draw().catch(fail);
    }}, label + arrow);
  }

  async function draw() {
    const answer = await api(url());
    const params = [...shown];
    const objectives = study.objectives;
    const heads = [el("th", {text: "✓"}), header("trial", "number"), header("state", "state"),
      ...objectives.map((o, i) => header(o, "value:" + i)), header("duration", "duration"), header("started", "started"),
      ...params.map(p => header(p, "param:" + p))];
    const rows = answer.rows.map(r => el("tr", {"data-trial": r.number},
      el("td", {}, el("input", {type: "checkbox", checked: picked.has(r.number), onchange: e => {
        if (e.target.checked) picked.add(r.number); else picked.delete(r.number); compareLink(); }})),
      el("td", {}, el("a", {href: trialPage(name, r.number)}, String(r.number))),
      el("td", {class: "state-" + r.state, text: r.state}),
      objectives.map((o, i) => el("td", {class: "num", text: num(r.values ? r.values[i] : null)})),
      el("td", {class: "num", text: duration(r.duration)}), el("td", {text: when(r.started)}),
      params.map(p => el("td", {text: p in r.params ? num(r.params[p]) : "–"}))));
    const pages = Math.max(1, Math.ceil(answer.matching / answer.per_page));
    document.getElementById("table").replaceChildren(el("table", {id: "trial-table"}, el("thead", {}, el("tr", {}, heads)), el("tbody", {}, rows)));
    document.getElementById("paging").replaceChildren(
      el("button", {id: "prev", disabled: query.page === 0, onclick: () => { query.page--; draw().catch(fail); }}, "‹ previous"),
      el("span", {id: "page-info", text: " page " + (query.page + 1) + " of " + pages + " · " + answer.matching + " matching of " + answer.total + " trials "}),
      el("button", {id: "next", disabled: query.page + 1 >= pages, onclick: () => { query.page++; draw().catch(fail); }}, "next ›"));
  }

  function compareLink() {
    const numbers = [...picked].sort((a, b) => a - b);
    const box = document.getElementById("compare");
    box.replaceChildren(numbers.length >= 2 && numbers.length <= 8
      ? el("a", {id: "compare-link", href: studyPage(name) + "/compare?trials=" + numbers.join(",")}, "Compare trials " + numbers.join(", "))
      : el("span", {class: "note", text: "Tick 2 to 8 trials to compare them."}));
  }

  function filters() {
    const states = STATES.map(s => el("label", {}, el("input", {type: "checkbox", value: s, onchange: e => {
      if (e.target.checked) query.states.add(s); else query.states.delete(s); query.page = 0; draw().catch(fail); }}), " " + s.toLowerCase()));
    const params = Object.keys(study.params);
    const numeric = params.filter(p => study.params[p].type !== "categorical");
    const param = el("select", {id: "range-param"}, numeric.map(p => el("option", {value: p}, p)));
    const low = el("input", {id: "range-low", type: "number", step: "any", placeholder: "low"});
    const high = el("input", {id: "range-high", type: "number", step: "any", placeholder: "high"});
    const ranges = el("span", {id: "ranges"});
    const showRanges = () => ranges.replaceChildren(...query.ranges.map((r, i) => el("span", {class: "pill"},
      r.param + " in [" + (r.low || "…") + ", " + (r.high || "…") + "] ", el("button", {onclick: () => {
        query.ranges.splice(i, 1); showRanges(); draw().catch(fail); }}, "×"))));
    const add = el("button", {id: "range-add", onclick: () => {
      query.ranges.push({param: param.value, low: low.value, high: high.value}); query.page = 0; showRanges(); draw().catch(fail); }}, "Add range");
    const columns = params.map(p => el("label", {}, el("input", {type: "checkbox", value: p, checked: shown.has(p), onchange: e => {
      if (e.target.checked) shown.add(p); else shown.delete(p); draw().catch(fail); }}), " " + p));
    const perPage = el("select", {id: "per-page", onchange: e => { query.per_page = Number(e.target.value); query.page = 0; draw().catch(fail); }},
      [25, 50, 100, 250].map(n => el("option", {value: n, selected: n === query.per_page}, String(n))));
    return el("div", {},
      el("div", {class: "controls"}, el("b", {text: "State:"}), states),
      numeric.length ? el("div", {class: "controls"}, el("b", {text: "Parameter range:"}), param, low, high, add, ranges) : null,
      el("div", {class: "controls", id: "columns"}, el("b", {text: "Columns:"}), columns),
      el("div", {class: "controls"}, el("label", {}, "Rows per page ", perPage)));
  }

  async function main() {
    crumbs([name, studyPage(name)], ["trials", null]);
    study = await api(studyApi(name));
    shown = new Set(Object.keys(study.params).slice(0, 6));
    document.getElementById("main").replaceChildren(el("h1", {text: "Trials of " + name}),
      section("Filter", filters()), el("div", {id: "compare"}), el("div", {id: "paging"}), el("div", {id: "table"}));
    compareLink();
    await draw();
    // The shown page follows the study as it runs: asked for again at most every 2 s.
    const redraw = throttled(() => draw().catch(fail), 2000);
    listen(name, study.revision, redraw);
  }

  main().catch(fail);
})();
