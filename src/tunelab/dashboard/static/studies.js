"use strict";
/* The studies in the storage: counts by state, best value, last activity; refreshed every 3 s. */
(() => {
  const {el, api, num, when, table, section, crumbs, fail, studyPage} = TL;
  const STATES = ["COMPLETE", "RUNNING", "PRUNED", "FAIL", "WAITING"];

  function row(study) {
    return el("tr", {"data-study": study.name},
      el("td", {}, el("a", {href: studyPage(study.name)}, study.name)),
      el("td", {text: study.directions.join(", ")}),
      el("td", {class: "num", text: study.n_trials}),
      STATES.map(state => el("td", {class: "num state-" + state, text: study.counts[state] || 0})),
      el("td", {class: "num", text: num(study.best_value)}),
      el("td", {text: when(study.last_activity)}));
  }

  async function draw() {
    const studies = await api("/api/studies");
    const main = document.getElementById("main");
    const body = studies.length
      ? table(["study", "directions", "trials", ...STATES.map(s => s.toLowerCase()), "best", "last activity"],
              studies.map(row))
      : el("p", {class: "note", text: "No studies in this storage yet; `tunelab run STUDY_FILE` creates one."});
    main.replaceChildren(el("h1", {text: "Studies"}), section("Studies in this storage", body));
  }

  crumbs();
  draw().catch(fail);
  setInterval(() => draw().catch(fail), 3000);
})();
