"use strict";
/* What every page shares. Text from a study only ever enters the page as text (el() appends
   strings as text nodes, and sets no attribute from data but link targets it encodes). */
const TL = (() => {
  let configPromise = null;

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  async function api(path, options) {
    const response = await fetch(path, Object.assign({credentials: "same-origin"}, options));
    const body = await response.json().catch(() => ({error: response.statusText}));
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  function post(path, body) {
    return api(path, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-Tunelab-Request": "1"},
      body: JSON.stringify(body || {}),
    });
  }

  function config() {
    configPromise = configPromise || api("/api/config");
    return configPromise;
  }

  const studyName = () => decodeURIComponent(location.pathname.split("/")[2] || "");
  const studyApi = name => "/api/studies/" + encodeURIComponent(name);
  const studyPage = name => "/studies/" + encodeURIComponent(name);
  const trialPage = (name, number) => studyPage(name) + "/trials/" + Number(number);

  function num(value) {
    if (value === null || value === undefined) return "–";
    if (typeof value !== "number") return String(value);
    if (Number.isInteger(value)) return String(value);
    const size = Math.abs(value);
    return size !== 0 && (size < 1e-3 || size >= 1e5) ? value.toExponential(4) : value.toPrecision(5);
  }

  function when(text) { return text ? new Date(text).toLocaleString() : "–"; }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 60) return seconds.toFixed(1) + " s";
    if (seconds < 3600) return (seconds / 60).toFixed(1) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }

  function stateCell(state) { return el("td", {class: "state-" + state, text: state}); }

  function table(headers, rows) {
    return el("table", {}, el("thead", {}, el("tr", {}, headers.map(h => h instanceof Node ? h : el("th", {text: h})))),
      el("tbody", {}, rows));
  }

  function keyValues(pairs) {
    return table(["", ""], Object.entries(pairs).map(([k, v]) =>
      el("tr", {}, el("th", {text: k}), el("td", {text: typeof v === "object" && v !== null ? JSON.stringify(v) : num(v)}))));
  }

  function section(title, ...children) { return el("section", {}, el("h2", {text: title}), ...children); }

  function crumbs(...items) {
    const nav = document.getElementById("crumbs");
    nav.replaceChildren(...items.map(([text, href]) => href ? el("a", {href}, text) : el("span", {text})));
  }

  function fail(error) {
    const main = document.getElementById("main");
    main.prepend(el("p", {class: "error", text: String(error && error.message || error)}));
  }

  /* plotly.js (3.5 MB) is loaded when the first figure is drawn, not with the page: the page
     shows its text without waiting for the browser to parse it. */
  let plotlyReady = null;
  function plotlyLoaded() {
    plotlyReady = plotlyReady || new Promise((resolve, reject) => {
      if (window.Plotly) { resolve(); return; }
      const tag = el("script", {src: "/static/plotly.min.js"});
      tag.addEventListener("load", () => resolve());
      tag.addEventListener("error", () => reject(new Error("plotly.js could not be loaded")));
      document.head.append(tag);
    });
    return plotlyReady;
  }

  /* Start loading plotly.js once the page's text has been painted (two frames on). */
  function loadPlotlySoon() {
    requestAnimationFrame(() => requestAnimationFrame(() => plotlyLoaded().catch(fail)));
  }

  async function plot(div, figure) {
    await plotlyLoaded();
    const layout = Object.assign({}, figure.layout, {autosize: true});
    return Plotly.react(div, figure.data, layout, {responsive: true, displaylogo: false});
  }

  /* A figure is drawn once it comes near the screen: a study of 10,000 trials has figures that
     take a second each to draw, and a page that drew them all before showing itself would
     open in tens of seconds. Until then its box holds the figure's height, so that the page
     does not jump as figures appear. */
  const unseen = new Map();  // plot div -> its figure, not drawn yet
  const toDraw = [];  // divs come near the screen, drawn one a frame so that each shows at once
  const nearScreen = new IntersectionObserver(entries => {
    for (const entry of entries) {
      if (!entry.isIntersecting || !unseen.has(entry.target)) continue;
      nearScreen.unobserve(entry.target);
      if (toDraw.push(entry.target) === 1) requestAnimationFrame(drawNext);
    }
  }, {rootMargin: "300px 0px"});

  function drawNext() {
    const div = toDraw.shift();
    const figure = unseen.get(div);
    if (figure !== undefined && div.isConnected) {
      unseen.delete(div);
      plot(div, figure).then(() => { div.style.minHeight = ""; });
    }
    if (toDraw.length) requestAnimationFrame(drawNext);
  }

  function figureBox(entry) {
    const box = el("figure", {class: "fig", id: entry.id},
      el("figcaption", {}, el("b", {text: entry.title}), entry.caption ? ": " + entry.caption : ""));
    if (entry.note) box.append(el("p", {class: "note", text: entry.note}));
    else {
      const div = el("div", {class: "plot"});
      div.style.minHeight = ((entry.figure.layout && entry.figure.layout.height) || 450) + "px";
      box.append(div);
      unseen.set(div, entry.figure);
      nearScreen.observe(div);
    }
    return box;
  }

  /* Put figure boxes in `container` in place of those it held, whose plots are freed; plotly.js
     starts loading now, beside the boxes waiting to come near the screen. */
  function showFigures(container, entries) {
    if (entries.some(entry => entry.figure)) plotlyLoaded().catch(fail);
    for (const div of container.querySelectorAll(".plot")) {
      if (unseen.delete(div)) nearScreen.unobserve(div);
      else if (window.Plotly) Plotly.purge(div);  // nothing was drawn before plotly.js came
    }
    container.replaceChildren(...entries.map(figureBox));
  }

  /* Listen to a study's feed from revision `cursor`; onChange gets each change message. */
  function listen(name, cursor, onChange) {
    const indicator = document.getElementById("live");
    const source = new EventSource(studyApi(name) + "/events?cursor=" + Number(cursor));
    source.addEventListener("open", () => { indicator.textContent = "● live"; });
    source.addEventListener("error", () => { indicator.textContent = "○ reconnecting"; });
    source.addEventListener("change", event => {
      indicator.textContent = "● live · revision " + event.lastEventId;
      onChange(JSON.parse(event.data));
    });
    window.addEventListener("pagehide", () => source.close());
    return source;
  }

  /* Run `work` at most once per `gap` ms, the last call winning. */
  function throttled(work, gap) {
    let last = 0, timer = null;
    return () => {
      if (timer) return;
      const wait = Math.max(0, last + gap - Date.now());
      timer = setTimeout(() => { timer = null; last = Date.now(); work(); }, wait);
    };
  }

  function findingsTable(findings, verdict) {
    const parts = [el("p", {class: "note", text: verdict})];
    if (findings.length) {
      parts.push(table(["where", "finding", "evidence", "advice"], findings.map(f => el("tr", {},
        el("td", {text: f.where}),
        el("td", {}, el("b", {class: "sev-" + f.severity, text: f.severity}), " ", f.title, " ", el("code", {text: f.code})),
        el("td", {text: f.evidence}), el("td", {text: f.advice})))));
    }
    return parts;
  }

  function noteForm(current, save) {
    const area = el("textarea", {rows: 2, cols: 70, id: "note-text"});
    area.value = current || "";
    const status = el("span", {class: "note"});
    const button = el("button", {id: "note-save", onclick: async () => {
      try { await save(area.value); status.textContent = "saved"; } catch (e) { status.textContent = e.message; }
    }}, "Save note");
    return el("div", {class: "controls"}, area, button, status);
  }

  return {el, api, post, config, studyName, studyApi, studyPage, trialPage, num, when, duration,
          stateCell, table, keyValues, section, crumbs, fail, plot, loadPlotlySoon, figureBox, showFigures,
          listen, throttled,
          findingsTable, noteForm};
})();
