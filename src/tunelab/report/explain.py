"""The report's attributions section: which inputs the best trial's model rests on
(:func:`tunelab.analysis.explain.explain`), as a figure and a table; and the page that
``tunelab explain -o`` writes, which holds that section alone.

Like the ensemble, it rebuilds the trial's model from the study's task and reads its saved
weights, so it is built only when the report is asked to trust the storage
(:mod:`tunelab.report.stored`); otherwise the section says how to ask.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import tunelab
from tunelab import _display as fmt
from tunelab.analysis.explain import (
    CONCENTRATION_TOP,
    METHOD_NAMES,
    ExplainResult,
    class_summaries,
    explain,
)
from tunelab.report.html import Column, Markup, Section, figure, join, note, page, table
from tunelab.report.stored import from_storage, trusted_task
from tunelab.study import Study
from tunelab.viz import plot_attribution_maps, plot_feature_attributions

if TYPE_CHECKING:
    from tunelab.config import StorageTrust
    from tunelab.torch.task import Task

EXPLAIN_ID = "explain"
TITLE = "Attributions of the best trial"
TOP_FEATURES = 20  # features in the figure and the table; the rest are summed up in a line
SPLIT_NAMES = {"val": "validation", "test": "test"}


def explain_section(study: Study, task: Task | None, trust: StorageTrust | None) -> Section:
    """The attributions of the best trial with saved weights, or why there are none; ``trust``
    None: nothing the storage names is used, and the section says how to ask."""
    outcome = _explained(study, task, trust)
    if isinstance(outcome, str):
        return Section(EXPLAIN_ID, TITLE, note(f"No attributions: {outcome}"))
    return Section(EXPLAIN_ID, TITLE, explain_html(outcome))


def _explained(
    study: Study, task: Task | None, trust: StorageTrust | None
) -> ExplainResult | str:
    if len(study.directions) > 1:
        return (
            f"study {study.study_name!r} has {len(study.directions)} objectives, so it has no "
            "single best trial; `tunelab explain STUDY TRIAL --trust-storage` explains any "
            "trial of it."
        )
    return from_storage(
        study, trust, lambda trusted: explain(study, trusted_task(study, task, trusted))
    )


def explain_page(study: Study, result: ExplainResult) -> str:
    """A page of its own (``tunelab explain -o``) holding the attributions of ``result``."""
    section = Section(EXPLAIN_ID, f"Attributions of trial {result.trial}", explain_html(result))
    generated = fmt.moment(datetime.now(timezone.utc))
    return page(
        title=f"tunelab explain: {study.study_name}, trial {result.trial}",
        subtitle=f"{fmt.objectives_text(study)} · {result.n_samples} samples explained",
        sections=[section],
        footer=f"Written by tunelab {tunelab.__version__} on {generated}.",
    )


def explain_html(result: ExplainResult) -> Markup:
    """What the attributions say: how they were made, then a figure and a table."""
    if result.kind == "tabular":
        return join([note(_how(result)), *_tabular(result)])
    return join([note(_how(result)), *_images(result)])


def _how(result: ExplainResult) -> str:
    methods = ", ".join(METHOD_NAMES[m] for m in result.methods)
    text = (
        f"Trial {result.trial}'s model, on {result.n_samples} samples of the "
        f"{SPLIT_NAMES[result.split]} part, each sample's prediction of its own class "
        f"attributed to its inputs by {methods} (Captum)."
    )
    runs = result.attributions[result.headline].runs
    if len(runs) > 1:
        averaged = ("a feature's share is the mean over these runs, ± its standard error"
                    if result.kind == "tabular" else "the maps are the mean over these runs")
        text += (f" {METHOD_NAMES[result.headline]} ran once per baseline ({', '.join(runs)}); "
                 f"{averaged}.")
    if result.kind == "tabular":
        text += " Over single features, occlusion is feature ablation, listed under that name."
    return text


def _tabular(result: ExplainResult) -> list[Markup]:
    headline = result.headline
    ranking = result.ranking(headline)
    shown = ranking[:TOP_FEATURES]
    others = [m for m in result.methods if m != headline]
    shares = {m: result.attributions[m].mean_shares for m in others}
    columns = [
        Column("rank", numeric=True), Column("feature"),
        Column(f"{METHOD_NAMES[headline]} share", numeric=True),
        *(Column(METHOD_NAMES[m], numeric=True) for m in others),
    ]
    rows = [
        [str(rank), f.name, _share(f.share, f.stderr),
         *(f"{shares[m][f.index]:.1%}" for m in others)]
        for rank, f in enumerate(shown, start=1)
    ]
    drawn = plot_feature_attributions(result, headline, top=TOP_FEATURES)
    parts = [
        figure(drawn, "figure-feature-attributions", f"{METHOD_NAMES[headline]}: each "
               "feature's share of the mean absolute attribution, the largest on top; error "
               "bars: one standard error over the baselines."),
        table(columns, rows),
    ]
    if len(ranking) > len(shown):
        rest = sum(f.share for f in ranking[len(shown):])
        parts.append(note(f"The other {len(ranking) - len(shown)} features share {rest:.1%}."))
    return parts


def _share(share: float, stderr: float) -> str:
    return f"{share:.1%}" if math.isnan(stderr) else f"{share:.1%} ± {stderr:.1%}"


def _images(result: ExplainResult) -> list[Markup]:
    headline = result.headline
    columns = [
        Column("class"), Column("samples", numeric=True),
        Column("attribution per sample", numeric=True),
        Column(f"share in the top {CONCENTRATION_TOP:.0%} of pixels", numeric=True),
        Column("hottest pixel"),
    ]
    rows = [
        [c.name, str(c.samples), f"{c.attribution:.3g}", f"{c.concentration:.0%}",
         f"row {c.hottest[0]}, column {c.hottest[1]}"]
        for c in class_summaries(result, headline)
    ]
    drawn = plot_attribution_maps(result, headline)
    return [
        figure(drawn, "figure-attribution-maps", f"{METHOD_NAMES[headline]}: per class, an "
               "example picture, its attribution map and the class's mean map (red: the pixel "
               "raises the class's output, blue: lowers it)."),
        table(columns, rows),
    ]
